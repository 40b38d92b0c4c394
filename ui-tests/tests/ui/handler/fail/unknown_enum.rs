// A type that is not an event enum.
pub enum NotEvents {
    Post(String),
}

#[chsk::handler(NotEvents::Post)]
async fn post(_text: String) {}

fn main() {
    let _ = NotEvents::Post(String::new());
}
