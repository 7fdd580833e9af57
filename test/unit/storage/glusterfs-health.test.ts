import { describe, expect, it } from 'vitest';
import {
  brickChecks,
  bricksNotOnline,
  disconnectedMembers,
  escapeFstabField,
  findGlusterMount,
  healChecks,
  mountChecks,
  parseFstab,
  parseHealSummaryXml,
  parseMounts,
  parsePeersXml,
  parseSplitBrainXml,
  parseVolumeInfoXml,
  parseVolumeStatusXml,
  parseWriteProbe,
  peerChecks,
  renderFstabLine,
  upsertFstabEntry,
  volumeChecks,
  writeProbeCommand,
  type GlusterMountSpec,
} from '../../../src/components/glusterfs/index.js';
import { worstStatus, type CheckResult } from '../../../src/check.js';
import { DeployError } from '../../../src/errors.js';
import {
  FRESH_OPTIONS,
  POOL_LIST_XML,
  PROC_MOUNTS,
  SPLIT_BRAIN_XML,
  U1,
  VOLUME_NOT_STARTED_XML,
  healSummaryXml,
  model3,
  volumeInfoXml,
  volumeStatusXml,
} from './fixtures.js';

const failing = (rs: CheckResult[]) => rs.filter((r) => r.status === 'fail').map((r) => r.check);
const warning = (rs: CheckResult[]) => rs.filter((r) => r.status === 'warn').map((r) => r.check);
const members = model3.bricks.map((b) => ({ host: b.host, address: b.address }));

describe('parseVolumeStatusXml', () => {
  it('reads bricks with detail and skips daemons into their own list', () => {
    const s = parseVolumeStatusXml(volumeStatusXml(), 'moodledata');
    expect(s.started).toBe(true);
    expect(s.bricks).toHaveLength(3);
    expect(s.bricks[0]).toEqual({
      name: '10.0.0.11:/storage/brick',
      hostname: '10.0.0.11',
      path: '/storage/brick',
      peerId: U1,
      online: true,
      port: 49152,
      pid: 1415,
      sizeTotal: 53660876800,
      sizeFree: 41221225472,
      device: '/dev/sdb1',
      fsName: 'ext4',
    });
    const plain = parseVolumeStatusXml(volumeStatusXml({ detail: false }), 'moodledata');
    expect(plain.bricks[0]!.sizeTotal).toBeUndefined();
    expect(plain.daemons).toEqual([{ name: 'Self-heal Daemon', host: 'localhost', online: true }]);
  });
  it('shows an offline brick with no port or pid', () => {
    const b = parseVolumeStatusXml(volumeStatusXml({ offline3: true }), 'moodledata').bricks[2]!;
    expect(b).toMatchObject({ online: false, port: null, pid: null });
  });
  it('reads "not started" as a stopped volume', () => {
    expect(parseVolumeStatusXml(VOLUME_NOT_STARTED_XML, 'moodledata')).toEqual({ volume: 'moodledata', started: false, bricks: [], daemons: [] });
  });
});

describe('heal parsers', () => {
  it('reads the XML summary, "-" as unknown for an unreachable brick', () => {
    const h = parseHealSummaryXml(healSummaryXml(null, [12, 12, 0, 0]));
    expect(h[0]).toEqual({ brick: '10.0.0.11:/storage/brick', status: 'Connected', connected: true, total: 12, pending: 12, splitBrain: 0, possiblyHealing: 0 });
    expect(h[2]).toEqual({
      brick: '10.0.0.13:/storage/brick',
      status: 'Transport endpoint is not connected',
      connected: false,
      total: null,
      pending: null,
      splitBrain: null,
      possiblyHealing: null,
    });
  });
  it('reads split-brain files, entities decoded', () => {
    const s = parseSplitBrainXml(SPLIT_BRAIN_XML);
    expect(s[0]).toEqual({ brick: '10.0.0.11:/storage/brick', status: 'Connected', connected: true, entries: 1, files: ['/filedir/0c/5f/0c5f1 & <draft>.pdf'] });
    expect(s[1]!.entries).toBe(0);
  });
});

describe('health checks', () => {
  const healthyInfo = parseVolumeInfoXml(
    volumeInfoXml({ options: [...FRESH_OPTIONS, ['cluster.quorum-type', 'auto'], ['cluster.server-quorum-type', 'server']] }),
  )[0]!;

  it('a healthy volume passes every check', () => {
    const status = parseVolumeStatusXml(volumeStatusXml(), 'moodledata');
    const rs = [
      ...peerChecks(members[0]!, members, parsePeersXml(POOL_LIST_XML)),
      ...volumeChecks('moodle1', model3, healthyInfo),
      ...brickChecks('moodle1', model3, status),
      ...healChecks('moodle1', model3, parseHealSummaryXml(healSummaryXml()), bricksNotOnline(model3, status), parseSplitBrainXml(SPLIT_BRAIN_XML.replace('<numberOfEntries>1', '<numberOfEntries>0').replace(/<file[^]*?<\/file>/, ''))),
      ...mountChecks('moodle1', { volume: 'moodledata', mountPoint: '/var/www/moodledata' }, parseMounts(PROC_MOUNTS), { ok: true, detail: '' }),
    ];
    expect(failing(rs)).toEqual([]);
    expect(warning(rs)).toEqual([]);
    expect(worstStatus(rs)).toBe('ok');
    expect(rs.every((r) => r.layer === 'storage')).toBe(true);
    expect(rs.map((r) => r.check)).toContain('volume moodledata cluster.quorum-type');
  });

  it('a disconnected peer fails its peer check; its unreported brick only warns', () => {
    const pool = parsePeersXml(POOL_LIST_XML.replace(/(<hostname>10\.0\.0\.13<\/hostname>[^]*?<connected>)1/, '$10'));
    const peers = peerChecks(members[0]!, members, pool);
    expect(failing(peers)).toEqual(['gluster peer moodle3']);
    expect(peers.find((r) => r.status === 'fail')!.observed).toBe('Peer in Cluster (Disconnected)');
    const status = parseVolumeStatusXml(volumeStatusXml({ omit3: true }), 'moodledata');
    const bricks = brickChecks('moodle1', model3, status, disconnectedMembers(members, pool));
    expect(failing(bricks)).toEqual([]);
    expect(warning(bricks)).toEqual(['brick 10.0.0.13:/storage/brick']);
    // Without knowing the peer is down, a missing brick is a failure.
    expect(failing(brickChecks('moodle1', model3, status))).toEqual(['brick 10.0.0.13:/storage/brick']);
  });

  it('a brick running without a registered port (the restart race) fails with the repair that works', () => {
    // As `volume status` showed it in the lab: online, pid set, port N/A.
    const bricks = brickChecks('moodle1', model3, parseVolumeStatusXml(volumeStatusXml({ noPort3: true }), 'moodledata'));
    expect(failing(bricks)).toEqual(['brick 10.0.0.13:/storage/brick']);
    const row = bricks.find((r) => r.status === 'fail')!;
    expect(row.observed).toBe('online (pid 1402, port N/A)');
    // Not "restart glusterd": that adopts the same portless process.
    expect(row.hint).not.toMatch(/restart glusterd/);
    expect(row.hint).toContain('migrate-storage --mode apply');
    expect(row.hint).toContain('on moodle3: kill 1402');
    expect(row.hint).toContain('gluster --mode=script volume start moodledata force');
    // Heal cannot reach it either: that follows from the brick fault and only warns, so the table points at the cause.
    const status = parseVolumeStatusXml(volumeStatusXml({ noPort3: true }), 'moodledata');
    expect(bricksNotOnline(model3, status)).toEqual(['10.0.0.13:/storage/brick']);
    const heal = healChecks('moodle1', model3, parseHealSummaryXml(healSummaryXml(null, [2, 2, 0, 0])), bricksNotOnline(model3, status));
    expect(failing(heal)).toEqual([]);
    expect(warning(heal)).toEqual(['heal pending 10.0.0.11:/storage/brick', 'heal pending 10.0.0.12:/storage/brick', 'heal 10.0.0.13:/storage/brick']);
  });

  it('a dead brick fails the brick check; heal backlog elsewhere only warns meanwhile', () => {
    const status = parseVolumeStatusXml(volumeStatusXml({ offline3: true }), 'moodledata');
    const bricks = brickChecks('moodle1', model3, status);
    expect(failing(bricks)).toEqual(['brick 10.0.0.13:/storage/brick']);
    const down = bricksNotOnline(model3, status);
    expect(down).toEqual(['10.0.0.13:/storage/brick']);
    const heal = healChecks('moodle1', model3, parseHealSummaryXml(healSummaryXml(null, [3, 3, 0, 0])), down);
    expect(failing(heal)).toEqual([]);
    expect(warning(heal)).toEqual(['heal pending 10.0.0.11:/storage/brick', 'heal pending 10.0.0.12:/storage/brick', 'heal 10.0.0.13:/storage/brick']);
  });

  it('pending heal with every brick up fails; split brain always fails', () => {
    const heal = healChecks('moodle1', model3, parseHealSummaryXml(healSummaryXml([0, 0, 0, 0], [4, 4, 0, 0])), []);
    expect(failing(heal)).toEqual(['heal pending 10.0.0.11:/storage/brick', 'heal pending 10.0.0.12:/storage/brick']);
    const sb = healChecks('moodle1', model3, parseHealSummaryXml(healSummaryXml()), ['10.0.0.13:/storage/brick'], parseSplitBrainXml(SPLIT_BRAIN_XML));
    expect(failing(sb)).toEqual(['split-brain 10.0.0.11:/storage/brick']);
    expect(sb.find((r) => r.check === 'split-brain 10.0.0.11:/storage/brick')!.observed).toBe('1: /filedir/0c/5f/0c5f1 & <draft>.pdf');
  });

  it('in-flight heals warn', () => {
    const heal = healChecks('moodle1', model3, parseHealSummaryXml(healSummaryXml([1, 0, 0, 1])));
    expect(warning(heal)).toEqual(['heal in progress 10.0.0.13:/storage/brick']);
  });

  it('fails a volume without quorum options or not started, and a missing volume', () => {
    const noQuorum = parseVolumeInfoXml(volumeInfoXml({ status: 'Stopped', statusCode: 2 }))[0]!;
    expect(failing(volumeChecks('moodle1', model3, noQuorum))).toEqual([
      'volume moodledata',
      'volume moodledata cluster.quorum-type',
      'volume moodledata cluster.server-quorum-type',
    ]);
    expect(volumeChecks('moodle1', model3, null)).toEqual([
      { layer: 'storage', host: 'moodle1', check: 'volume moodledata', expected: 'exists, Started', observed: 'does not exist', status: 'fail', hint: 'Run migrate-storage to create it.' },
    ]);
  });

  it('warns about a nearly full brick disk', () => {
    const status = parseVolumeStatusXml(volumeStatusXml(), 'moodledata');
    const full = { ...status, bricks: status.bricks.map((b) => ({ ...b, sizeFree: 1_000_000_000 })) };
    const rs = brickChecks('moodle1', model3, full);
    expect(warning(rs)).toHaveLength(3);
    expect(rs.find((r) => r.check.endsWith('disk'))!.observed).toBe('98% used');
  });


  it('an unmounted client fails the mount check only', () => {
    const mounts = parseMounts(PROC_MOUNTS).filter((m) => m.mountPoint !== '/var/www/moodledata');
    const rs = mountChecks('moodle2', { volume: 'moodledata', mountPoint: '/var/www/moodledata' }, mounts, undefined);
    expect(rs).toEqual([expect.objectContaining({ check: 'mount /var/www/moodledata', observed: 'not mounted', status: 'fail' })]);
    const unwritable = mountChecks('moodle2', { volume: 'moodledata', mountPoint: '/var/www/moodledata' }, parseMounts(PROC_MOUNTS), { ok: false, detail: 'Read-only file system' });
    expect(failing(unwritable)).toEqual(['mount /var/www/moodledata writable']);
  });
});

describe('client mounts', () => {
  const spec: GlusterMountSpec = { servers: ['10.0.0.11', '10.0.0.12', '10.0.0.13'], volume: 'moodledata', mountPoint: '/var/www/moodledata' };

  it('renders the fstab line with _netdev and backup volfile servers', () => {
    expect(renderFstabLine(spec)).toBe('10.0.0.11:/moodledata /var/www/moodledata glusterfs defaults,_netdev,backup-volfile-servers=10.0.0.12:10.0.0.13 0 0');
    expect(renderFstabLine({ ...spec, servers: ['localhost'], localServer: true, mountPoint: '/srv/moodle data/' })).toBe(
      'localhost:/moodledata /srv/moodle\\040data glusterfs defaults,_netdev,x-systemd.requires=glusterd.service 0 0',
    );
    expect(() => renderFstabLine({ ...spec, mountPoint: 'relative' })).toThrow(DeployError);
  });

  it('adds our entry once and is idempotent', () => {
    const base = '# /etc/fstab\nUUID=1234 / ext4 errors=remount-ro 0 1\n/dev/sdb1 /storage ext4 defaults 0 2\n';
    const first = upsertFstabEntry(base, spec);
    expect(first.changed).toBe(true);
    expect(first.content).toBe(`${base}${renderFstabLine(spec)}\n`);
    const second = upsertFstabEntry(first.content, spec);
    expect(second).toEqual({ content: first.content, changed: false, line: renderFstabLine(spec) });
  });

  it('replaces an older entry in place (the seed line), drops duplicates, keeps everything else', () => {
    const seed = 'UUID=1234 / ext4 defaults 0 1\nlocalhost:/moodledata /var/www/moodledata glusterfs defaults,_netdev 0 0\n# keep me\n10.0.0.12:/moodledata /var/www/moodledata/ glusterfs defaults 0 0\n';
    const r = upsertFstabEntry(seed, spec);
    expect(r.content).toBe(`UUID=1234 / ext4 defaults 0 1\n${renderFstabLine(spec)}\n# keep me\n`);
  });

  it('refuses to stack the volume on another filesystem configured at the same place', () => {
    expect(() => upsertFstabEntry('/dev/sdc1 /var/www/moodledata ext4 defaults 0 2\n', spec)).toThrow(/already mounts \/dev\/sdc1 \(ext4\)/);
  });

  it('parses fstab and /proc/mounts escapes', () => {
    expect(parseFstab('a\\040b /mnt/x\\040y nfs rw 0 0\n')[0]).toMatchObject({ spec: 'a b', file: '/mnt/x y', options: ['rw'] });
    expect(escapeFstabField('a b\\c')).toBe('a\\040b\\134c');
    const m = parseMounts(PROC_MOUNTS);
    expect(findGlusterMount(m, '/var/www/moodledata', 'moodledata')).toMatchObject({ source: '10.0.0.11:/moodledata', fsType: 'fuse.glusterfs' });
    expect(findGlusterMount(m, '/var/www/moodledata', 'other')).toBeNull();
    expect(findGlusterMount(m, '/storage')).toBeNull();
    expect(findGlusterMount(m, '/srv/with space', 'other')).not.toBeNull();
  });

  it('sees a mount hidden by a later one as absent', () => {
    const over = `${PROC_MOUNTS}tmpfs /var/www/moodledata tmpfs rw 0 0\n`;
    expect(findGlusterMount(parseMounts(over), '/var/www/moodledata', 'moodledata')).toBeNull();
  });

  it('builds a bounded write probe and reads its result', () => {
    const c = writeProbeCommand('/var/www/moodledata');
    expect(c.startsWith('timeout -k 2 10 sh -c ')).toBe(true);
    expect(c).toContain('.lms-ha-probe.');
    expect(parseWriteProbe({ code: 0, stdout: 'lms-ha-probe-ok\n', stderr: '' })).toEqual({ ok: true, detail: 'write, read back and remove succeeded' });
    expect(parseWriteProbe({ code: 124, stdout: '', stderr: '' })).toEqual({ ok: false, detail: 'timed out: the mount is hung' });
    expect(parseWriteProbe({ code: 1, stdout: '', stderr: "sh: 1: cannot create /var/www/moodledata/.x: Read-only file system\n" }).detail).toMatch(/Read-only/);
  });
});
