#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post(String),
}

// No `#[chsk::handler(ChatEvent::Post)]`.
async fn post(_text: String) {}

fn main() {
    let _ = chsk::Server::builder(()).handler(post).build();
}
