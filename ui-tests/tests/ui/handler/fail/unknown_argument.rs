#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post(String),
}

#[chsk::handler(ChatEvent::Post, state = "AppState")]
async fn post(_text: String) {}

fn main() {}
