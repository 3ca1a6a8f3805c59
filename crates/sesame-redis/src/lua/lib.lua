-- sesame-redis: helpers shared by every script (prepended to each one).
--
-- ARGV[1] key prefix, ARGV[2] now (ms since the epoch, from the manager's
-- clock), ARGV[3] idle timeout, ARGV[4] touch interval, ARGV[5] tombstone TTL
-- (all ms). An operation's own arguments start at ARGV[6].
--
-- Session hash fields: st ('L' live | 'E' ended), u (user, absent when
-- anonymous), v (version), c (created), ti (token issued), la (last access),
-- ie (idle expiry), ae (absolute expiry), dev (device JSON), n (number of data
-- keys), sz (sum of the data entries' JSON sizes), fx (the deadline filed in
-- the expiry index; absent in hashes written before it existed), and one
-- field per data key:
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

-- Files a live session in its bucket's expiry index under its deadline `exp`
-- and sets its TTL; the caller records `exp` as the hash's `fx`. A write
-- refiles only when it moves the deadline by a touch interval or more (see
-- `used`), so the index may lag the real deadline by less than that: the
-- sweep then finds the entry early and refiles it, and the TTLs cover the lag.
local function file_live(sid, k, exp)
  redis.call('ZADD', ekey(sid), n2s(exp), sid)
  pexpire(k, exp + TOMB + TOUCH)
  outlive(ekey(sid), exp + TOMB + TOUCH)
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
  redis.call('HSET', k, 'la', n2s(NOW), 'ie', n2s(ie), 'fx', n2s(ie))
  file_live(sid, k, ie)
end

-- A write's use of a live session: sets the pairs of `t` (its own changes)
-- with the version `v` + 1, last access and idle expiry in one HSET, and
-- refiles the deadline when it moved by a touch interval or more since the
-- filed one `fx` (a string, or nil if unknown). `ae` is the absolute expiry.
local function used(sid, k, t, v, ae, fx)
  local ie = math.min(NOW + IDLE, ae)
  t[#t + 1] = 'v'; t[#t + 1] = n2s(v + 1)
  t[#t + 1] = 'la'; t[#t + 1] = n2s(NOW)
  t[#t + 1] = 'ie'; t[#t + 1] = n2s(ie)
  local refile = not fx or ie - tonumber(fx) >= TOUCH
  if refile then t[#t + 1] = 'fx'; t[#t + 1] = n2s(ie) end
  redis.call('HSET', k, unpack(t))
  if refile then file_live(sid, k, ie) end
end

-- The increment of a write: HINCRBY does the 64-bit arithmetic and refuses
-- non-integers and overflow, exactly as serde_json's as_i64 + checked_add
-- would. `f` holds the session's fields v, ae, fx, n, sz and the data field
-- `fld`. Returns {'OK', new value} | {'NOTINT'} | {'TOOBIG', size}.
local function incr(sid, k, f, fld, delta, limit)
  local old = f[fld]
  local r = redis.pcall('HINCRBY', k, fld, delta)
  if type(r) == 'table' and r.err then return {'NOTINT'} end
  -- A reply is a Lua number (a double): exact below 2^53, else read back.
  local new
  if math.abs(r) < 9007199254740992 then new = n2s(r) else new = redis.call('HGET', k, fld) end
  local n, sz = tonumber(f.n), tonumber(f.sz)
  if old then sz = sz - #old + #new else n = n + 1; sz = sz + #fld + #new end
  local size = 2 + sz + math.max(n - 1, 0)
  if size > limit then
    if old then redis.call('HSET', k, fld, old) else redis.call('HDEL', k, fld) end
    return {'TOOBIG', size}
  end
  used(sid, k, {'n', n2s(n), 'sz', n2s(sz)}, tonumber(f.v), tonumber(f.ae), f.fx)
  return {'OK', new}
end

-- The patch of a write: `expected` the expected version or '', triples
-- ('S' | 'R', field, value) from ARGV[from]. `f` holds v, ae, fx, n, sz and
-- the old value of every field the patch names. Returns {'OK'} |
-- {'CONFLICT', version} | {'TOOBIG', size}.
local function patch(sid, k, f, expected, from, limit)
  local v, n, sz = tonumber(f.v), tonumber(f.n), tonumber(f.sz)
  if expected ~= '' and tonumber(expected) ~= v then return {'CONFLICT', v} end
  local sets, dels = {}, {}
  for i = from, #ARGV, 3 do
    local fld, val = ARGV[i + 1], ARGV[i + 2]
    local old = f[fld]
    if old then n = n - 1; sz = sz - #fld - #old end
    if ARGV[i] == 'S' then
      n = n + 1; sz = sz + #fld + #val
      sets[#sets + 1] = fld; sets[#sets + 1] = val
    else
      dels[#dels + 1] = fld
    end
  end
  local size = 2 + sz + math.max(n - 1, 0)
  if size > limit then return {'TOOBIG', size} end
  if #dels > 0 then redis.call('HDEL', k, unpack(dels)) end
  sets[#sets + 1] = 'n'; sets[#sets + 1] = n2s(n)
  sets[#sets + 1] = 'sz'; sets[#sets + 1] = n2s(sz)
  used(sid, k, sets, v, tonumber(f.ae), f.fx)
  return {'OK'}
end

-- Why the fields `f` (st, ie, ae, r) are not a live, unexpired session's —
-- {'MISSING'} | {'ENDED', reason} — or nil when they are.
local function refusal(f)
  if not f.st then return {'MISSING'} end
  if f.st == 'E' then return {'ENDED', f.r} end
  local reason = expiry_reason(tonumber(f.ie), tonumber(f.ae))
  if reason then return {'ENDED', reason} end
  return nil
end

-- The fields `names` of hash `k` as a table (absent ones nil).
local function hfields(k, names)
  local vals = redis.call('HMGET', k, unpack(names))
  local f = {}
  for i = 1, #names do if vals[i] then f[names[i]] = vals[i] end end
  return f
end

-- Writes a live session from field/value pairs ARGV[from..].
local function write_live(sid, from, ie, ae)
  local k = skey(sid)
  local exp = math.min(ie, ae)
  local t = {'st', 'L', 'fx', n2s(exp)}
  for i = from, #ARGV do t[#t + 1] = ARGV[i] end
  redis.call('DEL', k)
  redis.call('HSET', k, unpack(t))
  file_live(sid, k, exp)
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
