-- rotate_out (cluster): the old-id half of a rotation. ARGV[6] from, [7] to,
-- [8] grace until. Ends `from` as rotated, naming its successor, and returns
-- the fields it had: {'OK', fields} | {'MISSING'} | {'ENDED', reason}.
local from = ARGV[6]
local k = skey(from)
local st, reason, user = state(k)
if st == 'missing' then return {'MISSING'} end
if st ~= 'live' then return {'ENDED', reason} end
local all = redis.call('HGETALL', k)
local gu = tonumber(ARGV[8])
write_tomb(from, k, user or nil, 'rotated', NOW, math.max(gu, NOW), ARGV[7], gu)
return {'OK', all}
