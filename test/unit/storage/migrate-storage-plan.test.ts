import { describe, expect, it } from 'vitest';
import type { ClusterChange, PlannedChange } from '../../../src/engine/change.js';
import type { GlusterStorage, Host } from '../../../src/inventory/index.js';
import { DeployError } from '../../../src/errors.js';
import { planClientMounts, planGlusterVolume } from '../../../src/commands/migrate-storage/gluster.js';
import { parseClientFacts, parseStorageFacts, storageFactsScript, type ClientHostFacts, type StorageHostFacts } from '../../../src/facts/gluster.js';
import { planFiles, type FilesGathered, type FilesSetting } from '../../../src/commands/migrate-storage/files.js';
import { compareManifests, type Manifest, type ManifestEntry } from '../../../src/components/migrate/files.js';
import { FRESH_OPTIONS, POOL_LIST_XML, model3, volumeInfoXml } from './fixtures.js';

const host = (name: string, address: string, roles: Host['roles']): Host => ({
  name,
  address,
  roles,
  ssh: { user: 'root', port: 22 } as Host['ssh'],
  labels: {},
});
const members = [host('moodle1', '10.0.0.11', ['storage']), host('moodle2', '10.0.0.12', ['storage']), host('moodle3', '10.0.0.13', ['storage'])];
const clients = [host('web1', '10.0.0.31', ['web']), host('web2', '10.0.0.32', ['web'])];
const storage: GlusterStorage = {
  kind: 'glusterfs',
  volume: 'moodledata',
  brick_path: '/storage/brick',
  mount_path: '/var/www/moodledata',
  owner: 'www-data',
  group: 'www-data',
  mode: '0770',
  force_root_brick: false,
};

/** A storage host's facts script output, as the host prints it. */
function storageOutput(o: { installed: boolean; active: boolean; mountPoint?: string; pool?: string; info?: string }): string {
  return [
    '@@packages',
    o.installed ? 'glusterfs-server\t10.3-5\tinstall ok installed' : '',
    '@@active',
    o.active ? 'active' : 'inactive',
    '@@enabled',
    o.active ? 'enabled' : 'disabled',
    '@@brick',
    `${o.mountPoint ?? '/storage'} /dev/vdb1 xfs`,
    '@@pool',
    o.active ? (o.pool ?? POOL_LIST_XML) : '',
    '@@info',
    o.active ? (o.info ?? '') : '',
  ].join('\n');
}

function storageFacts(o: Parameters<typeof storageOutput>[0]): Map<string, StorageHostFacts> {
  return new Map(members.map((m) => [m.name, parseStorageFacts(m.name, '/storage/brick', 'moodledata', storageOutput(o))]));
}

const WANTED_OPTIONS: Array<[string, string]> = [...FRESH_OPTIONS, ['cluster.quorum-type', 'auto'], ['cluster.server-quorum-type', 'server'], ['network.ping-timeout', '20']];

function summaries(changes: readonly PlannedChange[]): string[] {
  return changes.map((c) => `${c.host}: ${c.summary}`);
}

describe('GlusterFS volume plan', () => {
  it('reads the facts script output', () => {
    expect(storageFactsScript('moodledata', '/storage/brick')).toContain('gluster --mode=script volume info moodledata --xml');
    const f = parseStorageFacts('moodle1', '/storage/brick', 'moodledata', storageOutput({ installed: true, active: true, info: volumeInfoXml({}) }));
    expect(f.packages).toEqual({ 'glusterfs-server': '10.3-5' });
    expect(f.glusterdActive).toBe(true);
    expect(f.brick).toMatchObject({ mountPoint: '/storage', fsType: 'xfs' });
    expect(f.pool).toHaveLength(3);
    expect(f.volume?.status).toBe('Started');
  });

  it('on bare hosts: packages, glusterd, peers from the first host, create, quorum options before start', () => {
    const plan = planGlusterVolume(model3, members, { remotes: new Map(), facts: storageFacts({ installed: false, active: false }) });
    expect(summaries(plan.changes)).toEqual([
      'moodle1: install glusterfs-server (GlusterFS server for the brick)',
      'moodle2: install glusterfs-server (GlusterFS server for the brick)',
      'moodle3: install glusterfs-server (GlusterFS server for the brick)',
      'moodle1: enable glusterd at boot',
      'moodle1: start glusterd and wait until it answers',
      'moodle2: enable glusterd at boot',
      'moodle2: start glusterd and wait until it answers',
      'moodle3: enable glusterd at boot',
      'moodle3: start glusterd and wait until it answers',
      'moodle1: probe peer moodle2 (10.0.0.12) from moodle1',
      'moodle1: probe peer moodle3 (10.0.0.13) from moodle1',
      'moodle1: create volume moodledata: replica 3 on 10.0.0.11:/storage/brick, 10.0.0.12:/storage/brick, 10.0.0.13:/storage/brick',
      'moodle1: set cluster.quorum-type (default) -> auto on volume moodledata',
      'moodle1: set cluster.server-quorum-type (default) -> server on volume moodledata',
      'moodle1: set network.ping-timeout (default) -> 20 on volume moodledata',
      'moodle1: start volume moodledata',
    ]);
    const create = plan.changes.find((c) => c.kind === 'cluster' && c.step === 'volume-create') as ClusterChange;
    expect(create.detail).not.toMatch(/ force$/);
    expect(plan.facts?.find((f) => f.name === 'moodle1')?.facts).toMatchObject({ glusterfs: 'not installed', volume: 'absent' });
  });

  it('refuses bricks on the root filesystem unless forced, and then creates with force', () => {
    const facts = storageFacts({ installed: false, active: false, mountPoint: '/' });
    let error: unknown;
    try {
      planGlusterVolume(model3, members, { remotes: new Map(), facts });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DeployError);
    expect((error as DeployError).reason).toBe('invalid-inventory');
    expect((error as DeployError).message).toMatch(/moodle1:\/storage\/brick is on the root filesystem.*force_root_brick/);
    const forced = planGlusterVolume({ ...model3, allowRootFilesystem: true }, members, { remotes: new Map(), facts });
    expect((forced.changes.find((c) => c.kind === 'cluster' && c.step === 'volume-create') as ClusterChange).detail).toMatch(/ force$/);
  });

  it('an existing, started volume with every option: no changes; a changed option is shown as from -> to', () => {
    const done = planGlusterVolume(model3, members, { remotes: new Map(), facts: storageFacts({ installed: true, active: true, info: volumeInfoXml({ options: WANTED_OPTIONS }) }) });
    expect(done.changes).toEqual([]);
    const drifted = WANTED_OPTIONS.map(([k, v]): [string, string] => (k === 'network.ping-timeout' ? [k, '42'] : [k, v]));
    const plan = planGlusterVolume(model3, members, { remotes: new Map(), facts: storageFacts({ installed: true, active: true, info: volumeInfoXml({ options: drifted, status: 'Stopped' }) }) });
    expect(summaries(plan.changes)).toEqual(['moodle1: set network.ping-timeout 42 -> 20 on volume moodledata', 'moodle1: start volume moodledata (now Stopped)']);
  });
});

function clientOutput(o: { installed: boolean; fstab?: string; mounted?: boolean; root?: string }): string {
  return [
    '@@packages',
    o.installed ? 'glusterfs-client\t10.3-5\tinstall ok installed' : '',
    '@@fstab',
    Buffer.from(o.fstab ?? '# /etc/fstab\n').toString('base64'),
    '@@mounts',
    'overlay / overlay rw 0 0',
    o.mounted ? '10.0.0.11:/moodledata /var/www/moodledata fuse.glusterfs rw,relatime,user_id=0,group_id=0 0 0' : '',
    '@@root',
    o.mounted ? (o.root ?? '770 www-data www-data') : '',
    '@@ids',
    'owner',
    'group',
  ].join('\n');
}

const FSTAB_LINE = '10.0.0.11:/moodledata /var/www/moodledata glusterfs defaults,_netdev,backup-volfile-servers=10.0.0.12:10.0.0.13 0 0';

describe('GlusterFS client mounts plan', () => {
  const plan = (o: Parameters<typeof clientOutput>[0]) => {
    const facts = new Map<string, ClientHostFacts>(clients.map((c) => [c.name, parseClientFacts(clientOutput(o), { mountPath: storage.mount_path, volume: storage.volume })]));
    return planClientMounts(storage, members, clients, { remotes: new Map(), facts });
  };

  it('on bare clients: package, fstab entry with _netdev and backup volfile servers, mount; the root once', () => {
    expect(summaries(plan({ installed: false }).changes)).toEqual([
      'web1: install glusterfs-client (GlusterFS FUSE client for the mount)',
      'web2: install glusterfs-client (GlusterFS FUSE client for the mount)',
      `web1: mount moodledata at /var/www/moodledata at boot: ${FSTAB_LINE}`,
      'web1: mount moodledata at /var/www/moodledata (from fstab)',
      `web2: mount moodledata at /var/www/moodledata at boot: ${FSTAB_LINE}`,
      'web2: mount moodledata at /var/www/moodledata (from fstab)',
      'web1: volume root /var/www/moodledata: owner www-data:www-data, mode 0770 (seen by every client)',
    ]);
  });

  it('mounted with our entry and the right owner and mode: no changes; another owner is one change', () => {
    expect(plan({ installed: true, fstab: `# /etc/fstab\n${FSTAB_LINE}\n`, mounted: true }).changes).toEqual([]);
    expect(summaries(plan({ installed: true, fstab: `# /etc/fstab\n${FSTAB_LINE}\n`, mounted: true, root: '755 root root' }).changes)).toEqual([
      'web1: volume root /var/www/moodledata: owner www-data:www-data, mode 0770 (seen by every client)',
    ]);
  });
});

function manifest(entries: Array<Partial<ManifestEntry> & { path: string }>, hashed = false): Manifest {
  const map = new Map<string, ManifestEntry>();
  for (const e of entries) {
    map.set(e.path, { key: e.path, type: 'f', mode: '644', uid: 33, gid: 33, user: 'www-data', group: 'www-data', size: 10, mtime: '1700000000.1', ...(hashed ? { sha256: 'a'.repeat(64) } : {}), ...e });
  }
  return { entries: map, complete: true, hashed, listExit: 0, hashExit: 0, unhashed: [] };
}

describe('file copy plan', () => {
  const setting: FilesSetting = { source: host('old', '10.0.0.5', []), sourcePath: '/srv/moodledata', target: clients[0]!, storage };
  const source = manifest([{ path: 'a', size: 1000 }, { path: 'b', size: 24 }, { path: 'd', type: 'd', size: 4096 }]);
  const gathered = (g: Partial<FilesGathered>): FilesGathered => ({
    remotes: new Map(),
    sourceHasRsync: true,
    targetHasRsync: true,
    targetMounted: true,
    source,
    target: null,
    verification: null,
    ...g,
  });

  it('shows the files and bytes to move before anything moves, and rsync where missing', () => {
    const plan = planFiles(setting, gathered({ targetMounted: false, sourceHasRsync: false }));
    expect(summaries(plan.changes)).toEqual([
      'old: install rsync (copies the files)',
      'web1: copy 2 files, 1.0 KiB (3 entries) from old:/srv/moodledata into /var/www/moodledata, then verify SHA-256 manifests on both sides',
    ]);
    expect(plan.facts?.find((f) => f.name === 'old')?.facts['files to copy']).toBe('2 files, 1.0 KiB, 1 dirs, 0 symlinks (/srv/moodledata)');
  });

  it('after an interrupted copy, shows what is still to move', () => {
    const target = manifest([{ path: 'a', size: 1000 }]);
    expect(summaries(planFiles(setting, gathered({ target })).changes)).toEqual([
      'web1: copy 2 files, 1.0 KiB (3 entries); 1 files, 24 bytes still to move from old:/srv/moodledata into /var/www/moodledata, then verify SHA-256 manifests on both sides',
    ]);
  });

  it('a verified copy is no change; a content difference fails naming the file', () => {
    const hashedSource = manifest([{ path: 'a' }, { path: 'b' }], true);
    const same = compareManifests(hashedSource, manifest([{ path: 'a' }, { path: 'b' }], true));
    expect(planFiles(setting, gathered({ target: source, verification: same })).changes).toEqual([]);
    const corrupted = compareManifests(hashedSource, manifest([{ path: 'a' }, { path: 'b', sha256: 'b'.repeat(64) }], true));
    expect(() => planFiles(setting, gathered({ target: source, verification: corrupted }))).toThrow(/differing in \/var\/www\/moodledata: 1: "b \(sha256: a+ -> b+\)"/);
  });

  it('refuses, before anything moves, a target with files newer than the source (written after the cutover)', () => {
    // "a" was written on the volume after the copy; "b" is older there (an interrupted copy): only "a" blocks.
    const target = manifest([
      { path: 'a', size: 1200, mtime: '1700000500.0' },
      { path: 'b', size: 3, mtime: '0.0' },
    ]);
    const error = (() => {
      try {
        planFiles(setting, gathered({ target }));
      } catch (e) {
        return e as DeployError;
      }
      throw new Error('planFiles accepted a target with newer files');
    })();
    expect(error.reason).toBe('preflight-failed');
    expect(error.host).toBe('web1');
    expect(error.message).toBe(
      '/var/www/moodledata on web1 has 1 files newer than their copy on old:/srv/moodledata: "a". ' +
        'Something wrote them there after they were copied (the application, after the cutover?); the copy would replace them with older versions, so nothing was copied',
    );
    expect(error.hint).toMatch(/^If the application already runs on the volume, the migration is over: remove migrate\.files from the inventory\./);
    // The same second (filesystems keep different fractions) is not newer.
    expect(summaries(planFiles(setting, gathered({ target: manifest([{ path: 'a', size: 7, mtime: '1700000000.9' }]) })).changes)).toHaveLength(1);
  });
});
