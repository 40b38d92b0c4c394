//! Adaptive push coalescing, through the in-memory transport (feature `test-util`) on tokio's
//! paused clock: a push to an idle target goes out at once (the clock does not move), pushes
//! made while the target's previous frame is being written gather into one frame behind it,
//! bounded in bytes and in time, in order, and every push is accounted for.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::Duration;

use chsk::{
    protocol::Frame,
    server::{mount::WsMessage, Flush, Limits, MemClient, PresenceEvent, Target, Timings},
    Codec, Event, Server,
};

#[chsk::events(ns = "co")]
#[derive(Debug, Clone, PartialEq)]
pub enum CoEvent {
    Note(u32),
}

#[chsk::events(ns = "co")]
#[derive(Debug, Clone, PartialEq)]
pub enum CoPush {
    Seq(u32),
}

#[chsk::handler(CoEvent::Note)]
async fn note(_n: u32) {}

const WINDOW_WS: Duration = Duration::from_millis(30);
const WINDOW_AJAX: Duration = Duration::from_millis(100);

fn server(limits: Limits) -> Server {
    Server::builder(())
        .handler(note)
        .user_id(|req, _| req.query("uid").map(str::to_owned))
        .skip_csrf_check()
        .timings(Timings {
            send_buf_ws: WINDOW_WS,
            send_buf_ajax: WINDOW_AJAX,
            ..Timings::default()
        })
        .limits(limits)
        .build()
}

fn push(server: &Server, target: Target, n: u32) {
    assert_eq!(server.push(target, CoPush::Seq(n), Flush::Batched), Ok(1));
}

fn alice() -> Target {
    Target::User("alice".into())
}

async fn open(client: Result<MemClient, chsk::server::Rejection>) -> MemClient {
    let mut client = client.unwrap();
    assert!(matches!(client.frame().await, Some(Frame::Handshake(_))));
    client
}

fn seqs(frame: Frame) -> Vec<u32> {
    match frame {
        Frame::Push(_) => frame
            .pushed_events()
            .map(|e| match CoPush::from_frame(e, Codec::Postcard).unwrap() {
                CoPush::Seq(n) => n,
            })
            .collect(),
        other => panic!("expected a push, got {other:?}"),
    }
}

fn identity_holds(server: &Server) {
    let m = server.metrics();
    assert_eq!(
        m.push_deliveries,
        m.pushes_written + m.pushes_dropped(),
        "{m:?}"
    );
}

/// Closes the client, waits for the server's close, and checks the identity.
async fn identity_holds_after_close(server: &Server, mut c: MemClient) {
    c.close();
    while c.recv().await.is_some() {}
    let m = server.metrics();
    assert_eq!(
        m.push_deliveries,
        m.pushes_written + m.pushes_dropped(),
        "{m:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lone_push_is_sent_at_once() {
    let server = server(Limits::default());
    let mut c = open(server.connect_mem("client-id=a&uid=alice")).await;
    let start = tokio::time::Instant::now();
    for n in 0..3 {
        // One push at a time, each read before the next: none waits for anything.
        push(&server, alice(), n);
        assert_eq!(seqs(c.frame().await.unwrap()), [n]);
        assert_eq!(start.elapsed(), Duration::ZERO, "push {n} was held");
    }
    // Also after a quiet spell, and to everybody.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let start = tokio::time::Instant::now();
    push(&server, Target::All, 3);
    assert_eq!(seqs(c.frame().await.unwrap()), [3]);
    assert_eq!(start.elapsed(), Duration::ZERO);
    let m = server.metrics();
    assert_eq!((m.push_deliveries, m.pushes_written), (4, 4));
    identity_holds(&server);
}

#[tokio::test(start_paused = true)]
async fn a_burst_during_a_stalled_write_is_one_frame_in_order() {
    let server = server(Limits::default());
    // The client's end holds one unread message: the server's flush of a second one stalls
    // until the client reads.
    let mut c = open(
        server
            .mem_request("client-id=a&uid=alice")
            .capacity(1)
            .connect(),
    )
    .await;
    let start = tokio::time::Instant::now();
    push(&server, alice(), 0);
    // Let the connection take push 0 and stall on its flush.
    tokio::task::yield_now().await;
    for n in 1..=20 {
        push(&server, alice(), n);
    }
    assert_eq!(seqs(c.frame().await.unwrap()), [0]);
    // Reading frees the socket: the write completes, and the twenty pushes made meanwhile
    // follow as one frame, without a window's wait.
    assert_eq!(seqs(c.frame().await.unwrap()), (1..=20).collect::<Vec<_>>());
    assert_eq!(start.elapsed(), Duration::ZERO);
    // Nothing else was sent.
    push(&server, alice(), 21);
    assert_eq!(seqs(c.frame().await.unwrap()), [21]);
    let m = server.metrics();
    // Push 21 counts as written when its flush completes: once the client reads again.
    assert_eq!((m.push_deliveries, m.pushes_written), (22, 21));
    identity_holds_after_close(&server, c).await;
}

#[tokio::test(start_paused = true)]
async fn a_stalled_recipient_holds_a_broadcast_for_the_window_at_most() {
    let server = server(Limits::default());
    let mut reader = open(server.connect_mem("client-id=r&uid=reader")).await;
    let _stalled = open(
        server
            .mem_request("client-id=s&uid=stalled")
            .capacity(1)
            .connect(),
    )
    .await;
    let start = tokio::time::Instant::now();
    assert_eq!(
        server.push(Target::All, CoPush::Seq(0), Flush::Batched),
        Ok(2)
    );
    assert_eq!(seqs(reader.frame().await.unwrap()), [0]);
    assert_eq!(start.elapsed(), Duration::ZERO);
    // The stalled client never writes frame 0 (it does not read the first, which fills its
    // socket): the next pushes gather until the window closes.
    for n in 1..=3 {
        assert_eq!(
            server.push(Target::All, CoPush::Seq(n), Flush::Batched),
            Ok(2)
        );
    }
    assert_eq!(seqs(reader.frame().await.unwrap()), [1, 2, 3]);
    assert_eq!(start.elapsed(), WINDOW_WS);
    // `Flush::Now` does not wait for the stalled client.
    let start = tokio::time::Instant::now();
    assert_eq!(server.push(Target::All, CoPush::Seq(4), Flush::Now), Ok(2));
    assert_eq!(seqs(reader.frame().await.unwrap()), [4]);
    assert_eq!(start.elapsed(), Duration::ZERO);
    // Neither does `Server::flush`: what gathered behind frame 4 goes out at once.
    for n in 5..=6 {
        assert_eq!(
            server.push(Target::All, CoPush::Seq(n), Flush::Batched),
            Ok(2)
        );
    }
    server.flush();
    assert_eq!(seqs(reader.frame().await.unwrap()), [5, 6]);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_coalesced_burst_respects_the_frame_bound() {
    const MAX: usize = 120;
    let server = server(Limits {
        max_send_frame_bytes: MAX,
        ..Limits::default()
    });
    let mut c = open(server.connect_mem("client-id=a&uid=alice")).await;
    for n in 0..200 {
        push(&server, alice(), n);
    }
    let mut got = Vec::new();
    let mut frames = 0;
    while got.len() < 200 {
        let Some(WsMessage::Binary(bytes)) = c.recv().await else {
            panic!("expected a binary frame");
        };
        assert!(bytes.len() <= MAX, "a frame of {} bytes", bytes.len());
        got.extend(seqs(server.codec().decode_frame(&bytes).unwrap()));
        frames += 1;
    }
    assert_eq!(got, (0..200).collect::<Vec<_>>(), "in order, each once");
    assert!(frames > 2, "the bound split the burst ({frames} frames)");
    assert!(frames < 100, "the burst was coalesced ({frames} frames)");
    let m = server.metrics();
    assert_eq!((m.push_deliveries, m.pushes_written), (200, 200));
}

#[tokio::test(start_paused = true)]
async fn pushes_gathered_for_a_client_that_goes_away_are_counted() {
    let server = server(Limits::default());
    let mut presence = server.presence_events();
    let mut keeps = open(server.connect_mem("client-id=k&uid=keeps")).await;
    let mut goes = open(
        server
            .mem_request("client-id=g&uid=goes")
            .capacity(1)
            .connect(),
    )
    .await;
    for _ in 0..2 {
        assert!(matches!(
            presence.recv().await,
            Ok(PresenceEvent::UidPortOpen(_))
        ));
    }
    for n in 0..50 {
        assert_eq!(
            server.push(Target::All, CoPush::Seq(n), Flush::Batched),
            Ok(2)
        );
        push(&server, Target::User("goes".into()), 1000 + n);
        if n == 25 {
            tokio::task::yield_now().await;
        }
    }
    goes.cut();
    drop(goes);
    let mut got = Vec::new();
    while got.len() < 50 {
        got.extend(seqs(keeps.frame().await.unwrap()));
    }
    assert_eq!(got, (0..50).collect::<Vec<_>>());
    // Wait until the cut connection is gone for good.
    loop {
        if let Ok(PresenceEvent::UidPortClose(uid)) = presence.recv().await {
            assert_eq!(uid, "goes");
            break;
        }
    }
    let m = server.metrics();
    assert_eq!(m.push_deliveries + m.pushes_undeliverable, 150, "{m:?}");
    assert!(m.pushes_written >= 50, "{m:?}");
    identity_holds(&server);
}

#[tokio::test(start_paused = true)]
async fn a_waiting_ajax_poll_is_answered_at_once() {
    let server = server(Limits::default());
    let ajax = server.ajax_mem("client-id=x&uid=alice");
    ajax.handshake().await;
    for n in 0..3 {
        let poll = ajax.start_poll();
        let start = tokio::time::Instant::now();
        push(&server, alice(), n);
        assert_eq!(seqs(poll.await.unwrap()), [n]);
        assert_eq!(start.elapsed(), Duration::ZERO, "push {n} was held");
    }
    let m = server.metrics();
    assert_eq!((m.push_deliveries, m.pushes_written), (3, 3));
}

#[tokio::test(start_paused = true)]
async fn pushes_between_ajax_polls_are_one_answer() {
    let server = server(Limits::default());
    let ajax = server.ajax_mem("client-id=x&uid=alice");
    ajax.handshake().await;
    // No poll is waiting: the pushes gather (spread over less than the window, and past it).
    for n in 0..5 {
        push(&server, alice(), n);
        tokio::time::sleep(WINDOW_AJAX / 4).await;
    }
    push(&server, alice(), 5);
    let start = tokio::time::Instant::now();
    assert_eq!(seqs(ajax.poll().await), [0, 1, 2, 3, 4, 5], "one answer");
    assert_eq!(start.elapsed(), Duration::ZERO);
    // The next poll waits for the next push.
    let poll = ajax.start_poll();
    push(&server, alice(), 6);
    assert_eq!(seqs(poll.await.unwrap()), [6]);
    let m = server.metrics();
    assert_eq!((m.push_deliveries, m.pushes_written), (7, 7));
    identity_holds(&server);
}
