//! The subscriber and the heartbeat.
//!
//! One subscription receives every process's pushes (this one's too: a stream's pushes are
//! delivered in the order Redis published them) and presence messages. When it is made again
//! after being lost, pushes may have been missed meanwhile: the node closes its connections so
//! that their clients reconnect and recover them from the history (or are told they cannot).
//!
//! The heartbeat tells Redis this node is alive every `heartbeat`, and forgets nodes whose
//! heartbeat stopped `node_timeout` ago; a forgotten node's users are closed here after the
//! grace period unless they connected elsewhere meanwhile.

use std::{
    collections::HashSet,
    sync::{atomic::Ordering, Arc, Weak},
    time::Duration,
};

use chsk::{
    protocol::{Position, StreamKind},
    server::Target,
};
use futures_util::StreamExt;
use redis::Msg;

use crate::{add, publish::Job, wire, Shared};

pub(crate) async fn run(weak: Weak<Shared>) {
    let mut ever = false;
    let mut backoff = Duration::from_millis(50);
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let timeout = shared.options.timeout;
        let client = shared.link.client().clone();
        let (push_channel, presence_channel) = (
            shared.keys.push_channel.clone(),
            shared.keys.presence_channel.clone(),
        );
        drop(shared);
        let subscribed = tokio::time::timeout(timeout, async {
            let mut ps = client.get_async_pubsub().await?;
            ps.subscribe(&push_channel).await?;
            ps.subscribe(&presence_channel).await?;
            Ok::<_, redis::RedisError>(ps)
        })
        .await;
        let ps = match subscribed {
            Ok(Ok(ps)) => ps,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "chsk-redis: could not subscribe");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
            Err(_) => {
                tracing::debug!("chsk-redis: subscribing timed out");
                continue;
            }
        };
        backoff = Duration::from_millis(50);
        let Some(shared) = weak.upgrade() else { return };
        shared.subscribed.store(true, Ordering::Release);
        if ever {
            add(&shared.counters.resubscribed, 1);
            tracing::warn!(
                "chsk-redis: subscription made again; closing this node's connections so that \
                 their clients recover what they may have missed"
            );
            if let Some(node) = shared.node.get() {
                node.with(|local| local.server().close_all("cluster link lost: reconnect"));
            }
        } else {
            tracing::info!(node = %shared.node_id, "chsk-redis: subscribed");
        }
        ever = true;
        let _ = shared.jobs.send(Job::SyncPresence).await;
        read_nodes(&shared).await;
        drop(shared);
        let mut messages = ps.into_on_message();
        // Every node's heartbeat is published (this one's too): a subscription silent for the
        // node timeout is dead even if its socket looks open (a cut network, say).
        let silence = match weak.upgrade() {
            Some(shared) => shared.options.node_timeout,
            None => return,
        };
        let lost = loop {
            match tokio::time::timeout(silence, messages.next()).await {
                Ok(Some(msg)) => {
                    let Some(shared) = weak.upgrade() else { return };
                    handle(&shared, &msg, &push_channel).await;
                }
                Ok(None) => break "closed",
                Err(_) => break "silent for the node timeout",
            }
        };
        let Some(shared) = weak.upgrade() else { return };
        shared.subscribed.store(false, Ordering::Release);
        tracing::warn!(why = lost, "chsk-redis: subscription lost; reconnecting");
    }
}

async fn handle(shared: &Arc<Shared>, msg: &Msg, push_channel: &str) {
    let Some(node) = shared.node.get() else {
        return;
    };
    if msg.get_channel_name() == push_channel {
        let payload = bytes::Bytes::copy_from_slice(msg.get_payload_bytes());
        let runs = match wire::parse(&payload) {
            Ok(runs) => runs,
            Err(e) => return malformed(shared, &e),
        };
        add(&shared.counters.received_runs, runs.len() as u64);
        node.with(|local| {
            for run in runs {
                if let Some((epoch, _)) = run.at {
                    remember_epoch(shared, &run.target, epoch);
                }
                let kind = match run.target {
                    Target::User(_) => StreamKind::User,
                    Target::Client(_) => StreamKind::Client,
                    _ => StreamKind::All,
                };
                for (i, event) in run.events.into_iter().enumerate() {
                    let at = run.at.map(|(epoch, seq)| Position {
                        stream: kind,
                        epoch,
                        seq: seq + i as u64,
                    });
                    local.deliver_encoded(run.target.clone(), event, at, run.flush);
                }
            }
        });
        return;
    }
    let presence = match wire::Presence::parse(msg.get_payload_bytes()) {
        Ok(p) => p,
        Err(e) => return malformed(shared, &e),
    };
    match presence {
        wire::Presence::User {
            node: from,
            uid,
            transport,
            connected,
        } if from != shared.node_id => {
            node.with(|local| local.set_remote_presence(&from, &uid, transport, connected));
        }
        wire::Presence::Hello(from) if from != shared.node_id => {
            read_node(shared, &from).await;
        }
        wire::Presence::Gone(from) if from == shared.node_id => {
            // This node was silent too long (a stall, or Redis was unreachable): the others
            // forgot its users; tell them again.
            tracing::warn!(
                "chsk-redis: the other nodes took this one for dead; announcing it again"
            );
            let _ = shared.jobs.send(Job::SyncPresence).await;
        }
        wire::Presence::Gone(from) => forget_later(shared, from),
        _ => {}
    }
}

/// Notes the epoch a stream is in (what a reset after a failed publication is conditional on).
fn remember_epoch(shared: &Shared, target: &Target, epoch: u64) {
    let key = crate::stream_hash(target);
    let mut epochs = shared.epochs.lock().unwrap_or_else(|e| e.into_inner());
    if epochs.get(&key) == Some(&epoch) {
        return;
    }
    if epochs.len() >= crate::MAX_EPOCHS {
        epochs.clear();
    }
    epochs.insert(key, epoch);
}

fn malformed(shared: &Shared, e: &wire::Malformed) {
    let n = shared.counters.malformed.fetch_add(1, Ordering::Relaxed);
    if n == 0 {
        tracing::warn!(error = %e, "chsk-redis: ignoring a message (logged once)");
    }
}

/// Reads every other node's users (after a (re)subscription); nodes known here but gone from
/// Redis are forgotten after the grace period.
async fn read_nodes(shared: &Arc<Shared>) {
    let mut cmd = redis::cmd("ZRANGE");
    cmd.arg(&shared.keys.nodes).arg(0).arg(-1);
    let Ok(nodes) = shared
        .link
        .run(|mut conn| async move { cmd.query_async::<Vec<String>>(&mut conn).await })
        .await
    else {
        return;
    };
    for n in nodes.iter().filter(|n| **n != shared.node_id) {
        read_node(shared, n).await;
    }
    let known = shared
        .node
        .get()
        .and_then(|node| node.with(|local| local.remote_nodes()))
        .unwrap_or_default();
    for n in known {
        if !nodes.contains(&n) {
            forget_later(shared, n);
        }
    }
}

/// Reads one node's users and takes them as its whole list.
async fn read_node(shared: &Arc<Shared>, id: &str) {
    let mut cmd = redis::cmd("HKEYS");
    cmd.arg(shared.keys.node(id));
    let Ok(fields) = shared
        .link
        .run(|mut conn| async move { cmd.query_async::<Vec<String>>(&mut conn).await })
        .await
    else {
        return;
    };
    let users: HashSet<_> = fields
        .iter()
        .filter_map(|f| wire::parse_presence_field(f).ok())
        .collect();
    if let Some(node) = shared.node.get() {
        node.with(|local| local.set_remote_node(id, users));
    }
}

/// Forgets node `id`'s users after the grace period, unless it is alive again by then.
fn forget_later(shared: &Arc<Shared>, id: String) {
    let Some(node) = shared.node.get() else {
        return;
    };
    let Some(grace) = node.with(|local| {
        let t = *local.server().timings();
        t.ws_grace.max(t.ajax_grace)
    }) else {
        return;
    };
    add(&shared.counters.nodes_gone, 1);
    tracing::info!(node = %id, "chsk-redis: a node stopped; its users close after the grace period unless they connect elsewhere");
    let weak = Arc::downgrade(shared);
    tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        let Some(shared) = weak.upgrade() else { return };
        if let Ok(mut conn) = shared.link.get().await {
            let alive: Option<f64> = redis::cmd("ZSCORE")
                .arg(&shared.keys.nodes)
                .arg(&id)
                .query_async(&mut conn)
                .await
                .unwrap_or(None);
            if alive.is_some() {
                return;
            }
        }
        if let Some(node) = shared.node.get() {
            node.with(|local| local.set_remote_node(&id, HashSet::new()));
        }
    });
}

/// Every `heartbeat`: this node is alive; nodes silent for `node_timeout` are forgotten.
pub(crate) async fn heartbeat(weak: Weak<Shared>) {
    loop {
        let every = match weak.upgrade() {
            Some(shared) => shared.options.heartbeat,
            None => return,
        };
        tokio::time::sleep(every).await;
        let Some(shared) = weak.upgrade() else { return };
        let streams_dirty = !shared
            .dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty();
        // A batch carries the resets and the presence sync: send one if none comes.
        if shared.presence_dirty.swap(false, Ordering::AcqRel) || streams_dirty {
            let _ = shared.jobs.send(Job::SyncPresence).await;
        }
        let cmd = shared.heartbeat_cmd();
        let Ok(dead) = shared
            .link
            .run(|mut conn| async move { cmd.query_async::<Vec<String>>(&mut conn).await })
            .await
        else {
            continue;
        };
        add(&shared.counters.commands, 1);
        // The others are forgotten when their `g` message arrives (on every node).
        if dead.contains(&shared.node_id) {
            let _ = shared.jobs.send(Job::SyncPresence).await;
        }
    }
}
