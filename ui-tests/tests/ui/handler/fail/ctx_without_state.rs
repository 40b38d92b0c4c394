#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post(String),
    #[reply(Vec<String>)]
    History { room: String, _limit: u32 },
}

pub struct AppState;

use chsk::Ctx;

#[chsk::handler(ChatEvent::Post)]
async fn post(_cx: Ctx, _text: String) {}

fn main() {}
