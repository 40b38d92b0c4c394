#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post { room: String, text: String },
}

#[chsk::handler(ChatEvent::Post)]
async fn post(room: String, text: &str) {
    let _ = (room, text);
}

fn main() {}
