-- update: ARGV[6] sid, [7] expected version or '', [8] size limit, then
-- triples [9..] of ('S' | 'R', field, value). Version check, size check and
-- the field-level patch in one step. Returns {'OK', fields} | {'MISSING'} |
-- {'ENDED', reason} | {'CONFLICT', version} | {'TOOBIG', size}.
local sid = ARGV[6]
local k = skey(sid)
local st, reason = state(k)
if st == 'missing' then return {'MISSING'} end
if st ~= 'live' then return {'ENDED', reason} end
local meta = redis.call('HMGET', k, 'v', 'n', 'sz')
local v, n, sz = tonumber(meta[1]), tonumber(meta[2]), tonumber(meta[3])
if ARGV[7] ~= '' and tonumber(ARGV[7]) ~= v then return {'CONFLICT', v} end
local sets, dels = {}, {}
for i = 9, #ARGV, 3 do
  local f, val = ARGV[i + 1], ARGV[i + 2]
  local old = redis.call('HGET', k, f)
  if old then n = n - 1; sz = sz - #f - #old end
  if ARGV[i] == 'S' then
    n = n + 1; sz = sz + #f + #val
    sets[#sets + 1] = f; sets[#sets + 1] = val
  else
    dels[#dels + 1] = f
  end
end
local size = 2 + sz + math.max(n - 1, 0)
if size > tonumber(ARGV[8]) then return {'TOOBIG', size} end
if #dels > 0 then redis.call('HDEL', k, unpack(dels)) end
sets[#sets + 1] = 'n'; sets[#sets + 1] = n2s(n)
sets[#sets + 1] = 'sz'; sets[#sets + 1] = n2s(sz)
redis.call('HSET', k, unpack(sets))
redis.call('HINCRBY', k, 'v', 1)
touch(sid, k)
return {'OK', redis.call('HGETALL', k)}
