-- Applies one partition's live increments and, optionally, its checkpoint, atomically.
-- ARGV: key, epoch, to, live (JSON: [video, views, [viewer keys], ...]), ckpt_offset ('' = none), state, pending, full ('1' | '0')
-- The checkpoint's state is a chain: a full snapshot in the hash's `state`, then deltas in the list `<key>:log`.
-- Returns -1 when fenced (another worker owns the partition), -2 when the checkpoint is older than
-- the stored one (the chain would break), else 1 if increments applied, 0 if already there.
local key = ARGV[1]
if tonumber(redis.call('HGET', key, 'epoch') or '0') ~= tonumber(ARGV[2]) then return -1 end
if ARGV[5] ~= '' and tonumber(redis.call('HGET', key, 'ckpt') or '-1') > tonumber(ARGV[5]) then return -2 end
local to = tonumber(ARGV[3])
local applied = 0
if tonumber(redis.call('HGET', key, 'pos') or '-1') < to then
  local live = cjson.decode(ARGV[4])
  for i = 1, #live, 3 do
    local video = live[i]
    redis.call('INCRBY', 'vt:views:' .. video, live[i + 1])
    local viewers = live[i + 2]
    for j = 1, #viewers, 1000 do
      redis.call('PFADD', 'vt:uniq:' .. video, unpack(viewers, j, math.min(j + 999, #viewers)))
    end
  end
  redis.call('HSET', key, 'pos', to)
  applied = 1
end
-- a checkpoint at the same offset is a new link too: windows may have fired since
if ARGV[5] ~= '' then
  redis.call('HSET', key, 'ckpt', ARGV[5], 'pending', ARGV[7], 'ckpt_at', redis.call('TIME')[1])
  if ARGV[8] == '1' then
    redis.call('HSET', key, 'state', ARGV[6])
    redis.call('DEL', key .. ':log')
  else
    redis.call('RPUSH', key .. ':log', ARGV[6])
  end
end
return applied
