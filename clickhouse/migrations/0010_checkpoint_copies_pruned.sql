-- Copies are now deleted by the job once a newer snapshot of their partition has landed
-- (sinks/checkpoint-copy-pruner.ts). The TTL would also expire the only chain of a partition
-- idle for that long, leaving reconcile nothing to restore it from.
ALTER TABLE job_checkpoints REMOVE TTL;
