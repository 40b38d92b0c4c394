#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post(String),
    #[cfg(unix)]
    Kick { user: String },
}

fn main() {}
