#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post(String),
    #[reply(u64)]
    Ping,
}

fn needs_request<R: chsk::Request>(_: R) {}

fn main() {
    needs_request(chat_event::Ping);
    needs_request(chat_event::Post("hi".to_owned()));
}
