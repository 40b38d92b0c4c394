#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[event(id = "ping")]
    Ping,
}

fn main() {}
