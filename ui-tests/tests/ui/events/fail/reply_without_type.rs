#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[reply]
    Ping,
}

fn main() {}
