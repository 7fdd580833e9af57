/** The SSH transport: what the rest of lms-ha imports from src/ssh/. */
export type { RemoteHost, RunOptions, RunResult, WriteFileOptions } from './types.js';
export {
  parseKnownHosts,
  lookupHostKeys,
  isRevoked,
  fingerprintSha256,
  knownHostsLine,
  type KnownHostsDb,
  type KnownHostKey,
} from './known-hosts.js';
export {
  checkHostKey,
  createHostVerifier,
  preferredHostKeyAlgorithms,
  type HostKeyDecision,
  type HostKeyPolicy,
  type HostKeyTarget,
  type PresentedHostKey,
} from './host-key.js';
export { shellQuote, shellJoin, wrapCommand } from './quote.js';
export {
  connectHost,
  checkClientKey,
  SshHost,
  DEFAULT_RETRY,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_COMMAND_TIMEOUT_MS,
  type ConnectOptions,
  type ConnectionInfo,
  type RetryOptions,
  type SshRunOptions,
  type SshRunResult,
} from './connection.js';
export {
  HostPool,
  forEachBounded,
  DEFAULT_PARALLELISM,
  type HostSpec,
  type HostPoolOptions,
  type HostResult,
} from './pool.js';
