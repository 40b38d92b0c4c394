//! Handlers with a context (bound to one state type) and without (generic over any state),
//! with and without a reply; `chsk::handler::of(f).run(..)` keeps the function callable.

use std::{
    future::Future,
    pin::pin,
    task::{Context, Poll, Waker},
};

use chsk::{handler::IntoHandler, Ctx, Handler, Variant};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub text: String,
}

#[chsk::events(ns = "chat")]
#[derive(Debug, Clone)]
pub enum ChatEvent {
    Post(Message),
    #[reply(Vec<Message>)]
    History {
        room: String,
        limit: u32,
    },
    #[reply(u64)]
    Ping,
}

pub struct AppState {
    pub messages: Vec<Message>,
}

/// Returns the last messages of a room.
#[chsk::handler(ChatEvent::History)]
async fn history(cx: Ctx<AppState>, room: String, limit: u32) -> Vec<Message> {
    let _ = room;
    cx.state()
        .messages
        .iter()
        .take(limit as usize)
        .cloned()
        .collect()
}

#[chsk::handler(ChatEvent::Post)]
pub async fn post(msg: Message) {
    let _ = msg;
}

#[chsk::handler(ChatEvent::Ping)]
async fn ping() -> u64 {
    42
}

// Patterns in parameters are kept as written.
#[chsk::handler(ChatEvent::History)]
async fn history_len(_cx: chsk::Ctx<AppState>, _room: String, limit: u32) -> Vec<Message> {
    vec![Message {
        text: limit.to_string(),
    }]
}

fn id_of<S, F: IntoHandler<S>>(_: F) -> &'static str {
    <<F::Handler as Handler<S>>::Variant as Variant>::ID
}

fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("not ready"),
    }
}

fn main() {
    assert_eq!(id_of::<AppState, _>(history), "chat/history");
    assert_eq!(id_of::<AppState, _>(history_len), "chat/history");
    // Without a context, a handler serves any state.
    assert_eq!(id_of::<AppState, _>(post), "chat/post");
    assert_eq!(id_of::<(), _>(post), "chat/post");
    assert_eq!(id_of::<String, _>(ping), "chat/ping");
    fn variant_of<S, F: IntoHandler<S>>(_: F) -> Option<<F::Handler as Handler<S>>::Variant> {
        None
    }
    let _: Option<chat_event::History> = variant_of::<AppState, _>(history);
    assert_eq!(ready(chsk::handler::of(ping).run()), 42);
    ready(chsk::handler::of(post).run(Message { text: "hi".into() }));
    // The handler values are small `Copy` values with a `Debug` impl.
    let value = chsk::handler::of(post);
    let _ = (value, value, format!("{:?}", chsk::handler::of(history)));
}
