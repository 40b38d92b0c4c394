#[chsk::events(ns = "board")]
pub enum BoardEvent {
    Move { from: String, to: String },
}

// `_from` binds the field `from` too.
#[chsk::handler(BoardEvent::Move)]
async fn mv(from: String, _from: String) {
    let _ = from;
}

fn main() {}
