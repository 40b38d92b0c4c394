#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post(String),
}

#[chsk::handler(ChatEvent::Post)]
fn post(_text: String) {}

fn register<H: chsk::Handler<()>>(_: H) {}

fn main() {
    register(post);
}
