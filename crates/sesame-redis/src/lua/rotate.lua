-- rotate (standalone): ARGV[6] from, [7] to, [8] new user or '' (keep),
-- [9] restarted absolute expiry or '', [10] grace (ms), [11] cap max or '',
-- [12] 'evict' | 'reject'. Cap check, the move, the tombstone, evictions and
-- both index changes in one step. Returns {'OK', evicted, fields} |
-- {'MISSING'} | {'ENDED', reason} | {'LIMIT'}.
local from, to = ARGV[6], ARGV[7]
local max, action = tonumber(ARGV[11]), ARGV[12]
local k = skey(from)
local st, reason, cur = state(k)
if st == 'missing' then return {'MISSING'} end
if st ~= 'live' then return {'ENDED', reason} end
cur = cur or nil
local newu = cur
if ARGV[8] ~= '' then newu = ARGV[8] end
local uk, others = nil, {}
if newu then
  uk = ukey(newu)
  others = idx_live(uk, from)
  if max and #others >= max and action == 'reject' then return {'LIMIT'} end
end
local all = redis.call('HGETALL', k)
local gu = NOW + tonumber(ARGV[10])
write_tomb(from, k, cur, 'rotated', NOW, math.max(gu, NOW), to, gu)
if cur then redis.call('ZREM', ukey(cur), from) end
local evicted = {}
if newu then evicted = apply_cap(uk, others, max, action) or {} end
local h = {}
for i = 1, #all, 2 do h[all[i]] = all[i + 1] end
local created, ae = h['c'], tonumber(h['ae'])
if ARGV[9] ~= '' then created = n2s(NOW); ae = tonumber(ARGV[9]) end
local ie = math.min(NOW + IDLE, ae)
local t = {'st', 'L', 'c', created, 'ae', n2s(ae), 'ti', n2s(NOW), 'la', n2s(NOW), 'ie', n2s(ie),
  'fx', n2s(ie)}
if newu then t[#t + 1] = 'u'; t[#t + 1] = newu end
local keep = {st = 1, u = 1, c = 1, ae = 1, ti = 1, la = 1, ie = 1, fx = 1}
for i = 1, #all, 2 do
  if not keep[all[i]] then t[#t + 1] = all[i]; t[#t + 1] = all[i + 1] end
end
local nk = skey(to)
redis.call('DEL', nk)
redis.call('HSET', nk, unpack(t))
file_live(to, nk, ie)
if newu then idx_add(uk, to, tonumber(created), ae) end
return {'OK', evicted, redis.call('HGETALL', nk)}
