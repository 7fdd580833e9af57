import { describe, expect, it } from 'vitest';

import { Redactor } from '../../../src/engine/redact.js';
import { formatAnnotation, planAnnotations, type ReportProblem } from '../../../src/report/annotations.js';

function problem(line: number, severity?: ReportProblem['severity'], file = 'ha.yml'): ReportProblem {
  return { file, line, column: 3, message: `problem at ${line}`, severity };
}

describe('planAnnotations', () => {
  it('sorts by severity, then file, line and column', () => {
    const { emit } = planAnnotations(
      [problem(9, 'warning'), problem(5), problem(2, 'notice'), problem(1, 'warning'), problem(7, undefined, 'a.yml'), { ...problem(5), column: 1 }],
      new Redactor(),
    );
    expect(emit.map((a) => `${a.severity}:${a.file}:${a.startLine}:${a.startColumn}`)).toEqual([
      'error:a.yml:7:3',
      'error:ha.yml:5:1',
      'error:ha.yml:5:3',
      'warning:ha.yml:1:3',
      'warning:ha.yml:9:3',
      'notice:ha.yml:2:3',
    ]);
  });

  it('emits at most 10 per type and keeps the rest for the summary', () => {
    const problems = [...Array.from({ length: 14 }, (_, i) => problem(i + 1)), ...Array.from({ length: 3 }, (_, i) => problem(i + 1, 'warning'))];
    const { emit, overflow } = planAnnotations(problems, new Redactor());
    expect(emit.filter((a) => a.severity === 'error')).toHaveLength(10);
    expect(emit.filter((a) => a.severity === 'warning')).toHaveLength(3);
    expect(overflow.map((a) => a.startLine)).toEqual([11, 12, 13, 14]);
    // The first ten by position are the ones shown.
    expect(emit.filter((a) => a.severity === 'error').map((a) => a.startLine)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('redacts messages', () => {
    const { emit } = planAnnotations([{ ...problem(1), message: 'password hunter22 is inline' }], new Redactor().add('hunter22'));
    expect(emit[0]!.message).toBe('password *** is inline');
  });

  it('formats as file:line:col: message', () => {
    expect(formatAnnotation({ severity: 'error', message: 'm', file: 'ha.yml', startLine: 4, startColumn: 7 })).toBe('ha.yml:4:7: m');
    expect(formatAnnotation({ severity: 'warning', message: 'm', file: 'ha.yml', startLine: 4, startColumn: 7 })).toBe('ha.yml:4:7: warning: m');
  });
});
