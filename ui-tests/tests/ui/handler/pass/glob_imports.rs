//! Glob imports that bring in the enum (and the crate root's items) next to its declaration or
//! at the handler: no ambiguity, no warning.
#![deny(warnings)]

pub mod events {
    #[allow(unused_imports)]
    use super::*;

    #[chsk::events(ns = "chat")]
    #[derive(Debug)]
    pub enum ChatEvent {
        Post { room: String, text: String },
    }
}

pub mod handlers {
    use crate::events::*;

    #[chsk::handler(ChatEvent::Post)]
    pub async fn post(text: String, room: String) {
        let _ = (text, room);
    }

    #[chsk::handler(chat_event::Post)]
    pub async fn post_again(_room: String, _text: String) {}
}

fn main() {
    let _ = chsk::Server::builder(())
        .handler(handlers::post)
        .skip_csrf_check()
        .build();
    let _ = chsk::Server::builder(())
        .handler(handlers::post_again)
        .skip_csrf_check()
        .build();
}
