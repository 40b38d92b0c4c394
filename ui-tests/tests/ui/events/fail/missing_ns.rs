#[chsk::events]
pub enum ChatEvent {
    Post(String),
}

fn main() {}
