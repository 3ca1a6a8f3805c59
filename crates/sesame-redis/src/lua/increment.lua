-- increment: ARGV[6] sid, [7] field, [8] delta, [9] size limit. Returns
-- {'OK', value} | {'MISSING'} | {'ENDED', reason} | {'NOTINT'} |
-- {'TOOBIG', size} (see `incr`).
local sid, fld = ARGV[6], ARGV[7]
local k = skey(sid)
local f = hfields(k, {'st', 'ie', 'ae', 'r', 'v', 'n', 'sz', 'fx', fld})
local no = refusal(f)
if no then return no end
return incr(sid, k, f, fld, ARGV[8], tonumber(ARGV[9]))
