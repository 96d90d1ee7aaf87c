-- Applies one partition's live increments and, optionally, its checkpoint, atomically.
-- KEYS: the partition's progress key; every key the script touches shares its slot (sinks/live-counters.ts).
-- ARGV: counter key prefix, epoch, to, live, ckpt_offset ('' = none), change, pending, full ('1' | '0'),
-- unique-viewer key prefix ('' = the writer adds the viewers itself, each video's in its own slot)
-- live: per video, a u16 id length, the id, u32 views, u32 viewer count, then each viewer's
-- key fingerprint (8 bytes), all little-endian.
-- The checkpoint's state is a chain: a snapshot in the list <key>:snap (in chunks), then changes in
-- the list <key>:log. A new snapshot is staged by its writer in <key>:snap:<epoch> and moved here.
-- Returns -1 when fenced (another worker owns the partition), -2 when the checkpoint is older than
-- the stored one (the chain would break), -3 when a snapshot was not staged, else 1 if the
-- increments were applied, 0 if they were there already.
local key = KEYS[1]
if tonumber(redis.call('HGET', key, 'epoch') or '0') ~= tonumber(ARGV[2]) then return -1 end
if ARGV[5] ~= '' and tonumber(redis.call('HGET', key, 'ckpt') or '-1') > tonumber(ARGV[5]) then return -2 end
local staged = key .. ':snap:' .. ARGV[2]
if ARGV[5] ~= '' and ARGV[8] == '1' and redis.call('EXISTS', staged) == 0 then return -3 end
local to = tonumber(ARGV[3])
local applied = 0
if tonumber(redis.call('HGET', key, 'pos') or '-1') < to then
  local live = ARGV[4]
  local at = 1
  while at <= #live do
    local n = struct.unpack('<I2', live, at)
    local video = string.sub(live, at + 2, at + 1 + n)
    local views, viewers = struct.unpack('<I4I4', live, at + 2 + n)
    at = at + 10 + n
    redis.call('INCRBY', ARGV[1] .. video, views)
    if ARGV[9] == '' then
      at = at + 8 * viewers
    else
      local batch = {}
      for i = 1, viewers do
        batch[#batch + 1] = string.sub(live, at, at + 7)
        at = at + 8
        if #batch == 1000 or i == viewers then
          redis.call('PFADD', ARGV[9] .. video, unpack(batch))
          batch = {}
        end
      end
    end
  end
  redis.call('HSET', key, 'pos', to)
  applied = 1
end
-- a checkpoint at the same offset is a new link too: windows may have fired since
if ARGV[5] ~= '' then
  redis.call('HSET', key, 'ckpt', ARGV[5], 'pending', ARGV[7], 'ckpt_at', redis.call('TIME')[1])
  if ARGV[8] == '1' then
    redis.call('RENAME', staged, key .. ':snap')
    redis.call('PERSIST', key .. ':snap')
    redis.call('UNLINK', key .. ':log')
    redis.call('HDEL', key, 'state')
  else
    redis.call('RPUSH', key .. ':log', ARGV[6])
  end
end
return applied
