mod events {
    #[chsk::events(ns = "chat")]
    pub enum ChatEvent {
        Post { room: String, text: String },
    }
}

// `events::ChatEvent` is not imported: reported at the path, and registering the handler adds
// no error of its own.
#[chsk::handler(ChatEvent::Post)]
async fn post(text: String, room: String) {
    let _ = (text, room);
}

fn main() {
    let _ = chsk::Server::builder(()).handler(post).build();
}
