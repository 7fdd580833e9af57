/**
 * Gluster CLI output as GlusterFS 10 prints it (Debian 12 ships 10.3), built
 * from the CLI's and glfsheal's XML writers (cli/src/cli-xml-output.c,
 * heal/src/glfs-heal.c) and published outputs of the same commands. Addresses
 * follow the Moodle seed's three web+db+brick nodes.
 */
import type { GlusterVolumeModel } from '../../../src/components/glusterfs/index.js';

export const U1 = '3a8b1f0e-6c2d-4e5f-8a9b-0c1d2e3f4a51';
export const U2 = 'dd976496-fda4-4ace-801e-7ee55461b458';
export const U3 = '27a81fba-c529-4c2c-9cf7-2dcaf5880cef';

export const model3: GlusterVolumeModel = {
  volume: 'moodledata',
  bricks: [
    { host: 'moodle1', address: '10.0.0.11', path: '/storage/brick' },
    { host: 'moodle2', address: '10.0.0.12', path: '/storage/brick' },
    { host: 'moodle3', address: '10.0.0.13', path: '/storage/brick' },
  ],
  options: {},
};

export const modelArbiter: GlusterVolumeModel = {
  volume: 'moodledata',
  bricks: [
    { host: 'moodle1', address: '10.0.0.11', path: '/storage/brick' },
    { host: 'moodle2', address: '10.0.0.12', path: '/storage/brick' },
  ],
  arbiter: { host: 'lb1', address: '10.0.0.21', path: '/storage/arbiter' },
  options: {},
};

const brick = (addr: string, path: string, uuid: string, arbiter = 0) =>
  `          <brick uuid="${uuid}">${addr}:${path}<name>${addr}:${path}</name><hostUuid>${uuid}</hostUuid><isArbiter>${arbiter}</isArbiter></brick>`;

const option = (name: string, value: string) => `          <option>
            <name>${name}</name>
            <value>${value}</value>
          </option>`;

/** The options a fresh replicate volume shows on GlusterFS 10 before anyone sets any. */
export const FRESH_OPTIONS: Array<[string, string]> = [
  ['cluster.granular-entry-heal', 'on'],
  ['storage.fips-mode-rchecksum', 'on'],
  ['transport.address-family', 'inet'],
  ['nfs.disable', 'on'],
  ['performance.client-io-threads', 'off'],
];

export function volumeInfoXml(opts: {
  status?: string;
  statusCode?: number;
  bricks?: string[];
  options?: Array<[string, string]>;
  replicaCount?: number;
  arbiterCount?: number;
  typeStr?: string;
}): string {
  const options = opts.options ?? FRESH_OPTIONS;
  const bricks = opts.bricks ?? [brick('10.0.0.11', '/storage/brick', U1), brick('10.0.0.12', '/storage/brick', U2), brick('10.0.0.13', '/storage/brick', U3)];
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <opRet>0</opRet>
  <opErrno>0</opErrno>
  <opErrstr/>
  <volInfo>
    <volumes>
      <volume>
        <name>moodledata</name>
        <id>5f2b7c1e-3d4a-4b8e-9c0d-1a2b3c4d5e6f</id>
        <status>${opts.statusCode ?? 1}</status>
        <statusStr>${opts.status ?? 'Started'}</statusStr>
        <snapshotCount>0</snapshotCount>
        <brickCount>${bricks.length}</brickCount>
        <distCount>1</distCount>
        <replicaCount>${opts.replicaCount ?? 3}</replicaCount>
        <arbiterCount>${opts.arbiterCount ?? 0}</arbiterCount>
        <disperseCount>0</disperseCount>
        <redundancyCount>0</redundancyCount>
        <type>2</type>
        <typeStr>${opts.typeStr ?? 'Replicate'}</typeStr>
        <transport>0</transport>
        <bricks>
${bricks.join('\n')}
        </bricks>
        <optCount>${options.length}</optCount>
        <options>
${options.map(([k, v]) => option(k, v)).join('\n')}
        </options>
      </volume>
      <count>1</count>
    </volumes>
  </volInfo>
</cliOutput>
`;
}

export const bricks3 = {
  b1: brick('10.0.0.11', '/storage/brick', U1),
  b2: brick('10.0.0.12', '/storage/brick', U2),
  b3: brick('10.0.0.13', '/storage/brick', U3),
  arb: brick('10.0.0.21', '/storage/arbiter', U3, 1),
};

export const VOLUME_MISSING_XML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <opRet>-1</opRet>
  <opErrno>30806</opErrno>
  <opErrstr>Volume moodledata does not exist</opErrstr>
</cliOutput>
`;

export const GLUSTERD_DOWN = 'Connection failed. Please check if gluster daemon is operational.\n';

/** `gluster peer status --xml` on moodle1. */
export const PEER_STATUS_XML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <opRet>0</opRet>
  <opErrno>0</opErrno>
  <opErrstr/>
  <peerStatus>
    <peer>
      <uuid>${U2}</uuid>
      <hostname>10.0.0.12</hostname>
      <hostnames>
        <hostname>10.0.0.12</hostname>
        <hostname>moodle2</hostname>
      </hostnames>
      <connected>1</connected>
      <state>3</state>
      <stateStr>Peer in Cluster</stateStr>
    </peer>
    <peer>
      <uuid>${U3}</uuid>
      <hostname>10.0.0.13</hostname>
      <hostnames>
        <hostname>10.0.0.13</hostname>
      </hostnames>
      <connected>0</connected>
      <state>3</state>
      <stateStr>Peer in Cluster</stateStr>
    </peer>
  </peerStatus>
</cliOutput>
`;

/** `gluster pool list --xml` on moodle1: the same peers plus itself as localhost. */
export const POOL_LIST_XML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <opRet>0</opRet>
  <opErrno>0</opErrno>
  <opErrstr/>
  <peerStatus>
    <peer>
      <uuid>${U2}</uuid>
      <hostname>10.0.0.12</hostname>
      <hostnames>
        <hostname>10.0.0.12</hostname>
      </hostnames>
      <connected>1</connected>
      <state>3</state>
      <stateStr>Peer in Cluster</stateStr>
    </peer>
    <peer>
      <uuid>${U3}</uuid>
      <hostname>10.0.0.13</hostname>
      <hostnames>
        <hostname>10.0.0.13</hostname>
      </hostnames>
      <connected>1</connected>
      <state>3</state>
      <stateStr>Peer in Cluster</stateStr>
    </peer>
    <peer>
      <uuid>${U1}</uuid>
      <hostname>localhost</hostname>
      <connected>1</connected>
      <state>3</state>
      <stateStr>Peer in Cluster</stateStr>
    </peer>
  </peerStatus>
</cliOutput>
`;

const statusNode = (host: string, path: string, peer: string, online: boolean, port: number | 'N/A', pid: number, detail = true) => `        <node>
          <hostname>${host}</hostname>
          <path>${path}</path>
          <peerid>${peer}</peerid>
          <status>${online ? 1 : 0}</status>
          <port>${online ? port : 'N/A'}</port>
          <ports>
            <tcp>${online ? port : 'N/A'}</tcp>
            <rdma>N/A</rdma>
          </ports>
          <pid>${online ? pid : -1}</pid>${
            detail
              ? `
          <sizeTotal>53660876800</sizeTotal>
          <sizeFree>${path.includes('arbiter') ? 53000000000 : 41221225472}</sizeFree>
          <device>/dev/sdb1</device>
          <blockSize>4096</blockSize>
          <mntOptions>rw,relatime</mntOptions>
          <fsName>ext4</fsName>
          <inodeSize>ext4</inodeSize>
          <inodesTotal>3276800</inodesTotal>
          <inodesFree>3276000</inodesFree>`
              : ''
          }
        </node>`;

/**
 * `gluster volume status moodledata detail --xml`; moodle3's brick offline,
 * not listed, or (noPort3) online without a port, as the GlusterFS 10.3
 * restart race leaves it.
 */
export function volumeStatusXml(opts: { offline3?: boolean; omit3?: boolean; noPort3?: boolean; detail?: boolean } = {}): string {
  const d = opts.detail ?? true;
  const nodes = [statusNode('10.0.0.11', '/storage/brick', U1, true, 49152, 1415, d), statusNode('10.0.0.12', '/storage/brick', U2, true, 49152, 1398, d)];
  if (!opts.omit3) nodes.push(statusNode('10.0.0.13', '/storage/brick', U3, !opts.offline3, opts.noPort3 ? 'N/A' : 49152, 1402, d));
  if (!d) {
    nodes.push(`        <node>
          <hostname>Self-heal Daemon</hostname>
          <path>localhost</path>
          <peerid>${U1}</peerid>
          <status>1</status>
          <port>N/A</port>
          <ports>
            <tcp>N/A</tcp>
            <rdma>N/A</rdma>
          </ports>
          <pid>1431</pid>
        </node>`);
  }
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <opRet>0</opRet>
  <opErrno>0</opErrno>
  <opErrstr/>
  <volStatus>
    <volumes>
      <volume>
        <volName>moodledata</volName>
        <nodeCount>${nodes.length}</nodeCount>
${nodes.join('\n')}
        <tasks/>
      </volume>
    </volumes>
  </volStatus>
</cliOutput>
`;
}

export const VOLUME_NOT_STARTED_XML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <opRet>-1</opRet>
  <opErrno>0</opErrno>
  <opErrstr>Volume moodledata is not started</opErrstr>
  <cliOp>volStatus</cliOp>
  <output>Volume moodledata is not started</output>
</cliOutput>
`;

const healBrick = (name: string, uuid: string, counts: [number, number, number, number] | null, status = 'Connected') =>
  counts
    ? `      <brick hostUuid="${uuid}">
        <name>${name}</name>
        <status>${status}</status>
        <totalNumberOfEntries>${counts[0]}</totalNumberOfEntries>
        <numberOfEntriesInHealPending>${counts[1]}</numberOfEntriesInHealPending>
        <numberOfEntriesInSplitBrain>${counts[2]}</numberOfEntriesInSplitBrain>
        <numberOfEntriesPossiblyHealing>${counts[3]}</numberOfEntriesPossiblyHealing>
      </brick>`
    : `      <brick hostUuid="-">
        <name>${name}</name>
        <status>${status}</status>
        <totalNumberOfEntries>-</totalNumberOfEntries>
        <numberOfEntriesInHealPending>-</numberOfEntriesInHealPending>
        <numberOfEntriesInSplitBrain>-</numberOfEntriesInSplitBrain>
        <numberOfEntriesPossiblyHealing>-</numberOfEntriesPossiblyHealing>
      </brick>`;

/** `gluster volume heal moodledata info summary --xml` (glfsheal puts opRet after the payload). */
export function healSummaryXml(b3: [number, number, number, number] | null = [0, 0, 0, 0], others: [number, number, number, number] = [0, 0, 0, 0]): string {
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <healInfo>
    <bricks>
${healBrick('10.0.0.11:/storage/brick', U1, others)}
${healBrick('10.0.0.12:/storage/brick', U2, others)}
${b3 ? healBrick('10.0.0.13:/storage/brick', U3, b3) : healBrick('10.0.0.13:/storage/brick', U3, null, 'Transport endpoint is not connected')}
    </bricks>
  </healInfo>
  <opRet>0</opRet>
  <opErrno>0</opErrno>
  <opErrstr/>
</cliOutput>
`;
}

export const SPLIT_BRAIN_XML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <healInfo>
    <bricks>
      <brick hostUuid="${U1}">
        <name>10.0.0.11:/storage/brick</name>
        <file gfid="aaca219f-0e25-4576-8689-3573bd3b7f2b">/filedir/0c/5f/0c5f1 &amp; &lt;draft&gt;.pdf</file>
        <status>Connected</status>
        <numberOfEntries>1</numberOfEntries>
      </brick>
      <brick hostUuid="${U2}">
        <name>10.0.0.12:/storage/brick</name>
        <status>Connected</status>
        <numberOfEntries>0</numberOfEntries>
      </brick>
      <brick hostUuid="${U3}">
        <name>10.0.0.13:/storage/brick</name>
        <status>Connected</status>
        <numberOfEntries>0</numberOfEntries>
      </brick>
    </bricks>
  </healInfo>
  <opRet>0</opRet>
  <opErrno>0</opErrno>
  <opErrstr/>
</cliOutput>
`;

export const PROC_MOUNTS = `sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
/dev/sda1 / ext4 rw,relatime,errors=remount-ro 0 0
/dev/sdb1 /storage ext4 rw,relatime 0 0
fusectl /sys/fs/fuse/connections fusectl rw,nosuid,nodev,noexec,relatime 0 0
10.0.0.11:/moodledata /var/www/moodledata fuse.glusterfs rw,relatime,user_id=0,group_id=0,default_permissions,allow_other,max_read=131072 0 0
10.0.0.12:/other /srv/with\\040space fuse.glusterfs rw,relatime,user_id=0,group_id=0,default_permissions,allow_other,max_read=131072 0 0
`;
