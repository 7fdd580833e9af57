/**
 * Keepalived 2.2 (Debian 12) for the VIP in front of the two load balancers.
 *
 * What is rendered, per load balancer: keepalived.conf, the probe of the local
 * proxy (vrrp_script) and the notify script. Pure: same model, same bytes.
 *
 * Decisions:
 * - `state BACKUP` + `nopreempt` on every LB (Kolla; keepalived requires BACKUP for
 *   nopreempt): a recovered LB never takes the VIP back, so a flapping proxy
 *   cannot bounce clients. The first LB in the inventory gets the higher priority
 *   (150, then 100, 90, ...), so it wins the first election.
 * - Unicast VRRP (`unicast_src_ip` + `unicast_peer`): clouds and many switches drop
 *   multicast VRRP (research §2.6 I).
 * - The probe is a real one (lab.md: a probe calling a missing binary makes
 *   keepalived hold the VIP forever). HAProxy: its stats page answers on
 *   127.0.0.1 and the writer backend has a server UP; deliberately NOT a TCP
 *   connect to the writer port, which makes HAProxy open a MariaDB connection
 *   every second that MariaDB counts towards `max_connect_errors` until it blocks
 *   the LB. ProxySQL: its MySQL port answers a protocol-10 handshake (ProxySQL
 *   answers it itself, no backend connection and no credentials needed).
 *   Bash + coreutils only (`/dev/tcp`, timeout, head, od, awk): nothing that a
 *   minimal host may lack (no curl, socat, killall).
 * - interval 1, fall 1, rise 2, and the probe tells dead from slow: a refused
 *   connection (nothing listens: the proxy is gone) fails at once, a probe that
 *   gets no answer within 1 s asks once more before failing. So a dead proxy is
 *   seen within ~1 s, and one slow answer never moves the VIP. The LB then
 *   enters FAULT, sends priority 0 and the peer takes the VIP at once (target:
 *   VIP serving again in < 2 s; with fall 2 it was 2.4-2.6 s in the lab).
 * - `enable_script_security` + `script_user keepalived_script`: scripts run as an
 *   unprivileged user (that deploy-lb creates); scripts and their directories
 *   must be root-owned and not writable by others.
 * - `auth_type PASS` is limited to 8 characters (keepalived logs "Truncating
 *   auth_pass to 8 characters"). lms-ha renders the first 8 itself and returns a
 *   warning, rather than demanding a short secret: both LBs derive the same 8
 *   characters, and the config shows what keepalived really uses. PASS travels
 *   in clear in every advert: it only guards against another VRRP group with the
 *   same router id, not against an attacker.
 * - Cloud VIPs: where VRRP cannot move an address (most clouds), `cloudVipHook`
 *   names an executable that the notify script runs on MASTER with
 *   `<state> <vip> <interface>`, e.g. to re-assign a secondary private IP or an
 *   elastic IP to this instance. It runs as `keepalived_script` (give the
 *   instance role the permission, not a key file), must be root-owned and not
 *   writable by others, and is killed after 30 s.
 */
import { DeployError } from '../../errors.js';
import { parseCidr } from './ipaddr.js';

export const KEEPALIVED_CONFIG_PATH = '/etc/keepalived/keepalived.conf';
export const KEEPALIVED_CHECK_SCRIPT = '/etc/keepalived/lms-ha-check-proxy.sh';
export const KEEPALIVED_NOTIFY_SCRIPT = '/etc/keepalived/lms-ha-notify.sh';
/** The system user keepalived runs scripts as; deploy-lb creates it. */
export const KEEPALIVED_SCRIPT_USER = 'keepalived_script';
export const KEEPALIVED_AUTH_PASS_MAX = 8;
export const KEEPALIVED_DEFAULT_INSTANCE = 'LMS_HA_VIP';

export interface KeepalivedPeer {
  /** Inventory host name (router_id). */
  name: string;
  address: string;
}

export type ProxyProbe =
  | {
      kind: 'haproxy';
      /** HAProxy stats page port on 127.0.0.1 (haproxy config `statsPort`). */
      statsPort: number;
      /** The listener whose BACKEND must be UP. Default galera_writer. */
      writerListener?: string;
    }
  | {
      kind: 'proxysql';
      /** ProxySQL's MySQL port (6033). */
      mysqlPort: number;
    };

export interface KeepalivedModel {
  /** All load balancers, in inventory order (sets the priorities). */
  lbs: KeepalivedPeer[];
  /** "10.0.0.100/24"; a bare address is taken as /32. */
  vip: string;
  /** Interface that carries the VIP and the VRRP adverts. */
  interface: string;
  virtualRouterId: number;
  /** The resolved secret (never logged; see RenderedKeepalived.secrets). */
  authPassword: string;
  probe: ProxyProbe;
  /** Executable run on MASTER for cloud VIPs; see the module comment. */
  cloudVipHook?: string;
  /** vrrp_instance name. Default LMS_HA_VIP. */
  instanceName?: string;
}

export interface RenderedKeepalivedFile {
  path: string;
  content: string;
  mode: number;
  owner: string;
  group: string;
}

export interface RenderedKeepalived {
  files: RenderedKeepalivedFile[];
  /** Things the plan should show (e.g. the auth password was cut to 8 characters). */
  warnings: string[];
  /** Values to redact from any diff or log of these files. */
  secrets: string[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const IFACE = /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,14}$/;
const SAFE_PATH = /^\/[A-Za-z0-9._\/-]+$/;
// Printable ASCII without space and without what keepalived's parser treats
// specially: comment starters (# !), quotes, backslash, braces.
const AUTH_CHAR = /^[\x21-\x7e]$/;
const AUTH_FORBIDDEN = new Set(['#', '!', '"', "'", '\\', '{', '}']);

function invalid(message: string, hint: string): never {
  throw new DeployError('invalid-inventory', message, { hint });
}

/** Priority of the n-th LB (0-based): 150, 100, 90, 80, ... */
export function keepalivedPriority(index: number): number {
  const p = index === 0 ? 150 : 100 - 10 * (index - 1);
  if (p < 1) invalid(`too many load balancers for one VIP (${index + 1})`, 'Use two (or a few) load balancers per VIP.');
  return p;
}

/**
 * The auth_pass keepalived will really use: the first 8 characters, with a
 * warning when the secret was longer. Throws on characters that would break
 * the config file (the message never contains the secret).
 */
export function keepalivedAuthPass(secret: string): { value: string; warning?: string } {
  if (secret.length === 0) {
    throw new DeployError('missing-secret', 'the keepalived auth password is empty', {
      hint: 'Set the environment variable the inventory names for load_balancer.auth_password.',
    });
  }
  const value = [...secret].slice(0, KEEPALIVED_AUTH_PASS_MAX).join('');
  for (const c of value) {
    if (!AUTH_CHAR.test(c) || AUTH_FORBIDDEN.has(c)) {
      throw new DeployError('invalid-input', 'the keepalived auth password has a character keepalived.conf cannot carry', {
        hint: 'Use letters, digits and punctuation other than # ! " \' \\ { } in its first 8 characters (no spaces).',
      });
    }
  }
  if ([...secret].length > KEEPALIVED_AUTH_PASS_MAX) {
    return {
      value,
      warning: `keepalived auth password is longer than ${KEEPALIVED_AUTH_PASS_MAX} characters: VRRP PASS authentication uses only the first ${KEEPALIVED_AUTH_PASS_MAX}, which lms-ha renders on every load balancer`,
    };
  }
  return { value };
}

function validate(model: KeepalivedModel, self: string): { selfIndex: number; vip: { address: string; prefix: number } } {
  if (model.lbs.length === 0) invalid('no load balancer for the VIP', 'Give at least two hosts the role lb.');
  const names = new Set<string>();
  const addresses = new Set<string>();
  for (const lb of model.lbs) {
    if (!NAME.test(lb.name)) invalid(`"${lb.name}" cannot be a keepalived router_id`, 'Host names may use letters, digits, ".", "_", "-".');
    if (names.has(lb.name)) invalid(`load balancer ${lb.name} is listed twice`, 'Each host appears once.');
    if (addresses.has(lb.address)) invalid(`load balancers share the address ${lb.address}`, 'Each load balancer needs its own address.');
    if (!parseCidr(lb.address)) invalid(`address "${lb.address}" of ${lb.name} is not an IP address`, 'unicast VRRP needs IP addresses.');
    names.add(lb.name);
    addresses.add(lb.address);
  }
  const selfIndex = model.lbs.findIndex((lb) => lb.name === self);
  if (selfIndex < 0) invalid(`${self} is not one of the load balancers (${[...names].join(', ')})`, 'Render keepalived only for lb hosts.');
  const vip = parseCidr(model.vip);
  if (!vip) invalid(`VIP "${model.vip}" is not an address or address/prefix`, 'Write it like 10.0.0.100/24.');
  if (addresses.has(vip.address)) invalid(`the VIP ${vip.address} is also the address of a load balancer`, 'The VIP must be a free address.');
  if (!IFACE.test(model.interface)) invalid(`"${model.interface}" is not an interface name`, 'Give the interface that carries the VIP, e.g. eth0.');
  const vrid = model.virtualRouterId;
  if (!Number.isInteger(vrid) || vrid < 1 || vrid > 255) invalid(`virtual_router_id ${vrid} is outside 1..255`, 'Pick a router id unique on the network.');
  const instance = model.instanceName ?? KEEPALIVED_DEFAULT_INSTANCE;
  if (!NAME.test(instance)) invalid(`"${instance}" cannot be a vrrp_instance name`, 'Use letters, digits, "_", "-".');
  if (model.cloudVipHook !== undefined && !SAFE_PATH.test(model.cloudVipHook)) {
    invalid(`cloud VIP hook "${model.cloudVipHook}" is not a plain absolute path`, 'Use letters, digits, ".", "_", "-" and "/" only.');
  }
  if (model.probe.kind === 'haproxy') {
    checkProbePort(model.probe.statsPort);
    if (model.probe.writerListener !== undefined && !NAME.test(model.probe.writerListener)) {
      invalid(`"${model.probe.writerListener}" is not an HAProxy listener name`, 'Leave it out for galera_writer.');
    }
  } else {
    checkProbePort(model.probe.mysqlPort);
  }
  return { selfIndex, vip };
}

function checkProbePort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) invalid(`probe port ${port} is not a TCP port`, 'Use the proxy port from the inventory.');
}

export function renderKeepalivedConfig(model: KeepalivedModel, self: string): RenderedKeepalived {
  const { selfIndex, vip } = validate(model, self);
  const auth = keepalivedAuthPass(model.authPassword);
  const me = model.lbs[selfIndex];
  const peers = model.lbs.filter((_, i) => i !== selfIndex);
  const instance = model.instanceName ?? KEEPALIVED_DEFAULT_INSTANCE;

  const lines = [
    '# Rendered by lms-ha (deploy-lb); local edits are overwritten.',
    '# Holds the auth password: keep this file root-only (0600).',
    'global_defs {',
    `    router_id ${me.name}`,
    '    enable_script_security',
    `    script_user ${KEEPALIVED_SCRIPT_USER}`,
    // Re-announce the VIP now and then: after a split brain heals the real
    // master may otherwise never send a gratuitous ARP again (keepalived#166).
    '    vrrp_garp_master_refresh 60',
    '}',
    '',
    'vrrp_script chk_proxy {',
    `    script "${KEEPALIVED_CHECK_SCRIPT}"`,
    '    interval 1',
    '    timeout 3',
    '    fall 1',
    '    rise 2',
    '}',
    '',
    `vrrp_instance ${instance} {`,
    '    state BACKUP',
    '    nopreempt',
    `    interface ${model.interface}`,
    `    virtual_router_id ${model.virtualRouterId}`,
    `    priority ${keepalivedPriority(selfIndex)}`,
    '    advert_int 1',
    `    unicast_src_ip ${me.address}`,
  ];
  if (peers.length > 0) {
    lines.push('    unicast_peer {', ...peers.map((p) => `        ${p.address}`), '    }');
  }
  lines.push(
    '    authentication {',
    '        auth_type PASS',
    `        auth_pass ${auth.value}`,
    '    }',
    '    virtual_ipaddress {',
    `        ${vip.address}/${vip.prefix} dev ${model.interface}`,
    '    }',
    '    track_script {',
    '        chk_proxy',
    '    }',
    `    notify "${KEEPALIVED_NOTIFY_SCRIPT}"`,
    '}',
    '',
  );

  return {
    files: [
      { path: KEEPALIVED_CONFIG_PATH, content: lines.join('\n'), mode: 0o600, owner: 'root', group: 'root' },
      { path: KEEPALIVED_CHECK_SCRIPT, content: renderKeepalivedCheckScript(model.probe), mode: 0o755, owner: 'root', group: 'root' },
      {
        path: KEEPALIVED_NOTIFY_SCRIPT,
        content: renderKeepalivedNotifyScript({ vip: vip.address, interface: model.interface, cloudVipHook: model.cloudVipHook }),
        mode: 0o755,
        owner: 'root',
        group: 'root',
      },
    ],
    warnings: auth.warning ? [auth.warning] : [],
    secrets: [auth.value, model.authPassword],
  };
}

/**
 * Runs `probe` into `$variable`; a refusal fails at once (the proxy is gone),
 * a timeout (exit 124 of coreutils' timeout: busy, not dead) gets one more try.
 */
function askTwiceIfSlow(probe: string, variable: string): string[] {
  return [
    '# Refused: nothing listens, the proxy is gone. No answer in 1 s: busy, ask once more.',
    `${variable}=$(${probe}); rc=$?`,
    `if [ "$rc" = 124 ]; then ${variable}=$(${probe}) || exit 1; elif [ "$rc" != 0 ]; then exit 1; fi`,
  ];
}

/** The vrrp_script probe; exit 0 = this LB may hold the VIP. */
export function renderKeepalivedCheckScript(probe: ProxyProbe): string {
  const head = [
    '#!/bin/bash',
    '# Rendered by lms-ha (deploy-lb); local edits are overwritten.',
    `# keepalived's probe of the local proxy (vrrp_script chk_proxy, run as ${KEEPALIVED_SCRIPT_USER}).`,
    '# Exit 0: this load balancer may hold the VIP. Anything else: give it up.',
    'set -u',
    'export LC_ALL=C',
    '',
  ];
  if (probe.kind === 'haproxy') {
    const listener = probe.writerListener ?? 'galera_writer';
    return [
      ...head,
      '# HAProxy must answer on its stats page and its writer backend must have a',
      '# server UP. No TCP connect to the writer port: HAProxy would open a MariaDB',
      '# connection each time, which MariaDB counts towards max_connect_errors.',
      ...askTwiceIfSlow(`timeout 1 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${probe.statsPort} && printf "GET /;csv HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n" >&3 && cat <&3' 2>/dev/null`, 'csv'),
      `printf '%s\\n' "$csv" | awk -F, '$1 == "${listener}" && $2 == "BACKEND" { found = 1; if ($18 ~ /^UP/) up = 1 } END { exit (found && up) ? 0 : 1 }'`,
      '',
    ].join('\n');
  }
  return [
    ...head,
    '# ProxySQL must answer a MySQL handshake (protocol version 10) on its client port.',
    ...askTwiceIfSlow(`timeout 1 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${probe.mysqlPort} && head -c 5 <&3 | od -An -tx1' 2>/dev/null`, 'greeting'),
    'set -- $greeting',
    '[ "${5:-}" = 0a ]',
    '',
  ].join('\n');
}

/** keepalived's `notify` target: logs every transition to the journal/syslog. */
export function renderKeepalivedNotifyScript(options: { vip: string; interface: string; cloudVipHook?: string }): string {
  const lines = [
    '#!/bin/bash',
    '# Rendered by lms-ha (deploy-lb); local edits are overwritten.',
    '# keepalived calls: notify <GROUP|INSTANCE> <name> <MASTER|BACKUP|FAULT|STOP> <priority>',
    'set -u',
    'kind=${1:-unknown} name=${2:-unknown} state=${3:-unknown} priority=${4:-unknown}',
    `logger -t lms-ha-keepalived -p daemon.notice "vrrp \${kind,,} \${name} is now \${state} (priority \${priority}, vip ${options.vip})"`,
  ];
  if (options.cloudVipHook) {
    lines.push(
      '# Cloud VIP hook: VRRP cannot move the address here, the hook claims it.',
      'if [ "$state" = MASTER ]; then',
      `  if ! timeout 30 '${options.cloudVipHook}' "$state" '${options.vip}' '${options.interface}'; then`,
      `    logger -t lms-ha-keepalived -p daemon.err "cloud VIP hook ${options.cloudVipHook} failed for ${options.vip}"`,
      '  fi',
      'fi',
    );
  }
  lines.push('exit 0', '');
  return lines.join('\n');
}
