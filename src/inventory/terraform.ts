/**
 * Hosts from `terraform output -json` into an environment of the inventory,
 * so machines created with Terraform are not copied by hand.
 *
 * The mapping (docs/provision.md): one output, `lms_ha_hosts` by default,
 * whose value is either a list of `{ name, address, roles, labels?, ssh? }`
 * or a map from host name to `{ address, roles, labels?, ssh? }`. Hosts of the
 * environment with the same name are replaced, new ones appended, others (a
 * bastion written by hand) kept; comments and the rest of the file are kept.
 * The result is validated like any inventory before it is written, and every
 * problem in the Terraform file is reported with its line and column.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type YAMLMap } from 'yaml';
import { DeployError, formatProblem, type InputProblem } from '../errors.js';
import { loadInventory } from './load.js';
import { ROLES } from './schema.js';
import { sortProblems } from './source.js';

export const DEFAULT_TERRAFORM_OUTPUT = 'lms_ha_hosts';
const HOST_KEYS = ['name', 'address', 'roles', 'labels', 'ssh'] as const;
const HOST_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export interface ImportedHost {
  name: string;
  address: string;
  roles: string[];
  labels?: Record<string, string>;
  ssh?: Record<string, unknown>;
}

export interface TerraformImport {
  /** The new inventory text. */
  text: string;
  added: string[];
  replaced: string[];
}

function problemsError(file: string, problems: InputProblem[], hint: string): DeployError {
  const sorted = sortProblems(problems);
  const lines = sorted.map((p) => `  ${formatProblem(p)}`).join('\n');
  return new DeployError('invalid-input', `cannot import hosts from ${file}:\n${lines}`, { problems: sorted, hint });
}

/** The hosts in a Terraform output file; every problem with its position. */
export function parseTerraformHosts(text: string, file: string, output = DEFAULT_TERRAFORM_OUTPUT): ImportedHost[] {
  const problems: InputProblem[] = [];
  const hint = `Give the file \`terraform output -json\` writes, with an output "${output}" whose value is a list of { name, address, roles } (see docs/provision.md).`;
  // JSON's own parser first: YAML would accept (and word differently) what JSON does not.
  try {
    JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const position = Number(/at position (\d+)/.exec(message)?.[1] ?? text.length);
    const before = text.slice(0, position).split('\n');
    const why = message.replace(/ in JSON at position \d+.*$/, '').replace(/^JSON\.parse: /, '');
    problems.push({ file, line: before.length, column: before.at(-1)!.length + 1, message: `not valid JSON: ${why}` });
    throw problemsError(file, problems, hint);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (node: Node | null | undefined, message: string) => {
    const { line, col } = lineCounter.linePos(node?.range?.[0] ?? 0);
    problems.push({ file, line, column: col, message });
  };
  for (const e of doc.errors) {
    const { line, col } = lineCounter.linePos(e.pos[0]);
    problems.push({ file, line, column: col, message: `not valid JSON: ${e.message.split('\n')[0]}` });
  }
  if (problems.length > 0) throw problemsError(file, problems, hint);

  const root = doc.contents;
  if (!isMap(root)) {
    at(root as Node, 'must be an object of outputs, as `terraform output -json` writes it');
    throw problemsError(file, problems, hint);
  }
  const entry = root.get(output, true) as Node | undefined;
  if (!isMap(entry)) {
    const names = root.items.map((p) => String((p.key as { value?: unknown })?.value)).join(', ') || 'none';
    at(entry ?? root, `has no output "${output}" of the form { "value": ... } (outputs: ${names})`);
    throw problemsError(file, problems, hint);
  }
  const value = entry.get('value', true) as Node | undefined;
  const items: { name?: string; nameNode?: Node; node: Node }[] = [];
  if (isSeq(value)) {
    for (const item of value.items) items.push({ node: item as Node });
  } else if (isMap(value)) {
    for (const pair of value.items) items.push({ name: String((pair.key as { value?: unknown }).value), nameNode: pair.key as Node, node: pair.value as Node });
  } else {
    at(value ?? entry, `output "${output}": "value" must be a list of hosts or a map of host name to host`);
    throw problemsError(file, problems, hint);
  }

  const hosts: ImportedHost[] = [];
  const seen = new Map<string, number>();
  for (const item of items) {
    if (!isMap(item.node)) {
      at(item.node, 'a host must be an object with address and roles');
      continue;
    }
    const map = item.node as YAMLMap;
    for (const pair of map.items) {
      const key = String((pair.key as { value?: unknown }).value);
      if (!(HOST_KEYS as readonly string[]).includes(key) || (key === 'name' && item.name !== undefined)) at(pair.key as Node, `unknown key "${key}" in a host (allowed: ${HOST_KEYS.filter((k) => k !== 'name' || item.name === undefined).join(', ')})`);
    }
    const nameNode = item.name !== undefined ? item.nameNode : (map.get('name', true) as Node | undefined);
    const name = item.name ?? (isScalar(nameNode) ? nameNode.value : undefined);
    if (typeof name !== 'string' || !HOST_NAME.test(name)) {
      at(nameNode ?? map, `host name ${JSON.stringify(name ?? null)} must be a short name of lowercase letters, digits and "-" (like db1)`);
      continue;
    }
    const addressNode = map.get('address', true) as Node | undefined;
    const address = isScalar(addressNode) ? addressNode.value : undefined;
    if (typeof address !== 'string' || address === '') at(addressNode ?? map, `host "${name}": "address" must be a string (an IP address or DNS name)`);
    const rolesNode = map.get('roles', true) as Node | undefined;
    const roles: string[] = [];
    if (!isSeq(rolesNode)) at(rolesNode ?? map, `host "${name}": "roles" must be a list of ${ROLES.join(', ')}`);
    else {
      for (const r of rolesNode.items) {
        const role = isScalar(r) ? r.value : undefined;
        if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) at(r as Node, `host "${name}": role ${JSON.stringify(role ?? null)} is not one of ${ROLES.join(', ')}`);
        else roles.push(role);
      }
    }
    const first = seen.get(name);
    if (first !== undefined) at(nameNode ?? map, `duplicate host name "${name}" (first at line ${first})`);
    seen.set(name, lineCounter.linePos(nameNode?.range?.[0] ?? 0).line);
    const labels = map.get('labels') as YAMLMap | undefined;
    const ssh = map.get('ssh') as YAMLMap | undefined;
    hosts.push({
      name,
      address: String(address),
      roles,
      ...(labels ? { labels: (labels as unknown as { toJSON(): Record<string, string> }).toJSON() } : {}),
      ...(ssh ? { ssh: (ssh as unknown as { toJSON(): Record<string, unknown> }).toJSON() } : {}),
    });
  }
  if (problems.length > 0) throw problemsError(file, problems, hint);
  if (hosts.length === 0) {
    at(value, `output "${output}" lists no host`);
    throw problemsError(file, problems, hint);
  }
  return hosts;
}

/**
 * The inventory with the imported hosts merged into `environment` (created
 * when missing), validated before it is returned.
 */
export function mergeTerraformHosts(inventoryText: string | null, inventoryFile: string, environment: string, hosts: readonly ImportedHost[]): TerraformImport {
  const doc: Document = parseDocument(inventoryText ?? 'version: 1\nenvironments: {}\n');
  if (doc.errors.length > 0) throw new DeployError('invalid-inventory', `${inventoryFile} is not valid YAML; fix it before importing into it`);
  if (!doc.hasIn(['environments', environment])) doc.setIn(['environments', environment], doc.createNode({ hosts: [] }));
  if (!doc.hasIn(['environments', environment, 'hosts'])) doc.setIn(['environments', environment, 'hosts'], doc.createNode([]));
  const list = doc.getIn(['environments', environment, 'hosts'], true);
  if (!isSeq(list)) throw new DeployError('invalid-inventory', `${inventoryFile}: environments.${environment}.hosts is not a list`);
  const added: string[] = [];
  const replaced: string[] = [];
  for (const host of hosts) {
    const node = doc.createNode(host, { flow: true });
    const index = list.items.findIndex((item) => isMap(item) && (item as YAMLMap).get('name') === host.name);
    if (index >= 0) {
      list.items[index] = node;
      replaced.push(host.name);
    } else {
      list.items.push(node);
      added.push(host.name);
    }
  }
  const text = doc.toString();
  loadInventory(text, inventoryFile);
  return { text, added, replaced };
}
