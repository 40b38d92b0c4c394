mod events {
    #[chsk::events(ns = "chat")]
    pub enum ChatEvent {
        Post(String),
    }
}

// Neither `events::ChatEvent` nor `events::chat_event` is imported.
#[chsk::handler(ChatEvent::Post)]
async fn post(_text: String) {}

fn main() {
    let _ = events::ChatEvent::Post(String::new());
}
