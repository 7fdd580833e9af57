// The lab's version of an example inventory: the same topology and settings,
// with the example's hosts mapped onto the lab's (db hosts onto db1-3, load
// balancers onto lb1/lb2, web-only hosts folded into the db hosts, which get the
// web role), the lab's VIP, root over SSH, no bastion, not protected.
//
// usage: node scripts/demo-inventory.mjs EXAMPLE.yml STATE.json OUT.yml [DEB_URL DEB_SHA256]
// Prints one line per secret the inventory names: "NAME kind" (kind: vrrp, proxysql or plain).
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';

const [examplePath, statePath, outPath, debUrl, debSha] = process.argv.slice(2);
const state = JSON.parse(readFileSync(statePath, 'utf8'));
const address = (name) => {
  const host = state.hosts.find((h) => h.name === name);
  if (!host) throw new Error(`the lab has no host ${name}`);
  return host.address;
};
const example = parse(readFileSync(examplePath, 'utf8'));
const [exampleName, env] = Object.entries(example.environments)[0];

const has = (host, role) => host.roles.includes(role);
const dbs = env.hosts.filter((h) => has(h, 'db'));
const lbs = env.hosts.filter((h) => has(h, 'lb'));
if (dbs.length !== 3 || lbs.length !== 2) throw new Error(`${examplePath}: the lab has 3 db hosts and 2 load balancers; this example has ${dbs.length} and ${lbs.length}`);
const webOnly = env.hosts.some((h) => has(h, 'web') && !has(h, 'db') && !has(h, 'lb'));
const renamed = new Map();
const hosts = [
  ...dbs.map((h, i) => {
    renamed.set(h.name, `db${i + 1}`);
    const roles = h.roles.filter((r) => r !== 'bastion');
    if (webOnly && !roles.includes('web')) roles.push('web');
    return { name: `db${i + 1}`, address: address(`db${i + 1}`), roles };
  }),
  ...lbs.map((h, i) => {
    renamed.set(h.name, `lb${i + 1}`);
    return { name: `lb${i + 1}`, address: address(`lb${i + 1}`), roles: h.roles };
  }),
];
const subnet = state.vip.replace(/\.\d+$/, '.%');
const lab = { ssh: { user: 'root' }, hosts };
if (env.app) {
  lab.app = { ...env.app, users: (env.app.users ?? []).map((u) => (u.hosts ? { ...u, hosts: [subnet] } : u)) };
}
// Small lab hosts: a buffer pool that fits eight of them on one machine.
if (env.database) lab.database = { ...env.database, ...(env.database.buffer_pool_size ? { buffer_pool_size: '128M' } : {}) };
if (env.load_balancer) {
  lab.load_balancer = { ...env.load_balancer, vip: `${state.vip}/24`, interface: 'eth0' };
  if (debUrl && lab.load_balancer.proxysql) lab.load_balancer.proxysql = { ...lab.load_balancer.proxysql, package: { url: debUrl, sha256: debSha } };
}
if (env.storage) {
  lab.storage = { ...env.storage };
  if (lab.storage.arbiter) lab.storage.arbiter = renamed.get(lab.storage.arbiter) ?? lab.storage.arbiter;
}
if (env.migrate) lab.migrate = env.migrate;

const text = `# The lab's version of ${examplePath} (environment ${exampleName}), written by scripts/demo-inventory.mjs.\n${stringify({ version: 1, environments: { lab } })}`;
writeFileSync(outPath, text);

const secrets = new Map();
const walk = (node, path) => {
  if (!node || typeof node !== 'object') return;
  if (typeof node.env === 'string' && Object.keys(node).length === 1) {
    secrets.set(node.env, path.includes('auth_password') ? 'vrrp' : path.includes('proxysql') ? 'proxysql' : 'plain');
    return;
  }
  for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
};
walk(lab, []);
for (const [name, kind] of secrets) console.log(`${name} ${kind}`);
