/**
 * The logging port. Only the report layer writes to the job log; everything
 * else receives a Logger. Lines about one host carry its name as a prefix so
 * that parallel work stays readable.
 */
export interface Logger {
  info(message: string, host?: string): void;
  warn(message: string, host?: string): void;
  debug(message: string, host?: string): void;
  /** Groups the lines of one phase (a collapsible group in the Actions log). */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
}

export function prefixed(message: string, host?: string): string {
  return host ? `[${host}] ${message}` : message;
}

/** A logger that keeps lines in memory: for tests and for the summary. */
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
