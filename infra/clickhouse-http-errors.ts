/** Errors as a ClickHouse server reports them: `Code: N. DB::Exception: … (TYPE) (version …)`. */

/** An error the server raises itself, with the ClickHouse code and HTTP status to answer with. */
export class ChError extends Error {
  constructor(readonly code: number, message: string, readonly httpStatus = 500) {
    super(message);
  }
}

const CODE_NAMES: Record<number, string> = {
  1: 'UNSUPPORTED_METHOD',
  27: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
  62: 'SYNTAX_ERROR',
  73: 'UNKNOWN_FORMAT',
  108: 'NO_DATA_TO_INSERT',
  115: 'UNKNOWN_SETTING',
  456: 'UNKNOWN_QUERY_PARAMETER',
  1001: 'STD_EXCEPTION',
};

/** The engine's own error text starts with its code. */
const ENGINE_ERROR = /^\s*Code: (\d+)\./;

/** The text a ClickHouse server sends for an exception, with its code. */
export function errorText(err: unknown, engineVersion: string): { code: number; text: string; status: number } {
  if (err instanceof ChError) {
    const type = CODE_NAMES[err.code] ?? 'UNKNOWN_EXCEPTION';
    return { code: err.code, status: err.httpStatus, text: `Code: ${err.code}. DB::Exception: ${err.message}. (${type}) (version ${engineVersion})\n` };
  }
  const msg = err instanceof Error ? err.message : String(err);
  const m = ENGINE_ERROR.exec(msg);
  if (m) {
    // Already the engine's `Code: N. DB::Exception: … (TYPE)` text.
    return { code: Number(m[1]), status: 500, text: `${msg.trimEnd()} (version ${engineVersion})\n` };
  }
  return { code: 1001, status: 500, text: `Code: 1001. DB::Exception: ${msg.replace(/\s+$/, '')}. (STD_EXCEPTION) (version ${engineVersion})\n` };
}

/** Neither the server's own error nor the engine's: a fault worth logging with its stack. */
export function isUnexpected(err: unknown): boolean {
  return !(err instanceof ChError) && !ENGINE_ERROR.test(err instanceof Error ? err.message : '');
}
