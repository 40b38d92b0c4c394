#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[event(id = "chat//ping")]
    Ping,
}

fn main() {}
