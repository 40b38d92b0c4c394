#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post { room: String, text: String },
    #[reply(u32)]
    Count,
}

// A typo in the variant: reported once, at the name; the parameters, the return type and the
// registration add no errors.
#[chsk::handler(ChatEvent::Cuont)]
async fn count(text: String) -> String {
    text
}

fn main() {
    let _ = chsk::Server::builder(()).handler(count).build();
}
