#[chsk::events(ns = "board")]
pub enum BoardEvent {
    Move { from: String, to: String },
}

#[chsk::handler(BoardEvent::Move)]
async fn mv(from: String) {
    let _ = from;
}

fn main() {}
