//! The publisher: one task sends this node's pushes and presence changes to Redis, in order,
//! as pipelines. While a pipeline is in flight the next pushes gather, so a burst becomes few
//! round trips; consecutive kept pushes to one stream become one run (one script call: one
//! append, one publication, one decode per node).
//!
//! What cannot be published (Redis unreachable, a failed pipeline, a full queue) is delivered
//! to this node's clients only, without a position, and counted; its streams are reset (a new
//! epoch) before the next append, so that no client is ever told it recovered across pushes
//! that are missing from the history.

use std::sync::{atomic::Ordering, Arc, Weak};

use bytes::Bytes;
use chsk::{
    server::{adapter::LocalNode, Flush, Target},
    Transport,
};
use redis::{Pipeline, Value};
use tokio::sync::{mpsc, oneshot};

use crate::{add, stream_of, wire, Batch, Shared};

/// The most jobs sent in one pipeline.
const MAX_BATCH: usize = 4096;

/// What the publisher sends.
#[derive(Debug)]
pub(crate) enum Job {
    /// A push, encoded.
    Push {
        target: Target,
        data: Bytes,
        volatile: bool,
        flush: Flush,
    },
    /// One of this node's users appeared or left.
    Presence {
        uid: String,
        transport: Transport,
        connected: bool,
    },
    /// This node's users, all of them again (after a (re)subscription or a failed change): its
    /// presence hash rewritten, its heartbeat, and a hello so the others read it.
    SyncPresence,
    /// Answered once everything queued before it was sent to Redis (or failed).
    Flush(oneshot::Sender<()>),
}

pub(crate) async fn run(weak: Weak<Shared>, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let Some(shared) = weak.upgrade() else { return };
        send(&shared, std::mem::take(&mut batch)).await;
        // The queue had room again: the next time it is full is logged again.
        shared.queue_full.store(false, Ordering::Release);
    }
}

/// Sends one batch as a pipeline (on failure, delivers its pushes locally), then answers the
/// flushes it held.
async fn send(shared: &Arc<Shared>, batch: Vec<Job>) {
    let (flushes, jobs): (Vec<Job>, Vec<Job>) = batch
        .into_iter()
        .partition(|job| matches!(job, Job::Flush(_)));
    if !jobs.is_empty() {
        send_jobs(shared, jobs).await;
    }
    for job in flushes {
        if let Job::Flush(tx) = job {
            let _ = tx.send(());
        }
    }
}

async fn send_jobs(shared: &Arc<Shared>, mut batch: Vec<Job>) {
    let Some(node) = shared.node.get() else {
        return;
    };
    let conn = shared.link.get().await;
    let Ok(mut conn) = conn else {
        node.with(|local| fail_locally(shared, local, batch, true));
        return;
    };
    if shared.presence_dirty.swap(false, Ordering::AcqRel) {
        batch.insert(0, Job::SyncPresence);
    }
    let dirty: Vec<_> = {
        let mut d = shared.dirty.lock().unwrap_or_else(|e| e.into_inner());
        d.drain().collect()
    };
    let mut pipe = redis::pipe();
    let mut commands = 0u64;
    // First the resets (their answers lead the results), then the batch.
    for (key, epoch) in &dirty {
        let (meta, list) = shared.keys.stream(key);
        pipe.cmd("EVALSHA")
            .arg(shared.link.scripts.reset.get_hash())
            .arg(2)
            .arg(meta)
            .arg(list)
            .arg(epoch.map(|e| e.to_string()).unwrap_or_default());
        commands += 1;
    }
    let (published, more) = build(shared, node, &batch, &mut pipe);
    commands += more;
    match pipe.query_async::<Vec<Value>>(&mut conn).await {
        Ok(results) => {
            shared.link.ok();
            let c = &shared.counters;
            add(&c.published, published);
            add(&c.commands, commands);
            add(&c.batches, 1);
            let reset = results
                .iter()
                .take(dirty.len())
                .filter(|v| matches!(v, Value::Int(1)))
                .count();
            add(&c.epochs_reset, reset as u64);
            if reset > 0 {
                tracing::info!(
                    streams = reset,
                    "chsk-redis: streams with unpublished pushes start a new epoch"
                );
            }
        }
        Err(e) => {
            shared.link.failed_on(&e).await;
            tracing::debug!(error = %e, "chsk-redis: a pipeline failed");
            shared
                .dirty
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(dirty);
            // After a timeout Redis may still run the pipeline (it was sent, the answer did
            // not come in time): then every process delivers it with its position, and a
            // local copy now would be a second one. Not delivered here; its streams are reset
            // all the same, so if it never ran, its readers are told they missed something.
            let deliver = !e.is_timeout();
            node.with(|local| fail_locally(shared, local, batch, deliver));
        }
    }
}

/// Adds the batch's commands to `pipe`; returns how many pushes and commands it holds.
fn build(
    shared: &Shared,
    node: &chsk::server::adapter::NodeHandle,
    batch: &[Job],
    pipe: &mut Pipeline,
) -> (u64, u64) {
    let keys = &shared.keys;
    let (mut pushes, mut commands) = (0u64, 0u64);
    // Every run of the batch, in order, goes in one script call (one publication).
    let mut runs = Batch::default();
    let mut i = 0;
    while i < batch.len() {
        match &batch[i] {
            Job::Push {
                target,
                volatile,
                flush,
                ..
            } => {
                // The run: this push and the next ones of the same kind to the same target.
                let mut j = i + 1;
                while let Some(Job::Push {
                    target: t,
                    volatile: v,
                    flush: f,
                    ..
                }) = batch.get(j)
                {
                    if t != target || v != volatile || f != flush {
                        break;
                    }
                    j += 1;
                }
                let events: Vec<Bytes> = batch[i..j]
                    .iter()
                    .filter_map(|job| match job {
                        Job::Push { data, .. } => Some(data.clone()),
                        _ => None,
                    })
                    .collect();
                runs.add(target, *flush, &events, *volatile);
                pushes += events.len() as u64;
                i = j;
            }
            Job::Presence {
                uid,
                transport,
                connected,
            } => {
                let msg = wire::Presence::User {
                    node: shared.node_id.clone(),
                    uid: uid.clone(),
                    transport: *transport,
                    connected: *connected,
                };
                pipe.cmd("EVALSHA")
                    .arg(shared.link.scripts.presence.get_hash())
                    .arg(1)
                    .arg(keys.node(&shared.node_id))
                    .arg(wire::presence_field(uid, *transport))
                    .arg(if *connected { "1" } else { "0" })
                    .arg(&keys.presence_channel)
                    .arg(msg.encode())
                    .ignore();
                commands += 1;
                i += 1;
            }
            // Taken out of the batch before (see `send`).
            Job::Flush(_) => i += 1,
            Job::SyncPresence => {
                let hash = keys.node(&shared.node_id);
                let users = node
                    .with(|local| local.local_presence())
                    .unwrap_or_default();
                pipe.cmd("DEL").arg(&hash).ignore();
                commands += 1;
                if !users.is_empty() {
                    let mut hset = redis::cmd("HSET");
                    hset.arg(&hash);
                    for (uid, t) in &users {
                        hset.arg(wire::presence_field(uid, *t)).arg("1");
                    }
                    pipe.add_command(hset).ignore();
                    commands += 1;
                }
                pipe.add_command(shared.heartbeat_cmd()).ignore();
                pipe.cmd("PUBLISH")
                    .arg(&keys.presence_channel)
                    .arg(wire::Presence::Hello(shared.node_id.clone()).encode())
                    .ignore();
                commands += 2;
                i += 1;
            }
        }
    }
    if !runs.is_empty() {
        pipe.add_command(keys.append(
            &shared.link.scripts,
            &runs,
            &shared.options.history,
            &keys.push_channel,
        ))
        .ignore();
        commands += 1;
    }
    (pushes, commands)
}

/// Pushes that could not be published: counted, their streams marked for a new epoch, and
/// (when `deliver`) delivered to this node's clients only, without a position; presence is
/// sent again in full later.
pub(crate) fn fail_locally(shared: &Shared, local: LocalNode<'_>, jobs: Vec<Job>, deliver: bool) {
    let mut failed = 0u64;
    let epochs = shared.epochs.lock().unwrap_or_else(|e| e.into_inner());
    let mut dirty = shared.dirty.lock().unwrap_or_else(|e| e.into_inner());
    for job in jobs {
        match job {
            Job::Push {
                target,
                data,
                volatile,
                flush,
            } => {
                if !volatile {
                    let epoch = epochs.get(&crate::stream_hash(&target)).copied();
                    dirty.entry(stream_of(&target)).or_insert(epoch);
                }
                if deliver {
                    local.deliver_encoded(target, data, None, flush);
                }
                failed += 1;
            }
            Job::Flush(_) => {}
            Job::Presence { .. } | Job::SyncPresence => {
                shared.presence_dirty.store(true, Ordering::Release);
            }
        }
    }
    drop(dirty);
    drop(epochs);
    if failed > 0 {
        add(&shared.counters.publish_failed, failed);
        tracing::debug!(
            pushes = failed,
            "chsk-redis: pushes not published; delivered to this node's clients only"
        );
    }
}
