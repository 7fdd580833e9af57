/**
 * Markdown helpers shared by the plan comment and the health issue: keeping a
 * body under GitHub's size limit without breaking its rendering, and the
 * hidden JSON markers that let lms-ha find its own comments and issues again.
 */

/** GitHub rejects comment and issue bodies longer than this ("body is too long"). */
const GITHUB_BODY_LIMIT = 65_536;

/**
 * What lms-ha aims for: comfortably under the limit, so a later edit (a status
 * line that grows when a plan is marked applied) can never push it over.
 */
export const BODY_BUDGET = GITHUB_BODY_LIMIT - 1_536;

export interface Omitted {
  chars: number;
  lines: number;
}

interface LineInfo {
  start: number;
  /** The opening fence line of the code block this line is inside, if any (before the line itself is read). */
  openFence?: string;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;

/** For each line: where it starts and whether it sits inside a fenced code block. */
function scanLines(text: string): LineInfo[] {
  const lines: LineInfo[] = [];
  let open: { marker: string; line: string } | undefined;
  let start = 0;
  while (start <= text.length) {
    const nl = text.indexOf('\n', start);
    const end = nl === -1 ? text.length : nl;
    const line = text.slice(start, end);
    lines.push({ start, openFence: open?.line });
    const m = FENCE.exec(line);
    if (m) {
      const marker = m[1]!;
      const rest = m[2]!;
      if (!open) {
        // A backtick fence's info string may not contain backticks (CommonMark).
        if (!(marker.startsWith('`') && rest.includes('`'))) open = { marker, line: line.trim() };
      } else if (marker[0] === open.marker[0] && marker.length >= open.marker.length && rest.trim() === '') {
        open = undefined;
      }
    }
    if (nl === -1) break;
    start = nl + 1;
  }
  return lines;
}

/** The fence open at the start of the line that contains `offset`, if any. */
function fenceOpenAt(lines: LineInfo[], offset: number): string | undefined {
  // Lines are sorted by start; a linear scan is fine for the sizes involved.
  let found: LineInfo | undefined;
  for (const l of lines) {
    if (l.start > offset) break;
    found = l;
  }
  return found?.openFence;
}

function countTag(text: string, re: RegExp): number {
  return (text.match(re) ?? []).length;
}

/** Never leave half of a surrogate pair at a hard cut. */
function safeCut(text: string, index: number): number {
  const code = text.charCodeAt(index - 1);
  return code >= 0xd800 && code <= 0xdbff ? index - 1 : index;
}

/**
 * Shortens markdown to at most `maxChars` by cutting the middle out (the head
 * says what is planned, the tail holds the totals), at line boundaries, and
 * puts `note(omitted)` where the cut is. Code fences and `<details>` blocks
 * cut open are closed before the note and reopened after it, so the rest
 * still renders. Lengths are UTF-16 code units, which never undercounts what
 * GitHub counts.
 */
export function truncateMiddle(text: string, maxChars: number, note: (omitted: Omitted) => string): string {
  if (text.length <= maxChars) return text;
  const lines = scanLines(text);

  // The note and the fence/details repairs need room; shrink until it fits.
  let reserve = note({ chars: text.length, lines: lines.length }).length + 200;
  for (let attempt = 0; attempt < 8; attempt++) {
    const budget = Math.max(0, maxChars - reserve);
    const result = cut(text, lines, budget, note);
    if (result.length <= maxChars) return result;
    reserve += result.length - maxChars + 64;
  }
  // Pathological input (a note longer than the limit): the note alone, cut.
  return note({ chars: text.length, lines: lines.length }).slice(0, maxChars);
}

function cut(text: string, lines: LineInfo[], budget: number, note: (o: Omitted) => string): string {
  const headBudget = Math.floor(budget * 0.6);
  const tailBudget = budget - headBudget;

  // Head: whole lines that fit; a single giant line is cut hard.
  let headEnd = text.lastIndexOf('\n', headBudget);
  headEnd = headEnd <= 0 ? safeCut(text, headBudget) : headEnd + 1;

  // Tail: whole lines that fit, starting at a line start.
  let tailStart = text.indexOf('\n', Math.max(headEnd, text.length - tailBudget));
  tailStart = tailStart === -1 || tailStart + 1 >= text.length ? text.length : tailStart + 1;
  if (tailStart < headEnd) tailStart = headEnd;

  const head = text.slice(0, headEnd);
  const tail = text.slice(tailStart);
  const omitted = text.slice(headEnd, tailStart);

  let closeHead = '';
  const fenceAtCut = fenceOpenAt(lines, headEnd);
  if (fenceAtCut) closeHead += `${head.endsWith('\n') ? '' : '\n'}${fenceAtCut.replace(/^(`+|~+).*$/, '$1')}\n`;
  const openDetails = countTag(head, /<details[\s>]/gi) - countTag(head, /<\/details>/gi);
  for (let i = 0; i < openDetails; i++) closeHead += '\n</details>\n';

  let reopenTail = '';
  const extraCloses = countTag(tail, /<\/details>/gi) - countTag(tail, /<details[\s>]/gi);
  for (let i = 0; i < extraCloses; i++) reopenTail += '<details><summary>(continued)</summary>\n\n';
  const fenceAtTail = tailStart < text.length ? fenceOpenAt(lines, tailStart) : undefined;
  if (fenceAtTail) reopenTail += `${fenceAtTail}\n`;

  const omittedLines = omitted === '' ? 0 : omitted.split('\n').length - (omitted.endsWith('\n') ? 1 : 0);
  const noteText = note({ chars: omitted.length, lines: omittedLines });
  return `${head}${closeHead}\n${noteText}\n\n${reopenTail}${tail}`;
}

/** Escapes `<` and `>` so a JSON value can never close the HTML comment it sits in. */
export function jsonForComment(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e');
}

/**
 * Reads `<!-- {prefix}: {json} -->` from the first line of a body. Only the
 * first line counts, so a quoted or pasted marker further down is ignored.
 */
export function readMarker(body: string, prefix: string): Record<string, unknown> | undefined {
  const firstLine = body.replace(/^\uFEFF/, '').split('\n', 1)[0]!.trim();
  const open = `<!-- ${prefix}: `;
  if (!firstLine.startsWith(open) || !firstLine.endsWith(' -->')) return undefined;
  const json = firstLine.slice(open.length, -' -->'.length);
  try {
    const value: unknown = JSON.parse(json);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export function writeMarker(prefix: string, value: Record<string, unknown>): string {
  return `<!-- ${prefix}: ${jsonForComment(value)} -->`;
}

/** Markdown inline code that survives backticks in the value. */
export function code(value: string): string {
  const longest = Math.max(0, ...(value.match(/`+/g) ?? []).map((s) => s.length));
  const ticks = '`'.repeat(longest + 1);
  const pad = value.startsWith('`') || value.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${value}${pad}${ticks}`;
}

/** Link to a workflow run: `${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}`. */
export function runUrl(serverUrl: string, repository: string, runId: string | number, attempt?: number): string {
  const base = `${serverUrl.replace(/\/+$/, '')}/${repository}/actions/runs/${runId}`;
  return attempt && attempt > 1 ? `${base}/attempts/${attempt}` : base;
}
