#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[event = "chat/ping"]
    Ping,
}

fn main() {}
