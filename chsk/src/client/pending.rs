//! Pending replies: request id → deadline.

use std::{collections::BTreeMap, time::Duration};

use crate::protocol::ReplyId;

/// The requests waiting for a reply, with their deadlines.
///
/// Each id leaves the table exactly once: by [`complete`](Self::complete) (the reply arrived),
/// by [`expire`](Self::expire) (timeout) or by [`close_sent`](Self::close_sent) /
/// [`drain`](Self::drain) (connection closed). A reply for an id that already left is late and
/// [`complete`](Self::complete) returns `false`.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    map: BTreeMap<ReplyId, Entry>,
    next_id: ReplyId,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    deadline: Duration,
    /// On the wire (so a close loses it); `false` while held in the send buffer.
    sent: bool,
}

impl Pending {
    /// Allocates an unused id and records its deadline.
    pub(crate) fn insert(&mut self, deadline: Duration, sent: bool) -> ReplyId {
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            if let std::collections::btree_map::Entry::Vacant(slot) = self.map.entry(id) {
                slot.insert(Entry { deadline, sent });
                return id;
            }
        }
    }

    pub(crate) fn contains(&self, id: ReplyId) -> bool {
        self.map.contains_key(&id)
    }

    pub(crate) fn mark_sent(&mut self, id: ReplyId) {
        if let Some(e) = self.map.get_mut(&id) {
            e.sent = true;
        }
    }

    /// `true` when the id was pending (the reply is on time); `false` when late or unknown.
    pub(crate) fn complete(&mut self, id: ReplyId) -> bool {
        self.map.remove(&id).is_some()
    }

    /// Removes and returns every id whose deadline is `<= now`.
    pub(crate) fn expire(&mut self, now: Duration) -> Vec<ReplyId> {
        let expired: Vec<_> = self
            .map
            .iter()
            .filter(|(_, e)| e.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in &expired {
            self.map.remove(id);
        }
        expired
    }

    /// Removes and returns the ids that were sent (the connection carrying them closed).
    pub(crate) fn close_sent(&mut self) -> Vec<ReplyId> {
        let sent: Vec<_> = self
            .map
            .iter()
            .filter(|(_, e)| e.sent)
            .map(|(id, _)| *id)
            .collect();
        for id in &sent {
            self.map.remove(id);
        }
        sent
    }

    /// Removes and returns every id.
    pub(crate) fn drain(&mut self) -> Vec<ReplyId> {
        std::mem::take(&mut self.map).into_keys().collect()
    }

    pub(crate) fn next_deadline(&self) -> Option<Duration> {
        self.map.values().map(|e| e.deadline).min()
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn complete_once_then_late() {
        let mut p = Pending::default();
        let id = p.insert(ms(100), true);
        assert!(p.complete(id));
        assert!(!p.complete(id), "a second reply is late");
        assert_eq!(p.len(), 0);
    }

    #[test]
    fn timeout_exactly_once_and_late_reply_ignored() {
        let mut p = Pending::default();
        let a = p.insert(ms(100), true);
        let b = p.insert(ms(300), true);
        assert_eq!(p.next_deadline(), Some(ms(100)));
        assert!(p.expire(ms(99)).is_empty());
        assert_eq!(p.expire(ms(100)), vec![a]);
        assert!(p.expire(ms(200)).is_empty(), "expired only once");
        assert!(!p.complete(a), "the late reply is ignored");
        assert_eq!(p.next_deadline(), Some(ms(300)));
        assert!(p.complete(b));
    }

    #[test]
    fn close_fails_sent_requests_only() {
        let mut p = Pending::default();
        let sent = p.insert(ms(100), true);
        let buffered = p.insert(ms(100), false);
        assert_eq!(p.close_sent(), vec![sent]);
        assert!(p.contains(buffered));
        p.mark_sent(buffered);
        assert_eq!(p.drain(), vec![buffered]);
    }

    #[test]
    fn ids_are_unique_among_pending() {
        let mut p = Pending {
            next_id: ReplyId::MAX,
            ..Default::default()
        };
        let a = p.insert(ms(1), true);
        let b = p.insert(ms(1), true);
        assert_eq!((a, b), (ReplyId::MAX, 0));
        p.next_id = ReplyId::MAX;
        let c = p.insert(ms(1), true);
        assert_eq!(c, 1, "skips ids still pending");
    }
}
