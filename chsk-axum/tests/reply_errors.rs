//! Every kind of failed request reaches the native client as its own `CbError` variant, with
//! the server's message, over WebSocket and over Ajax alike: a panicking handler, an unknown
//! event id, an event without handler, a payload the server cannot decode, a reply too large
//! for a frame, a reply the client cannot decode, a request the client cannot encode, and (Ajax)
//! a call the server refuses with an HTTP status.
#![allow(missing_docs, unreachable_pub, clippy::unwrap_used)]

use std::{sync::Arc, time::Duration};

use chsk::{
    client::{Client, ClientOptions, TransportMode},
    server::Limits,
    CbError, Codec, Ctx, Server,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokio::sync::{Notify, Semaphore};

/// The server's events.
mod server_side {
    #[chsk::events(ns = "re")]
    #[derive(Debug, Clone)]
    pub enum ServerEvent {
        #[reply(String)]
        Echo(String),
        #[reply(u32)]
        Boom,
        #[reply(String)]
        Big(u32),
        /// No handler on the server.
        #[reply(u32)]
        Orphan,
        #[reply(u32)]
        Typed(u32),
        #[reply(String)]
        Number(u32),
        /// Waits until the test releases it.
        #[reply(u32)]
        Hold,
    }
}

/// A value whose encoding always fails.
#[derive(Debug, Clone)]
pub struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be encoded",
        ))
    }
}

impl<'de> Deserialize<'de> for Unencodable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u8::deserialize(d).map(|_| Unencodable)
    }
}

/// The client's view of the same namespace: another version of the events, so that some of
/// them do not match the server's.
mod client_side {
    use super::Unencodable;

    #[chsk::events(ns = "re")]
    #[derive(Debug, Clone)]
    pub enum ClientEvent {
        #[reply(String)]
        Echo(String),
        #[reply(u32)]
        Boom,
        #[reply(String)]
        Big(u32),
        #[reply(u32)]
        Orphan,
        /// The server expects a `u32`.
        #[reply(u32)]
        Typed(String),
        /// The server replies with a `String`.
        #[reply(u32)]
        Number(u32),
        #[reply(u32)]
        Hold,
        /// Not an event of the server.
        #[reply(u32)]
        Missing,
        #[reply(u32)]
        Send(Unencodable),
    }

    #[chsk::events(ns = "re")]
    #[derive(Debug, Clone)]
    pub enum ClientPush {
        Unused,
    }
}

use client_side::{client_event as c, ClientEvent, ClientPush};
use server_side::ServerEvent;

struct Gate {
    /// Notified when a `Hold` handler runs.
    started: Notify,
    /// A permit lets a `Hold` handler finish.
    release: Semaphore,
}

#[chsk::handler(ServerEvent::Echo)]
async fn echo(text: String) -> String {
    text
}

#[chsk::handler(ServerEvent::Boom)]
async fn boom() -> u32 {
    panic!("boom")
}

#[chsk::handler(ServerEvent::Big)]
async fn big(n: u32) -> String {
    "x".repeat(n as usize)
}

#[chsk::handler(ServerEvent::Typed)]
async fn typed(n: u32) -> u32 {
    n
}

#[chsk::handler(ServerEvent::Number)]
async fn number(n: u32) -> String {
    format!("number {n}")
}

#[chsk::handler(ServerEvent::Hold)]
async fn hold(cx: Ctx<Arc<Gate>>) -> u32 {
    cx.state().started.notify_one();
    cx.state().release.acquire().await.unwrap().forget();
    7
}

const MAX_SEND: usize = 16 * 1024;
const WAIT: Duration = Duration::from_secs(10);

/// The server on 127.0.0.1 (one call in flight per client), and its gate.
async fn start() -> (String, Arc<Gate>, tokio::task::JoinHandle<()>) {
    let gate = Arc::new(Gate {
        started: Notify::new(),
        release: Semaphore::new(0),
    });
    let server = Server::builder(gate.clone())
        .handler(echo)
        .handler(boom)
        .handler(big)
        .handler(typed)
        .handler(number)
        .handler(hold)
        .limits(Limits {
            max_send_frame_bytes: MAX_SEND,
            max_in_flight: 1,
            ..Limits::default()
        })
        .skip_csrf_check()
        .build();
    let app = axum::Router::new().nest("/chsk", chsk_axum::routes(server));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/chsk", listener.local_addr().unwrap());
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, gate, task)
}

async fn open(url: &str, transport: TransportMode) -> Client<ClientEvent, ClientPush> {
    let options = ClientOptions {
        transport,
        codec: Codec::Postcard,
        ..ClientOptions::default()
    };
    let client = Client::connect(url, options);
    client.wait_open(WAIT).await.expect("the client opens");
    client
}

/// The failures both transports report the same way.
async fn every_kind_is_typed(transport: TransportMode) {
    let (url, _gate, server) = start().await;
    let client = open(&url, transport).await;
    let label = format!("{transport:?}");

    match client.send_with_reply(c::Boom, WAIT).await {
        Err(CbError::Handler { message }) => {
            assert_eq!(message, "handler for `re/boom` panicked", "{label}");
        }
        other => panic!("{label}: panicking handler: {other:?}"),
    }
    match client.send_with_reply(c::Missing, WAIT).await {
        Err(CbError::UnknownEvent { message }) => {
            assert!(
                message.contains("unknown event id `re/missing`"),
                "{label}: {message}"
            );
        }
        other => panic!("{label}: unknown id: {other:?}"),
    }
    match client.send_with_reply(c::Orphan, WAIT).await {
        Err(CbError::UnknownEvent { message }) => {
            assert!(
                message.contains("no handler for event `re/orphan`"),
                "{label}: {message}"
            );
        }
        other => panic!("{label}: no handler: {other:?}"),
    }
    match client.send_with_reply(c::Typed("1".into()), WAIT).await {
        Err(CbError::BadPayload { message }) => {
            assert!(
                message.contains("bad payload for event `re/typed`"),
                "{label}: {message}"
            );
        }
        other => panic!("{label}: bad payload: {other:?}"),
    }
    match client.send_with_reply(c::Big(MAX_SEND as u32), WAIT).await {
        Err(CbError::Server { message }) => {
            assert!(
                message.contains("more than a frame may hold"),
                "{label}: {message}"
            );
        }
        other => panic!("{label}: reply too large: {other:?}"),
    }
    // The reply arrived, but it is a `String` where this client expects a `u32`.
    match client.send_with_reply(c::Number(5), WAIT).await {
        Err(e @ CbError::Decode(_)) => {
            assert!(
                e.to_string().starts_with("could not decode the reply"),
                "{label}: {e}"
            );
        }
        other => panic!("{label}: undecodable reply: {other:?}"),
    }
    // Nothing is sent.
    match client.send_with_reply(c::Send(Unencodable), WAIT).await {
        Err(CbError::Encode(_)) => {}
        other => panic!("{label}: unencodable request: {other:?}"),
    }
    assert!(matches!(
        client.send(c::Send(Unencodable)),
        Err(CbError::Encode(_))
    ));
    // None of these closed the connection.
    let reply = client
        .send_with_reply(c::Echo("still open".into()), WAIT)
        .await;
    assert_eq!(reply, Ok("still open".to_owned()), "{label}");
    client.disconnect();
    server.abort();
}

#[tokio::test]
async fn every_kind_is_typed_over_websocket() {
    every_kind_is_typed(TransportMode::Ws).await;
}

#[tokio::test]
async fn every_kind_is_typed_over_ajax() {
    every_kind_is_typed(TransportMode::Ajax).await;
}

#[tokio::test]
async fn a_refused_ajax_call_is_refused_with_its_status() {
    let (url, gate, server) = start().await;
    let client = open(&url, TransportMode::Ajax).await;
    // One call in flight is the limit: while `Hold` runs, another `POST` gets `429`.
    let held = {
        let client = client.clone();
        tokio::spawn(async move { client.send_with_reply(c::Hold, WAIT).await })
    };
    gate.started.notified().await;
    match client.send_with_reply(c::Echo("x".into()), WAIT).await {
        Err(err @ CbError::Refused { .. }) => {
            assert_eq!(err.status(), Some(429));
            assert_eq!(err.message(), Some("too many requests in flight"));
            assert_eq!(
                err.to_string(),
                "refused (HTTP 429): too many requests in flight"
            );
        }
        other => panic!("{other:?}"),
    }
    gate.release.add_permits(1);
    assert_eq!(held.await.unwrap(), Ok(7));
    // With the first call done, the next one runs.
    let reply = client.send_with_reply(c::Echo("next".into()), WAIT).await;
    assert_eq!(reply, Ok("next".to_owned()));
    client.disconnect();
    server.abort();
}
