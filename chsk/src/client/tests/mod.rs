//! Pure tests of the client state machine, with a fake clock, by topic; the helpers they share
//! are here.

mod ajax;
mod connect;
mod pushes_stream;
mod reconnect;
mod recovery;
mod refusals;
mod sending;
mod server_frames;

use std::time::Duration;

use super::{
    runtime::{AttemptId, ClientCore, HttpAnswer, Output, PollError, TransportClosed, WsOpenError},
    BackoffOptions, ClientOptions, CloseReason, Credentials, CredentialsRequest, Refusal,
    ServerError, StateChange, TransportMode, DEFAULT_SEND_BUFFER,
};
use crate::{
    codec::{Codec, Payload},
    error::CbError,
    protocol::{EventFrame, Frame, Handshake, ReplyError, ReplyErrorKind},
    transport::Transport,
};

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Options with small, jitter-free timings (backoff 100 ms doubling up to 400 ms).
fn opts(transport: TransportMode) -> ClientOptions {
    ClientOptions {
        transport,
        client_id: Some("c1".into()),
        backoff: BackoffOptions {
            base: ms(100),
            cap: ms(400),
            jitter: 0.0,
        },
        ws_kalive: ms(1000),
        ws_ping_timeout: ms(500),
        connect_timeout: ms(2000),
        ..Default::default()
    }
}

fn core(transport: TransportMode) -> ClientCore {
    ClientCore::new("http://h:1/chsk", opts(transport), 1)
}

/// A core with options `o`, started at t = 0, and its first attempt.
fn started(o: ClientOptions) -> (ClientCore, AttemptId) {
    let mut c = ClientCore::new("http://h:1/chsk", o, 1);
    c.start(ms(0));
    let (attempt, _, _) = connected(&drain(&mut c));
    (c, attempt)
}

/// A core in `mode`, started at t = 0, and its first attempt.
fn start(mode: TransportMode) -> (ClientCore, AttemptId) {
    started(opts(mode))
}

/// Starts a WS client and completes its handshake at t = 0.
fn open_ws() -> (ClientCore, AttemptId) {
    let (mut c, conn) = start(TransportMode::Ws);
    c.on_open(conn, ms(0));
    c.on_message(conn, ms(0), &handshake("alice", true));
    drain(&mut c);
    (c, conn)
}

/// Starts an Ajax client and completes its handshake at t = 1 ms.
fn open_ajax() -> (ClientCore, AttemptId) {
    let (mut c, conn) = start(TransportMode::Ajax);
    c.on_poll(conn, ms(1), Ok(&handshake("u", true)));
    drain(&mut c);
    (c, conn)
}

fn drain(c: &mut ClientCore) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

fn enc(frame: &Frame) -> Vec<u8> {
    Codec::Postcard.encode_frame(frame).expect("encodes")
}

fn handshake(uid: &str, first: bool) -> Vec<u8> {
    enc(&Frame::Handshake(Handshake {
        version: crate::protocol::VERSION,
        uid: Some(uid.into()),
        client_id: "c1".into(),
        data: Some(Payload(Codec::Postcard.encode(&7u32).expect("encodes"))),
        first,
        recovered: false,
        positions: vec![],
    }))
}

fn ev(id: &'static str) -> EventFrame {
    EventFrame {
        id: id.into(),
        payload: Payload(vec![]),
    }
}

fn refused(status: u16, body: &str) -> HttpAnswer {
    HttpAnswer::new(status, body.as_bytes().to_vec())
}

/// The attempt of the single `Connect` in `outs`.
fn connected(outs: &[Output]) -> (AttemptId, Transport, String) {
    let found: Vec<_> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Connect {
                attempt,
                transport,
                url,
            } => Some((*attempt, *transport, url.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "expected one Connect in {outs:?}");
    found.into_iter().next().expect("one")
}

fn connects(outs: &[Output]) -> bool {
    outs.iter().any(|o| matches!(o, Output::Connect { .. }))
}

fn sent(outs: &[Output]) -> Vec<Frame> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send { bytes, .. } => Some(Codec::Postcard.decode_frame(bytes).expect("frame")),
            _ => None,
        })
        .collect()
}

fn replies(outs: &[Output]) -> Vec<(u32, Result<Payload, CbError>)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Reply { reply_id, result } => Some((*reply_id, result.clone())),
            _ => None,
        })
        .collect()
}

fn states(outs: &[Output]) -> Vec<StateChange> {
    outs.iter()
        .filter_map(|o| match o {
            Output::State(s) => Some((**s).clone()),
            _ => None,
        })
        .collect()
}

fn credential_requests(outs: &[Output]) -> Vec<(AttemptId, CredentialsRequest)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Credentials { attempt, request } => Some((*attempt, request.clone())),
            _ => None,
        })
        .collect()
}

fn server_errors(outs: &[Output]) -> Vec<ServerError> {
    outs.iter()
        .filter_map(|o| match o {
            Output::ServerError(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}
