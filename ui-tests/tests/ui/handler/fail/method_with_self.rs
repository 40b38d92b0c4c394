#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post(String),
    #[reply(Vec<String>)]
    History { room: String, _limit: u32 },
}

pub struct AppState;

pub struct Service;

impl Service {
    #[chsk::handler(ChatEvent::Post)]
    async fn post(&self, _text: String) {}
}

fn main() {}
