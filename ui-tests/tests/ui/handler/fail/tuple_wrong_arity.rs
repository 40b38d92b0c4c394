#[chsk::events(ns = "board")]
pub enum BoardEvent {
    Pair(u8, String),
}

#[chsk::handler(BoardEvent::Pair)]
async fn pair(number: u8) {
    let _ = number;
}

fn main() {}
