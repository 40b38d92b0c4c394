#[chsk::events(ns = "chat", namespace = "talk")]
pub enum ChatEvent {
    Post(String),
}

fn main() {}
