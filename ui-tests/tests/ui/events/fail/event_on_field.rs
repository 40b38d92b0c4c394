#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post {
        #[event(id = "chat/text")]
        text: String,
    },
}

fn main() {}
