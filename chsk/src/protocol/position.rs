//! Stream positions (protocol version 2): where a client is in each stream it reads, how it
//! says so when it reconnects (the `since` query parameter).

use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

/// The protocol version this crate speaks. Every request carries it (`v=2`); a server refuses
/// any other with `400`, and the `Handshake` repeats it.
pub const VERSION: u32 = 2;

/// Which of its streams a push came from. A connection reads the broadcast stream, the stream
/// of its client id and, when it has a user id, the stream of its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// `all` (0): pushes to every client.
    All,
    /// `user` (1): pushes to the connection's user id.
    User,
    /// `client` (2): pushes to the connection's client id.
    Client,
}

impl StreamKind {
    /// Every kind, in wire order.
    pub const ALL: [StreamKind; 3] = [StreamKind::All, StreamKind::User, StreamKind::Client];

    /// The letter that names the kind in the `since` parameter: `a`, `u` or `c`.
    pub fn letter(self) -> char {
        match self {
            Self::All => 'a',
            Self::User => 'u',
            Self::Client => 'c',
        }
    }

    fn from_letter(letter: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| {
            let mut buf = [0u8; 4];
            letter == k.letter().encode_utf8(&mut buf)
        })
    }

    /// The index of the kind (its postcard code).
    #[cfg(feature = "server")]
    pub(crate) fn index(self) -> u8 {
        match self {
            Self::All => 0,
            Self::User => 1,
            Self::Client => 2,
        }
    }
}

/// A place in a stream: the stream's epoch and a sequence number.
///
/// In a `Handshake` and in the `since` parameter, `seq` is the last event received (or sent):
/// `0` when none. In a [`PushRun`](super::PushRun), `seq` is the sequence number of the run's first event; the
/// others follow by one. Sequence numbers start at 1 in every epoch, and an epoch (random, not
/// 0, below 2^53) changes whenever the server lost the history behind the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Position {
    /// Which stream.
    pub stream: StreamKind,
    /// The incarnation of the stream's history.
    pub epoch: u64,
    /// A sequence number in that epoch.
    pub seq: u64,
}

/// A malformed `since` parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed `since` parameter: {0}")]
pub struct SinceError(&'static str);

/// Writes positions as the `since` query parameter: `<s>.<epoch>.<seq>` joined by commas,
/// `s` being [`StreamKind::letter`].
///
/// ```
/// use chsk::protocol::{format_since, parse_since, Position, StreamKind};
/// let at = [Position { stream: StreamKind::All, epoch: 7, seq: 42 }];
/// assert_eq!(format_since(&at), "a.7.42");
/// assert_eq!(parse_since("a.7.42")?, at);
/// # Ok::<(), chsk::protocol::SinceError>(())
/// ```
pub fn format_since(positions: &[Position]) -> String {
    let mut out = String::new();
    for (i, p) in positions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}.{}.{}", p.stream.letter(), p.epoch, p.seq);
    }
    out
}

/// Reads the `since` query parameter (see [`format_since`]). Each stream at most once; the
/// empty string is no position.
pub fn parse_since(text: &str) -> Result<Vec<Position>, SinceError> {
    let mut out: Vec<Position> = Vec::new();
    if text.is_empty() {
        return Ok(out);
    }
    for item in text.split(',') {
        let mut parts = item.split('.');
        let (Some(s), Some(epoch), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SinceError("expected <s>.<epoch>.<seq>"));
        };
        let stream = StreamKind::from_letter(s).ok_or(SinceError("unknown stream letter"))?;
        let number = |t: &str| {
            // Decimal digits only: no sign, no spaces.
            if t.is_empty() || t.len() > 20 || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(SinceError("not a decimal number"));
            }
            t.parse::<u64>().map_err(|_| SinceError("number too large"))
        };
        let position = Position {
            stream,
            epoch: number(epoch)?,
            seq: number(seq)?,
        };
        if out.iter().any(|p| p.stream == stream) {
            return Err(SinceError("a stream appears twice"));
        }
        out.push(position);
    }
    Ok(out)
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.stream.letter(), self.epoch, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn since_round_trips_and_rejects_bad_input() {
        let at = vec![
            Position {
                stream: StreamKind::All,
                epoch: 9_007_199_254_740_991,
                seq: 0,
            },
            Position {
                stream: StreamKind::User,
                epoch: 1,
                seq: 18_446_744_073_709_551_615,
            },
            Position {
                stream: StreamKind::Client,
                epoch: 3,
                seq: 4,
            },
        ];
        assert_eq!(parse_since(&format_since(&at)), Ok(at));
        assert_eq!(parse_since(""), Ok(vec![]));
        for bad in [
            "a.1",
            "a.1.2.3",
            "x.1.2",
            "a.-1.2",
            "a.+1.2",
            "a. 1.2",
            "a.1.2,a.1.3",
            "a.1.18446744073709551616",
            "a.1.2,",
            ",",
            "a..2",
        ] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }
}
