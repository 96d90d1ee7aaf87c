#!/usr/bin/env node
// Runs the TypeScript CLI directly: no build step between a checkout and a running job.
import { register } from 'tsx/esm/api';

register();
await import('../pipeline/cli.ts');
