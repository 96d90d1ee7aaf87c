import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bearerChecker, loadAdminToken } from './admin-token.ts';

describe('admin token', () => {
  it('comes from VT_ADMIN_TOKEN, else from the file VT_ADMIN_TOKEN_FILE names', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vt-token-')), 'token');
    writeFileSync(file, 's3cret-from-file\n');
    expect(loadAdminToken({ VT_ADMIN_TOKEN: 'direct', VT_ADMIN_TOKEN_FILE: file })).toBe('direct');
    expect(loadAdminToken({ VT_ADMIN_TOKEN_FILE: file })).toBe('s3cret-from-file');
    expect(loadAdminToken({})).toBeUndefined();
    writeFileSync(file, '\n');
    expect(() => loadAdminToken({ VT_ADMIN_TOKEN_FILE: file })).toThrow(/is empty/);
  });

  it('accepts exactly `Bearer <token>`', () => {
    const ok = bearerChecker('tok');
    expect(ok('Bearer tok')).toBe(true);
    for (const h of [undefined, '', 'tok', 'Bearer', 'Bearer ', 'Bearer tok ', 'Bearer to', 'Bearer tokk', 'bearer tok', 'Basic tok']) expect(ok(h)).toBe(false);
  });

  it('refuses everything when no token is configured', () => {
    const none = bearerChecker(undefined);
    expect(none('Bearer ')).toBe(false);
    expect(none('Bearer undefined')).toBe(false);
  });
});
