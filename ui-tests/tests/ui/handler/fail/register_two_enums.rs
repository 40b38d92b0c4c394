#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    Post(String),
}

#[chsk::events(ns = "admin")]
pub enum AdminEvent {
    Kick(String),
}

#[chsk::handler(ChatEvent::Post)]
async fn post(_text: String) {}

#[chsk::handler(AdminEvent::Kick)]
async fn kick(_user: String) {}

fn main() {
    let _ = chsk::Server::builder(()).handler(post).handler(kick).build();
}
