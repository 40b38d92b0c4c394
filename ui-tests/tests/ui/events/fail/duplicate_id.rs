#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    FooBar,
    #[event(id = "chat/foo-bar")]
    Other(u8),
}

fn main() {}
