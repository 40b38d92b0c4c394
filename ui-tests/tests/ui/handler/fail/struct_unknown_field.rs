#[chsk::events(ns = "board")]
pub enum BoardEvent {
    Move { from: String, to: String },
}

#[chsk::handler(BoardEvent::Move)]
async fn mv(to: String, form: String) {
    let _ = (to, form);
}

fn main() {}
