import type { Logger } from '../../log.js';
import { fetchPinned } from '../../operations/pinned-download.js';

/** Downloads (or takes from the runner's tool cache) the pinned ProxySQL .deb and checks its sha256. */
export type PackageFetcher = (pkg: { url: string; sha256: string }, logger: Logger) => Promise<Buffer>;

export const fetchPinnedPackage: PackageFetcher = (pkg, logger) =>
  fetchPinned({ ...pkg, tool: 'lms-ha-proxysql-deb', file: 'proxysql.deb', what: 'the ProxySQL package', pinnedBy: 'load_balancer.proxysql.package.sha256' }, logger);
