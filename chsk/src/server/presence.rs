//! Presence: which user ids are connected, watchable, and user-port open/close events with
//! grace periods (a page reload within the grace period is not a close).

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Mutex, MutexGuard},
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
    uids: ConnectedUids,
    /// When a user's last connection on a transport closed (pending settle).
    closed_at: HashMap<(String, Transport), Instant>,
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
        self.lock().uids.clone()
    }

    pub(crate) fn watch(&self) -> watch::Receiver<ConnectedUids> {
        self.watch.subscribe()
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<PresenceEvent> {
        self.events.subscribe()
    }

    /// A connection of `uid` opened on `transport`.
    /// Mirrors `uid`'s membership into the watched copy: O(log users) per change, where
    /// cloning every set made each connect O(users).
    fn publish(&self, uid: &str, now: &ConnectedUids) {
        self.watch.send_modify(|w| {
            for (src, dst) in [
                (&now.ws, &mut w.ws),
                (&now.ajax, &mut w.ajax),
                (&now.any, &mut w.any),
            ] {
                if !src.contains(uid) {
                    dst.remove(uid);
                } else if !dst.contains(uid) {
                    dst.insert(uid.to_owned());
                }
            }
        });
    }

    pub(crate) fn opened(&self, uid: &str, transport: Transport) {
        let mut st = self.lock();
        st.closed_at.remove(&(uid.to_owned(), transport));
        let set = match transport {
            Transport::Ws => &mut st.uids.ws,
            Transport::Ajax => &mut st.uids.ajax,
            Transport::Local => return,
        };
        let changed = set.insert(uid.to_owned());
        let new_user = st.uids.any.insert(uid.to_owned());
        if new_user {
            let _ = self.events.send(PresenceEvent::UidPortOpen(uid.to_owned()));
        }
        if changed || new_user {
            self.publish(uid, &st.uids);
        }
    }

    /// A connection of `uid` closed on `transport`; call [`settle`](Self::settle) after the
    /// grace period.
    pub(crate) fn closed(&self, uid: &str, transport: Transport) {
        self.lock()
            .closed_at
            .insert((uid.to_owned(), transport), Instant::now());
    }

    /// After a grace period: drops `uid` from `transport` if it has no live connection there
    /// (`still_connected` is false) and no close is more recent than `grace`.
    pub(crate) fn settle(
        &self,
        uid: &str,
        transport: Transport,
        grace: Duration,
        still_connected: bool,
    ) {
        let mut st = self.lock();
        let key = (uid.to_owned(), transport);
        match st.closed_at.get(&key) {
            Some(at) if at.elapsed() >= grace => {}
            _ => return,
        }
        st.closed_at.remove(&key);
        if still_connected {
            return;
        }
        let set = match transport {
            Transport::Ws => &mut st.uids.ws,
            Transport::Ajax => &mut st.uids.ajax,
            Transport::Local => return,
        };
        if !set.remove(uid) {
            return;
        }
        if !st.uids.ws.contains(uid) && !st.uids.ajax.contains(uid) {
            st.uids.any.remove(uid);
            let _ = self
                .events
                .send(PresenceEvent::UidPortClose(uid.to_owned()));
        }
        self.publish(uid, &st.uids);
    }
}
