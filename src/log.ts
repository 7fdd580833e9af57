/**
 * The logging port, at the bottom beside errors.ts so that every layer can take
 * one. Only the report layer writes to the job log; everything else receives a
 * Logger. Lines about one host carry its name as a prefix so
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
