#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[reply(u64)]
    #[reply(u32)]
    Ping,
}

fn main() {}
