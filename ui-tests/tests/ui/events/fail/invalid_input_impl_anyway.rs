use chsk::Event;

#[chsk::events(ns = "chat")]
#[derive(Debug)]
pub enum ChatEvent {
    #[reply = u64]
    Ping,
    Post(String),
}

fn main() {
    let event = ChatEvent::Post("hi".to_owned());
    let _ = (event.id(), ChatEvent::IDS, format!("{event:?}"), ChatEvent::Ping);
}
