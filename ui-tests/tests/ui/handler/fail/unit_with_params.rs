#[chsk::events(ns = "board")]
pub enum BoardEvent {
    Ping,
}

#[chsk::handler(BoardEvent::Ping)]
async fn ping(text: String) {
    let _ = text;
}

fn main() {}
