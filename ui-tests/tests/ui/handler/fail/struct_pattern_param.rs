#[chsk::events(ns = "board")]
pub enum BoardEvent {
    Move { from: (u8, u8), to: (u8, u8) },
}

// A struct variant's parameters are matched to fields by name: a tuple pattern has none.
#[chsk::handler(BoardEvent::Move)]
async fn mv((x, y): (u8, u8), to: (u8, u8)) {
    let _ = (x, y, to);
}

fn main() {}
