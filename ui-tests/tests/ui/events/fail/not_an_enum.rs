#[chsk::events(ns = "chat")]
pub struct ChatEvent {
    text: String,
}

fn main() {}
