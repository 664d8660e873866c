/**
 * The Lua scripts of the Redis pending store (redis-pending.ts). Keys per identity (names in
 * redis-channels.ts, one hash tag per identity so both keys share a slot on a Redis Cluster):
 * - entries, a hash: event id → `<attempts>\n<event>\n<frame text>`;
 * - owner, a string: the id of the instance that owns the record, with the record's expiry.
 * Every instance keeps a lease key, `lease:<instance id>`, renewed by its heartbeat.
 */

/**
 * Writes and removals of one turn in one step. KEYS: one entries key per operation. ARGV[1]:
 * how long a record is kept (ms); then per operation its field and its value ('' removes).
 */
export const PENDING_WRITE = `
local keep = ARGV[1]
for i = 1, #KEYS do
  local value = ARGV[2 * i + 1]
  if value == '' then
    redis.call('hdel', KEYS[i], ARGV[2 * i])
  else
    redis.call('hset', KEYS[i], ARGV[2 * i], value)
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
