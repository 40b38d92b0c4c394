#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[event(id = "chat/typing")]
    #[event(volatile)]
    Typing,
}

fn main() {}
