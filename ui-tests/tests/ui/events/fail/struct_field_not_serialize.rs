pub struct NotSerde;

#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post { text: String, extra: NotSerde },
}

fn main() {}
