//! Server behaviour through the in-memory transport (feature `test-util`): no sockets, tokio's
//! paused clock, so timers (keep-alive, batching windows, grace periods) run instantly and
//! deterministically.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::Duration;

use chsk::{
    codec::Payload,
    protocol::{EventFrame, Frame},
    server::{
        mount::WsMessage, Flush, Limits, MemClient, PresenceEvent, RateLimit, Target, Timings,
    },
    Ctx, Event, Server,
};

#[chsk::events(ns = "m")]
#[derive(Debug, Clone, PartialEq)]
pub enum MemEvent {
    #[reply(String)]
    Echo(String),
    Note(u32),
}

#[chsk::events(ns = "m")]
#[derive(Debug, Clone, PartialEq)]
pub enum MemPush {
    Seq(u32),
}

#[chsk::handler(MemEvent::Echo)]
async fn echo(cx: Ctx<()>, text: String) -> String {
    format!("{text} from {}", cx.uid().unwrap_or("anonymous"))
}

#[chsk::handler(MemEvent::Note)]
async fn note(_n: u32) {}

fn timings() -> Timings {
    Timings {
        ws_kalive: Duration::from_secs(25),
        ws_ping_timeout: Duration::from_secs(10),
        send_buf_ws: Duration::from_millis(30),
        ws_grace: Duration::from_millis(2500),
        ..Timings::default()
    }
}

fn server(limits: Limits) -> Server {
    Server::builder(())
        .handler(echo)
        .handler(note)
        .user_id(|req, _| req.query("uid").map(str::to_owned))
        .skip_csrf_check()
        .timings(timings())
        .limits(limits)
        .build()
}

fn request(reply_id: u32, ev: MemEvent) -> Frame {
    Frame::Request {
        reply_id,
        event: ev.to_frame(chsk::Codec::Postcard).unwrap(),
    }
}

async fn open(server: &Server, query: &str) -> MemClient {
    let mut client = server.connect_mem(query).unwrap();
    assert!(matches!(client.frame().await, Some(Frame::Handshake(_))));
    client
}

fn seqs(frame: Frame) -> Vec<u32> {
    match frame {
        Frame::Push(events) => events
            .iter()
            .map(
                |e| match MemPush::from_frame(e, chsk::Codec::Postcard).unwrap() {
                    MemPush::Seq(n) => n,
                },
            )
            .collect(),
        other => panic!("expected a push, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn requests_get_one_reply_and_bad_events_an_error() {
    let server = server(Limits::default());
    let mut c = open(&server, "client-id=a&uid=alice").await;
    c.send(&request(1, MemEvent::Echo("hi".into())));
    match c.frame().await.unwrap() {
        Frame::Reply {
            reply_id: 1,
            result: Ok(p),
        } => assert_eq!(
            server.codec().decode_payload::<String>(&p).unwrap(),
            "hi from alice"
        ),
        other => panic!("{other:?}"),
    }
    c.send(&Frame::Event(EventFrame {
        id: "m/nope".into(),
        payload: Payload(vec![]),
    }));
    match c.frame().await.unwrap() {
        Frame::Error { message } => assert!(message.contains("m/nope"), "{message}"),
        other => panic!("{other:?}"),
    }
    c.send_raw(vec![0xff, 0x00]);
    assert!(matches!(c.frame().await, Some(Frame::Error { .. })));
    assert_eq!(server.metrics().bad_events, 1);
    assert_eq!(server.metrics().malformed_frames, 1);
}

#[tokio::test(start_paused = true)]
async fn pushes_in_one_window_are_one_frame_and_flush_now_is_at_once() {
    let server = server(Limits::default());
    let mut c = open(&server, "client-id=a&uid=alice").await;
    for n in 0..3 {
        server
            .push(
                Target::User("alice".into()),
                MemPush::Seq(n),
                Flush::Batched,
            )
            .unwrap();
    }
    let start = tokio::time::Instant::now();
    assert_eq!(seqs(c.frame().await.unwrap()), [0, 1, 2]);
    assert_eq!(
        start.elapsed(),
        timings().send_buf_ws,
        "sent when the window closed"
    );
    let start = tokio::time::Instant::now();
    server
        .push(Target::User("alice".into()), MemPush::Seq(3), Flush::Now)
        .unwrap();
    assert_eq!(seqs(c.frame().await.unwrap()), [3]);
    assert_eq!(start.elapsed(), Duration::ZERO);
    let m = server.metrics();
    assert_eq!((m.push_deliveries, m.pushes_written), (4, 4));
}

#[tokio::test(start_paused = true)]
async fn a_silent_client_is_pinged_then_closed() {
    let server = server(Limits::default());
    let mut c = open(&server, "client-id=a").await;
    let start = tokio::time::Instant::now();
    assert_eq!(c.frame().await, Some(Frame::Ping));
    assert_eq!(
        start.elapsed(),
        timings().ws_kalive,
        "after ws_kalive of silence"
    );
    match c.frame().await {
        Some(Frame::Close { reason }) => assert_eq!(reason, "ping timeout"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        start.elapsed(),
        timings().ws_kalive + timings().ws_ping_timeout
    );
    assert!(matches!(c.recv().await, Some(WsMessage::Close(1001, _))));
    assert_eq!(server.metrics().ping_timeouts, 1);
}

#[tokio::test(start_paused = true)]
async fn an_active_client_is_not_pinged() {
    let server = server(Limits::default());
    let mut c = open(&server, "client-id=a").await;
    // A frame every 20 s (less than ws_kalive): the sliding window never fires.
    for i in 0..5 {
        tokio::time::sleep(Duration::from_secs(20)).await;
        c.send(&request(i, MemEvent::Echo("x".into())));
        assert!(matches!(c.frame().await, Some(Frame::Reply { .. })));
    }
    assert_eq!(server.metrics().ping_timeouts, 0);
}

#[tokio::test(start_paused = true)]
async fn presence_closes_after_the_grace_period_and_a_reload_is_no_close() {
    let server = server(Limits::default());
    let mut events = server.presence_events();
    let mut c = open(&server, "client-id=a&uid=alice").await;
    assert_eq!(
        events.recv().await.unwrap(),
        PresenceEvent::UidPortOpen("alice".into())
    );
    // A reload: the tab closes and opens again within the grace period.
    c.close();
    assert!(
        matches!(c.recv().await, Some(WsMessage::Close(1000, _))),
        "close answered"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut c = open(&server, "client-id=a&uid=alice").await;
    tokio::time::sleep(timings().ws_grace * 2).await;
    assert!(events.try_recv().is_err(), "no close for a reload");
    assert!(server.connected_uids().any.contains("alice"));
    // Gone for good: closed after the grace period.
    c.cut();
    let start = tokio::time::Instant::now();
    assert_eq!(
        events.recv().await.unwrap(),
        PresenceEvent::UidPortClose("alice".into())
    );
    assert!(start.elapsed() >= timings().ws_grace);
    assert!(!server.connected_uids().any.contains("alice"));
}

#[tokio::test(start_paused = true)]
async fn limits_close_with_a_reason() {
    let server = server(Limits {
        max_frame_bytes: 1024,
        rate_limit: Some(RateLimit {
            per_second: 1,
            burst: 2,
        }),
        ..Limits::default()
    });
    let mut big = open(&server, "client-id=big").await;
    big.send_raw(vec![0; 2048]);
    assert_eq!(
        big.frame().await,
        Some(Frame::Close {
            reason: "frame too large".into()
        })
    );
    assert!(matches!(big.recv().await, Some(WsMessage::Close(1009, _))));
    let mut fast = open(&server, "client-id=fast").await;
    for n in 0..3 {
        fast.send(&Frame::Event(
            MemEvent::Note(n).to_frame(server.codec()).unwrap(),
        ));
    }
    assert_eq!(
        fast.frame().await,
        Some(Frame::Close {
            reason: "rate limit exceeded".into()
        })
    );
    let m = server.metrics();
    assert_eq!((m.oversized_frames, m.rate_limited), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn pushes_to_a_cut_connection_are_counted() {
    let server = server(Limits::default());
    let mut c = open(&server, "client-id=a&uid=alice").await;
    for n in 0..10 {
        server
            .push(
                Target::User("alice".into()),
                MemPush::Seq(n),
                Flush::Batched,
            )
            .unwrap();
    }
    // The client goes away inside the batching window.
    c.cut();
    drop(c);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let m = server.metrics();
    assert_eq!(m.ws_closed, 1);
    assert_eq!(
        m.push_deliveries + m.pushes_undeliverable,
        10,
        "every push reached the connection or was counted as undeliverable: {m:?}"
    );
    assert_eq!(
        m.push_deliveries,
        m.pushes_written + m.pushes_dropped(),
        "{m:?}"
    );
}
