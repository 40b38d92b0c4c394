#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[event(volatil)]
    Typing,
}

fn main() {}
