#[chsk::events(ns = "chat", crate = "not a path")]
pub enum ChatEvent {
    Post(String),
}

fn main() {}
