#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post(String),
}

#[chsk::handler(ChatEvent::Post)]
fn post(_text: String) {}

fn register<F: chsk::handler::IntoHandler<()>>(_: F) {}

fn main() {
    register(post);
}
