import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';

/** Insert formats whose data is binary (RowBinary, Native, …), as opposed to lines of text. */
export const BINARY_FORMAT = /^(RowBinary\w*|Native|Parquet|Arrow\w*|ORC|Avro|Protobuf\w*|MsgPack|CapnProto|BSONEachRow|Npy)$/i;

/** The format an `INSERT … FORMAT X` statement names, if it ends with one. */
export function insertFormatOf(sql: string): string | undefined {
  return /\bFORMAT\s+(\w+)\s*$/i.exec(sql)?.[1];
}

/**
 * Runs `INSERT … FORMAT X` with binary data through a file (`FROM INFILE`): chDB's inline insert
 * data is text, and it cuts binary data at the first empty line ("\n\n"), which RowBinary values
 * contain at random. `run` gets the rewritten statement; the file is removed afterwards.
 */
export async function insertViaFile<T>(sql: string, data: Buffer, run: (sql: string) => Promise<T>): Promise<T> {
  const path = join(tmpdir(), `viewtally-insert-${randomUUID()}.bin`);
  await writeFile(path, data);
  try {
    return await run(sql.trim().replace(/\s+FORMAT\s+(\w+)$/i, ` FROM INFILE '${path}' FORMAT $1`));
  } finally {
    await rm(path, { force: true });
  }
}
