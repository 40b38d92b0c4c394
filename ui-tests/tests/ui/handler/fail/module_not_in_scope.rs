mod events {
    #[chsk::events(ns = "chat")]
    pub enum ChatEvent {
        Post(String),
    }
}

use events::ChatEvent;

#[chsk::handler(ChatEvent::Post)]
async fn post(_text: String) {}

fn main() {
    let _ = ChatEvent::Post(String::new());
}
