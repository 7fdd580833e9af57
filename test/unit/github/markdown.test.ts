import { describe, expect, it } from 'vitest';
import {
  code,
  jsonForComment,
  readMarker,
  runUrl,
  truncateMiddle,
  writeMarker,
} from '../../../src/github/markdown.js';
import { GITHUB_BODY_LIMIT } from './fake-github-server.js';

const note = ({ chars, lines }: { chars: number; lines: number }) => `[cut ${chars} chars, ${lines} lines]`;

function lines(n: number, prefix = 'line'): string {
  return Array.from({ length: n }, (_, i) => `${prefix} ${String(i).padStart(5, '0')}`).join('\n');
}

/** Fence lines outside and inside code, as a renderer sees them. */
function fencesBalanced(md: string): boolean {
  let open: string | undefined;
  for (const line of md.split('\n')) {
    const m = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
    if (!m) continue;
    if (!open) open = m[1];
    else if (m[1]![0] === open[0] && m[1]!.length >= open.length && m[2]!.trim() === '') open = undefined;
  }
  return open === undefined;
}

describe('truncateMiddle', () => {
  it('returns short text unchanged', () => {
    expect(truncateMiddle('a\nb\n', 100, note)).toBe('a\nb\n');
  });

  it('keeps the head and the tail at line boundaries and reports what was cut', () => {
    const text = lines(1000);
    const out = truncateMiddle(text, 2000, note);
    expect(out.length).toBeLessThanOrEqual(2000);
    expect(out.startsWith('line 00000\nline 00001\n')).toBe(true);
    expect(out.endsWith('line 00999')).toBe(true);
    const m = /\[cut (\d+) chars, (\d+) lines\]/.exec(out);
    expect(m).not.toBeNull();
    // Every kept line is whole, and kept + cut adds up to the original.
    const kept = out.split('\n').filter((l) => l.startsWith('line '));
    expect(kept.every((l) => /^line \d{5}$/.test(l))).toBe(true);
    expect(kept.length + Number(m![2])).toBe(1000);
    expect(out.replace(/\n\[cut.*\]\n\n/, '').length + Number(m![1])).toBe(text.length);
  });

  it('cuts more from the tail than the head (the head says what is planned)', () => {
    const out = truncateMiddle(lines(1000), 5000, note);
    const [head, tail] = out.split(/\n\[cut[^\]]*\]\n\n/);
    expect(head!.length).toBeGreaterThan(tail!.length);
  });

  it('closes a code fence cut open in the head and reopens it, with its info string, in the tail', () => {
    const text = `# Plan\n\n\`\`\`diff\n${lines(2000, '+ set')}\n\`\`\`\n\nTotals: 2000 changes\n`;
    const out = truncateMiddle(text, 3000, note);
    expect(out.length).toBeLessThanOrEqual(3000);
    expect(fencesBalanced(out)).toBe(true);
    expect(out).toMatch(/\n```\n\n\[cut/);
    expect(out).toMatch(/\]\n\n```diff\n\+ set/);
    expect(out.trimEnd().endsWith('Totals: 2000 changes')).toBe(true);
  });

  it('leaves fences alone when the cut falls outside any code block', () => {
    const text = `\`\`\`\nsmall\n\`\`\`\n${lines(1000)}\n\`\`\`\nend\n\`\`\`\n`;
    const out = truncateMiddle(text, 2000, note);
    expect(fencesBalanced(out)).toBe(true);
    expect(out.match(/```/g)).toHaveLength(4);
  });

  it('tracks ~~~ fences and longer fences correctly', () => {
    const text = `~~~~ yaml\n${lines(500)}\n\`\`\`\nnot a close\n~~~~\nafter\n`;
    const out = truncateMiddle(text, 1500, note);
    expect(fencesBalanced(out)).toBe(true);
    expect(out).toContain('~~~~\n\n[cut');
  });

  it('closes <details> opened in the head and reopens for a dangling close in the tail', () => {
    const text = `<details><summary>Changes</summary>\n\n${lines(1000)}\n\n</details>\nend\n`;
    const out = truncateMiddle(text, 2000, note);
    const opens = out.match(/<details[\s>]/g)?.length ?? 0;
    const closes = out.match(/<\/details>/g)?.length ?? 0;
    expect(opens).toBe(closes);
    expect(out.indexOf('</details>')).toBeLessThan(out.indexOf('[cut'));
  });

  it('hard-cuts a single enormous line without splitting a surrogate pair', () => {
    const text = '😀'.repeat(50_000);
    const out = truncateMiddle(text, 10_001, note);
    expect(out.length).toBeLessThanOrEqual(10_001);
    // No lone surrogates: every high surrogate is followed by a low one.
    expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(out)).toBe(false);
  });

  it('stays under the GitHub limit for a 1 MB plan', () => {
    const text = `\`\`\`diff\n${lines(80_000, '- old\n+ new')}\n\`\`\`\n`;
    const out = truncateMiddle(text, GITHUB_BODY_LIMIT, note);
    expect(text.length).toBeGreaterThan(1_000_000);
    expect(out.length).toBeLessThanOrEqual(GITHUB_BODY_LIMIT);
    expect(fencesBalanced(out)).toBe(true);
  });

  it('still fits when the note is long', () => {
    const longNote = () => 'x'.repeat(900);
    const out = truncateMiddle(lines(1000), 1000, longNote);
    expect(out.length).toBeLessThanOrEqual(1000);
    expect(out).toContain('x'.repeat(900));
  });
});

describe('markers', () => {
  it('round-trip through the first line', () => {
    const line = writeMarker('lms-ha', { environment: 'production', n: 1 });
    expect(line).toBe('<!-- lms-ha: {"environment":"production","n":1} -->');
    expect(readMarker(`${line}\nbody`, 'lms-ha')).toEqual({ environment: 'production', n: 1 });
  });

  it('cannot be closed early by a value containing -->', () => {
    const line = writeMarker('lms-ha', { inventory: 'a-->b<!--c' });
    expect(line.indexOf('-->')).toBe(line.length - 3);
    expect(readMarker(line, 'lms-ha')).toEqual({ inventory: 'a-->b<!--c' });
    expect(jsonForComment('<>')).toBe('"\\u003c\\u003e"');
  });

  it('ignores markers that are not on the first line, other prefixes and broken JSON', () => {
    const line = writeMarker('lms-ha', { a: 1 });
    expect(readMarker(`> quoted\n${line}`, 'lms-ha')).toBeUndefined();
    expect(readMarker(line, 'lms-ha-health')).toBeUndefined();
    expect(readMarker('<!-- lms-ha: {"a": -->', 'lms-ha')).toBeUndefined();
    expect(readMarker('<!-- lms-ha: [1,2] -->', 'lms-ha')).toBeUndefined();
    expect(readMarker('', 'lms-ha')).toBeUndefined();
  });

  it('tolerates a byte order mark and trailing carriage return', () => {
    expect(readMarker('\uFEFF<!-- lms-ha: {"a":1} -->\r\nrest', 'lms-ha')).toEqual({ a: 1 });
  });
});

describe('small helpers', () => {
  it('code() survives backticks', () => {
    expect(code('ha.yml')).toBe('`ha.yml`');
    expect(code('a`b')).toBe('``a`b``');
    expect(code('`x')).toBe('`` `x ``');
  });

  it('runUrl() builds run links, with the attempt when it is a re-run', () => {
    expect(runUrl('https://github.com/', 'o/r', 42)).toBe('https://github.com/o/r/actions/runs/42');
    expect(runUrl('https://ghe.example', 'o/r', '42', 2)).toBe('https://ghe.example/o/r/actions/runs/42/attempts/2');
  });
});
