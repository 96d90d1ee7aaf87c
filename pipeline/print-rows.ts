/** Prints rows as an aligned text table, columns in the order of the first row. */
export function printRows(rows: Record<string, unknown>[], write: (line: string) => void = (l) => console.log(l)): void {
  if (rows.length === 0) {
    write('(no rows)');
    return;
  }
  const columns = Object.keys(rows[0]);
  const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  write(line(columns));
  write(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) write(line(columns.map((c) => cell(r[c]))));
  write(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
}
