#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[event(volatile = true)]
    Typing,
    #[event(id = "chat/cursor", volatile(yes))]
    Cursor,
}

fn main() {}
