import { DeployError, formatProblem } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/index.js';

/**
 * Strips the common indentation of a template literal and its first newline, so
 * test inventories can be written indented in the test file while their line 1
 * is the line after the opening backtick.
 */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = strings.reduce((out, part, i) => out + part + (i < values.length ? String(values[i]) : ''), '');
  const lines = text.replace(/^\n/, '').replace(/\n[ ]*$/, '\n').split('\n');
  const indents = lines.filter((line) => line.trim() !== '').map((line) => line.length - line.trimStart().length);
  const indent = Math.min(...indents);
  return lines.map((line) => line.slice(indent)).join('\n');
}

/** `line:column message` for every problem loadInventory reports, in its order. */
export function problemsOf(text: string, file = 'inv.yml'): string[] {
  try {
    loadInventory(text, file);
  } catch (error) {
    if (!(error instanceof DeployError)) throw error;
    return error.problems.map((problem) => {
      const formatted = formatProblem(problem);
      return formatted.startsWith(`${file}:`) ? formatted.slice(file.length + 1) : formatted;
    });
  }
  return [];
}
