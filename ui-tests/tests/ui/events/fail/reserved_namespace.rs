#[chsk::events(ns = "chsk")]
pub enum ChatEvent {
    Post(String),
}

fn main() {}
