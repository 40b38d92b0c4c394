#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[reply]
    Ping,
    #[event(id = "nope")]
    Pong,
    #[event(id = "chat/ping")]
    Again,
}

fn main() {}
