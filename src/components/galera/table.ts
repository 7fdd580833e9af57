/**
 * Plain-text tables for decisions an operator must read (gate, recovery).
 * Markdown-compatible pipes so the same text works in the log and the summary.
 */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/**
 * Rows of `mysql -N -B` output. Batch mode escapes backslash, tab, newline and
 * NUL inside values (`\\`, `\t`, `\n`, `\0`); this undoes that so callers see
 * the server's text (e.g. `edxapp\_csmh` in SHOW GRANTS, not `edxapp\\_csmh`).
 */
export function parseBatchRows(text: string): string[][] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t').map(unescapeBatchField));
}

export function unescapeBatchField(field: string): string {
  return field.replace(/\\([\\tn0])/g, (_m, c: string) => ({ '\\': '\\', t: '\t', n: '\n', '0': '\0' })[c]!);
}
