-- sesame-redis: helpers shared by every script (prepended to each one).
--
-- ARGV[1] key prefix, ARGV[2] now (ms since the epoch, from the manager's
-- clock), ARGV[3] idle timeout, ARGV[4] touch interval, ARGV[5] tombstone TTL
-- (all ms). An operation's own arguments start at ARGV[6].
--
-- Session hash fields: st ('L' live | 'E' ended), u (user, absent when
-- anonymous), v (version), c (created), ti (token issued), la (last access),
-- ie (idle expiry), ae (absolute expiry), dev (device JSON), n (number of data
-- keys), sz (sum of the data entries' JSON sizes), and one field per data key:
-- 'd' .. <the key as a JSON string> = <the value as compact JSON>.
-- A tombstone keeps st = 'E', u, r (reason), ea (ended at), pa (purge at),
-- and for a rotation nx (successor id) and gu (grace until).
local P = ARGV[1]
local NOW = tonumber(ARGV[2])
local IDLE = tonumber(ARGV[3])
local TOUCH = tonumber(ARGV[4])
local TOMB = tonumber(ARGV[5])
-- The physical TTL outlives the logical deadline by this much, so the sweep
-- (not Redis) ends every session and reports it.
local MARGIN = 3600000

local function n2s(x) return string.format('%.0f', x) end

local function skey(sid) return P .. '{b' .. string.sub(sid, 1, 2) .. '}s:' .. sid end
local function ekey(sid) return P .. '{b' .. string.sub(sid, 1, 2) .. '}exp' end
local function tohex(s)
  return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end))
end
local function ukey(user) return P .. '{u' .. tohex(user) .. '}idx' end

local function expiry_reason(ie, ae)
  if ae <= NOW then return 'expired_absolute', ae end
  if ie <= NOW then return 'expired_idle', ie end
  return nil, nil
end

local function pexpire(k, deadline)
  local ttl = deadline - NOW + MARGIN
  if ttl < 1 then ttl = 1 end
  redis.call('PEXPIRE', k, n2s(ttl))
end

-- Makes `k` live at least until `deadline` + MARGIN (never shortens it).
local function outlive(k, deadline)
  local want = deadline - NOW + MARGIN
  if redis.call('PTTL', k) < want then redis.call('PEXPIRE', k, n2s(want)) end
end

-- Files a live session in its bucket's expiry index and sets its TTL.
local function file_live(sid, k, ie, ae)
  local exp = math.min(ie, ae)
  redis.call('ZADD', ekey(sid), n2s(exp), sid)
  pexpire(k, exp + TOMB)
  outlive(ekey(sid), exp + TOMB)
end

-- 'missing' | 'ended', reason, user | 'expired', reason, user, at | 'live', nil, user
local function state(k)
  local f = redis.call('HMGET', k, 'st', 'ie', 'ae', 'r', 'u')
  if not f[1] then return 'missing' end
  if f[1] == 'E' then return 'ended', f[4], f[5] end
  local reason, at = expiry_reason(tonumber(f[2]), tonumber(f[3]))
  if reason then return 'expired', reason, f[5], at end
  return 'live', nil, f[5]
end

-- Replaces a session by its tombstone, kept until keep_from + TOMB.
-- Returns the tombstone's fields and its purge instant.
local function write_tomb(sid, k, user, reason, ended_at, keep_from, succ, gu)
  local pa = keep_from + TOMB
  local t = {'st', 'E', 'r', reason, 'ea', n2s(ended_at), 'pa', n2s(pa)}
  if user then t[#t + 1] = 'u'; t[#t + 1] = user end
  if succ then t[#t + 1] = 'nx'; t[#t + 1] = succ; t[#t + 1] = 'gu'; t[#t + 1] = n2s(gu) end
  redis.call('DEL', k)
  if pa <= NOW then
    redis.call('ZREM', ekey(sid), sid)
  else
    redis.call('HSET', k, unpack(t))
    redis.call('ZADD', ekey(sid), n2s(pa), sid)
    pexpire(k, pa)
    outlive(ekey(sid), pa)
  end
  return t, pa
end

-- Ends a live, unexpired session now. Returns its user ('' if anonymous),
-- or nil when it was not live.
local function end_live(sid, reason, succ, gu)
  local k = skey(sid)
  local st, _, user = state(k)
  if st ~= 'live' then return nil end
  local keep = NOW
  if succ then keep = math.max(gu, NOW) end
  write_tomb(sid, k, user or nil, reason, NOW, keep, succ, gu)
  return user or ''
end

-- Records a use now: last access and idle expiry.
local function touch(sid, k)
  local ae = tonumber(redis.call('HGET', k, 'ae'))
  local ie = math.min(NOW + IDLE, ae)
  redis.call('HSET', k, 'la', n2s(NOW), 'ie', n2s(ie))
  file_live(sid, k, ie, ae)
end

-- Writes a live session from field/value pairs ARGV[from..].
local function write_live(sid, from, ie, ae)
  local k = skey(sid)
  local t = {'st', 'L'}
  for i = from, #ARGV do t[#t + 1] = ARGV[i] end
  redis.call('DEL', k)
  redis.call('HSET', k, unpack(t))
  file_live(sid, k, ie, ae)
end

-- Adds a session to its user's index; the index outlives its members.
local function idx_add(uk, sid, created, ae)
  redis.call('ZADD', uk, n2s(created), sid)
  outlive(uk, ae + TOMB)
end

-- The live members of an index, oldest first, as {sid, score}; drops the
-- others from it. `skip` is left out of the result (and kept if live).
local function idx_live(uk, skip)
  local m = redis.call('ZRANGE', uk, 0, -1, 'WITHSCORES')
  local live = {}
  for i = 1, #m, 2 do
    local sid = m[i]
    if state(skey(sid)) == 'live' then
      if sid ~= skip then live[#live + 1] = sid end
    else
      redis.call('ZREM', uk, sid)
    end
  end
  return live
end

-- Makes room for one more session among `live` (oldest first). Returns the
-- evicted ids, or nil when the cap refuses.
local function apply_cap(uk, live, max, action)
  local evicted = {}
  if not max or #live < max then return evicted end
  if action == 'reject' then return nil end
  for i = 1, #live + 1 - max do
    local sid = live[i]
    redis.call('ZREM', uk, sid)
    if end_live(sid, 'evicted') then evicted[#evicted + 1] = sid end
  end
  return evicted
end
