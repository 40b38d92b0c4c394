#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[event(volatile, id = "chat/typing", volatile)]
    Typing,
}

fn main() {}
