// A worker thread of `viewtally run --workers N`: TypeScript registered as in bin/viewtally.mjs
// (worker threads do not inherit the main thread's module hooks), then the job's worker.
import { register } from 'tsx/esm/api';

register();
await import('../pipeline/job-worker.ts');
