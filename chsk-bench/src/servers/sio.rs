//! socketioxide: `bench/echo` acks its data back; `/trigger` emits `bench/push`.

use axum::{
    extract::{Query, State},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use socketioxide::{
    extract::{AckSender, Data, SocketRef},
    SocketIo,
};

use super::Trigger;
use crate::wire::{self, sample_msg, Msg, PUSH_ID};

/// The socketioxide server: its axum layer, room for a burst of pushes per socket.
pub fn router() -> Router {
    let (layer, io) = SocketIo::builder()
        // room for a whole burst of pushes per socket (the default is 128 packets)
        .max_buffer_size(1 << 16)
        .build_layer();
    io.ns("/", async |s: SocketRef| {
        s.on(wire::ECHO_ID, async |Data::<Msg>(m), ack: AckSender| {
            let _ = ack.send(&m);
        });
    });
    Router::new()
        .route("/trigger", get(sio_trigger))
        .with_state(io)
        .layer(layer)
}

async fn sio_trigger(State(io): State<SocketIo>, Query(t): Query<Trigger>) -> Response {
    let msg = sample_msg();
    let mut sent = 0u64;
    if t.mode == "all" {
        for _ in 0..t.m {
            sent += u64::from(io.emit(PUSH_ID, &msg).await.is_ok());
        }
    } else {
        let socks = io.sockets();
        for _ in 0..t.m {
            for s in &socks {
                sent += u64::from(s.emit(PUSH_ID, &msg).is_ok());
            }
        }
    }
    format!("{sent}").into_response()
}
