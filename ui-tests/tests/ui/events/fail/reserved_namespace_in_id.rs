#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[event(id = "chsk/ping")]
    Ping,
}

fn main() {}
