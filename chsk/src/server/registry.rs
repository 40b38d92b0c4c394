//! Live connections by client id and by user id.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use foldhash::fast::RandomState as FastHash;
use tokio::time::Instant;

use super::{conn::Conn, options::Limits, push::Target};
use crate::transport::Transport;

#[derive(Debug, Default)]
struct Inner {
    /// Client id → its one live connection.
    clients: HashMap<String, Arc<Conn>, FastHash>,
    /// User id → its live connections (a few at most: a short list, no set; pushes to a user
    /// reach them without looking their client ids up again).
    by_uid: HashMap<String, Vec<Arc<Conn>>, FastHash>,
    /// Client ids whose connection closed recently (for the handshake's `first` flag).
    recently_closed: HashMap<String, Instant>,
    /// Live Ajax client states.
    ajax: usize,
}

/// Why a connection could not be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TooMany {
    /// The user has `max_conns_per_user` connections.
    Conns,
    /// The server has `max_ajax_clients` Ajax client states.
    AjaxClients,
}

/// The result of registering a connection.
#[derive(Debug)]
pub(crate) struct Inserted {
    /// The connection this one replaced (same client id), to be closed by the caller.
    pub(crate) replaced: Option<Arc<Conn>>,
    /// Whether this is the first connection the server has seen for this client id (no live
    /// connection and none closed within `remember`).
    pub(crate) first: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Registry {
    inner: Mutex<Inner>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the maps inconsistent in a way that
        // matters more than losing the whole server, so keep going with the data.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every live connection now.
    pub(crate) fn all(&self) -> Vec<Arc<Conn>> {
        self.lock().clients.values().cloned().collect()
    }

    /// Whether the user may open one more connection (replacing `client_id`'s doesn't count).
    pub(crate) fn has_room(&self, uid: Option<&str>, client_id: &str, max: usize) -> bool {
        let Some(uid) = uid else { return true };
        let inner = self.lock();
        let n = inner
            .by_uid
            .get(uid)
            .map_or(0, |conns| others(conns, client_id));
        n < max
    }

    /// Registers a connection; an older connection with the same client id is replaced.
    pub(crate) fn insert(
        &self,
        conn: Arc<Conn>,
        limits: &Limits,
        remember: Duration,
    ) -> Result<Inserted, TooMany> {
        let mut inner = self.lock();
        let client_id = conn.info.client_id.clone();
        if let Some(uid) = &conn.info.uid {
            let n = inner
                .by_uid
                .get(uid)
                .map_or(0, |conns| others(conns, &client_id));
            if n >= limits.max_conns_per_user {
                return Err(TooMany::Conns);
            }
        }
        let is_ajax = conn.transport() == Transport::Ajax;
        if is_ajax {
            let replaces_ajax = inner
                .clients
                .get(&client_id)
                .is_some_and(|c| c.transport() == Transport::Ajax);
            if !replaces_ajax && inner.ajax >= limits.max_ajax_clients {
                return Err(TooMany::AjaxClients);
            }
        }
        let now = Instant::now();
        inner
            .recently_closed
            .retain(|_, at| now.saturating_duration_since(*at) < remember);
        let was_closed = inner.recently_closed.remove(&client_id).is_some();
        let replaced = inner.clients.insert(client_id.clone(), conn.clone());
        inner.ajax += usize::from(is_ajax);
        if let Some(old) = &replaced {
            inner.ajax -= usize::from(old.transport() == Transport::Ajax);
            remove_from_user(&mut inner.by_uid, old);
        }
        if let Some(uid) = &conn.info.uid {
            inner.by_uid.entry(uid.clone()).or_default().push(conn);
        }
        let first = replaced.is_none() && !was_closed;
        Ok(Inserted { replaced, first })
    }

    /// Unregisters `conn` if it is still the live connection of its client id.
    pub(crate) fn remove(&self, conn: &Conn) -> bool {
        let mut inner = self.lock();
        let client_id = &conn.info.client_id;
        match inner.clients.get(client_id) {
            Some(live) if live.id() == conn.id() => {}
            _ => return false,
        }
        inner.clients.remove(client_id);
        inner.ajax -= usize::from(conn.transport() == Transport::Ajax);
        remove_from_user(&mut inner.by_uid, conn);
        inner
            .recently_closed
            .insert(client_id.clone(), Instant::now());
        true
    }

    /// The live connection of a client id.
    pub(crate) fn get(&self, client_id: &str) -> Option<Arc<Conn>> {
        self.lock().clients.get(client_id).cloned()
    }

    /// The live connections a push to `target` reaches on `transport`.
    pub(crate) fn targets(&self, target: &Target, transport: Transport) -> Vec<Arc<Conn>> {
        let inner = self.lock();
        let on = |c: &&Arc<Conn>| c.transport() == transport;
        match target {
            Target::All => inner.clients.values().filter(on).cloned().collect(),
            Target::Client(id) => inner
                .clients
                .get(id)
                .filter(on)
                .cloned()
                .into_iter()
                .collect(),
            Target::User(uid) => inner
                .by_uid
                .get(uid)
                .into_iter()
                .flatten()
                .filter(on)
                .cloned()
                .collect(),
        }
    }

    /// How many live connections of each transport a push to `target` reaches: `(ws, ajax)`.
    pub(crate) fn count(&self, target: &Target) -> (usize, usize) {
        let inner = self.lock();
        let mut n = (0, 0);
        let mut add = |c: &Arc<Conn>| match c.transport() {
            Transport::Ws => n.0 += 1,
            Transport::Ajax => n.1 += 1,
            Transport::Local => {}
        };
        match target {
            Target::All => inner.clients.values().for_each(&mut add),
            Target::Client(id) => inner.clients.get(id).into_iter().for_each(&mut add),
            Target::User(uid) => inner
                .by_uid
                .get(uid)
                .into_iter()
                .flatten()
                .for_each(&mut add),
        }
        n
    }

    /// Whether the user has a live connection on `transport`.
    pub(crate) fn uid_has(&self, uid: &str, transport: Transport) -> bool {
        let inner = self.lock();
        inner
            .by_uid
            .get(uid)
            .is_some_and(|conns| conns.iter().any(|c| c.transport() == transport))
    }
}

/// How many of a user's connections belong to other client ids than `client_id`.
fn others(conns: &[Arc<Conn>], client_id: &str) -> usize {
    conns
        .iter()
        .filter(|c| c.info.client_id != client_id)
        .count()
}

/// Takes `conn` out of its user's list (the list goes with its last connection).
fn remove_from_user(by_uid: &mut HashMap<String, Vec<Arc<Conn>>, FastHash>, conn: &Conn) {
    let Some(uid) = &conn.info.uid else { return };
    if let Some(conns) = by_uid.get_mut(uid) {
        conns.retain(|c| c.id() != conn.id());
        if conns.is_empty() {
            by_uid.remove(uid);
        }
    }
}
