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
 * The same on one Redis, grouped: one value per event for all its recipients, the keys built
 * here from their prefix (the keys are not declared: one Redis only, never a Redis Cluster).
 * ARGV: keep ms (the frames), entries key prefix, frame key prefix, the entries' keep ms, F;
 * then F pairs (event id, frame text); then triples (field, value, identities). The identities
 * are one JSON array of strings (any character allowed; decoded by cjson in C, which costs Redis
 * less than splitting a length-prefixed list in Lua: docs/performance.md, issue 20). Field ''
 * renews each identity's record: its empty field '' (so the hash outlives its last entry's
 * removal, keeping its expiry) and its expiry; else value '' removes the field from each
 * identity's entries, any other value writes it. The writes leave the expiry alone:
 * redis-pending.ts renews each record once per period before it writes to it.
 */
export const PENDING_WRITE_GROUPED = `
local keep, pre, fpre, keepEntries = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local call, decode = redis.call, cjson.decode
local at = 6
for i = 1, tonumber(ARGV[5]) do
  call('set', fpre .. ARGV[at], ARGV[at + 1], 'PX', keep)
  at = at + 2
end
for i = at, #ARGV, 3 do
  local field, value, ids = ARGV[i], ARGV[i + 1], decode(ARGV[i + 2])
  if field == '' then
    for j = 1, #ids do
      local key = pre .. ids[j]
      call('hset', key, '', '')
      call('pexpire', key, keepEntries)
    end
  elseif value == '' then
    for j = 1, #ids do call('hdel', pre .. ids[j], field) end
  else
    for j = 1, #ids do call('hset', pre .. ids[j], field, value) end
  end
end
return 1
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
