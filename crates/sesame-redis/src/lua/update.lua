-- update: ARGV[6] sid, [7] expected version or '', [8] size limit, then
-- triples [9..] of ('S' | 'R', field, value). Version check, size check and
-- the field-level patch in one step. Returns {'OK', fields} | {'MISSING'} |
-- {'ENDED', reason} | {'CONFLICT', version} | {'TOOBIG', size}.
local sid = ARGV[6]
local k = skey(sid)
local names = {'st', 'ie', 'ae', 'r', 'v', 'n', 'sz', 'fx'}
for i = 10, #ARGV, 3 do names[#names + 1] = ARGV[i] end
local f = hfields(k, names)
local no = refusal(f)
if no then return no end
local answer = patch(sid, k, f, ARGV[7], 9, tonumber(ARGV[8]))
if answer[1] ~= 'OK' then return answer end
return {'OK', redis.call('HGETALL', k)}
