use std::{collections::HashSet, time::Duration};

use tokio::time::advance;

use super::*;

fn ev(i: u32) -> Bytes {
    Bytes::from(i.to_be_bytes().to_vec())
}

fn evs(range: std::ops::RangeInclusive<u32>) -> Vec<Bytes> {
    range.map(ev).collect()
}

fn at(top: StreamPosition, seq: u64) -> StreamPosition {
    StreamPosition { seq, ..top }
}

fn opts(f: impl FnOnce(&mut HistoryOptions)) -> HistoryOptions {
    let mut options = HistoryOptions::default();
    f(&mut options);
    options
}

#[track_caller]
fn assert_lost(since: Since, expected: Unrecoverable) {
    match since {
        Since::NotRecovered { reason, .. } => assert_eq!(reason, expected),
        Since::Recovered { events, .. } => panic!("expected {expected:?}, replayed {events:?}"),
    }
}

#[test]
fn replays_every_event_after_the_position_in_order() {
    let h = MemoryHistory::default();
    let key = StreamKey::user("alice");
    let start = h.position_now(&key);
    assert_eq!(start.seq, 0);
    assert_ne!(start.epoch, 0);
    assert_eq!(h.append_now(&key, &[ev(1)]), at(start, 1));
    assert_eq!(h.append_now(&key, &evs(2..=4)), at(start, 4));
    assert_eq!(
        h.append_now(&key, &[]),
        at(start, 4),
        "no events: the position"
    );
    assert_eq!(h.append_now(&key, &[ev(5)]), at(start, 5));
    let top = at(start, 5);
    assert_eq!(
        h.since_now(&key, start),
        Since::Recovered {
            top,
            events: evs(1..=5)
        }
    );
    assert_eq!(
        h.since_now(&key, at(start, 2)),
        Since::Recovered {
            top,
            events: evs(3..=5)
        }
    );
    // Other streams are apart.
    assert_eq!(h.append_now(&StreamKey::user("bob"), &[ev(9)]).seq, 1);
    assert_eq!(h.append_now(&StreamKey::client("alice"), &[ev(9)]).seq, 1);
    assert_eq!(h.position_now(&key), top);
}

#[test]
fn at_the_last_event_the_replay_is_empty_and_past_it_nothing_is_recovered() {
    let h = MemoryHistory::default();
    let top = h.append_now(&StreamKey::All, &evs(1..=3));
    assert_eq!(
        h.since_now(&StreamKey::All, top),
        Since::Recovered {
            top,
            events: vec![]
        }
    );
    assert_lost(
        h.since_now(&StreamKey::All, at(top, 4)),
        Unrecoverable::BeyondTop,
    );
}

#[test]
fn a_replay_copies_the_missed_events_once_into_one_buffer() {
    let h = MemoryHistory::default();
    let data = Bytes::from(vec![7; 100]);
    let top = h.append_now(&StreamKey::All, &[data.clone(), data.clone()]);
    let replay = |h: &MemoryHistory| match h.since_now(&StreamKey::All, at(top, 0)) {
        Since::Recovered { events, .. } => events,
        other => panic!("not recovered: {other:?}"),
    };
    let (first, second) = (replay(&h), replay(&h));
    assert_eq!(first, [data.clone(), data.clone()]);
    assert_eq!(second, first);
    assert_ne!(first[0].as_ptr(), data.as_ptr(), "the history keeps a copy");
    assert_eq!(
        first[1].as_ptr(),
        first[0].as_ptr().wrapping_add(100),
        "one buffer per replay, the events back to back"
    );
}

/// The capacities of the chunks of stream `key`.
fn chunks(h: &MemoryHistory, key: &StreamKey) -> Vec<usize> {
    let shard = h.read(key);
    let stream = shard.streams.get(key).expect("the stream exists");
    stream
        .kept
        .as_ref()
        .map_or_else(Vec::new, |k| k.chunks.iter().map(Vec::capacity).collect())
}

#[test]
fn chunks_double_for_a_busy_stream_and_are_freed_when_trimmed() {
    let h = MemoryHistory::new(opts(|o| {
        o.max_count = 1_000;
        o.max_bytes = 1 << 20;
    }));
    let key = StreamKey::user("u1");
    let event = Bytes::from(vec![1; 100]);
    let mut top = h.append_now(&key, std::slice::from_ref(&event));
    for _ in 0..500 {
        top = h.append_now(&key, std::slice::from_ref(&event));
    }
    let k = 1024;
    assert_eq!(
        chunks(&h, &key),
        [256, 512, k, 2 * k, 4 * k, 8 * k, 16 * k, 16 * k, 16 * k]
    );
    let Since::Recovered { events, .. } = h.since_now(&key, at(top, 0)) else {
        panic!("not recovered");
    };
    assert_eq!(events.len(), 501);
    assert!(events.iter().all(|e| *e == event));

    // A stream trimmed by its count keeps only the chunks of its retained events.
    let h = MemoryHistory::new(opts(|o| o.max_count = 10));
    for _ in 0..10_000 {
        h.append_now(&key, std::slice::from_ref(&event));
    }
    assert!(chunks(&h, &key).len() <= 2, "{:?}", chunks(&h, &key));
    assert_eq!(h.stats().events, 10);

    // An event larger than a chunk gets one of its own size; a stream trimmed empty has none.
    let h = MemoryHistory::new(opts(|o| o.max_bytes = 10 * MAX_CHUNK));
    h.append_now(&key, &[event.clone(), Bytes::from(vec![2; 3 * MAX_CHUNK])]);
    assert_eq!(chunks(&h, &key), [256, 3 * MAX_CHUNK]);
    h.append_now(&key, &[Bytes::from(vec![3; 11 * MAX_CHUNK])]);
    assert_eq!(chunks(&h, &key), Vec::<usize>::new());
    assert_eq!(h.stats().events, 0);
}

#[test]
fn trimmed_by_count_is_not_recovered() {
    let h = MemoryHistory::new(opts(|o| o.max_count = 3));
    let key = StreamKey::client("c1");
    let top = h.append_now(&key, &evs(1..=5));
    assert_eq!(h.stats().events, 3);
    assert_lost(h.since_now(&key, at(top, 0)), Unrecoverable::Trimmed);
    assert_lost(h.since_now(&key, at(top, 1)), Unrecoverable::Trimmed);
    // Event 3 is the oldest kept: from 2 on, the replay is whole.
    assert_eq!(
        h.since_now(&key, at(top, 2)),
        Since::Recovered {
            top,
            events: evs(3..=5)
        }
    );
}

#[test]
fn trimmed_by_bytes_is_not_recovered_and_the_gauge_counts_bytes() {
    let size = ENTRY_OVERHEAD + 4;
    let h = MemoryHistory::new(opts(|o| o.max_bytes = 2 * size));
    let key = StreamKey::All;
    let top = h.append_now(&key, &evs(1..=3));
    let stats = h.stats();
    assert_eq!((stats.streams, stats.events, stats.bytes), (1, 2, 2 * size));
    assert_lost(h.since_now(&key, at(top, 0)), Unrecoverable::Trimmed);
    assert_eq!(
        h.since_now(&key, at(top, 1)),
        Since::Recovered {
            top,
            events: evs(2..=3)
        }
    );
    // An event larger than the bound is never kept, but it still takes its place.
    let big = Bytes::from(vec![0; 3 * size]);
    let top = h.append_now(&key, &[big]);
    assert_eq!((top.seq, h.stats().events, h.stats().bytes), (4, 0, 0));
    assert_lost(h.since_now(&key, at(top, 3)), Unrecoverable::Trimmed);
    assert_eq!(
        h.since_now(&key, top),
        Since::Recovered {
            top,
            events: vec![]
        }
    );
}

#[tokio::test(start_paused = true)]
async fn trimmed_by_age_is_not_recovered() {
    let h = MemoryHistory::new(opts(|o| o.max_age = Duration::from_secs(120)));
    let key = StreamKey::user("alice");
    let first = h.append_now(&key, &[ev(1)]);
    advance(Duration::from_secs(60)).await;
    let top = h.append_now(&key, &[ev(2)]);
    advance(Duration::from_secs(60) - Duration::from_millis(1)).await;
    // Event 1 is 1 ms short of 2 minutes old: still there.
    assert_eq!(
        h.since_now(&key, at(top, 0)),
        Since::Recovered {
            top,
            events: evs(1..=2)
        }
    );
    advance(Duration::from_millis(1)).await;
    assert_lost(h.since_now(&key, at(top, 0)), Unrecoverable::Trimmed);
    assert_eq!(
        h.since_now(&key, first),
        Since::Recovered {
            top,
            events: vec![ev(2)]
        }
    );
    advance(Duration::from_secs(60)).await;
    assert_lost(h.since_now(&key, first), Unrecoverable::Trimmed);
    // A client that had everything missed nothing.
    assert_eq!(
        h.since_now(&key, top),
        Since::Recovered {
            top,
            events: vec![]
        }
    );
    // Expired events are gone from memory once swept.
    assert_eq!(h.stats().events, 2, "not swept yet");
    h.sweep();
    assert_eq!(
        (h.stats().streams, h.stats().events, h.stats().bytes),
        (1, 0, 0)
    );
}

#[test]
fn another_epoch_is_not_recovered() {
    let h = MemoryHistory::default();
    let key = StreamKey::All;
    let top = h.append_now(&key, &evs(1..=2));
    let other = if top.epoch == 1 { 2 } else { top.epoch - 1 };
    assert_lost(
        h.since_now(
            &key,
            StreamPosition {
                epoch: other,
                seq: 0,
            },
        ),
        Unrecoverable::OtherEpoch,
    );
    assert_lost(
        h.since_now(
            &key,
            StreamPosition {
                epoch: other,
                seq: 2,
            },
        ),
        Unrecoverable::OtherEpoch,
    );
}

#[test]
fn a_restart_loses_every_stream_and_starts_new_epochs() {
    let before = MemoryHistory::default();
    let key = StreamKey::client("c1");
    let seen = before.append_now(&key, &evs(1..=2));
    let after = MemoryHistory::default();
    // The restarted history does not know the stream: nothing recovered, and the stream
    // exists from now on, in a new epoch.
    let Since::NotRecovered { top, reason } = after.since_now(&key, seen) else {
        panic!("recovered across a restart");
    };
    assert_eq!(reason, Unrecoverable::UnknownStream);
    assert_eq!(top.seq, 0);
    assert_ne!(top.epoch, seen.epoch);
    assert_eq!(after.append_now(&key, &evs(1..=2)), at(top, 2));
    assert_lost(after.since_now(&key, seen), Unrecoverable::OtherEpoch);
}

#[test]
fn an_unknown_stream_with_a_position_is_not_recovered() {
    let h = MemoryHistory::default();
    let known = h.position_now(&StreamKey::All);
    let key = StreamKey::user("nobody");
    assert_lost(
        h.since_now(&key, at(known, 0)),
        Unrecoverable::UnknownStream,
    );
    assert_eq!(h.stats().streams, 2, "the unknown stream now exists");
}

#[test]
fn a_fresh_stream_at_seq_0_of_its_epoch_is_recovered() {
    let h = MemoryHistory::default();
    let key = StreamKey::client("c1");
    let start = h.position_now(&key);
    assert_eq!(
        h.since_now(&key, start),
        Since::Recovered {
            top: start,
            events: vec![]
        }
    );
    let top = h.append_now(&key, &[ev(1)]);
    assert_eq!(
        h.since_now(&key, start),
        Since::Recovered {
            top,
            events: vec![ev(1)]
        }
    );
}

#[test]
fn every_stream_gets_its_own_epoch() {
    let h = MemoryHistory::default();
    let epochs: HashSet<u64> = (0..1000)
        .map(|i| h.position_now(&StreamKey::client(format!("c{i}"))).epoch)
        .collect();
    assert_eq!(epochs.len(), 1000);
    assert!(epochs.iter().all(|&e| e != 0 && e <= EPOCH_MASK));
}

#[tokio::test(start_paused = true)]
async fn a_stream_unused_for_its_ttl_is_forgotten_and_comes_back_in_a_new_epoch() {
    let h = MemoryHistory::new(opts(|o| {
        o.max_age = Duration::from_secs(120);
        o.stream_ttl = Duration::from_secs(600);
    }));
    let quiet = StreamKey::client("quiet");
    let used = StreamKey::client("used");
    let seen = h.position_now(&quiet);
    h.position_now(&used);
    for _ in 0..3 {
        advance(Duration::from_secs(200)).await;
        h.position_now(&used); // a read keeps a stream
    }
    h.sweep();
    assert_eq!(h.stats().streams, 1);
    let Since::NotRecovered { top, reason } = h.since_now(&quiet, seen) else {
        panic!("a forgotten stream was recovered");
    };
    assert_eq!(reason, Unrecoverable::UnknownStream);
    assert_ne!(top.epoch, seen.epoch);
    // A stream with events is kept while they are; writes sweep a shard when it is due.
    let busy = StreamKey::All;
    h.append_now(&busy, &[ev(1)]);
    advance(Duration::from_secs(119)).await;
    h.append_now(&busy, &[ev(2)]);
    advance(Duration::from_secs(700)).await;
    h.position_now(&StreamKey::client("trigger"));
    h.sweep();
    assert_eq!(h.stats().streams, 1, "only the stream just read is left");
    assert_eq!(h.stats().bytes, 0);
}

#[test]
fn concurrent_appends_keep_per_stream_order_and_unique_sequence_numbers() {
    const THREADS: u32 = 4;
    const PER_THREAD: u32 = 500;
    let h = MemoryHistory::new(opts(|o| {
        o.max_count = usize::MAX;
        o.max_bytes = usize::MAX;
    }));
    let shared = StreamKey::All;
    let start = h.position_now(&shared);
    let returned: Vec<Vec<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let h = &h;
                s.spawn(move || {
                    let own = StreamKey::user(format!("u{t}"));
                    let mut seqs = Vec::new();
                    for i in 0..PER_THREAD {
                        let pos = h.append_now(&StreamKey::All, &[ev(t * PER_THREAD + i)]);
                        assert_eq!(pos.epoch, start.epoch);
                        seqs.push(pos.seq);
                        assert_eq!(h.append_now(&own, &[ev(i)]).seq, u64::from(i) + 1);
                    }
                    seqs
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|j| j.join().expect("thread"))
            .collect()
    });
    let total = u64::from(THREADS * PER_THREAD);
    let mut all: Vec<u64> = returned.iter().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(all, (1..=total).collect::<Vec<_>>(), "unique and gapless");
    let Since::Recovered { top, events } = h.since_now(&shared, start) else {
        panic!("not recovered");
    };
    assert_eq!(top.seq, total);
    for (t, seqs) in returned.iter().enumerate() {
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "thread {t} out of order"
        );
        for (i, &seq) in seqs.iter().enumerate() {
            // The event at `seq` is the one this thread appended when it got `seq`.
            let expected = ev(t as u32 * PER_THREAD + i as u32);
            assert_eq!(events[(seq - 1) as usize], expected);
        }
    }
    for t in 0..THREADS {
        assert_eq!(
            h.position_now(&StreamKey::user(format!("u{t}"))).seq,
            u64::from(PER_THREAD)
        );
    }
}

/// Random appends (empty events and events larger than a chunk among them) under random
/// bounds, against a model: after each append, every position the history still covers
/// replays exactly the model's events after it, and the gauges agree.
#[test]
fn replays_match_a_model_under_random_appends() {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for round in 0..40 {
        let max_count = 1 + next(40) as usize;
        let max_bytes = ENTRY_OVERHEAD * 4 + next(4 * MAX_CHUNK as u64) as usize;
        let h = MemoryHistory::new(opts(|o| {
            o.max_count = max_count;
            o.max_bytes = max_bytes;
        }));
        let key = StreamKey::user("u");
        let mut model: Vec<Bytes> = Vec::new();
        for step in 0..200 {
            let batch: Vec<Bytes> = (0..1 + next(3))
                .map(|_| {
                    let len = match next(20) {
                        0 => 0,
                        1 => MAX_CHUNK + next(MAX_CHUNK as u64) as usize,
                        _ => next(300) as usize,
                    };
                    let byte = next(256) as u8;
                    Bytes::from(vec![byte; len])
                })
                .collect();
            let top = h.append_now(&key, &batch);
            model.extend(batch);
            assert_eq!(top.seq, model.len() as u64);
            let stats = h.stats();
            let kept = &model[model.len() - stats.events..];
            assert!(stats.events <= max_count, "round {round} step {step}");
            let cost: usize = kept.iter().map(|e| e.len() + ENTRY_OVERHEAD).sum();
            assert_eq!(stats.bytes, cost, "round {round} step {step}");
            {
                // No chunk is kept for events that are gone.
                let shard = h.read(&key);
                let stream = shard.streams.get(&key).expect("the stream");
                let empty = Kept::default();
                let stream = stream.kept.as_deref().unwrap_or(&empty);
                let held: usize = stream.chunks.iter().map(Vec::len).sum();
                assert_eq!(
                    held - stream.front,
                    kept.iter().map(Bytes::len).sum::<usize>()
                );
                assert!(
                    stream.chunks.len() <= 1 || stream.front < stream.chunks[0].len(),
                    "round {round} step {step}: a used-up chunk is kept"
                );
            }
            // The oldest kept position and every later one replay the model's suffix.
            for from in (model.len() - kept.len())..=model.len() {
                let answer = h.since_now(&key, at(top, from as u64));
                assert_eq!(
                    answer,
                    Since::Recovered {
                        top,
                        events: model[from..].to_vec()
                    },
                    "round {round} step {step} from {from}"
                );
            }
            if kept.len() < model.len() {
                let before = (model.len() - kept.len() - 1) as u64;
                assert_lost(h.since_now(&key, at(top, before)), Unrecoverable::Trimmed);
            }
        }
    }
}

#[test]
fn an_event_costs_its_length_plus_24_bytes_as_documented() {
    // `HistoryOptions::max_bytes` documents this figure.
    assert_eq!(ENTRY_OVERHEAD, 24);
}
