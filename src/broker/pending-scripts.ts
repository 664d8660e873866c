/**
 * The Lua scripts of the Redis pending store (redis-pending.ts). Keys per identity (names in
 * redis-channels.ts, one hash tag per identity so both keys share a slot on a Redis Cluster):
 * - entries, a hash: event id → `<order> <attempts>\n<event>\n<frame text>`, the text left
 *   out when it is kept once for every recipient under `pending-frame:<event id>`;
 * - owner, a string: the id of the instance that owns the record, with the record's expiry.
 * Every instance keeps a lease key, `lease:<instance id>`, renewed by its heartbeat.
 */

/**
 * Writes and removals of one turn in one step. ARGV[1]: how long a record is kept (ms);
 * ARGV[2]: F, the frames written; KEYS[1..F]: their keys, ARGV[3..F+2]: their texts (one per
 * event, however many recipients); then KEYS[F+1..]: one entries key per operation, with its
 * field and value in ARGV ('' removes; a value ending in a newline refers to its frame key).
 */
export const PENDING_WRITE = `
local keep = ARGV[1]
local frames = tonumber(ARGV[2])
for i = 1, frames do
  redis.call('set', KEYS[i], ARGV[2 + i], 'PX', keep)
end
local at = 3 + frames
for i = frames + 1, #KEYS do
  local field, value = ARGV[at], ARGV[at + 1]
  at = at + 2
  if value == '' then
    redis.call('hdel', KEYS[i], field)
  else
    redis.call('hset', KEYS[i], field, value)
    redis.call('pexpire', KEYS[i], keep)
  end
end
return #KEYS
`

/**
 * Takes a record over. KEYS: owner, entries. ARGV: self, the owner the caller saw ('' for none),
 * how long the record is kept (ms). When the owner is still the one seen (or is self), self
 * becomes the owner and the reply is every entry (HGETALL: field, value, …); else nil (someone
 * else took it meanwhile: look again).
 */
export const PENDING_ADOPT = `
local cur = redis.call('get', KEYS[1]) or ''
if cur ~= ARGV[2] and cur ~= ARGV[1] then return false end
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('pexpire', KEYS[2], ARGV[3])
return redis.call('hgetall', KEYS[2])
`

/** Lets a record go. KEYS: owner. ARGV: self. Deletes the owner only when it is self. */
export const PENDING_RELEASE = `
if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end
return 1
`

/**
 * A tracked event on a private channel, recorded for its owner and published in one step.
 * KEYS: entries. ARGV: field, value, keep ms, most entries per identity, channel, message,
 * publish command. Recorded only under the bound (an event over it still goes out, untracked).
 * Returns the receivers of the publish.
 */
export const PENDING_PUBLISH = `
if redis.call('hexists', KEYS[1], ARGV[1]) == 1 or redis.call('hlen', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
  redis.call('pexpire', KEYS[1], ARGV[3])
end
return redis.call(ARGV[7] == 'spublish' and 'spublish' or 'publish', ARGV[5], ARGV[6])
`
