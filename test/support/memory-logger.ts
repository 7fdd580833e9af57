import { prefixed, type Logger } from '../../src/log.js';

/** A logger that keeps lines in memory, for tests to read. */
export class MemoryLogger implements Logger {
  readonly lines: string[] = [];
  info(message: string, host?: string): void {
    this.lines.push(prefixed(message, host));
  }
  warn(message: string, host?: string): void {
    this.lines.push(`warning: ${prefixed(message, host)}`);
  }
  debug(message: string, host?: string): void {
    this.lines.push(`debug: ${prefixed(message, host)}`);
  }
  async group<T>(title: string, fn: () => Promise<T>): Promise<T> {
    this.lines.push(`## ${title}`);
    return fn();
  }
}
