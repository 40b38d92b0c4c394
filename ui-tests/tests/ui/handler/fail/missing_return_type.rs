#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post(String),
    #[reply(Vec<String>)]
    History { room: String, _limit: u32 },
}

pub struct AppState;

#[chsk::handler(ChatEvent::History)]
async fn history(_room: String, _limit: u32) {}

fn main() {}
