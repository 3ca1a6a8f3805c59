-- end_user (standalone): ARGV[6] user, [7] id to keep or '', [8] reason.
-- Ends every other live session of the user and empties the index of all
-- but the kept one (if live). Returns {'OK', ended ids}.
local uk = ukey(ARGV[6])
local keep, reason = ARGV[7], ARGV[8]
local ended = {}
for _, sid in ipairs(redis.call('ZRANGE', uk, 0, -1)) do
  if sid == keep then
    if state(skey(sid)) ~= 'live' then redis.call('ZREM', uk, sid) end
  else
    if end_live(sid, reason) then ended[#ended + 1] = sid end
    redis.call('ZREM', uk, sid)
  end
end
return {'OK', ended}
