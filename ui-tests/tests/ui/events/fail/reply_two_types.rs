#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[reply(u64, String)]
    Ping,
}

fn main() {}
