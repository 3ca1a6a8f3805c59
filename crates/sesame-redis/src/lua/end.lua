-- end: ARGV[6] sid, [7] reason, [8] '1' to drop the index entry here
-- (standalone) or '0' (cluster: the caller does it on the user's slot).
-- Returns {'OK', user or ''} | {'NO'} when the session was not live.
local sid = ARGV[6]
local user = end_live(sid, ARGV[7])
if not user then return {'NO'} end
if ARGV[8] == '1' and user ~= '' then redis.call('ZREM', ukey(user), sid) end
return {'OK', user}
