#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[event(id = "chat/ping")]
    #[event(id = "chat/pong")]
    Ping,
}

fn main() {}
