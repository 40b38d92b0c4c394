//! The Lua scripts: each runs atomically in Redis, so a stream's append and its publication
//! are one step (every node receives a stream's pushes in sequence order), and a reconnecting
//! client's read sees a whole history or none.
//!
//! Per stream, a hash `<prefix>:{<stream>}:m` (`e` epoch, `s` last sequence number, `b`
//! retained bytes) and a list `<prefix>:{<stream>}:l` of the retained events, oldest first,
//! each an 8-byte big-endian `f64` time in milliseconds (Redis's clock) followed by the encoded
//! event; the list's last item has sequence number `s`. Both expire `stream_ttl` after the
//! stream's last use; a stream without its hash is unknown, and is created again in a new
//! epoch (its old positions are then never recovered).

use redis::Script;

/// Appends a run's events and publishes it. `KEYS`: hash, list. `ARGV`: body, 1-based offset
/// of the first event's length in it, event count, epoch for a new stream, max count, max
/// bytes, max age (ms), stream ttl (ms), channel (empty: do not publish), per-event overhead.
/// Returns `{epoch, last seq}`.
const APPEND: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local e = redis.call('HGET', KEYS[1], 'e')
if not e then
  e = ARGV[4]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', e, 's', 0, 'b', 0)
end
local body = ARGV[1]
local pos = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local over = tonumber(ARGV[10])
local stamp = struct.pack('>d', now)
local added = 0
for i = 1, n do
  local len = struct.unpack('>I4', body, pos)
  pos = pos + 4
  redis.call('RPUSH', KEYS[2], stamp .. string.sub(body, pos, pos + len - 1))
  pos = pos + len
  added = added + len + over
end
local s = redis.call('HINCRBY', KEYS[1], 's', n)
local b = redis.call('HINCRBY', KEYS[1], 'b', added)
local count = redis.call('LLEN', KEYS[2])
local max_count = tonumber(ARGV[5])
local max_bytes = tonumber(ARGV[6])
local oldest = now - tonumber(ARGV[7])
while count > 0 do
  local head = redis.call('LINDEX', KEYS[2], 0)
  if count > max_count or b > max_bytes or struct.unpack('>d', head) < oldest then
    redis.call('LPOP', KEYS[2])
    count = count - 1
    b = b - (#head - 8 + over)
  else
    break
  end
end
redis.call('HSET', KEYS[1], 'b', b)
redis.call('PEXPIRE', KEYS[1], ARGV[8])
if count > 0 then
  redis.call('PEXPIRE', KEYS[2], ARGV[8])
end
if ARGV[9] ~= '' then
  redis.call('PUBLISH', ARGV[9], e .. ' ' .. string.format('%d', s - n + 1) .. ' ' .. body)
end
return {e, s}
";

/// Reads a stream after a position, or only its position (`ARGV[1]` empty). `KEYS`: hash,
/// list. `ARGV`: epoch presented, sequence number presented, epoch for a new stream, stream
/// ttl (ms), max age (ms). Returns `{epoch, last seq, status[, events]}` with status `top`,
/// `unknown` (created now), `epoch`, `beyond`, `trimmed` or `ok` (then the events after the
/// position, each with its 8-byte time).
const SINCE: &str = r"
local e = redis.call('HGET', KEYS[1], 'e')
if not e then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', ARGV[3], 's', 0, 'b', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {ARGV[3], 0, 'unknown'}
end
local s = tonumber(redis.call('HGET', KEYS[1], 's'))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
if ARGV[1] == '' then
  return {e, s, 'top'}
end
if e ~= ARGV[1] then
  return {e, s, 'epoch'}
end
local from = tonumber(ARGV[2])
if from > s then
  return {e, s, 'beyond'}
end
if from == s then
  return {e, s, 'ok', {}}
end
local count = redis.call('LLEN', KEYS[2])
local first = s - count + 1
if from + 1 < first then
  return {e, s, 'trimmed'}
end
local items = redis.call('LRANGE', KEYS[2], from + 1 - first, -1)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if struct.unpack('>d', items[1]) < now - tonumber(ARGV[5]) then
  return {e, s, 'trimmed'}
end
return {e, s, 'ok', items}
";

/// One of this node's users appeared or left: updates its presence hash and tells the other
/// nodes. `KEYS`: the node's hash. `ARGV`: field, `1` (connected) or `0`, channel, message.
const PRESENCE: &str = r"
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], ARGV[1], '1')
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
";

/// The node's heartbeat; also forgets the nodes whose heartbeat stopped (their presence hash
/// deleted, `g <node>` published). `KEYS`: the nodes' sorted set. `ARGV`: node id, timeout
/// (ms), prefix of the nodes' hashes, presence channel. Returns the nodes forgotten.
const HEARTBEAT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
for _, node in ipairs(dead) do
  redis.call('ZREM', KEYS[1], node)
  redis.call('DEL', ARGV[3] .. node)
  redis.call('PUBLISH', ARGV[4], 'g ' .. node)
end
return dead
";

/// Starts a stream again in a new epoch (its next use creates it) because pushes to it could
/// not be kept: only if it is still in the epoch they were lost from (`ARGV[1]`; empty: any).
/// `KEYS`: hash, list. Returns 1 when it was reset.
const RESET: &str = r"
local e = redis.call('HGET', KEYS[1], 'e')
if e and (ARGV[1] == '' or e == ARGV[1]) then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
";

/// The scripts, with their SHA1s (loaded on every new connection).
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) append: Script,
    pub(crate) since: Script,
    pub(crate) presence: Script,
    pub(crate) heartbeat: Script,
    pub(crate) reset: Script,
}

impl Default for Scripts {
    fn default() -> Self {
        Self {
            append: Script::new(APPEND),
            since: Script::new(SINCE),
            presence: Script::new(PRESENCE),
            heartbeat: Script::new(HEARTBEAT),
            reset: Script::new(RESET),
        }
    }
}

impl Scripts {
    /// Every script, for `SCRIPT LOAD`.
    pub(crate) fn all(&self) -> [&Script; 5] {
        [
            &self.append,
            &self.since,
            &self.presence,
            &self.heartbeat,
            &self.reset,
        ]
    }
}
