//! `#[chsk::handler(ChatEvent::Post)]` resolves through the enum: importing only the enum is
//! enough, and the import is used (no `unused_imports`).
#![deny(warnings)]

mod events {
    #[chsk::events(ns = "chat")]
    #[derive(Debug)]
    pub enum ChatEvent {
        Post(String),
        #[reply(u64)]
        Ping,
        r#Type { r#type: u8 },
    }

    #[chsk::events(ns = "push")]
    #[derive(Debug)]
    pub enum Push {
        Post(String),
    }
}

mod handlers {
    use crate::events::ChatEvent;

    #[chsk::handler(ChatEvent::Post)]
    pub(crate) async fn post(text: String) {
        let _ = text;
    }

    #[chsk::handler(ChatEvent::Ping)]
    pub(crate) async fn ping() -> u64 {
        7
    }

    #[chsk::handler(ChatEvent::r#Type)]
    pub(crate) async fn kind(r#type: u8) {
        let _ = r#type;
    }
}

mod by_full_path {
    // No import at all: the path names the enum.
    #[chsk::handler(crate::events::Push::Post)]
    pub(crate) async fn push_post(_cx: chsk::Ctx<()>, text: String) {
        let _ = text;
    }
}

fn main() {
    let _server = chsk::Server::builder(())
        .handler(handlers::post)
        .handler(handlers::ping)
        .handler(handlers::kind)
        .skip_csrf_check()
        .build();
    let _push = chsk::Server::builder(())
        .handler(by_full_path::push_post)
        .skip_csrf_check()
        .build();
}
