-- Applies one partition's live increments and, optionally, its checkpoint, atomically.
-- KEYS: the partition's progress key; every key the script touches shares its slot (sinks/live-counters.ts).
-- ARGV: counter key prefix, epoch, to, live, ckpt_offset ('' = none), change, pending, full ('1' | '0'),
-- unique-viewer key prefix ('' = the writer adds the viewers itself, each video's in its own slot),
-- ledger, corrections, verdicts_to ('' = none), drop_below
-- live: per video, a u16 id length, the id, u32 views, u32 viewer count, then each viewer's
-- key fingerprint (8 bytes), all little-endian.
-- ledger: provisionally counted views (their address verdict pending), applied with the increments;
-- per (verdict step, address) a u32 step index, 8 bytes of address key, a u32 entry count, then each
-- entry's u16 video id length, the id and u32 views. Kept in the hash <key>:ledger:<step> under
-- the address key, the steps in the sorted set <key>:ledger (the progress key's slot).
-- corrections: what address flags read from the verdict topic cover, 20 bytes each: f64 topic
-- offset, u32 step index, 8 bytes of address key (a flag covers its step and the ones before it,
-- one correction each). A correction takes back the ledger's views of the address in the step,
-- once: corrections below the stored 'vpos' are applied already. Then 'vpos' = verdicts_to, and
-- the ledger steps below drop_below (all verdicts in) are dropped.
-- The checkpoint's state is a chain: a snapshot in the list <key>:snap (in chunks), then changes in
-- the list <key>:log. A new snapshot is staged by its writer in <key>:snap:<epoch> and moved here.
-- Returns -1 when fenced (another worker owns the partition), -2 when the checkpoint is older than
-- the stored one (the chain would break), -3 when a snapshot was not staged, else {applied, taken
-- back}: applied 1 if the increments were applied, 0 if they were there already; taken back, the
-- views the corrections subtracted.
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
  local ledger = ARGV[10]
  local steps = {}
  at = 1
  while at <= #ledger do
    local step = struct.unpack('<I4', ledger, at)
    local address = string.sub(ledger, at + 4, at + 11)
    local entries = struct.unpack('<I4', ledger, at + 12)
    at = at + 16
    local from = at
    for i = 1, entries do at = at + 6 + struct.unpack('<I2', ledger, at) end
    local k = key .. ':ledger:' .. step
    local added = string.sub(ledger, from, at - 1)
    -- most (step, address) groups are new: one call; else the entries go after those stored
    if redis.call('HSETNX', k, address, added) == 0 then redis.call('HSET', k, address, redis.call('HGET', k, address) .. added) end
    if not steps[step] then
      steps[step] = true
      redis.call('ZADD', key .. ':ledger', step, step)
    end
  end
  redis.call('HSET', key, 'pos', to)
  applied = 1
end
local taken = 0
if ARGV[12] ~= '' then
  local vpos = tonumber(redis.call('HGET', key, 'vpos') or '0')
  local corrections = ARGV[11]
  for at = 1, #corrections, 20 do
    local offset, step = struct.unpack('<dI4', corrections, at)
    local address = string.sub(corrections, at + 12, at + 19)
    if offset >= vpos then
      local k = key .. ':ledger:' .. step
      local entries = redis.call('HGET', k, address)
      if entries then
        local p = 1
        while p <= #entries do
          local n = struct.unpack('<I2', entries, p)
          local views = struct.unpack('<I4', entries, p + 2 + n)
          redis.call('DECRBY', ARGV[1] .. string.sub(entries, p + 2, p + 1 + n), views)
          taken = taken + views
          p = p + 6 + n
        end
        redis.call('HDEL', k, address)
      end
    end
  end
  if tonumber(ARGV[12]) > vpos then redis.call('HSET', key, 'vpos', ARGV[12]) end
  local drop = '(' .. ARGV[13]
  for _, s in ipairs(redis.call('ZRANGEBYSCORE', key .. ':ledger', '-inf', drop)) do redis.call('UNLINK', key .. ':ledger:' .. s) end
  redis.call('ZREMRANGEBYSCORE', key .. ':ledger', '-inf', drop)
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
return {applied, taken}
