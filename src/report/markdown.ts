/**
 * Small markdown helpers shared by the plan, the job summary and the PR comment.
 * GitHub-flavoured markdown; everything we print comes from hosts and inventories,
 * so it is escaped where it could break a table or a code block.
 */

/** Escapes a value for a table cell: pipes and newlines would split the row. */
export function cell(value: string | number | undefined | null): string {
  if (value === undefined || value === null || value === '') return '';
  return String(value)
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/\r?\n/g, '<br>');
}

/** Inline code that survives backticks in the value. */
export function code(value: string): string {
  const longest = Math.max(0, ...[...value.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = '`'.repeat(longest + 1);
  const pad = value.startsWith('`') || value.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${value}${pad}${ticks}`;
}

/** A fenced block whose fence is longer than any backtick run inside it. */
export function fence(body: string, info = ''): string {
  const longest = Math.max(0, ...[...body.matchAll(/^ {0,3}(`{3,})/gm)].map((m) => m[1]!.length));
  const ticks = '`'.repeat(Math.max(3, longest + 1));
  const text = body.endsWith('\n') ? body : body + '\n';
  return `${ticks}${info}\n${text}${ticks}`;
}

export function table(header: string[], rows: string[][]): string {
  const lines = [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
  return lines.join('\n');
}

/** Size in bytes as GitHub counts it (UTF-8). */
export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * Cuts markdown to at most `maxBytes` (UTF-8), at a line boundary, closing any
 * code fence or `<details>` left open so the rest still renders, and appends
 * `note` (which is counted in the budget). Returns the text unchanged when it fits.
 */
export function truncateMarkdown(text: string, maxBytes: number, note: (omittedBytes: number) => string): string {
  const total = byteLength(text);
  if (total <= maxBytes) return text;

  // Reserve room for the closing tags and the note; the note's size depends on
  // the number it prints, so size it with the worst case first.
  const reserve = byteLength(note(total)) + 256;
  const budget = Math.max(0, maxBytes - reserve);

  const lines = text.split('\n');
  const kept: string[] = [];
  let used = 0;
  let openFence: string | null = null;
  let openDetails = 0;
  for (const line of lines) {
    const size = byteLength(line) + 1;
    if (used + size > budget) break;
    kept.push(line);
    used += size;
    const fenceMatch = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fenceMatch) {
      const marker = fenceMatch[1]!;
      if (openFence === null) openFence = marker;
      else if (marker[0] === openFence[0] && marker.length >= openFence.length && line.trim() === marker) openFence = null;
    } else if (openFence === null) {
      openDetails += (line.match(/<details\b/gi) ?? []).length;
      openDetails -= (line.match(/<\/details>/gi) ?? []).length;
      if (openDetails < 0) openDetails = 0;
    }
  }

  // A single line longer than the whole budget: keep a prefix of it, cut on a
  // character (not byte) boundary.
  if (kept.length === 0 && lines.length > 0) {
    let prefix = lines[0]!;
    while (prefix.length > 0 && byteLength(prefix) > budget) prefix = prefix.slice(0, Math.floor(prefix.length * 0.9));
    kept.push(prefix);
  }

  const closing: string[] = [];
  if (openFence !== null) closing.push(openFence);
  for (let i = 0; i < openDetails; i++) closing.push('</details>');
  const head = kept.join('\n');
  const omitted = total - byteLength(head);
  return [head, ...closing, '', note(omitted)].join('\n');
}
