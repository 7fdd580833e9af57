/**
 * One round trip per host reads many facts: each fact's snippet prints a
 * `@@name` (or `@@name arg`) marker line, then its output. splitSections cuts
 * the answer back into named sections.
 */

const MARKER = /^@@([a-z][a-z0-9_-]*(?: \S+)?)$/;

/** Section key (everything after `@@`) → its text, in the order the host printed them. */
export function splitSections(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | null = null;
  let lines: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = MARKER.exec(line);
    if (m) {
      if (current !== null) out.set(current, lines.join('\n'));
      current = m[1]!;
      lines = [];
      continue;
    }
    lines.push(line);
  }
  if (current !== null) out.set(current, lines.join('\n'));
  return out;
}

/** A file's content as one base64 line, or `@absent`. */
export function fileContentSnippet(path: string): string {
  return `if [ -f ${path} ]; then base64 -w0 ${path}; echo; else echo "@absent"; fi`;
}

/** Reads fileContentSnippet's answer: the file's text, or null when absent. */
export function parseFileContent(section: string | undefined): string | null {
  const text = (section ?? '').trim();
  if (text === '' || text === '@absent') return null;
  return Buffer.from(text, 'base64').toString('utf8');
}
