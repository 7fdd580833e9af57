/**
 * The gluster CLI envelope: every `--xml` answer is
 *   <cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/> ... </cliOutput>
 * (glfsheal, behind `volume heal ... info`, puts opRet after its payload).
 * A failed operation has opRet -1 and the reason in opErrstr, e.g.
 * "Volume moodledata does not exist". When glusterd is not running the CLI
 * prints "Connection failed. Please check if gluster daemon is operational."
 * and no XML at all.
 *
 * Every command runs with `--mode=script`, which answers the CLI's y/n
 * questions (volume stop, replica 2 warnings) without a terminal.
 */
import { shellQuote } from '../../ssh/quote.js';
import { type XmlElement, XmlParseError, child, childText, parseXml } from './xml.js';

export class GlusterCliError extends Error {
  /** `not-xml`: no XML came back (glusterd down, command missing); `op-failed`: opRet != 0. */
  readonly kind: 'not-xml' | 'op-failed';
  readonly opErrstr: string;
  constructor(kind: 'not-xml' | 'op-failed', message: string, opErrstr = '') {
    super(message);
    this.name = 'GlusterCliError';
    this.kind = kind;
    this.opErrstr = opErrstr;
  }
}

export interface CliEnvelope {
  opRet: number;
  opErrno: number;
  opErrstr: string;
  root: XmlElement;
}

export function parseCliEnvelope(stdout: string): CliEnvelope {
  const start = stdout.indexOf('<');
  if (start === -1) {
    throw new GlusterCliError('not-xml', `gluster printed no XML: ${firstLine(stdout) || '(nothing)'}`);
  }
  let root: XmlElement;
  try {
    root = parseXml(stdout.slice(start));
  } catch (e) {
    if (e instanceof XmlParseError) throw new GlusterCliError('not-xml', `gluster printed malformed XML: ${e.message}`);
    throw e;
  }
  if (root.name !== 'cliOutput') throw new GlusterCliError('not-xml', `unexpected XML root <${root.name}>`);
  const opRet = Number(childText(root, 'opRet') ?? '0');
  const opErrno = Number(childText(root, 'opErrno') ?? '0');
  const opErrstr = childText(root, 'opErrstr') ?? '';
  return { opRet, opErrno, opErrstr, root };
}

/** The envelope's payload element, or GlusterCliError when the operation failed. */
export function cliPayload(stdout: string, element: string): XmlElement | undefined {
  const env = parseCliEnvelope(stdout);
  if (env.opRet !== 0) {
    throw new GlusterCliError('op-failed', `gluster: ${env.opErrstr || `operation failed (opRet ${env.opRet})`}`, env.opErrstr);
  }
  return child(env.root, element);
}

/**
 * glusterd runs one cluster-wide operation per volume at a time; a second one
 * (another `volume status`, a heal info, verify-ha on the same pool) is
 * refused with "Another transaction is in progress for VOL. Please try again
 * after some time." or "Locking failed on HOST". Worth retrying, not reporting.
 */
export function isGlusterLockBusy(error: unknown): boolean {
  return error instanceof GlusterCliError && error.kind === 'op-failed' && isGlusterBusyMessage(error.opErrstr);
}

/** The same refusal in the CLI's human output ("volume start: VOL: failed: Another transaction ..."). */
export function isGlusterBusyMessage(text: string): boolean {
  return /another transaction is in progress|locking failed|lock .*held/i.test(text);
}

function firstLine(s: string): string {
  return s.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
}

// ---------------------------------------------------------------------------
// Command lines. Arguments are validated by the model; they are quoted anyway.

/**
 * shellJoin, except that "=" does not force quoting: it is only special in a
 * leading NAME=value word, and no word here comes before the command name.
 * Keeps plans readable (`--mode=script`, not `'--mode=script'`).
 */
export function joinArgs(words: readonly string[]): string {
  return words.map((w) => (/^[A-Za-z0-9_\/.:@%+,=-]+$/.test(w) && !w.startsWith('=') ? w : shellQuote(w))).join(' ');
}
const shellJoin = joinArgs;

const G = ['gluster', '--mode=script'];

export const glusterCommands = {
  volumeInfo: (volume: string) => shellJoin([...G, 'volume', 'info', volume, '--xml']),
  volumeStatusDetail: (volume: string) => shellJoin([...G, 'volume', 'status', volume, 'detail', '--xml']),
  volumeStatus: (volume: string) => shellJoin([...G, 'volume', 'status', volume, '--xml']),
  healInfoSummary: (volume: string) => shellJoin([...G, 'volume', 'heal', volume, 'info', 'summary', '--xml']),
  healInfoSplitBrain: (volume: string) => shellJoin([...G, 'volume', 'heal', volume, 'info', 'split-brain', '--xml']),
  peerStatus: () => shellJoin([...G, 'peer', 'status', '--xml']),
  poolList: () => shellJoin([...G, 'pool', 'list', '--xml']),
  peerProbe: (address: string) => shellJoin([...G, 'peer', 'probe', address]),
  volumeStart: (volume: string) => shellJoin([...G, 'volume', 'start', volume]),
  volumeSet: (volume: string, key: string, value: string) => shellJoin([...G, 'volume', 'set', volume, key, value]),
  /** Starts a heal of the entries the index knows about (not a full crawl). */
  heal: (volume: string) => shellJoin([...G, 'volume', 'heal', volume]),
};

/** `mkdir -p` for a brick directory, with a restrictive mode until gluster owns it. */
export function prepareBrickCommand(path: string): string {
  return shellJoin(['mkdir', '-p', '-m', '0755', '--', path]);
}
