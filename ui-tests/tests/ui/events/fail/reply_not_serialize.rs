pub struct NotSerde;

#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[reply(NotSerde)]
    Ping,
}

fn main() {}
