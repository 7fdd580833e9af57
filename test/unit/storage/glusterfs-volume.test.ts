import { describe, expect, it } from 'vitest';
import {
  GlusterCliError,
  brickMountFactCommand,
  createVolumeCommand,
  desiredOptions,
  diffPeers,
  diffVolume,
  findVolume,
  glusterCommands,
  normalizeOptionValue,
  parseBrickMountFact,
  parsePeersXml,
  parseVolumeInfoXml,
  parseXml,
  validateVolumeModel,
  type BrickMountFact,
  type GlusterVolumeModel,
  type VolumeChange,
} from '../../../src/components/glusterfs/index.js';
import { DeployError } from '../../../src/errors.js';
import {
  FRESH_OPTIONS,
  GLUSTERD_DOWN,
  PEER_STATUS_XML,
  POOL_LIST_XML,
  U1,
  U2,
  VOLUME_MISSING_XML,
  bricks3,
  model3,
  modelArbiter,
  volumeInfoXml,
} from './fixtures.js';

function refusal(fn: () => void): DeployError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DeployError);
    return e as DeployError;
  }
  throw new Error('expected a refusal');
}

const mountsOn = (mp: string, model: GlusterVolumeModel = model3): BrickMountFact[] =>
  [...model.bricks, ...(model.arbiter ? [model.arbiter] : [])].map((b) => ({ host: b.host, path: b.path, mountPoint: mp, source: '/dev/sdb1', fsType: 'ext4' }));

describe('validateVolumeModel', () => {
  it('accepts replica 3 and replica 2 + arbiter on dedicated mounts', () => {
    expect(() => validateVolumeModel(model3, mountsOn('/storage'))).not.toThrow();
    expect(() => validateVolumeModel(modelArbiter, mountsOn('/storage', modelArbiter))).not.toThrow();
  });

  it('refuses plain replica 2 and says why and what to do', () => {
    const e = refusal(() => validateVolumeModel({ ...model3, bricks: model3.bricks.slice(0, 2) }));
    expect(e.reason).toBe('invalid-inventory');
    expect(e.message).toMatch(/plain replica 2 is refused/);
    expect(e.message).toMatch(/split brain/);
    expect(e.message).toMatch(/arbiter/);
  });

  it('refuses other brick counts', () => {
    expect(refusal(() => validateVolumeModel({ ...model3, bricks: [...model3.bricks, { host: 'x', address: '10.0.0.14', path: '/b' }] })).message).toMatch(/got 4/);
    expect(refusal(() => validateVolumeModel({ ...modelArbiter, bricks: model3.bricks })).message).toMatch(/exactly 2 data bricks/);
  });

  it('refuses a brick on the root filesystem unless forced', () => {
    const e = refusal(() => validateVolumeModel(model3, mountsOn('/')));
    expect(e.message).toMatch(/brick moodle1:\/storage\/brick is on the root filesystem/);
    expect(e.message).toMatch(/allowRootFilesystem/);
    expect(() => validateVolumeModel({ ...model3, allowRootFilesystem: true }, mountsOn('/'))).not.toThrow();
  });

  it('refuses a brick that is itself the mount point', () => {
    const atMount = { ...model3, bricks: model3.bricks.map((b) => ({ ...b, path: '/storage' })) };
    const e = refusal(() => validateVolumeModel(atMount, mountsOn('/storage', atMount)));
    expect(e.message).toMatch(/is itself a mount point/);
    expect(e.message).toMatch(/\/storage\/brick/);
  });

  it('refuses two bricks on one host, bad names and quorum none', () => {
    expect(refusal(() => validateVolumeModel({ ...model3, bricks: [model3.bricks[0]!, { ...model3.bricks[1]!, host: 'moodle1' }, model3.bricks[2]!] })).message).toMatch(/holds two bricks/);
    expect(refusal(() => validateVolumeModel({ ...model3, volume: 'moodle data' })).message).toMatch(/volume name/);
    expect(refusal(() => validateVolumeModel({ ...model3, bricks: model3.bricks.map((b) => ({ ...b, path: '/storage/../etc' })) })).message).toMatch(/must be absolute/);
    expect(refusal(() => validateVolumeModel({ ...model3, options: { 'cluster.quorum-type': 'none' } })).message).toMatch(/allows split brain/);
    expect(refusal(() => validateVolumeModel({ ...model3, options: { pingtimeout: '5' } })).message).toMatch(/group.name/);
  });

  it('collects every problem into one error', () => {
    const e = refusal(() => validateVolumeModel({ volume: 'bad name', bricks: model3.bricks.slice(0, 2), options: {} }));
    expect(e.message).toMatch(/volume name/);
    expect(e.message).toMatch(/replica 2/);
  });
});

describe('createVolumeCommand', () => {
  it('lists the bricks in order, no force', () => {
    expect(createVolumeCommand(model3)).toBe(
      'gluster --mode=script volume create moodledata replica 3 transport tcp 10.0.0.11:/storage/brick 10.0.0.12:/storage/brick 10.0.0.13:/storage/brick',
    );
  });
  it('puts the arbiter last with "arbiter 1"', () => {
    expect(createVolumeCommand(modelArbiter)).toBe(
      'gluster --mode=script volume create moodledata replica 3 arbiter 1 transport tcp 10.0.0.11:/storage/brick 10.0.0.12:/storage/brick 10.0.0.21:/storage/arbiter',
    );
  });
  it('adds force only for an allowed root-filesystem brick', () => {
    expect(createVolumeCommand(model3, mountsOn('/'))).not.toMatch(/force/);
    expect(createVolumeCommand({ ...model3, allowRootFilesystem: true }, mountsOn('/storage'))).not.toMatch(/force/);
    expect(createVolumeCommand({ ...model3, allowRootFilesystem: true }, mountsOn('/'))).toMatch(/ force$/);
  });
});

describe('desiredOptions', () => {
  it('has quorum and a shorter ping timeout by default', () => {
    expect(desiredOptions(model3)).toEqual({
      'cluster.quorum-type': 'auto',
      'cluster.server-quorum-type': 'server',
      'network.ping-timeout': '20',
    });
  });
  it('adds owner and auth.allow (with brick hosts and loopback), model options win', () => {
    const o = desiredOptions({ ...model3, options: { 'network.ping-timeout': '30' } }, { rootOwner: { uid: 33, gid: 33 }, allowedClients: ['10.0.0.31'] });
    expect(o['storage.owner-uid']).toBe('33');
    expect(o['storage.owner-gid']).toBe('33');
    expect(o['auth.allow']).toBe('127.0.0.1,10.0.0.11,10.0.0.12,10.0.0.13,10.0.0.31');
    expect(o['network.ping-timeout']).toBe('30');
  });
});

describe('brick mount facts', () => {
  it('walks up to an existing directory and asks findmnt in raw form', () => {
    const c = brickMountFactCommand('/storage/brick');
    expect(c).toContain('p=/storage/brick;');
    expect(c).toContain('findmnt -n -r -o TARGET,SOURCE,FSTYPE -T "$p"');
    expect(() => brickMountFactCommand('/x; rm -rf /')).toThrow();
  });
  it('parses findmnt raw output, unescaping spaces', () => {
    expect(parseBrickMountFact('moodle1', '/storage/brick', '/storage /dev/sdb1 ext4\n')).toEqual({
      host: 'moodle1',
      path: '/storage/brick',
      mountPoint: '/storage',
      source: '/dev/sdb1',
      fsType: 'ext4',
    });
    expect(parseBrickMountFact('h', '/a', '/mnt/my\\x20disk /dev/sdc1 xfs\n').mountPoint).toBe('/mnt/my disk');
    expect(parseBrickMountFact('h', '/a', '/ /dev/sda1 ext4\n').mountPoint).toBe('/');
  });
});

describe('parseXml', () => {
  it('reads mixed content, attributes, entities and self-closing tags', () => {
    const r = parseXml('<?xml version="1.0"?>\n<a x="1 &amp; 2"><b>t&lt;&#233;&#x41;</b>text<c/><!-- c --></a>');
    expect(r.attrs.x).toBe('1 & 2');
    expect(r.children.map((c) => c.name)).toEqual(['b', 'c']);
    expect(r.children[0]!.text).toBe('t<éA');
    expect(r.text).toBe('text');
  });
  it('throws on mismatched tags and truncated documents', () => {
    expect(() => parseXml('<a><b></a>')).toThrow(/does not match/);
    expect(() => parseXml('<a><b>')).toThrow(/unclosed/);
    expect(() => parseXml('')).toThrow(/no root/);
  });
});

describe('parseVolumeInfoXml', () => {
  it('reads type, status, counts, bricks and options', () => {
    const v = findVolume(parseVolumeInfoXml(volumeInfoXml({})), 'moodledata')!;
    expect(v).toMatchObject({ name: 'moodledata', status: 'Started', type: 'Replicate', brickCount: 3, replicaCount: 3, arbiterCount: 0 });
    expect(v.bricks[1]).toEqual({ name: '10.0.0.12:/storage/brick', address: '10.0.0.12', path: '/storage/brick', hostUuid: U2, isArbiter: false });
    expect(v.options).toEqual(Object.fromEntries(FRESH_OPTIONS));
  });
  it('marks the arbiter brick', () => {
    const v = parseVolumeInfoXml(volumeInfoXml({ bricks: [bricks3.b1, bricks3.b2, bricks3.arb], arbiterCount: 1 }))[0]!;
    expect(v.bricks.map((b) => b.isArbiter)).toEqual([false, false, true]);
    expect(v.arbiterCount).toBe(1);
  });
  it('treats "does not exist" as no volume, and glusterd down as an error', () => {
    expect(parseVolumeInfoXml(VOLUME_MISSING_XML)).toEqual([]);
    expect(findVolume([], 'moodledata')).toBeNull();
    expect(() => parseVolumeInfoXml(GLUSTERD_DOWN)).toThrow(GlusterCliError);
    expect(() => parseVolumeInfoXml(GLUSTERD_DOWN)).toThrow(/Connection failed/);
  });
});

describe('peers', () => {
  it('parses peer status XML with all host names', () => {
    const p = parsePeersXml(PEER_STATUS_XML);
    expect(p).toHaveLength(2);
    expect(p[0]).toEqual({ uuid: U2, hostname: '10.0.0.12', hostnames: ['10.0.0.12', 'moodle2'], connected: true, state: 'Peer in Cluster' });
    expect(p[1]!.connected).toBe(false);
  });
  it('parses pool list XML including localhost', () => {
    const p = parsePeersXml(POOL_LIST_XML);
    expect(p.map((x) => x.hostname)).toEqual(['10.0.0.12', '10.0.0.13', 'localhost']);
    expect(p[2]!.uuid).toBe(U1);
  });
  it('probes only missing members, never itself, and reports rejected peers', () => {
    const members = model3.bricks.map((b) => ({ host: b.host, address: b.address }));
    const self = members[0]!;
    expect(diffPeers(self, members, parsePeersXml(POOL_LIST_XML))).toEqual([]);
    const onlyOne = parsePeersXml(POOL_LIST_XML).filter((p) => p.hostname !== '10.0.0.13');
    expect(diffPeers(self, members, onlyOne)).toEqual([
      { action: 'peer-probe', host: 'moodle3', address: '10.0.0.13', command: 'gluster --mode=script peer probe 10.0.0.13', summary: 'probe peer moodle3 (10.0.0.13) from moodle1' },
    ]);
    const rejected = parsePeersXml(POOL_LIST_XML).map((p) => (p.hostname === '10.0.0.13' ? { ...p, state: 'Peer Rejected' } : p));
    const c = diffPeers(self, members, rejected);
    expect(c).toHaveLength(1);
    expect(c[0]!.action).toBe('manual');
  });
});

describe('diffVolume', () => {
  const infoWith = (opts: Parameters<typeof volumeInfoXml>[0]) => parseVolumeInfoXml(volumeInfoXml(opts))[0]!;
  const ours: Array<[string, string]> = [...FRESH_OPTIONS, ['cluster.quorum-type', 'auto'], ['cluster.server-quorum-type', 'server'], ['network.ping-timeout', '20']];

  it('creates, sets options, then starts a missing volume', () => {
    const c = diffVolume(model3, null);
    expect(c.map((x) => x.action)).toEqual(['create', 'set-option', 'set-option', 'set-option', 'start']);
    expect(c[0]!.action === 'create' && c[0]!.command).toBe(createVolumeCommand(model3));
    expect(c.slice(1, 4).map((x) => (x as Extract<VolumeChange, { action: 'set-option' }>).command)).toEqual([
      'gluster --mode=script volume set moodledata cluster.quorum-type auto',
      'gluster --mode=script volume set moodledata cluster.server-quorum-type server',
      'gluster --mode=script volume set moodledata network.ping-timeout 20',
    ]);
    expect(c[4]).toEqual({ action: 'start', command: 'gluster --mode=script volume start moodledata', summary: 'start volume moodledata' });
  });

  it('is empty when everything matches (second apply reports zero changes)', () => {
    expect(diffVolume(model3, infoWith({ options: ours }))).toEqual([]);
  });

  it('sets only the options that differ, showing from and to', () => {
    const c = diffVolume(model3, infoWith({ options: [...FRESH_OPTIONS, ['cluster.quorum-type', 'fixed'], ['network.ping-timeout', '20']] }));
    expect(c).toEqual([
      {
        action: 'set-option',
        option: 'cluster.quorum-type',
        from: 'fixed',
        to: 'auto',
        command: 'gluster --mode=script volume set moodledata cluster.quorum-type auto',
        summary: 'set cluster.quorum-type fixed -> auto on volume moodledata',
      },
      {
        action: 'set-option',
        option: 'cluster.server-quorum-type',
        from: null,
        to: 'server',
        command: 'gluster --mode=script volume set moodledata cluster.server-quorum-type server',
        summary: 'set cluster.server-quorum-type (default) -> server on volume moodledata',
      },
    ]);
  });

  it('treats boolean spellings as equal', () => {
    expect(normalizeOptionValue('Enable')).toBe(normalizeOptionValue('on'));
    expect(diffVolume({ ...model3, options: { 'performance.client-io-threads': 'disable' } }, infoWith({ options: ours }))).toEqual([]);
  });

  it('starts a stopped volume', () => {
    const c = diffVolume(model3, infoWith({ options: ours, status: 'Stopped', statusCode: 2 }));
    expect(c).toEqual([{ action: 'start', command: 'gluster --mode=script volume start moodledata', summary: 'start volume moodledata (now Stopped)' }]);
  });

  it('turns replica 2 into replica 3 only as an approved add-brick', () => {
    const info = infoWith({ options: ours, bricks: [bricks3.b1, bricks3.b2], replicaCount: 2 });
    const c = diffVolume(model3, info);
    expect(c).toHaveLength(1);
    const add = c[0]!;
    expect(add.action).toBe('add-brick');
    if (add.action !== 'add-brick') return;
    expect(add.requiresApproval).toBe(true);
    expect(add.command).toBe('gluster --mode=script volume add-brick moodledata replica 3 10.0.0.13:/storage/brick');
    expect(add.detail).toMatch(/heal/);
  });

  it('adds an arbiter to replica 2 as "replica 3 arbiter 1"', () => {
    const info = infoWith({ options: ours, bricks: [bricks3.b1, bricks3.b2], replicaCount: 2 });
    const c = diffVolume(modelArbiter, info);
    expect(c[0]!.action === 'add-brick' && c[0]!.command).toBe('gluster --mode=script volume add-brick moodledata replica 3 arbiter 1 10.0.0.21:/storage/arbiter');
  });

  it('never touches unknown bricks, wrong roles or other volume types', () => {
    const foreign = infoWith({ options: ours, bricks: [bricks3.b1, bricks3.b2, bricks3.b3.replace(/10\.0\.0\.13/g, '10.0.0.99')] });
    const c = diffVolume(model3, foreign);
    expect(c.map((x) => x.action)).toEqual(['manual']);
    expect(c[0]!.summary).toMatch(/10\.0\.0\.99/);

    const asData = infoWith({ options: ours, bricks: [bricks3.b1, bricks3.b2, bricks3.arb.replace('<isArbiter>1', '<isArbiter>0')] });
    expect(diffVolume(modelArbiter, asData)[0]!.summary).toMatch(/is a data brick but the inventory says arbiter/);

    const disperse = infoWith({ options: ours, typeStr: 'Disperse' });
    expect(diffVolume(model3, disperse)).toEqual([expect.objectContaining({ action: 'manual', summary: 'volume moodledata is of type Disperse, not Replicate' })]);
  });

  it('matches bricks by inventory host name too', () => {
    const byName = infoWith({ options: ours, bricks: [bricks3.b1.replace(/10\.0\.0\.11/g, 'moodle1'), bricks3.b2, bricks3.b3] });
    expect(diffVolume(model3, byName)).toEqual([]);
  });
});

describe('glusterCommands', () => {
  it('always uses script mode and XML for what is parsed', () => {
    expect(glusterCommands.volumeInfo('moodledata')).toBe('gluster --mode=script volume info moodledata --xml');
    expect(glusterCommands.volumeStatusDetail('moodledata')).toBe('gluster --mode=script volume status moodledata detail --xml');
    expect(glusterCommands.healInfoSummary('moodledata')).toBe('gluster --mode=script volume heal moodledata info summary --xml');
    expect(glusterCommands.healInfoSplitBrain('moodledata')).toBe('gluster --mode=script volume heal moodledata info split-brain --xml');
    expect(glusterCommands.poolList()).toBe('gluster --mode=script pool list --xml');
    expect(glusterCommands.volumeSet('v', 'auth.allow', 'a b')).toBe("gluster --mode=script volume set v auth.allow 'a b'");
  });
});
