#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post(String),
    #[reply(Vec<String>)]
    History { room: String, _limit: u32 },
}

pub struct AppState;

#[chsk::handler(ChatEvent::Post)]
async fn post(_text: String) {
    let rc = std::rc::Rc::new(_text);
    std::future::ready(()).await;
    drop(rc);
}

fn main() {}
