//! What goes over Redis: the bodies of push runs, the batch message the append script
//! publishes, and the presence messages. Pure functions, unit-tested.
//!
//! A run's body: `P`, flags (bit 0: `Flush::Now`), the target (`a`, `u` or `c`, then its name
//! as a 4-byte big-endian length and bytes), the number of events (4 bytes) and each event
//! (4-byte length, then the encoded event: one element of a `Push` frame's event list). A node
//! sends a batch of runs as one script call: the script keeps the events of each kept run
//! (their offsets and counts are passed along) and publishes one message, `"<runs>"`, then
//! `" <epoch> <first seq>"` per run (`0 0` for a volatile run), a space, and the bodies one
//! after the other.

use bytes::Bytes;
use chsk::{
    server::{Flush, Target},
    Transport,
};

/// A push run as published: its target, flush, events, and position (`None`: volatile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) target: Target,
    pub(crate) flush: Flush,
    /// `(epoch, seq of the first event)`.
    pub(crate) at: Option<(u64, u64)>,
    pub(crate) events: Vec<Bytes>,
}

/// The body of a run, and the 1-based offset of its first event's length (for the script).
pub(crate) fn body(target: &Target, flush: Flush, events: &[Bytes]) -> (Vec<u8>, usize) {
    let (kind, name): (u8, &str) = match target {
        Target::All => (b'a', ""),
        Target::User(uid) => (b'u', uid),
        Target::Client(id) => (b'c', id),
        // `Target` is non-exhaustive; a new kind would need its own stream.
        _ => (b'a', ""),
    };
    let size: usize = events.iter().map(|e| e.len() + 4).sum();
    let mut out = Vec::with_capacity(11 + name.len() + size);
    out.push(b'P');
    out.push(u8::from(flush == Flush::Now));
    out.push(kind);
    out.extend_from_slice(&len32(name.len()).to_be_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&len32(events.len()).to_be_bytes());
    let offset = out.len() + 1;
    for e in events {
        out.extend_from_slice(&len32(e.len()).to_be_bytes());
        out.extend_from_slice(e);
    }
    (out, offset)
}

pub(crate) fn len32(n: usize) -> u32 {
    // An event is at most `max_send_frame_bytes` and a name a user id: far below 4 GiB.
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A batch message as the script publishes it (for tests and the in-Rust reference).
#[cfg(test)]
pub(crate) fn published(positions: &[(u64, u64)], bodies: &[u8]) -> Vec<u8> {
    let mut out = positions.len().to_string();
    for (e, s) in positions {
        out.push_str(&format!(" {e} {s}"));
    }
    out.push(' ');
    let mut out = out.into_bytes();
    out.extend_from_slice(bodies);
    out
}

/// Why a message could not be read (another version of chsk, or not chsk's).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed message on the push channel: {0}")]
pub(crate) struct Malformed(&'static str);

/// Reads a published batch message: its runs, in order. The events are slices of `msg` (no
/// copy).
pub(crate) fn parse(msg: &Bytes) -> Result<Vec<Run>, Malformed> {
    let mut rest = &msg[..];
    let count = number(&mut rest)?;
    let mut positions = Vec::with_capacity(count.min(4096) as usize);
    for _ in 0..count {
        let epoch = number(&mut rest)?;
        let seq = number(&mut rest)?;
        positions.push((epoch, seq));
    }
    let mut r = Reader {
        at: msg.len() - rest.len(),
        buf: rest,
    };
    let mut runs = Vec::with_capacity(positions.len());
    for (epoch, seq) in positions {
        runs.push(run(msg, &mut r, epoch, seq)?);
    }
    if !r.buf.is_empty() {
        return Err(Malformed("trailing bytes"));
    }
    if runs.is_empty() {
        return Err(Malformed("no run"));
    }
    Ok(runs)
}

fn run(msg: &Bytes, r: &mut Reader<'_>, epoch: u64, seq: u64) -> Result<Run, Malformed> {
    if r.take(1)? != b"P" {
        return Err(Malformed("not a push body"));
    }
    let flush = match r.take(1)?[0] {
        0 => Flush::Batched,
        _ => Flush::Now,
    };
    let kind = r.take(1)?[0];
    let name_len = r.u32()? as usize;
    let name = std::str::from_utf8(r.take(name_len)?)
        .map_err(|_| Malformed("target name is not UTF-8"))?
        .to_owned();
    let target = match kind {
        b'a' => Target::All,
        b'u' => Target::User(name),
        b'c' => Target::Client(name),
        _ => return Err(Malformed("unknown target kind")),
    };
    let n = r.u32()? as usize;
    let mut events = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        let len = r.u32()? as usize;
        let from = r.at;
        r.take(len)?;
        events.push(msg.slice(from..from + len));
    }
    if events.is_empty() {
        return Err(Malformed("no event"));
    }
    let at = (epoch != 0).then_some((epoch, seq));
    if at.is_some_and(|(_, seq)| seq == 0) {
        return Err(Malformed("sequence number 0"));
    }
    Ok(Run {
        target,
        flush,
        at,
        events,
    })
}

fn number(rest: &mut &[u8]) -> Result<u64, Malformed> {
    let end = rest
        .iter()
        .position(|&b| b == b' ')
        .ok_or(Malformed("no position"))?;
    let n = std::str::from_utf8(&rest[..end])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(Malformed("bad position"))?;
    *rest = &rest[end + 1..];
    Ok(n)
}

struct Reader<'a> {
    buf: &'a [u8],
    /// Offset of `buf` in the message.
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.buf.len() < n {
            return Err(Malformed("truncated"));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        self.at += n;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, Malformed> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// A presence message: a node's user appeared or left, a node is gone, or a node asks to be
/// read again (it (re)connected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Presence {
    /// `o <node> <w|a> <uid>` / `c <node> <w|a> <uid>`.
    User {
        node: String,
        uid: String,
        transport: Transport,
        connected: bool,
    },
    /// `g <node>`: its heartbeat stopped.
    Gone(String),
    /// `h <node>`: read its users again.
    Hello(String),
    /// `b <node>`: its heartbeat (keeps every subscription's silence short).
    Beat(String),
}

impl Presence {
    pub(crate) fn encode(&self) -> String {
        match self {
            Self::User {
                node,
                uid,
                transport,
                connected,
            } => format!(
                "{} {node} {} {uid}",
                if *connected { 'o' } else { 'c' },
                transport_code(*transport)
            ),
            Self::Gone(node) => format!("g {node}"),
            Self::Hello(node) => format!("h {node}"),
            Self::Beat(node) => format!("b {node}"),
        }
    }

    pub(crate) fn parse(msg: &[u8]) -> Result<Self, Malformed> {
        let msg = std::str::from_utf8(msg).map_err(|_| Malformed("presence is not UTF-8"))?;
        let (kind, rest) = msg.split_once(' ').ok_or(Malformed("presence kind"))?;
        match kind {
            "o" | "c" => {
                let mut parts = rest.splitn(3, ' ');
                let (Some(node), Some(t), Some(uid)) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(Malformed("presence fields"));
                };
                Ok(Self::User {
                    node: node.to_owned(),
                    uid: uid.to_owned(),
                    transport: parse_transport(t)?,
                    connected: kind == "o",
                })
            }
            "g" => Ok(Self::Gone(rest.to_owned())),
            "h" => Ok(Self::Hello(rest.to_owned())),
            "b" => Ok(Self::Beat(rest.to_owned())),
            _ => Err(Malformed("presence kind")),
        }
    }
}

/// The field of a user in a node's presence hash: `w:<uid>` or `a:<uid>`.
pub(crate) fn presence_field(uid: &str, transport: Transport) -> String {
    format!("{}:{uid}", transport_code(transport))
}

/// Reads a field of a node's presence hash.
pub(crate) fn parse_presence_field(field: &str) -> Result<(String, Transport), Malformed> {
    let (t, uid) = field.split_once(':').ok_or(Malformed("presence field"))?;
    Ok((uid.to_owned(), parse_transport(t)?))
}

fn transport_code(t: Transport) -> char {
    match t {
        Transport::Ajax => 'a',
        _ => 'w',
    }
}

fn parse_transport(t: &str) -> Result<Transport, Malformed> {
    match t {
        "w" => Ok(Transport::Ws),
        "a" => Ok(Transport::Ajax),
        _ => Err(Malformed("transport")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn a_batch_round_trips_with_and_without_positions() {
        let events = vec![ev("one"), ev(""), ev("three")];
        let runs = [
            (Target::All, Flush::Batched, None),
            (
                Target::User("alice ünïcode".into()),
                Flush::Now,
                Some((77, 5)),
            ),
            (Target::Client("c-1".into()), Flush::Batched, Some((1, 1))),
        ];
        let mut bodies = Vec::new();
        let mut positions = Vec::new();
        for (target, flush, at) in &runs {
            let (run_body, offset) = body(target, *flush, &events);
            // The script reads the first event's length at `offset` (1-based).
            assert_eq!(&run_body[offset - 1..offset + 3], &3u32.to_be_bytes());
            bodies.extend_from_slice(&run_body);
            positions.push(at.unwrap_or((0, 0)));
        }
        let msg = Bytes::from(published(&positions, &bodies));
        let got = parse(&msg).expect("parses");
        let want: Vec<Run> = runs
            .iter()
            .map(|(target, flush, at)| Run {
                target: target.clone(),
                flush: *flush,
                at: *at,
                events: events.clone(),
            })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        let (one, _) = body(&Target::All, Flush::Batched, &[ev("x")]);
        let good = published(&[(1, 1)], &one);
        for cut in 0..good.len() {
            assert!(
                parse(&Bytes::copy_from_slice(&good[..cut])).is_err(),
                "{cut}"
            );
        }
        let mut long = good.clone();
        long.push(0);
        assert_eq!(parse(&Bytes::from(long)), Err(Malformed("trailing bytes")));
        assert!(parse(&Bytes::from(published(&[(1, 0)], &one))).is_err());
        assert!(parse(&Bytes::from_static(b"1 1 1 Q")).is_err());
        assert_eq!(
            parse(&Bytes::from(published(&[], &[]))),
            Err(Malformed("no run"))
        );
        assert!(parse(&Bytes::from(published(&[], &one))).is_err());
        let (empty, _) = body(&Target::All, Flush::Batched, &[]);
        assert_eq!(
            parse(&Bytes::from(published(&[(0, 0)], &empty))),
            Err(Malformed("no event"))
        );
        // A length past the end.
        let mut bad = published(&[(0, 0)], &one);
        let n = bad.len();
        bad[n - 5..n - 1].copy_from_slice(&1000u32.to_be_bytes());
        assert_eq!(parse(&Bytes::from(bad)), Err(Malformed("truncated")));
    }

    #[test]
    fn presence_messages_round_trip() {
        for msg in [
            Presence::User {
                node: "n1".into(),
                uid: "bob with spaces".into(),
                transport: Transport::Ajax,
                connected: true,
            },
            Presence::User {
                node: "n2".into(),
                uid: "a".into(),
                transport: Transport::Ws,
                connected: false,
            },
            Presence::Gone("n3".into()),
            Presence::Hello("n4".into()),
            Presence::Beat("n5".into()),
        ] {
            assert_eq!(Presence::parse(msg.encode().as_bytes()), Ok(msg));
        }
        assert!(Presence::parse(b"x n1").is_err());
        assert!(Presence::parse(b"o n1 q bob").is_err());
        assert!(Presence::parse(b"o n1").is_err());
        let field = presence_field("a:b", Transport::Ws);
        assert_eq!(
            parse_presence_field(&field),
            Ok(("a:b".to_owned(), Transport::Ws))
        );
    }
}
