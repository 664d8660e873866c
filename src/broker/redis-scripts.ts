/**
 * The Lua scripts of the Redis broker. Redis runs a script as one atomic step, so a history
 * publication's offset, its place in the stream and its PUBLISH to the other instances either
 * all happen or none does: an instance never delivers a publication that history lacks, and a
 * recovering client never misses one that was delivered.
 *
 * Keys per channel (names built in redis-channels.ts):
 * - meta, a hash: `e` the epoch, `s` the top offset; kept `metaTtl` ms after the last use;
 * - stream, a Redis stream whose entry ids are `<offset>-0` and whose field `d` holds the
 *   publication's JSON; trimmed to `size` entries, kept `ttl` ms after the last publication.
 *
 * A meta that is missing (never created, expired, Redis restarted or flushed) gets the fresh
 * epoch the caller passes, and any stream left without it is deleted first: its offsets belong
 * to a past the new epoch does not claim.
 *
 * The meta also keeps `r`, the replication id of the server that wrote it, and `c`, when (the
 * server's clock, ms) that was last checked. Replication is asynchronous: a replica promoted
 * after its master died may lack publications the master acknowledged, and would hand out
 * their offsets again under the same epoch. A promoted replica's previous replication id
 * (`master_replid2`) is its old master's: a meta written there is dropped, so the stream starts
 * a new epoch (subscribers get `recovered: false`). A meta written by any other server (a slot
 * migrated with MIGRATE, which moves keys whole; a restart from the append-only file) is kept and
 * adopted.
 *
 * Reading the replication ids (`INFO replication`) costs more than the rest of a script, so a
 * meta is checked at most every CHECK_MS: a promotion needs the cluster to time its master
 * out first (`cluster-node-timeout`, seconds in production), so the first script on a promoted
 * replica finds its inherited check older than that and runs it. This assumes the servers'
 * clocks agree within the node timeout, and that no `CLUSTER FAILOVER TAKEOVER` is forced within
 * CHECK_MS of a write to a master that is still alive (a planned `CLUSTER FAILOVER` loses nothing).
 */

/** How often (ms) a meta's writer is checked against the server's replication ids. */
export const CHECK_MS = 250

/**
 * Runs first in both scripts: reads the meta's epoch, top, writer and last check, and when the
 * check is due (or the meta is new) reads the server's replication ids: a meta a promoted
 * replica inherited is dropped with its stream; one written elsewhere is adopted.
 */
const INHERITED = `
local meta = redis.call('hmget', KEYS[1], 'e', 's', 'r', 'c')
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local replid = nil
if not meta[1] or math.abs(now - (tonumber(meta[4]) or 0)) >= ${CHECK_MS} then
  local repl = redis.call('info', 'replication')
  replid = string.match(repl, 'master_replid:(%w+)')
  local replid2 = string.match(repl, 'master_replid2:(%w+)')
  local writer = meta[3]
  if meta[1] and writer and writer ~= replid and writer == replid2 then
    redis.call('del', KEYS[1], KEYS[2])
    meta = {false, false, false, false}
  elseif meta[1] then
    redis.call('hset', KEYS[1], 'r', replid, 'c', now)
  end
end
`

/**
 * KEYS: meta, stream. ARGV: entry JSON, size, ttl ms, meta ttl ms, fresh epoch, pub/sub
 * channel, message head, publish command (`publish`, or `spublish` on a Redis Cluster, where the
 * channel shares the keys' hash tag). The message sent is the head followed by `,"offset":N,"epoch":"E"}`
 * (the head is a JSON object without its closing brace). Returns {offset, epoch, receivers}.
 */
export const APPEND_AND_PUBLISH = `${INHERITED}
local epoch = meta[1]
if not epoch then
  epoch = ARGV[5]
  redis.call('del', KEYS[2])
  redis.call('hset', KEYS[1], 'e', epoch, 'r', replid, 'c', now)
end
local offset = redis.call('hincrby', KEYS[1], 's', 1)
redis.call('pexpire', KEYS[1], ARGV[4])
redis.call('xadd', KEYS[2], 'MAXLEN', ARGV[2], offset .. '-0', 'd', ARGV[1])
redis.call('pexpire', KEYS[2], ARGV[3])
local receivers = redis.call(ARGV[8] == 'spublish' and 'spublish' or 'publish', ARGV[6], ARGV[7] .. ',"offset":' .. offset .. ',"epoch":"' .. epoch .. '"}')
return {offset, epoch, receivers}
`

/**
 * KEYS: meta, stream. ARGV: first offset wanted (or -1 for none), most entries, meta ttl ms,
 * fresh epoch. Returns {top offset, epoch, entries} where entries are XRANGE replies
 * `[id, ['d', json]]` in offset order. Creates the meta when missing, so the position a
 * subscriber is told is the one the next publication continues.
 */
export const READ_STREAM = `${INHERITED}
local epoch, top = meta[1], meta[2]
if not epoch then
  epoch = ARGV[4]
  top = 0
  redis.call('del', KEYS[2])
  redis.call('hset', KEYS[1], 'e', epoch, 's', 0, 'r', replid, 'c', now)
end
redis.call('pexpire', KEYS[1], ARGV[3])
local entries = {}
if ARGV[1] ~= '-1' then
  entries = redis.call('xrange', KEYS[2], ARGV[1] .. '-0', '+', 'COUNT', ARGV[2])
end
return {tonumber(top) or 0, epoch, entries}
`
