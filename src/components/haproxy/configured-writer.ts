/**
 * Pure: the db node an installed haproxy.cfg sends writes to (the first
 * non-backup server of the writer listener), as deploy-lb last rendered it.
 * deploy-db reads it to warn before it takes that node out of the cluster.
 */
import { HAPROXY_WRITER_LISTENER } from './config.js';

export function configuredWriter(config: string, listener: string = HAPROXY_WRITER_LISTENER): string | null {
  let inListener = false;
  for (const raw of config.split('\n')) {
    const line = raw.replace(/#.*$/, '').trimEnd();
    if (line.trim() === '') continue;
    // A section header starts at column 0; its settings are indented.
    if (!/^\s/.test(line)) {
      const [keyword, name] = line.trim().split(/\s+/);
      inListener = (keyword === 'listen' || keyword === 'backend') && name === listener;
      continue;
    }
    if (!inListener) continue;
    const words = line.trim().split(/\s+/);
    if (words[0] === 'server' && words[1] && !words.includes('backup') && !words.includes('disabled')) return words[1];
  }
  return null;
}
