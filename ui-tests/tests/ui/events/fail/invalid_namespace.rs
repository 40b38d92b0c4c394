#[chsk::events(ns = "chat/room")]
pub enum ChatEvent {
    Post(String),
}

fn main() {}
