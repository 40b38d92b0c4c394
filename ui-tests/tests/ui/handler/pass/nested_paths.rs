//! An event enum in a nested module; handlers in another module name it through paths:
//! `crate::app::events::ChatEvent::Echo` resolves through the enum at that path, and a path
//! that names the generated module (`events::chat_event::Bye`) is used as it is.

pub mod app {
    pub mod events {
        #[chsk::events(ns = "app")]
        #[derive(Debug, Clone, PartialEq)]
        pub enum ChatEvent {
            #[reply(String)]
            Echo(String),
            Bye,
        }

        #[chsk::events(ns = "push")]
        #[derive(Debug)]
        pub(crate) enum HTTPPush {
            Notice { text: String },
        }
    }

    pub mod handlers {
        use super::events;

        #[chsk::handler(crate::app::events::ChatEvent::Echo)]
        pub async fn echo(text: String) -> String {
            text
        }

        #[chsk::handler(events::chat_event::Bye)]
        pub async fn bye() {}

        #[chsk::handler(super::events::HTTPPush::Notice)]
        pub(crate) async fn notice(_: chsk::Ctx<u8>, text: String) {
            let _ = text;
        }
    }
}

use app::events::{chat_event, http_push, ChatEvent};
use chsk::{handler::IntoHandler, Event, Handler, Variant};

fn variant_of<S, F: IntoHandler<S>>(_: F) -> &'static str {
    <<F::Handler as Handler<S>>::Variant as Variant>::ID
}

fn main() {
    assert_eq!(ChatEvent::IDS, ["app/echo", "app/bye"]);
    assert_eq!(chat_event::Echo::ID, "app/echo");
    assert_eq!(http_push::Notice::ID, "push/notice");
    assert_eq!(variant_of::<(), _>(app::handlers::echo), "app/echo");
    assert_eq!(variant_of::<(), _>(app::handlers::bye), "app/bye");
    assert_eq!(variant_of::<u8, _>(app::handlers::notice), "push/notice");
    let e: ChatEvent = chat_event::Echo("x".into()).into();
    assert_eq!(e.id(), "app/echo");
}
