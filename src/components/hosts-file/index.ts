/**
 * /etc/hosts with one block lms-ha manages: every inventory host and the
 * load balancers' virtual IP under a name (Moodle clustering guide: every node
 * lists the whole topology). Everything outside the block is the operator's
 * and is kept byte for byte; the block is replaced where it stands, or
 * appended at the end the first time.
 *
 * Pure: no host access.
 */

export const HOSTS_FILE_PATH = '/etc/hosts';
export const BLOCK_BEGIN = '# BEGIN lms-ha managed hosts (local edits inside this block are overwritten)';
export const BLOCK_END = '# END lms-ha managed hosts';

export interface HostsEntry {
  address: string;
  names: string[];
}

/** A line outside the block that gives one of the block's names another address; it wins, since the resolver takes the first match. */
export interface ShadowingLine {
  line: number;
  name: string;
  address: string;
  wanted: string;
}

/** The block's lines, aligned, ending with a newline. */
export function renderHostsBlock(entries: readonly HostsEntry[]): string {
  const width = Math.max(0, ...entries.map((e) => e.address.length));
  const lines = entries.map((e) => `${e.address.padEnd(width)} ${e.names.join(' ')}`);
  return [BLOCK_BEGIN, ...lines, BLOCK_END, ''].join('\n');
}

/**
 * The file with the block in it. A file holding a BEGIN without an END (a
 * hand edit gone wrong) is refused rather than guessed at.
 */
export function renderHostsFile(current: string, entries: readonly HostsEntry[]): string {
  const block = renderHostsBlock(entries);
  const lines = current.split('\n');
  const begin = lines.indexOf(BLOCK_BEGIN);
  const end = lines.indexOf(BLOCK_END);
  if (begin === -1 && end === -1) {
    if (current === '') return block;
    return current.endsWith('\n') ? current + block : `${current}\n${block}`;
  }
  if (begin === -1 || end === -1 || end < begin) {
    throw new Error(`${HOSTS_FILE_PATH} has a damaged lms-ha block (a "${begin === -1 ? BLOCK_BEGIN : BLOCK_END}" line is missing or out of order)`);
  }
  const before = lines.slice(0, begin).join('\n');
  const after = lines.slice(end + 1).join('\n');
  return (begin > 0 ? `${before}\n` : '') + block + after;
}

/** Lines outside the block that map a managed name to another address. */
export function shadowingLines(current: string, entries: readonly HostsEntry[]): ShadowingLine[] {
  const wanted = new Map<string, string>();
  for (const e of entries) for (const n of e.names) wanted.set(n.toLowerCase(), e.address);
  const found: ShadowingLine[] = [];
  let inside = false;
  current.split('\n').forEach((raw, index) => {
    if (raw === BLOCK_BEGIN) inside = true;
    if (inside) {
      if (raw === BLOCK_END) inside = false;
      return;
    }
    const text = raw.replace(/#.*/, '').trim();
    if (!text) return;
    const [address, ...names] = text.split(/\s+/);
    for (const name of names) {
      const want = wanted.get(name.toLowerCase());
      if (want !== undefined && want !== address) found.push({ line: index + 1, name, address: address!, wanted: want });
    }
  });
  return found;
}
