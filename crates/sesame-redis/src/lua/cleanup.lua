-- cleanup: one batch of one bucket, KEYS[1] = the bucket's expiry index.
-- ARGV[6] batch size, [7] '1' to drop index entries here (standalone).
-- Ends the sessions whose expiry has come (they are reported), purges
-- tombstones whose time is up, and re-files entries whose deadline moved.
-- Returns {scanned, deleted, taken, {sid, user, reason, ...}}.
local ek = KEYS[1]
local due = redis.call('ZRANGEBYSCORE', ek, '-inf', n2s(NOW), 'LIMIT', 0, tonumber(ARGV[6]))
local scanned, deleted, expired = 0, 0, {}
for _, sid in ipairs(due) do
  scanned = scanned + 1
  local k = skey(sid)
  local f = redis.call('HMGET', k, 'st', 'ie', 'ae', 'pa', 'u')
  if not f[1] then
    redis.call('ZREM', ek, sid)
  elseif f[1] == 'E' then
    local pa = tonumber(f[4])
    if pa <= NOW then
      redis.call('DEL', k)
      redis.call('ZREM', ek, sid)
      deleted = deleted + 1
    else
      redis.call('ZADD', ek, n2s(pa), sid)
    end
  else
    local ie, ae = tonumber(f[2]), tonumber(f[3])
    local reason, at = expiry_reason(ie, ae)
    if reason then
      local _, pa = write_tomb(sid, k, f[5] or nil, reason, at, at)
      if pa <= NOW then deleted = deleted + 1 end
      expired[#expired + 1] = sid
      expired[#expired + 1] = f[5] or ''
      expired[#expired + 1] = reason
      if ARGV[7] == '1' and f[5] then redis.call('ZREM', ukey(f[5]), sid) end
    else
      redis.call('ZADD', ek, n2s(math.min(ie, ae)), sid)
    end
  end
end
return {scanned, deleted, #due, expired}
