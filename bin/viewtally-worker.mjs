// A worker thread of `viewtally run --workers N`: the TypeScript modules loaded as in bin/viewtally.mjs
// (worker threads do not inherit the main thread's module hooks), then the job's worker.
import { loadTypeScript } from './load-typescript.mjs';

await loadTypeScript('pipeline/job-worker.ts');
