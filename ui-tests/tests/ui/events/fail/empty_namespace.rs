#[chsk::events(ns = "")]
pub enum ChatEvent {
    Post(String),
}

fn main() {}
