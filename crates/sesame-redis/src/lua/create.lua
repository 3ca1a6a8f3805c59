-- create (standalone): cap check, evictions, index entry and the session, in
-- one step. ARGV[6] sid, [7] user or '', [8] cap max or '', [9] 'evict' |
-- 'reject', [10] created, [11] idle expiry, [12] absolute expiry, [13..] the
-- session's fields. Returns {'OK', evicted} or {'LIMIT'}.
local sid, user = ARGV[6], ARGV[7]
local max, action = tonumber(ARGV[8]), ARGV[9]
local created, ie, ae = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local evicted = {}
if user ~= '' then
  local uk = ukey(user)
  local live = idx_live(uk, nil)
  evicted = apply_cap(uk, live, max, action)
  if not evicted then return {'LIMIT'} end
  idx_add(uk, sid, created, ae)
end
write_live(sid, 13, ie, ae)
return {'OK', evicted}
