#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[reply = u64]
    Ping,
}

fn main() {}
