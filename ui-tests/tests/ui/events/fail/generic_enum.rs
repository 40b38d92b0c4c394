#[chsk::events(ns = "chat")]
pub enum ChatEvent<T> {
    Post(T),
}

fn main() {}
