/**
 * The Lua scripts of the Redis pending store (redis-pending.ts). On one Redis the record is
 * kept per event (PENDING_WRITE_GROUPED below). On a Redis Cluster, keys per identity (names in
 * redis-channels.ts, one hash tag per identity so both keys share a slot):
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
 * One Redis: the record is kept per event, not per identity (names in redis-channels.ts,
 * `pendingByEvent`): `event:<id>` holds `<order> <event>\n<frame text>`, `to:<id>` the set of
 * identities it is pending for, `tries:<id>` the attempts of those sent it more than once. A
 * room's event for 1,000 recipients is then one SADD of 1,000 members and their acks of a turn
 * one SREM, where a hash per identity took a call per recipient (five times the Redis CPU:
 * docs/performance.md, issue 20). To find an identity's events again, each instance indexes
 * the events it recorded (`index:<instance>`) and each identity lists the instances that
 * recorded for it (`where:<identity>`, renewed once per period).
 *
 * Writes and removals of one turn, grouped. ARGV: the events' keep ms, the index's and the
 * where sets' keep ms, the prefixes event, to, tries and where, this instance's index key, its
 * id, the time (ms), '1' to trim the index of entries older than its keep, F; then F pairs (event
 * id, its value); then triples (event id, attempts, identities). The identities are one JSON array
 * of strings (any character allowed; decoded by cjson in C, cheaper for Redis than splitting a
 * list in Lua). Event id '' renews the where set of each identity; attempts '' removes the
 * event for each identity (and the event's value once no one waits for it), '-' the same but
 * keeps the value (a write of the event follows in the same turn); else it is written for each
 * identity with those attempts.
 */
export const PENDING_WRITE_GROUPED = `
local keep, keepIndex = ARGV[1], ARGV[2]
local eventPre, toPre, triesPre, wherePre = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local index, self, now = ARGV[7], ARGV[8], ARGV[9]
local call, decode, unpack, min = redis.call, cjson.decode, unpack, math.min
if ARGV[10] == '1' then call('zremrangebyscore', index, '-inf', '(' .. (tonumber(now) - tonumber(keepIndex))) end
local at = 12
for i = 1, tonumber(ARGV[11]) do
  call('set', eventPre .. ARGV[at], ARGV[at + 1], 'PX', keep)
  at = at + 2
end
local indexed = false
for i = at, #ARGV, 3 do
  local id, attempts, ids = ARGV[i], ARGV[i + 1], decode(ARGV[i + 2])
  if id == '' then
    for j = 1, #ids do
      local key = wherePre .. ids[j]
      call('sadd', key, self)
      call('pexpire', key, keepIndex)
    end
  else
    local to, tries = toPre .. id, triesPre .. id
    if attempts == '' or attempts == '-' then
      for s = 1, #ids, 4000 do call('srem', to, unpack(ids, s, min(s + 3999, #ids))) end
      if call('exists', tries) == 1 then
        for s = 1, #ids, 4000 do call('hdel', tries, unpack(ids, s, min(s + 3999, #ids))) end
      end
      if call('exists', to) == 0 then
        call('zrem', index, id)
        call('del', tries)
        if attempts == '' then call('del', eventPre .. id) end
      end
    else
      for s = 1, #ids, 4000 do call('sadd', to, unpack(ids, s, min(s + 3999, #ids))) end
      call('pexpire', to, keep)
      if attempts ~= '1' then
        for j = 1, #ids do call('hset', tries, ids[j], attempts) end
        call('pexpire', tries, keep)
      end
      call('zadd', index, now, id)
      indexed = true
    end
  end
end
if indexed then call('pexpire', index, keepIndex) end
return 1
`

/**
 * One Redis: takes an identity's record over. ARGV: its owner key, self, the owner the caller
 * saw ('' for none), the events' keep ms, the index's keep ms, the identity, the prefixes event,
 * to, tries and index, its where and inbox keys, its hash of an earlier version (one hash per
 * identity), the time (ms), the lease prefix, its moved key. When the owner is still the one seen
 * (or is self), self becomes the owner and the reply is { triples (event id, attempts, event
 * value) of every event pending for it, found through the index of each instance in its where
 * set (what PENDING_SPLIT_GONE moved out of them under its moved key) and its inbox;
 * the earlier version's hash (HGETALL), now deleted (the caller writes what it can read again) };
 * else nil (someone else took it meanwhile: look again). Each event found is indexed by self and kept
 * another keep time; index entries no one waits for any more are dropped on the way, and so are
 * the where set's instances that are gone (no lease) with their index.
 */
export const PENDING_ADOPT_BY_EVENT = `
local call = redis.call
local ownerKey, self, seen, keep, keepIndex, identity = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local eventPre, toPre, triesPre, indexPre = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local whereKey, inboxKey, legacyKey, now, leasePre, movedKey = ARGV[11], ARGV[12], ARGV[13], ARGV[14], ARGV[15], ARGV[16]
local cur = call('get', ownerKey) or ''
if cur ~= seen and cur ~= self then return false end
call('set', ownerKey, self, 'PX', keep)
local mine = indexPre .. self
local out, seenIds = {}, {}
-- Keys of another type (left by something else) read as nothing (pcall gives an error table):
-- their events are skipped, or sent back unreadable (attempts ''), the rest read as usual.
local pcall = redis.pcall
local function look(key, inbox)
  local ids = pcall('zrange', key, 0, -1)
  if type(ids) ~= 'table' or ids.err then ids = {} end
  for k = 1, #ids do
    local id = ids[k]
    if not seenIds[id] then
      local to = toPre .. id
      if pcall('sismember', to, identity) == 1 then
        seenIds[id] = true
        local value = pcall('get', eventPre .. id)
        if type(value) == 'string' then
          local tries = pcall('hget', triesPre .. id, identity)
          if tries == false then tries = '1' elseif type(tries) ~= 'string' then tries = '' end
          out[#out + 1] = id
          out[#out + 1] = tries
          out[#out + 1] = value
          pcall('zadd', mine, now, id)
          call('pexpire', to, keep)
          call('pexpire', eventPre .. id, keep)
          call('pexpire', triesPre .. id, keep)
        end
      elseif inbox or call('exists', to) == 0 then
        pcall('zrem', key, id)
      end
    end
  end
end
local places = pcall('smembers', whereKey)
if places.err then places = {} end
for k = 1, #places do
  local place = places[k]
  local key = indexPre .. place
  -- An instance gone (no lease) whose index is gone too holds nothing for anyone any more.
  if place ~= self and call('exists', key) == 0 and call('exists', leasePre .. place) == 0 then pcall('srem', whereKey, place)
  else look(key, false) end
end
look(movedKey, true)
look(inboxKey, true)
pcall('sadd', whereKey, self)
call('pexpire', whereKey, keepIndex)
if #out > 0 then call('pexpire', mine, keepIndex) end
local legacy = pcall('hgetall', legacyKey)
if legacy.err then legacy = {} end
if #legacy > 0 then call('del', legacyKey) end
return { out, legacy }
`

/**
 * One Redis: the index of an instance gone (its lease ran out or was deleted) split into the
 * moved sets of the identities its events are still pending for, so that each of the instance's
 * identities, adopted elsewhere, looks through its own events only (an adoption looking through
 * the whole index costs the index's size: quadratic in the identities when they all come back
 * at once). ARGV: the index key, the instance's lease key, the prefixes to and moved, the moved
 * sets' keep ms, the time (ms), the work to do at most in one call (an event and each of its
 * recipients count one). Returns the entries left in the index (0: nothing left, or the instance
 * is alive). An event that can't be read as a set of recipients (written by something else) is
 * dropped from the index.
 */
export const PENDING_SPLIT_GONE = `
local call = redis.call
local index, lease, toPre, movedPre, keepIndex, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local budget = tonumber(ARGV[7])
if call('exists', lease) == 1 or call('type', index).ok ~= 'zset' then return 0 end
local work = 0
while work < budget do
  local first = call('zrange', index, 0, 0)
  local id = first[1]
  if id == nil then return 0 end
  local to = toPre .. id
  if call('type', to).ok == 'set' then
    local members = call('smembers', to)
    for j = 1, #members do
      local key = movedPre .. members[j]
      if call('type', key).ok ~= 'zset' then call('del', key) end
      call('zadd', key, now, id)
      call('pexpire', key, keepIndex)
    end
    work = work + #members
  end
  call('zrem', index, id)
  work = work + 1
end
return call('zcard', index)
`

/**
 * One Redis: a tracked event on a private channel, recorded for its owner and published in one
 * step. ARGV: event id, its value, keep ms, the inbox's keep ms, most events per inbox, the
 * prefixes to and event, the identity's inbox key, the identity, the time (ms), channel, message.
 * Recorded only under the bound (an event over it still goes out, untracked); at the bound the
 * inbox's 16 oldest entries are looked at and those no longer pending dropped first. Returns
 * the receivers of the publish.
 */
export const PENDING_PUBLISH_BY_EVENT = `
local call = redis.call
local id, value, keep, keepIndex, most = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local toPre, eventPre, inbox, identity, now = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local to = toPre .. id
local room = call('sismember', to, identity) == 1 or call('zcard', inbox) < most
if not room then
  local oldest = call('zrange', inbox, 0, 15)
  for k = 1, #oldest do
    if call('sismember', toPre .. oldest[k], identity) == 0 then call('zrem', inbox, oldest[k]) end
  end
  room = call('zcard', inbox) < most
end
if room then
  call('set', eventPre .. id, value, 'PX', keep)
  call('sadd', to, identity)
  call('pexpire', to, keep)
  call('zadd', inbox, now, id)
  call('pexpire', inbox, keepIndex)
end
return call('publish', ARGV[11], ARGV[12])
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
