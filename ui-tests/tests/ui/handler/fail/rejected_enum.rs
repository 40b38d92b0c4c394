// `#[chsk::events]` rejects the enum (a duplicate `#[reply]`): its handlers, written as usual,
// add no errors of their own.
#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post(String),
    #[reply(Vec<String>)]
    #[reply(Vec<String>)]
    History { room: String, limit: u32 },
}

#[chsk::handler(ChatEvent::Post)]
async fn post(_text: String) {}

#[chsk::handler(ChatEvent::History)]
async fn history(limit: u32, room: String) -> Vec<String> {
    vec![room; limit as usize]
}

fn main() {
    let _ = chsk::Server::builder(()).handler(post).handler(history).build();
}
