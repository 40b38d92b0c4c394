//! Generated handler items satisfy strict lints: docs, Debug, no unreachable `pub`.
#![deny(warnings, missing_docs, missing_debug_implementations, unreachable_pub)]

/// Events.
pub mod events {
    /// The app's events.
    #[chsk::events(ns = "app")]
    #[derive(Debug)]
    pub enum AppEvent {
        /// Say hi.
        #[reply(String)]
        Hello(String),
        /// Leave.
        Bye,
    }
}

/// Handlers.
pub mod handlers {
    // `AppEvent::Hello` is resolved through the enum; `app_event::Bye` through the module.
    use super::events::{app_event, AppEvent};

    #[chsk::handler(AppEvent::Hello)]
    pub async fn hello(name: String) -> String {
        format!("hi {name}")
    }

    /// Says bye.
    #[chsk::handler(app_event::Bye)]
    pub async fn bye(_cx: chsk::Ctx<()>) {}

    #[chsk::handler(AppEvent::Bye)]
    pub(crate) async fn bye_too() {}
}

fn main() {
    fn is_handler<S, F: chsk::handler::IntoHandler<S>>(_: F) {}
    is_handler::<(), _>(handlers::hello);
    is_handler::<(), _>(handlers::bye);
    is_handler::<u8, _>(handlers::bye_too);
}
