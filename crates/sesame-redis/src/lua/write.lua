-- write (cluster): the session-slot half of a create or rotation. Same
-- arguments as create; the index half is index.lua. Returns {'OK'}.
write_live(ARGV[6], 13, tonumber(ARGV[11]), tonumber(ARGV[12]))
return {'OK'}
