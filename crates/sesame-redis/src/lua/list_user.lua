-- list_user (standalone): ARGV[6] user. Drops index entries that are not
-- live; returns {'OK', {sid, fields, ...}} oldest first.
local uk = ukey(ARGV[6])
local out = {}
for _, sid in ipairs(idx_live(uk, nil)) do
  out[#out + 1] = sid
  out[#out + 1] = redis.call('HGETALL', skey(sid))
end
return {'OK', out}
