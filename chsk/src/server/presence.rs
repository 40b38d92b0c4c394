//! Presence: which user ids are connected, watchable, and user-port open/close events with
//! grace periods (a page reload within the grace period is not a close).

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use tokio::time::Instant;

use tokio::sync::{broadcast, watch};

use crate::transport::Transport;

/// The user ids with at least one connection, by transport (Sente's `connected-uids`).
///
/// Anonymous clients (no user id) are not listed. A user whose last connection closed stays
/// listed for the transport's grace period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectedUids {
    /// Users with a WebSocket connection.
    pub ws: BTreeSet<String>,
    /// Users with an Ajax client.
    pub ajax: BTreeSet<String>,
    /// Users with either.
    pub any: BTreeSet<String>,
}

/// A user's first connection opened, or its last one closed (after the grace period).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PresenceEvent {
    /// Sente's `:chsk/uidport-open`.
    UidPortOpen(String),
    /// Sente's `:chsk/uidport-close`.
    UidPortClose(String),
}

#[derive(Debug, Default)]
struct State {
    /// This process's users, by transport. (What is published, this process's users and the
    /// other processes', is only in the watch: one copy.)
    local_ws: HashSet<String>,
    local_ajax: HashSet<String>,
    /// When a user's last connection on a transport closed (pending settle).
    closed_at: HashMap<(String, Transport), Instant>,
    /// Other server processes' users (a cluster adapter reports them), by process.
    remote: HashMap<Arc<str>, HashSet<(String, Transport)>>,
}

impl State {
    fn local(&mut self, transport: Transport) -> Option<&mut HashSet<String>> {
        match transport {
            Transport::Ws => Some(&mut self.local_ws),
            Transport::Ajax => Some(&mut self.local_ajax),
            Transport::Local => None,
        }
    }

    fn remote_has(&self, uid: &str, transport: Transport) -> bool {
        // A user is on few processes; the key is built once per check.
        let key = (uid.to_owned(), transport);
        self.remote.values().any(|set| set.contains(&key))
    }
}

#[derive(Debug)]
pub(crate) struct Presence {
    state: Mutex<State>,
    watch: watch::Sender<ConnectedUids>,
    events: broadcast::Sender<PresenceEvent>,
}

impl Default for Presence {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            watch: watch::channel(ConnectedUids::default()).0,
            events: broadcast::channel(1024).0,
        }
    }
}

impl Presence {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn snapshot(&self) -> ConnectedUids {
        self.watch.borrow().clone()
    }

    pub(crate) fn watch(&self) -> watch::Receiver<ConnectedUids> {
        self.watch.subscribe()
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<PresenceEvent> {
        self.events.subscribe()
    }

    /// Recomputes `uid`'s published membership (in the watched copy, updated in place:
    /// O(log users) per change) from this process's users and the others'; sends the
    /// open/close event when the user appeared or left everywhere. Called under the state's
    /// lock, so events and the watch change in the order of the changes.
    fn update(&self, st: &State, uid: &str) {
        let ws = st.local_ws.contains(uid) || st.remote_has(uid, Transport::Ws);
        let ajax = st.local_ajax.contains(uid) || st.remote_has(uid, Transport::Ajax);
        let any = ws || ajax;
        let mut was_any = false;
        self.watch.send_if_modified(|w| {
            was_any = w.any.contains(uid);
            let mut changed = false;
            for (set, member) in [(&mut w.ws, ws), (&mut w.ajax, ajax), (&mut w.any, any)] {
                changed |= if member {
                    !set.contains(uid) && set.insert(uid.to_owned())
                } else {
                    set.remove(uid)
                };
            }
            changed
        });
        if any && !was_any {
            let _ = self.events.send(PresenceEvent::UidPortOpen(uid.to_owned()));
        } else if !any && was_any {
            let _ = self
                .events
                .send(PresenceEvent::UidPortClose(uid.to_owned()));
        }
    }

    /// A connection of `uid` opened on `transport`; `true` when the user was not connected
    /// on this transport in this process (a cluster adapter tells the other processes).
    pub(crate) fn opened(&self, uid: &str, transport: Transport) -> bool {
        let mut st = self.lock();
        st.closed_at.remove(&(uid.to_owned(), transport));
        let Some(set) = st.local(transport) else {
            return false;
        };
        if set.contains(uid) {
            return false;
        }
        set.insert(uid.to_owned());
        self.update(&st, uid);
        true
    }

    /// A connection of `uid` closed on `transport`; call [`settle`](Self::settle) after the
    /// grace period.
    pub(crate) fn closed(&self, uid: &str, transport: Transport) {
        self.lock()
            .closed_at
            .insert((uid.to_owned(), transport), Instant::now());
    }

    /// After a grace period: drops `uid` from `transport` if it has no live connection there
    /// (`still_connected` is false) and no close is more recent than `grace`; `true` when it
    /// was dropped from this process's users (a cluster adapter tells the other processes).
    /// The user is closed when no other process has it either.
    pub(crate) fn settle(
        &self,
        uid: &str,
        transport: Transport,
        grace: Duration,
        still_connected: bool,
    ) -> bool {
        let mut st = self.lock();
        let key = (uid.to_owned(), transport);
        match st.closed_at.get(&key) {
            Some(at) if at.elapsed() >= grace => {}
            _ => return false,
        }
        st.closed_at.remove(&key);
        if still_connected {
            return false;
        }
        let removed = st.local(transport).is_some_and(|set| set.remove(uid));
        if removed {
            self.update(&st, uid);
        }
        removed
    }

    /// Another process reports that `uid` is (or is no longer) connected there on `transport`.
    pub(crate) fn remote(&self, node: &str, uid: &str, transport: Transport, connected: bool) {
        let mut st = self.lock();
        let key = (uid.to_owned(), transport);
        if connected {
            st.remote.entry(Arc::from(node)).or_default().insert(key);
        } else if let Some(set) = st.remote.get_mut(node) {
            set.remove(&key);
            if set.is_empty() {
                st.remote.remove(node);
            }
        }
        self.update(&st, uid);
    }

    /// Another process's users are exactly `entries` (it was read again), or it is gone
    /// (`entries` empty): its users not connected elsewhere are closed.
    pub(crate) fn remote_node(&self, node: &str, entries: HashSet<(String, Transport)>) {
        let mut st = self.lock();
        let old = if entries.is_empty() {
            st.remote.remove(node).unwrap_or_default()
        } else {
            st.remote
                .insert(Arc::from(node), entries.clone())
                .unwrap_or_default()
        };
        let touched: BTreeSet<String> =
            old.into_iter().chain(entries).map(|(uid, _)| uid).collect();
        for uid in touched {
            self.update(&st, &uid);
        }
    }

    /// This process's users, by transport.
    pub(crate) fn local_entries(&self) -> Vec<(String, Transport)> {
        let st = self.lock();
        let ws = st.local_ws.iter().map(|u| (u.clone(), Transport::Ws));
        let ajax = st.local_ajax.iter().map(|u| (u.clone(), Transport::Ajax));
        ws.chain(ajax).collect()
    }

    /// The other processes this one knows users of.
    pub(crate) fn remote_nodes(&self) -> Vec<String> {
        self.lock().remote.keys().map(|n| n.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(rx: &mut broadcast::Receiver<PresenceEvent>) -> Vec<PresenceEvent> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    fn open(uid: &str) -> PresenceEvent {
        PresenceEvent::UidPortOpen(uid.to_owned())
    }

    fn close(uid: &str) -> PresenceEvent {
        PresenceEvent::UidPortClose(uid.to_owned())
    }

    #[test]
    fn a_user_is_open_while_any_process_has_them_and_closes_once() {
        let p = Presence::default();
        let mut rx = p.subscribe();
        // Another process has alice: she is open here too, once.
        p.remote("n2", "alice", Transport::Ws, true);
        p.remote("n3", "alice", Transport::Ajax, true);
        assert_eq!(events(&mut rx), [open("alice")]);
        let s = p.snapshot();
        assert!(s.ws.contains("alice") && s.ajax.contains("alice"));
        assert_eq!(*p.watch().borrow(), s);
        // She also connects here: not a new open; the adapter is told (first local one).
        assert!(p.opened("alice", Transport::Ws));
        assert!(!p.opened("alice", Transport::Ws));
        assert!(events(&mut rx).is_empty());
        // She leaves here (after the grace period): still open elsewhere.
        p.closed("alice", Transport::Ws);
        assert!(p.settle("alice", Transport::Ws, Duration::ZERO, false));
        assert!(events(&mut rx).is_empty());
        p.remote("n2", "alice", Transport::Ws, false);
        assert!(!p.snapshot().ws.contains("alice"));
        assert!(events(&mut rx).is_empty(), "still on Ajax at n3");
        // n3 is gone: she closes, once.
        p.remote_node("n3", HashSet::new());
        assert_eq!(events(&mut rx), [close("alice")]);
        assert_eq!(p.snapshot(), ConnectedUids::default());
        assert!(p.remote_nodes().is_empty());
    }

    #[test]
    fn reading_a_process_again_replaces_its_users() {
        let p = Presence::default();
        let mut rx = p.subscribe();
        p.remote("n2", "bob", Transport::Ws, true);
        p.remote("n2", "carol", Transport::Ws, true);
        assert!(p.opened("dave", Transport::Ajax));
        assert_eq!(events(&mut rx), [open("bob"), open("carol"), open("dave")]);
        let now: HashSet<_> = [
            ("carol".to_owned(), Transport::Ws),
            ("erin".to_owned(), Transport::Ajax),
        ]
        .into_iter()
        .collect();
        p.remote_node("n2", now);
        let mut got = events(&mut rx);
        got.sort_by_key(|e| format!("{e:?}"));
        assert_eq!(got, [close("bob"), open("erin")]);
        let any: Vec<_> = p.snapshot().any.into_iter().collect();
        assert_eq!(any, ["carol", "dave", "erin"]);
        assert_eq!(p.local_entries(), [("dave".to_owned(), Transport::Ajax)]);
        assert_eq!(p.remote_nodes(), ["n2"]);
    }
}
