-- Checkpoint state became a chain: a full snapshot now and then, deltas in between. A copy is
-- written with every checkpoint; `full` marks the snapshots (every earlier copy was one).
ALTER TABLE job_checkpoints ADD COLUMN IF NOT EXISTS full UInt8 DEFAULT 1 AFTER token;
