import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compiledBuild } from '../bin/load-typescript.mjs';

/** A tree laid out like the repository's, with the three entry points the loader builds. */
function sourceTree(): string {
  const root = mkdtempSync(join(tmpdir(), 'vt-load-ts-'));
  mkdirSync(join(root, 'pipeline'));
  writeFileSync(join(root, 'pipeline', 'stop-request.ts'), 'export const asked: boolean[] = [];\n');
  writeFileSync(join(root, 'pipeline', 'job-worker.ts'), 'export {};\n');
  writeFileSync(join(root, 'pipeline', 'beside.txt'), 'read beside its module');
  return root;
}

function writeCli(root: string, answer: string): void {
  writeFileSync(
    join(root, 'pipeline', 'cli.ts'),
    `import { readFileSync } from 'node:fs';\nimport { asked } from './stop-request.ts';\nexport const answer: string = ${JSON.stringify(answer)};\nexport const beside = readFileSync(new URL('./beside.txt', import.meta.url), 'utf8');\nexport const sameStopRequest = asked;\n`,
  );
}

describe('the compiled CLI (bin/load-typescript.mjs)', () => {
  it('builds the sources as they are, keeps each module where its files are, and builds again after an edit', async () => {
    const root = sourceTree();
    try {
      writeCli(root, 'first');
      const first = await compiledBuild(root);
      expect(first).not.toBeNull();
      const cli = await import(pathToFileURL(join(first!, 'pipeline', 'cli.js')).href);
      expect(cli.answer).toBe('first');
      expect(cli.beside).toBe('read beside its module');
      // one instance of a module shared by two entry points
      const stop = await import(pathToFileURL(join(first!, 'pipeline', 'stop-request.js')).href);
      expect(cli.sameStopRequest).toBe(stop.asked);
      expect(await compiledBuild(root)).toBe(first);

      writeCli(root, 'second, a longer answer');
      const second = await compiledBuild(root);
      expect(second).not.toBe(first);
      expect((await import(pathToFileURL(join(second!, 'pipeline', 'cli.js')).href)).answer).toBe('second, a longer answer');

      // a source esbuild cannot read leaves the loading to tsx, which reports the error
      writeFileSync(join(root, 'pipeline', 'cli.ts'), 'export const broken = ;\n');
      expect(await compiledBuild(root)).toBeNull();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
