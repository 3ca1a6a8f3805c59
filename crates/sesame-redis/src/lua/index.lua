-- index (cluster): the user-slot half of a create or rotation, on KEYS[1] =
-- the user's index. ARGV[6] cap max or '', [7] 'evict' | 'reject', [8] id to
-- add or '' (a check only), [9] its created, [10] its absolute expiry, [11]
-- id left out of the count (the session being rotated) or '', [12..] ids the
-- caller found ended, expired or purged, dropped first. The victims are
-- removed from the index here and ended by the caller.
-- Returns {'OK', victims} or {'LIMIT'}.
local uk = KEYS[1]
local max, action, add, skip = tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[11]
for i = 12, #ARGV do redis.call('ZREM', uk, ARGV[i]) end
local m = redis.call('ZRANGE', uk, 0, -1)
local live = {}
for _, sid in ipairs(m) do
  if sid ~= skip and sid ~= add then live[#live + 1] = sid end
end
local victims = {}
if max and #live >= max then
  if action == 'reject' then return {'LIMIT'} end
  for i = 1, #live + 1 - max do
    redis.call('ZREM', uk, live[i])
    victims[#victims + 1] = live[i]
  end
end
if add ~= '' then idx_add(uk, add, tonumber(ARGV[9]), tonumber(ARGV[10])) end
return {'OK', victims}
