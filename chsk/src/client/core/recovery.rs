//! Stream positions and recovery (protocol v2): the last position delivered to the app in
//! each stream, which positioned pushes to deliver (duplicates dropped, a gap reconnects), and
//! what a handshake says about the pushes missed while disconnected.

use std::time::Duration;

use super::{ClientCore, Output};
use crate::{
    client::state::{CloseReason, Recovery},
    protocol::{EventFrame, Handshake, Position, PushRun, StreamKind},
};

/// For each [`StreamKind`], the `(epoch, seq)` of the last event delivered to the app (or
/// the position a handshake said the pushes continue from).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Positions([Option<(u64, u64)>; 3]);

/// What to do with a positioned run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Deliver the run without its first `skip` events (already delivered).
    Deliver { skip: usize },
    /// The run starts after a hole: deliver nothing, reconnect. `known` is where the stream is.
    Gap { known: Position },
}

fn slot(stream: StreamKind) -> usize {
    match stream {
        StreamKind::All => 0,
        StreamKind::User => 1,
        StreamKind::Client => 2,
    }
}

impl Positions {
    /// The known positions, in wire order (`all`, `user`, `client`).
    pub(super) fn list(&self) -> Vec<Position> {
        StreamKind::ALL
            .into_iter()
            .filter_map(|stream| {
                let (epoch, seq) = self.0[slot(stream)]?;
                Some(Position { stream, epoch, seq })
            })
            .collect()
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    /// Exactly `positions`: a stream not listed is forgotten.
    fn replace(&mut self, positions: &[Position]) {
        self.0 = [None; 3];
        for p in positions {
            self.0[slot(p.stream)] = Some((p.epoch, p.seq));
        }
    }

    /// Judges a run of `len` (> 0) events starting at `at`, and on delivery moves the stream's
    /// position to its last event.
    fn judge(&mut self, at: Position, len: usize) -> Verdict {
        let last = at.seq.saturating_add(len as u64 - 1);
        let known = &mut self.0[slot(at.stream)];
        let skip = match *known {
            // Same epoch: what is at or before the position was delivered; what starts past
            // the next one leaves a hole.
            Some((epoch, seq)) if epoch == at.epoch => {
                if at.seq > seq.saturating_add(1) {
                    return gap(at, epoch, seq);
                }
                // Events `at.seq..=seq` were delivered (none when `at.seq == seq + 1`).
                let skip = seq.checked_sub(at.seq).map_or(0, |d| d.saturating_add(1));
                usize::try_from(skip).map_or(len, |s| s.min(len))
            }
            // Another epoch: the stream's history was lost while connected (a shared store
            // lost it, or could not be reached for a while), so pushes may be missing: a gap.
            // The reconnect presents the old epoch, and the handshake says "not recovered".
            Some((epoch, seq)) => return gap(at, epoch, seq),
            // A stream without a position yet.
            None => 0,
        };
        if skip < len {
            *known = Some((at.epoch, last));
        }
        Verdict::Deliver { skip }
    }
}

fn gap(at: Position, epoch: u64, seq: u64) -> Verdict {
    let known = Position {
        stream: at.stream,
        epoch,
        seq,
    };
    Verdict::Gap { known }
}

impl ClientCore {
    /// The positions the client holds: for each stream, the last push delivered to the app
    /// (or the position the last handshake said the pushes continue from). They are presented
    /// as `since` on the next WebSocket upgrade, Ajax handshake and poll.
    pub fn positions(&self) -> Vec<Position> {
        self.positions.list()
    }

    /// A `Push` frame: its runs in order, volatile ones as they come, positioned ones once
    /// each (duplicates dropped and counted). A run that starts after a hole ends the
    /// connection ([`CloseReason::PushGap`]) without delivering it or anything after it; the
    /// reconnect presents the positions, so the server replays the hole or says it cannot.
    /// The first reconnect after a gap is immediate; until a positioned push is delivered
    /// again, handshakes do not reset the backoff, so gap after gap backs off.
    pub(super) fn on_push(&mut self, now: Duration, runs: Vec<PushRun>) {
        let mut events: Vec<EventFrame> = Vec::new();
        for run in runs {
            let len = run.events.len();
            let Some(at) = run.at.filter(|_| len > 0) else {
                events.extend(run.events);
                continue;
            };
            match self.positions.judge(at, len) {
                Verdict::Deliver { skip } => {
                    self.metrics.duplicates_dropped += skip as u64;
                    if skip < len && self.gap_streak > 0 {
                        // The stream goes on again: the gaps were recovered.
                        self.gap_streak = 0;
                        self.backoff.reset();
                    }
                    events.extend(run.events.into_iter().skip(skip));
                }
                Verdict::Gap { known } => {
                    self.deliver(events);
                    self.metrics.push_gaps += 1;
                    self.gap_streak += 1;
                    let detail = format!(
                        "a push run starts at {at} while the client is at {known}: \
                         reconnecting to recover the missing pushes"
                    );
                    tracing::info!(%at, %known, "chsk client: gap in a push stream");
                    self.fail(
                        now,
                        CloseReason::PushGap { known, got: at },
                        Some(detail),
                        true,
                    );
                    return;
                }
            }
        }
        self.deliver(events);
    }

    fn deliver(&mut self, events: Vec<EventFrame>) {
        if !events.is_empty() {
            self.out.push_back(Output::Push(events));
        }
    }

    /// A frame that could not be read (over the size limit) may have held pushes: they are
    /// lost to the app. The positions are forgotten, so the reconnect does not get the same
    /// pushes replayed (in a frame over the limit again, forever), and the next handshake
    /// tells the app that it did not recover.
    pub(super) fn forget_positions(&mut self) {
        if !self.positions.is_empty() {
            self.positions.replace(&[]);
            self.lost = true;
        }
    }

    /// What a handshake says about recovery: tells the app when the pushes missed since the
    /// positions it presented are lost ([`Output::NotRecovered`], before any push that follows);
    /// then the positions become exactly the handshake's.
    pub(super) fn on_recovery(&mut self, h: &Handshake) -> Recovery {
        let presented = !self.positions.is_empty();
        let recovery = match (std::mem::take(&mut self.lost), h.recovered, presented) {
            (true, _, _) | (false, false, true) => Recovery::NotRecovered,
            (false, true, _) => Recovery::Recovered,
            (false, false, false) => Recovery::Fresh,
        };
        match recovery {
            Recovery::Recovered => self.metrics.recoveries += 1,
            Recovery::NotRecovered => {
                tracing::info!(
                    presented = %crate::protocol::format_since(&self.positions.list()),
                    "chsk client: not recovered; the app must reload its state"
                );
                self.metrics.not_recovered += 1;
                self.out.push_back(Output::NotRecovered);
            }
            Recovery::Fresh => {}
        }
        self.positions.replace(&h.positions);
        recovery
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(stream: StreamKind, epoch: u64, seq: u64) -> Position {
        Position { stream, epoch, seq }
    }

    #[test]
    fn judge_same_epoch_other_epoch_and_unknown_streams() {
        let mut p = Positions::default();
        let all = StreamKind::All;
        // Unknown stream: accepted from anywhere, recorded at the run's last event.
        assert_eq!(p.judge(at(all, 5, 10), 3), Verdict::Deliver { skip: 0 });
        assert_eq!(p.list(), vec![at(all, 5, 12)]);
        // Same epoch: the next one, an overlap, a whole duplicate, a gap.
        assert_eq!(p.judge(at(all, 5, 13), 1), Verdict::Deliver { skip: 0 });
        assert_eq!(p.judge(at(all, 5, 12), 3), Verdict::Deliver { skip: 2 });
        assert_eq!(p.list(), vec![at(all, 5, 14)]);
        assert_eq!(p.judge(at(all, 5, 1), 4), Verdict::Deliver { skip: 4 });
        assert_eq!(p.list(), vec![at(all, 5, 14)], "a duplicate moves nothing");
        let known = at(all, 5, 14);
        assert_eq!(p.judge(at(all, 5, 16), 1), Verdict::Gap { known });
        // Another epoch: the history was lost while connected, even from its first event
        // (pushes made before it may be gone): a gap, the position stays.
        assert_eq!(p.judge(at(all, 6, 2), 1), Verdict::Gap { known });
        assert_eq!(p.judge(at(all, 6, 1), 2), Verdict::Gap { known });
        assert_eq!(p.list(), vec![at(all, 5, 14)]);
        // Huge numbers do not overflow.
        let mut p = Positions::default();
        p.replace(&[at(all, 1, u64::MAX)]);
        assert_eq!(
            p.judge(at(all, 1, u64::MAX), 3),
            Verdict::Deliver { skip: 1 }
        );
        assert_eq!(p.judge(at(all, 1, 0), 1), Verdict::Deliver { skip: 1 });
    }

    #[test]
    fn replace_forgets_streams_not_listed_and_lists_in_wire_order() {
        let mut p = Positions::default();
        p.replace(&[at(StreamKind::Client, 3, 4), at(StreamKind::User, 1, 2)]);
        assert_eq!(
            p.list(),
            vec![at(StreamKind::User, 1, 2), at(StreamKind::Client, 3, 4)]
        );
        p.replace(&[at(StreamKind::All, 9, 0)]);
        assert_eq!(p.list(), vec![at(StreamKind::All, 9, 0)]);
        p.replace(&[]);
        assert!(p.is_empty());
    }
}
