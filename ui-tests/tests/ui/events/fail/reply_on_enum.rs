#[chsk::events(ns = "chat")]
#[reply(u64)]
pub enum ChatEvent {
    Ping,
}

fn main() {}
