#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[event()]
    Typing,
}

fn main() {}
