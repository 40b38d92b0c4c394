//! The pushes stream as the app sees it: the core's pushes and "not recovered" signals go
//! through the shared state (and the first `pushes()` buffer) to a `Pushes` stream, in order.

use futures::{channel::mpsc, FutureExt, StreamExt};

use super::{
    recovery::{hs, pos, push, run, ws_at, A},
    *,
};
use crate::{
    client::{
        shared::Shared,
        streams::{Delivery, Pushes},
        RecvError,
    },
    error::DecodeError,
    event::Event,
};

/// A push type for the stream tests: any id of `IDS`, by its index.
#[derive(Debug, PartialEq)]
struct Id(&'static str);

impl Event for Id {
    const NAME: &'static str = "Id";
    const IDS: &'static [&'static str] = &["a/1", "a/2", "a/5", "a/6"];

    fn id(&self) -> &'static str {
        self.0
    }

    fn index(&self) -> usize {
        Self::index_of(self.0).unwrap_or(0)
    }

    fn encode_payload(&self, _: Codec) -> Result<Payload, crate::error::CodecError> {
        Ok(Payload(vec![]))
    }

    fn decode(id: &str, _: &Payload, _: Codec) -> Result<Self, DecodeError> {
        match Self::index_of(id) {
            Some(i) => Ok(Id(Self::IDS[i])),
            None => Err(DecodeError::UnknownId {
                id: id.into(),
                ty: Self::NAME,
            }),
        }
    }
}

/// What a `Pushes` stream has ready now.
fn ready(pushes: &mut Pushes<Id>) -> Vec<Result<Id, RecvError>> {
    std::iter::from_fn(|| pushes.next().now_or_never().flatten()).collect()
}

#[test]
fn the_app_sees_not_recovered_in_order_even_before_its_first_pushes_call() {
    let (c, conn) = ws_at(vec![pos(A, 5, 0)]);
    // No `pushes()` call yet: the shared state keeps what comes for the first one.
    let mut shared = Shared::new(c, 2);
    let mut feed = |bytes: &[u8], now| {
        shared.core.on_message(conn, now, bytes);
        shared.drain();
    };
    feed(&push(vec![run(A, 5, 1, 2)]), ms(1));
    shared.core.on_closed(conn, ms(2), TransportClosed::Clean);
    let io = shared.drain();
    let (next, _, _) = connected(&io);
    let mut feed = |bytes: &[u8], now| {
        shared.core.on_message(next, now, bytes);
        shared.drain();
    };
    // Not recovered, twice in a row (the first pushes are full: only the signal is kept,
    // once), then pushes that no longer fit.
    feed(&hs(false, vec![pos(A, 8, 4)]), ms(3));
    feed(&hs(false, vec![pos(A, 8, 4)]), ms(3));
    feed(&push(vec![run(A, 8, 5, 2)]), ms(4));
    assert_eq!(shared.pushes_dropped, 2);
    // The first `pushes()` call (as `Client::pushes` does it).
    let (tx, rx) = mpsc::unbounded::<Delivery>();
    for item in shared.first_pushes.take().expect("kept").items {
        tx.unbounded_send(item).expect("open");
    }
    shared.push_subs.push(tx);
    let mut pushes = Pushes::<Id>::new(rx, Codec::Postcard);
    assert_eq!(
        ready(&mut pushes),
        vec![Ok(Id("a/1")), Ok(Id("a/2")), Err(RecvError::NotRecovered)]
    );
    // Live: the signal, then the pushes after it; one that does not decode goes on.
    shared
        .core
        .on_message(next, ms(5), &hs(false, vec![pos(A, 9, 0)]));
    shared
        .core
        .on_message(next, ms(5), &push(vec![run(A, 9, 1, 3)]));
    shared.drain();
    let got = ready(&mut pushes);
    assert_eq!(
        got[..3],
        [Err(RecvError::NotRecovered), Ok(Id("a/1")), Ok(Id("a/2"))]
    );
    assert!(matches!(got[3], Err(RecvError::Decode(_))), "{got:?}");
    assert_eq!(got.len(), 4);
}
