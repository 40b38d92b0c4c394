//! The Lua scripts: each runs atomically in Redis, so a stream's append and its publication
//! are one step (every node receives a stream's pushes in sequence order), and a reconnecting
//! client's read sees a whole history or none.
//!
//! Per stream, a meta string `<prefix>:{<stream>}:m` (four big-endian `f64`s: last sequence
//! number, retained bytes, time of the oldest retained event, time the expiry was last set;
//! then the epoch in decimal) and a list `<prefix>:{<stream>}:l` of the retained events, oldest
//! first, each an 8-byte big-endian `f64` time in milliseconds (Redis's clock) followed by the
//! encoded event; the list's last item has the last sequence number. Numbers are packed, never
//! formatted: the scripts do no number-to-text conversion per push. Both keys expire between
//! three quarters of `stream_ttl` and `stream_ttl` after the stream's last use; a stream
//! without its meta is unknown, and is created again in a new epoch (its old positions are then
//! never recovered).

use redis::Script;

/// Appends a batch of runs, each to its stream, and publishes the batch as one message.
/// `KEYS`: meta and list of each kept run, in order. `ARGV`: the bodies one after the other,
/// max count, max bytes, max age (ms), stream ttl (ms), channel (empty: do not publish),
/// per-event overhead, the number of runs, the epoch for the streams it creates (random; one
/// per batch is enough: it only has to differ from each stream's earlier epochs), and the runs
/// packed, 9 bytes each: the 1-based offset of the run's first event's length in the bodies
/// and its event count (4-byte big-endian each), then 1 when it is kept, 0 when volatile.
/// Returns `{epoch, first seq}` per run (`0, 0` when volatile).
/// Per kept run: one `GET`, one `RPUSH`, one `SET` (plus one `LPOP` and `LINDEX` per event
/// trimmed, and one `PEXPIRE` once per quarter of the ttl); one `PUBLISH` per batch.
const APPEND: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local body = ARGV[1]
local max_count = tonumber(ARGV[2])
local max_bytes = tonumber(ARGV[3])
local oldest = now - tonumber(ARGV[4])
local ttl = ARGV[5]
local over = tonumber(ARGV[7])
local runs = tonumber(ARGV[8])
local new_epoch = ARGV[9]
local packed = ARGV[10]
local stamp = struct.pack('>d', now)
local out = {}
local header = {tostring(runs)}
local k = 1
for r = 1, runs do
  local pos, n, kept = struct.unpack('>I4I4B', packed, 9 * r - 8)
  if kept == 0 then
    out[#out + 1] = '0'
    out[#out + 1] = '0'
    header[#header + 1] = '0 0'
  else
    local meta, list = KEYS[k], KEYS[k + 1]
    k = k + 2
    -- s last seq, b bytes kept, h time of the oldest kept event, x last expiry set, e epoch
    local v = redis.call('GET', meta)
    local s, b, h, x, e
    if v then
      s, b, h, x = struct.unpack('>dddd', v)
      e = string.sub(v, 33)
    else
      s, b, h, x, e = 0, 0, now, nil, new_epoch
      redis.call('DEL', list)
    end
    local vals = {}
    for i = 1, n do
      local len = struct.unpack('>I4', body, pos)
      pos = pos + 4
      vals[i] = stamp .. string.sub(body, pos, pos + len - 1)
      pos = pos + len
      b = b + len + over
    end
    local count = redis.call('RPUSH', list, unpack(vals))
    if count == n then
      h = now
    end
    local first = s + 1
    s = s + n
    -- Trim oldest first while a bound is passed (no read at all while none is).
    while count > 0 and (count > max_count or b > max_bytes or h < oldest) do
      local head = redis.call('LPOP', list)
      count = count - 1
      b = b - (#head - 8 + over)
      if count > 0 then
        h = struct.unpack('>d', redis.call('LINDEX', list, 0))
      end
    end
    if count == 0 then
      h = now
    end
    -- The keys' expiry is pushed back at most every quarter of the ttl (a stream in use
    -- never expires; a quiet one expires within the ttl and a quarter).
    local refresh = (not x) or (now - x >= tonumber(ttl) / 4)
    if refresh then
      x = now
    end
    local packed = struct.pack('>dddd', s, b, h, x) .. e
    if refresh then
      redis.call('SET', meta, packed, 'PX', ttl)
      if count > 0 then
        redis.call('PEXPIRE', list, ttl)
      end
    else
      redis.call('SET', meta, packed, 'KEEPTTL')
    end
    local f = string.format('%d', first)
    out[#out + 1] = e
    out[#out + 1] = f
    header[#header + 1] = e .. ' ' .. f
  end
end
if ARGV[6] ~= '' then
  redis.call('PUBLISH', ARGV[6], table.concat(header, ' ') .. ' ' .. body)
end
return out
";

/// Reads a stream after a position, or only its position (`ARGV[1]` empty). `KEYS`: meta,
/// list. `ARGV`: epoch presented, sequence number presented, epoch for a new stream, stream
/// ttl (ms), max age (ms). Returns `{epoch, last seq, status[, events]}` with status `top`,
/// `unknown` (created now), `epoch`, `beyond`, `trimmed` or `ok` (then the events after the
/// position, each with its 8-byte time).
const SINCE: &str = r"
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[1], struct.pack('>dddd', 0, 0, 0, 0) .. ARGV[3], 'PX', ARGV[4])
  return {ARGV[3], 0, 'unknown'}
end
local s = struct.unpack('>d', v)
local e = string.sub(v, 33)
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

/// The node's heartbeat (also published, `b <node>`: a node that hears nothing, not even its
/// own, for `node_timeout` knows its subscription is dead); also forgets the nodes whose
/// heartbeat stopped (their presence hash
/// deleted, `g <node>` published). `KEYS`: the nodes' sorted set. `ARGV`: node id, timeout
/// (ms), prefix of the nodes' hashes, presence channel. Returns the nodes forgotten.
const HEARTBEAT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PUBLISH', ARGV[4], 'b ' .. ARGV[1])
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
/// `KEYS`: meta, list. Returns 1 when it was reset.
const RESET: &str = r"
local v = redis.call('GET', KEYS[1])
if v and (ARGV[1] == '' or string.sub(v, 33) == ARGV[1]) then
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
