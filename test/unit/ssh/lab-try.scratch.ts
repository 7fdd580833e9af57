// TEMPORARY scratch run against the lab (deleted after use).
import { readFileSync } from 'node:fs';
import { it, expect } from 'vitest';
import { MemoryLogger } from '../../../src/report/log.js';
import { parseKnownHosts } from '../../../src/ssh/known-hosts.js';
import { HostPool, type HostSpec } from '../../../src/ssh/pool.js';
import { connectHost } from '../../../src/ssh/connection.js';
import { DeployError } from '../../../src/errors.js';

const state = JSON.parse(readFileSync('/run/lms-ha-lab/state.json', 'utf8'));
const key = readFileSync(state.sshKey);
const khText = readFileSync(state.knownHosts, 'utf8');
const kh = parseKnownHosts(khText);
const byName = Object.fromEntries(state.hosts.map((h: any) => [h.name, h]));
const log = new MemoryLogger();

function spec(name: string, user = 'root'): HostSpec {
  const h = byName[name];
  const s: HostSpec = { name, address: h.address, user };
  if (h.segment === 'b') s.bastion = { name: 'bastion', address: byName.bastion.address, user: 'root' };
  return s;
}
async function err(p: Promise<unknown>) { try { await p; } catch (e) { return e as DeployError; } throw new Error('no error'); }

it('lab', async () => {
  console.log('notes', kh.notes);
  const pool = new HostPool({ privateKey: key, knownHosts: kh, insecure: false, logger: log, parallelism: 10 });
  try {
    const t0 = Date.now();
    const rs = await pool.forEachHost(['db1','db2','db3','lb1','lb2','priv1','bastion'].map((n) => spec(n)), async (h) =>
      (await h.run('echo $(hostname) $(id -u) $(. /etc/os-release; echo $PRETTY_NAME)', { purpose: 'facts' })).stdout.trim() + ' ' + h.hostKey.type + ' via=' + (h.info.via ?? '-'));
    console.log('fanout ms', Date.now() - t0, JSON.stringify(rs, null, 1));
    expect(rs.every((r) => r.ok)).toBe(true);

    const d = await pool.get(spec('db1', state.sudoUser));
    console.log('deploy id:', (await d.run('id -u', { purpose: 'id' })).stdout.trim(), (await d.run('id -un', { purpose: 'id', sudo: false })).stdout.trim());
    const secret = "s3cr3t-'quoted' $(x)\n";
    await d.writeFile('/etc/lms-ha-ssh-try.conf', secret, { mode: 0o640, owner: 'root', group: 'root' });
    console.log('ls:', (await d.run('ls -l /etc/lms-ha-ssh-try.conf; ls -a /etc | grep lms-ha || true', { purpose: 'ls' })).stdout);
    expect((await d.readFile('/etc/lms-ha-ssh-try.conf'))!.toString()).toBe(secret);
    expect(await d.readFile('/etc/does-not-exist-lmsha')).toBeNull();
    const e0 = await err(d.readFile('/etc'));
    console.log('read dir:', e0.reason, e0.message);
    await d.run('rm -f /etc/lms-ha-ssh-try.conf', { purpose: 'cleanup' });
    const shadow = await err(d.run('cat /etc/shadow >/dev/null; exit 4', { purpose: 'exit4' }));
    console.log('exit4:', shadow.message);

    const t1 = Date.now();
    const te = await err(d.run('sleep 60', { purpose: 'sleepy', timeoutMs: 1000 }));
    console.log('timeout:', te.message, Date.now() - t1);
    await new Promise((r) => setTimeout(r, 500));
    console.log('left running:', (await d.run('pgrep -a sleep || echo none', { purpose: 'pgrep' })).stdout);

    const pw = await pool.get(spec('db1', state.passwordSudoUser)).catch((e) => e);
    if (pw instanceof Error) console.log('pwuser connect:', (pw as DeployError).reason, pw.message);
    else { const e1 = await err(pw.run('true', { purpose: 'check sudo' })); console.log('pwuser:', e1.reason, e1.message, '\n  hint:', e1.hint); }
  } finally {
    await pool.closeAll();
  }

  // wrong key: pin db2's keys for db1's address
  const wrong = parseKnownHosts(khText.split('\n').filter((l) => !l.startsWith('10.231.0.11 ')).map((l) => l.replace(/^10\.231\.0\.12 /, '10.231.0.11 ')).join('\n'));
  const e2 = await err(connectHost({ name: 'db1', address: '10.231.0.11', port: 22, user: 'root', privateKey: key, knownHosts: wrong, insecure: false }));
  console.log('wrong:', e2.reason, e2.message, '\n  hint:', e2.hint);
  const e3 = await err(connectHost({ name: 'db1', address: '10.231.0.11', port: 22, user: 'root', privateKey: key, knownHosts: parseKnownHosts(''), insecure: false }));
  console.log('unknown:', e3.reason, e3.message, '\n  hint:', e3.hint);
  // only rsa pinned (#275)
  const rsaOnly = parseKnownHosts(khText.split('\n').filter((l) => !l.startsWith('10.231.0.11 ') || l.includes(' ssh-rsa ')).join('\n'));
  const h = await connectHost({ name: 'db1', address: '10.231.0.11', port: 22, user: 'root', privateKey: key, knownHosts: rsaOnly, insecure: false });
  console.log('rsa only ->', h.hostKey.type, h.hostKey.fingerprint); await h.close();
  // refused port
  const e4 = await err(connectHost({ name: 'db1', address: '10.231.0.11', port: 2222, user: 'root', privateKey: key, knownHosts: kh, insecure: false, retry: { attempts: 2, initialDelayMs: 200 }, logger: log }));
  console.log('refused:', e4.message);
  // auth failure (wrong user)
  const e5 = await err(connectHost({ name: 'db1', address: '10.231.0.11', port: 22, user: 'nobody-here', privateKey: key, knownHosts: kh, insecure: false }));
  console.log('auth:', e5.message);
  // priv1 directly (no bastion) must fail: not reachable
  const e6 = await err(connectHost({ name: 'priv1', address: '10.231.1.31', port: 22, user: 'root', privateKey: key, knownHosts: kh, insecure: false, connectTimeoutMs: 2000, retry: { attempts: 1 } }));
  console.log('priv1 direct:', e6.message);
  console.log(log.lines.join('\n'));
});
