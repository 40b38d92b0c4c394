pub struct NotSerde;

#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post(NotSerde),
}

fn main() {}
