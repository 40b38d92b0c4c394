#[chsk::events(ns = "chat", ns = "talk")]
pub enum ChatEvent {
    Post(String),
}

fn main() {}
