-- load: ARGV[6] sid, [7] 'T' (touch when due) | 'P' (peek). An expired live
-- session is ended here. Returns {'L', fields} | {'E', tombstone} |
-- {'X', tombstone} (just ended) | {'MISSING'}.
local sid = ARGV[6]
local k = skey(sid)
local st, reason, user, at = state(k)
if st == 'missing' then return {'MISSING'} end
if st == 'ended' then return {'E', redis.call('HGETALL', k)} end
if st == 'expired' then
  local t = write_tomb(sid, k, user or nil, reason, at, at)
  return {'X', t}
end
if ARGV[7] == 'T' and NOW - tonumber(redis.call('HGET', k, 'la')) >= TOUCH then
  touch(sid, k)
end
return {'L', redis.call('HGETALL', k)}
