/**
 * Sizes and durations, written the same way in every message, log line and
 * summary (one module at the bottom, beside errors.ts and log.ts).
 */

/** 512 bytes, 1.5 KiB, 3.2 GiB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** 300 ms, 2.5 s, 4 min 10 s. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${+s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
