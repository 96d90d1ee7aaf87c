#!/usr/bin/env node
// Runs the TypeScript CLI directly: no build step between a checkout and a running job (bin/load-typescript.mjs).
import { loadTypeScript } from './load-typescript.mjs';

// stop-request first, before the CLI's modules load: a stop asked during start-up is kept for the command.
await loadTypeScript('pipeline/stop-request.ts', 'pipeline/cli.ts');
