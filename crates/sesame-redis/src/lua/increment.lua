-- increment: ARGV[6] sid, [7] field, [8] delta, [9] size limit. HINCRBY does
-- the 64-bit arithmetic and refuses non-integers and overflow, exactly as
-- serde_json's as_i64 + checked_add would. Returns {'OK', value} |
-- {'MISSING'} | {'ENDED', reason} | {'NOTINT'} | {'TOOBIG', size}.
local sid, f = ARGV[6], ARGV[7]
local k = skey(sid)
local st, reason = state(k)
if st == 'missing' then return {'MISSING'} end
if st ~= 'live' then return {'ENDED', reason} end
local old = redis.call('HGET', k, f)
local r = redis.pcall('HINCRBY', k, f, ARGV[8])
if type(r) == 'table' and r.err then return {'NOTINT'} end
local new = redis.call('HGET', k, f)
local meta = redis.call('HMGET', k, 'n', 'sz')
local n, sz = tonumber(meta[1]), tonumber(meta[2])
if old then sz = sz - #old + #new else n = n + 1; sz = sz + #f + #new end
local size = 2 + sz + math.max(n - 1, 0)
if size > tonumber(ARGV[9]) then
  if old then redis.call('HSET', k, f, old) else redis.call('HDEL', k, f) end
  return {'TOOBIG', size}
end
redis.call('HSET', k, 'n', n2s(n), 'sz', n2s(sz))
redis.call('HINCRBY', k, 'v', 1)
touch(sid, k)
return {'OK', new}
