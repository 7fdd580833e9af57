import { describe, expect, it } from 'vitest';
import { planHash, planHashKeyFrom, planHasSecretContent, type Plan, type PlanHashKey } from '../../../src/engine/plan.js';
import { verifyReviewedPlan } from '../../../src/engine/executor.js';
import { classifyCluster } from '../../../src/components/galera/cluster-state.js';
import type { GaleraHostFacts } from '../../../src/facts/galera.js';
import { parseGrastate, parseWsrepStatus, renderGaleraConfig } from '../../../src/components/galera/index.js';
import { computePlan, desiredAccounts, galeraModelFor, type Gathered } from '../../../src/commands/deploy-db/deploy-db.js';
import type { CommandContext } from '../../../src/commands/context.js';
import { loadInventory, resolveSecrets, selectEnvironment, type Host } from '../../../src/inventory/index.js';
import type { RemoteHost } from '../../../src/ssh/types.js';

// The plan hash is published (PR comment, outputs). deploy-db's plan whose only
// secret-bearing change is the SST credentials file must not let a reader of
// that hash test SST password guesses offline: every command keys its hash with
// the run's plan-hash-key, which the reader does not have.

const UUID = 'ee244a52-e77e-11f1-ba32-87af0a2a59e6';
const INSTALLED = '1:10.11.14-0+deb12u2';
const INVENTORY = `version: 1
environments:
  lab:
    hosts:
      - { name: db1, address: 10.0.0.11, roles: [db] }
      - { name: db2, address: 10.0.0.12, roles: [db] }
      - { name: db3, address: 10.0.0.13, roles: [db] }
    database:
      cluster_name: lab
      sst_password: { env: SST_PW }
`;

function deployDbPlan(sstPassword: string, key: PlanHashKey): Plan {
  const environment = selectEnvironment(loadInventory(INVENTORY, 'ha.yml'), 'lab', 'ha.yml');
  const secrets = resolveSecrets(environment, { SST_PW: sstPassword }, () => {});
  const noop = () => {};
  const context = {
    request: { options: {}, privateKey: undefined, planHashKey: key },
    environment,
    secrets,
    logger: { info: noop, warn: noop, debug: noop, group: (_t: string, fn: () => Promise<unknown>) => fn() },
  } as unknown as CommandContext;
  const model = galeraModelFor(environment);
  const dbHosts = environment.hosts as Host[];
  const facts = new Map<string, GaleraHostFacts>();
  for (const h of dbHosts) {
    facts.set(h.name, {
      packages: { 'mariadb-server': INSTALLED, 'galera-4': '26.4.20-0+deb12u1', 'mariadb-backup': INSTALLED },
      running: true,
      enabled: true,
      config: renderGaleraConfig(model, h.name),
      status: parseWsrepStatus(
        `wsrep_cluster_status\tPrimary\nwsrep_local_state\t4\nwsrep_local_state_comment\tSynced\nwsrep_ready\tON\nwsrep_connected\tON\nwsrep_cluster_size\t3\nwsrep_cluster_state_uuid\t${UUID}\nwsrep_cluster_conf_id\t3\n`,
      ),
      wsrepActive: true,
      grastate: parseGrastate(`version: 2.1\nuuid: ${UUID}\nseqno: -1\nsafe_to_bootstrap: 0\n`),
      sstAuthFile: null,
      aptPin: null,
    });
  }
  const g: Gathered = {
    dbHosts,
    remotes: new Map(dbHosts.map((h) => [h.name, { name: h.name } as RemoteHost])),
    facts,
    accounts: [],
    databases: [],
    situation: classifyCluster(dbHosts.map((h) => h.name), facts),
    schemaProblems: [],
    probeTable: true,
    retiring: [],
    view: null,
  };
  return computePlan(context, model, desiredAccounts(environment, model), g);
}

const SHARED = planHashKeyFrom('the-plan-and-apply-jobs-shared-secret-0123');
const PASSWORD_A = 'fake-sst-password-alpha';
const PASSWORD_B = 'fake-sst-password-bravo';

describe('plan hash: no offline oracle for a secret', () => {
  it('the SST credentials make deploy-db plan secret-bearing', () => {
    const plan = deployDbPlan(PASSWORD_A, SHARED);
    expect(plan.changes.some((c) => c.kind === 'file' && c.sensitive && c.path.includes('sst'))).toBe(true);
    expect(planHasSecretContent(plan)).toBe(true);
  });

  it('two plans differing only in a secret hash differently under the same key, and each is reproducible with it', () => {
    const a = planHash(deployDbPlan(PASSWORD_A, SHARED), { key: SHARED });
    const b = planHash(deployDbPlan(PASSWORD_B, SHARED), { key: SHARED });
    expect(a).not.toBe(b);
    // apply after review: another process with the same configured key gets the same hash.
    expect(planHash(deployDbPlan(PASSWORD_A, planHashKeyFrom('the-plan-and-apply-jobs-shared-secret-0123')), { key: SHARED })).toBe(a);
  });

  it('a reader of the hash who guesses the password right still cannot recompute it without the key', () => {
    const published = planHash(deployDbPlan(PASSWORD_A, SHARED), { key: SHARED });
    // Everything but the key is known to the attacker: the inventory, the facts, the right password.
    const attackerKeys = ['', 'lms-ha/sensitive/v1', 'lms-ha', 'x'.repeat(32)].map((k) => (k === '' ? planHashKeyFrom(undefined) : planHashKeyFrom(k)));
    for (const key of attackerKeys) {
      expect(planHash(deployDbPlan(PASSWORD_A, key), { key })).not.toBe(published);
    }
    // There is no keyless (public constant) way to hash a secret-bearing plan any more.
    expect(() => planHash(deployDbPlan(PASSWORD_A, SHARED))).toThrow(/without the plan hash key/);
  });

  it('without a configured key the hash is per run (random key) and apply after review refuses, naming the fix', () => {
    const first = planHashKeyFrom(undefined);
    const second = planHashKeyFrom(undefined);
    const planned = planHash(deployDbPlan(PASSWORD_A, first), { key: first });
    const replanned = deployDbPlan(PASSWORD_A, second);
    expect(planHash(replanned, { key: second })).not.toBe(planned);
    expect(() => verifyReviewedPlan(planned, replanned, { key: second })).toThrow(
      expect.objectContaining({ reason: 'invalid-input', message: expect.stringContaining('no plan-hash-key is set') }),
    );
    // Without a reviewed hash (a manual apply) the run key is enough.
    expect(verifyReviewedPlan(undefined, replanned, { key: second })).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a plan with no secret content hashes the same with any key, so it stays reviewable without one', () => {
    const plan = deployDbPlan(PASSWORD_A, SHARED);
    const publicOnly = { ...plan, changes: plan.changes.filter((c) => !(c.kind === 'file' && c.sensitive) && c.fingerprint === undefined) };
    expect(planHasSecretContent(publicOnly)).toBe(false);
    expect(planHash(publicOnly, { key: planHashKeyFrom(undefined) })).toBe(planHash(publicOnly, { key: SHARED }));
  });
});
