import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * The admin token from `VT_ADMIN_TOKEN`, else from the file named by `VT_ADMIN_TOKEN_FILE`
 * (trailing newline dropped); undefined when neither is set, which leaves the admin routes shut.
 */
export function loadAdminToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.VT_ADMIN_TOKEN !== undefined && env.VT_ADMIN_TOKEN !== '') return env.VT_ADMIN_TOKEN;
  const file = env.VT_ADMIN_TOKEN_FILE;
  if (file === undefined || file === '') return undefined;
  const token = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  if (token === '') throw new Error(`VT_ADMIN_TOKEN_FILE ${file} is empty`);
  return token;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * A checker for `Authorization: Bearer <token>` headers. Both sides are hashed first, so the
 * comparison is constant-time over equal-length digests whatever the length of the guess.
 */
export function bearerChecker(token: string | undefined): (header: string | undefined) => boolean {
  if (token === undefined) return () => false;
  const expected = digest(token);
  return (header) => {
    if (header === undefined || !header.startsWith('Bearer ')) return false;
    return timingSafeEqual(digest(header.slice('Bearer '.length)), expected);
  };
}
