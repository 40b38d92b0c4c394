#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub text: String,
}

#[chsk::events(ns = "chat")]
pub enum ChatEvent {
    #[reply(Vec<Mesage>)]
    History { room: String },
}

fn main() {}
