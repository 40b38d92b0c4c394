#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post(String),
    #[reply(Vec<String>)]
    History { room: String, _limit: u32 },
}

pub struct AppState;

#[chsk::handler("chat/post")]
async fn post(_text: String) {}

fn main() {}
