/** The inventory → GlusterFS model mapper, shared by verify-ha and migrate-storage. */
import { hostsWithRole, type Environment, type Host } from '../../inventory/index.js';
import type { GlusterVolumeModel } from './model.js';

/** The GlusterFS volume the inventory describes: storage hosts' bricks, plus the arbiter's. */
export function glusterModelOf(environment: Environment): { model: GlusterVolumeModel; members: Host[]; mountPath: string } | null {
  const storage = environment.storage;
  if (storage.kind !== 'glusterfs') return null;
  const arbiter = storage.arbiter ? environment.hosts.find((h) => h.name === storage.arbiter) : undefined;
  const data = hostsWithRole(environment, 'storage').filter((h) => h.name !== arbiter?.name);
  const brick = (h: Host) => ({ host: h.name, address: h.address, path: storage.brick_path });
  return {
    model: { volume: storage.volume, bricks: data.map(brick), ...(arbiter ? { arbiter: brick(arbiter) } : {}), options: {} },
    members: arbiter ? [...data, arbiter] : data,
    mountPath: storage.mount_path,
  };
}
