#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[event(name = "chat/ping")]
    Ping,
}

fn main() {}
