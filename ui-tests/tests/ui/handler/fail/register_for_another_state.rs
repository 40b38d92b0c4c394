#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post(String),
}

pub struct AppState;

#[chsk::handler(ChatEvent::Post)]
async fn post(_cx: chsk::Ctx<AppState>, _text: String) {}

fn main() {
    let _ = chsk::Server::builder(()).handler(post).build();
}
