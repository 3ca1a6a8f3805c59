-- load_write: a load with touch and, when the session's device is exactly
-- ARGV[7] (its JSON), a write in the same step. ARGV[6] sid, [8] size
-- limit, [9] 'I' (increment: [10] field, [11] delta) or 'U' (patch: [10]
-- expected version or '', triples from [11], as in update). Returns
-- {'MISSING'} | {'E', tombstone} | {'X', tombstone} (just ended) |
-- {'L', fields} (another device: no write) | {'W', fields, answer}: the
-- fields as they were before the write, and `incr`'s or `patch`'s answer.
-- The caller applies the write and the use to the record it decodes from
-- the fields, exactly as here, so one HGETALL serves the load and the answer.
local sid = ARGV[6]
local k = skey(sid)
local all = redis.call('HGETALL', k)
if #all == 0 then return {'MISSING'} end
local f = {}
for i = 1, #all, 2 do f[all[i]] = all[i + 1] end
if f.st == 'E' then return {'E', all} end
local reason, at = expiry_reason(tonumber(f.ie), tonumber(f.ae))
if reason then return {'X', (write_tomb(sid, k, f.u, reason, at, at))} end
local answer
if f.dev == ARGV[7] then
  local limit = tonumber(ARGV[8])
  if ARGV[9] == 'I' then
    answer = incr(sid, k, f, ARGV[10], ARGV[11], limit)
  else
    answer = patch(sid, k, f, ARGV[10], 11, limit)
  end
  if answer[1] == 'OK' then return {'W', all, answer} end
end
if NOW - tonumber(f.la) >= TOUCH then touch(sid, k) end
if answer then return {'W', all, answer} end
return {'L', all}
