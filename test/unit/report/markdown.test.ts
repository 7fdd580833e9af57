import { describe, expect, it } from 'vitest';

import { byteLength, cell, code, fence, truncateMarkdown } from '../../../src/report/markdown.js';

const note = (n: number) => `> truncated ${n} bytes`;

describe('truncateMarkdown', () => {
  it('returns text that fits unchanged', () => {
    expect(truncateMarkdown('a\nb\n', 100, note)).toBe('a\nb\n');
  });

  it('cuts at a line boundary, stays within the budget and appends the note', () => {
    const text = Array.from({ length: 1000 }, (_, i) => `line ${i}`).join('\n');
    const out = truncateMarkdown(text, 2000, note);
    expect(byteLength(out)).toBeLessThanOrEqual(2000);
    expect(out.startsWith('line 0\nline 1\n')).toBe(true);
    expect(out).toMatch(/> truncated \d+ bytes$/);
    const kept = out.split('\n').filter((l) => l.startsWith('line '));
    expect(kept.every((l) => /^line \d+$/.test(l))).toBe(true);
  });

  it('closes a code fence and <details> left open so the note renders', () => {
    const text = ['# head', '<details><summary>x</summary>', '', '````diff', ...Array.from({ length: 500 }, () => '+added line'), '````', '</details>'].join('\n');
    const out = truncateMarkdown(text, 1500, note);
    const lines = out.split('\n');
    const noteAt = lines.findIndex((l) => l.startsWith('> truncated'));
    expect(lines.slice(noteAt - 3, noteAt)).toEqual(['````', '</details>', '']);
    expect(byteLength(out)).toBeLessThanOrEqual(1500);
  });

  it('does not take a fence inside a fence for a closing one', () => {
    const text = ['````', '```', 'inner', ...Array.from({ length: 300 }, () => 'x'.repeat(20))].join('\n');
    const out = truncateMarkdown(text, 1000, note);
    expect(out.split('\n').filter((l) => l === '````')).toHaveLength(2);
  });

  it('counts bytes, not characters, for multi-byte text', () => {
    const text = Array.from({ length: 400 }, () => 'é→✅ ünïcödé').join('\n');
    const out = truncateMarkdown(text, 1024, note);
    expect(byteLength(out)).toBeLessThanOrEqual(1024);
    expect(out).not.toContain('\uFFFD');
  });

  it('keeps a prefix of a single enormous line', () => {
    const out = truncateMarkdown('x'.repeat(100_000), 2000, note);
    expect(byteLength(out)).toBeLessThanOrEqual(2000);
    expect(out.startsWith('xxxx')).toBe(true);
  });
});

describe('markdown helpers', () => {
  it('escapes table cells', () => {
    expect(cell('a|b\nc')).toBe('a\\|b<br>c');
    expect(cell(undefined)).toBe('');
  });
  it('quotes inline code containing backticks', () => {
    expect(code('a`b')).toBe('``a`b``');
    expect(code('plain')).toBe('`plain`');
  });
  it('fences with more backticks than the body has at a line start', () => {
    expect(fence('x\n```\ny', 'diff')).toBe('````diff\nx\n```\ny\n````');
  });
});
