#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[event(id = "chat/ping pong")]
    Ping,
}

fn main() {}
