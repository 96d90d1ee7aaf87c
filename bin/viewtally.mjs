#!/usr/bin/env node
// Runs the TypeScript CLI directly: no build step between a checkout and a running job.
import { register } from 'tsx/esm/api';

register();
// First, before the CLI's modules load: a stop asked during start-up is kept for the command.
await import('../pipeline/stop-request.ts');
await import('../pipeline/cli.ts');
