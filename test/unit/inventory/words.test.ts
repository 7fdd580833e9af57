import { describe, expect, test } from 'vitest';
import { checkAddress, parseCidr4, reservedAddressOf, subnetsOverlap } from '../../../src/inventory/net';
import { closest, describe as describePath } from '../../../src/inventory/paths';

describe('closest (did you mean)', () => {
  test.each([
    ['adress', ['name', 'address', 'roles'], 'address'],
    ['connectTimeout', ['user', 'port', 'connect_timeout'], 'connect_timeout'],
    ['connect-timeout', ['user', 'port', 'connect_timeout'], 'connect_timeout'],
    ['Roles', ['name', 'address', 'roles'], 'roles'],
    ['vpi', ['vip', 'kind'], 'vip'],
    ['virtual_router', ['virtual_router_id', 'vip'], 'virtual_router_id'],
    ['sst_pasword', ['sst_user', 'sst_password', 'sst_method'], 'sst_password'],
    ['dbs', ['db', 'lb', 'storage'], 'db'],
    ['zone', ['name', 'address', 'roles', 'ssh', 'labels'], undefined],
    ['x', ['db', 'lb'], undefined],
  ] as const)('%s -> %s', (word, candidates, expected) => {
    expect(closest(word, candidates)).toBe(expected);
  });
});

describe('describe (names in messages)', () => {
  const root = { environments: { prod: { hosts: [{ name: 'db1' }, {}], app: { users: [{ name: 'moodle' }] } } } };
  test.each([
    [[], 'the inventory'],
    [['version'], '"version"'],
    [['environments', 'prod'], 'environment "prod"'],
    [['environments', 'prod', 'hosts', 0], 'host "db1"'],
    [['environments', 'prod', 'hosts', 0, 'ssh', 'port'], '"ssh.port" of host "db1"'],
    [['environments', 'prod', 'hosts', 1, 'roles', 2], '"roles[2]" of hosts[1]'],
    [['environments', 'prod', 'app', 'users', 0, 'password'], '"password" of app user "moodle"'],
    [['environments', 'prod', 'load_balancer', 'ports', 'web'], '"load_balancer.ports.web"'],
  ] as const)('%j', (path, expected) => {
    expect(describePath(path, root)).toBe(expected);
  });
});

describe('checkAddress', () => {
  test.each([
    ['10.0.0.1', 'ipv4', '10.0.0.1'],
    ['2001:DB8:0::1', 'ipv6', '2001:db8::1'],
    ['DB1.Example.COM.', 'dns', 'db1.example.com'],
    ['db1', 'dns', 'db1'],
  ] as const)('%s is a %s address', (text, kind, canonical) => {
    expect(checkAddress(text)).toEqual({ ok: true, kind, canonical });
  });

  test.each([
    ['010.0.0.1', 'is not a valid IPv4 address (four numbers from 0 to 255, without leading zeros), got "010.0.0.1"'],
    ['10.0.0', 'is not a valid IPv4 address (four numbers from 0 to 255, without leading zeros), got "10.0.0"'],
    ['ssh://10.0.0.1', 'must be a bare address or DNS name, not a URL, got "ssh://10.0.0.1"'],
    ['10.0.0.0/24', 'must be a single address, not a subnet, got "10.0.0.0/24"'],
    ['fe80::1%eth0', 'must not include a zone id (%eth0): link-local addresses do not work between hosts'],
    ['ff02::1', 'is ff02::1, a multicast address, not a host'],
    ['239.1.1.1', 'is 239.1.1.1, a multicast address, not a host'],
    ['::', 'is ::, which means "any address", not a host'],
    ['db 1', 'must not contain spaces, got "db 1"'],
    ['-db1.example.com', 'is not a valid IP address or DNS name, got "-db1.example.com"'],
  ])('%s is refused', (text, problem) => {
    expect(checkAddress(text)).toEqual({ ok: false, problem });
  });
});

describe('subnets', () => {
  test('network and broadcast addresses', () => {
    expect(reservedAddressOf(parseCidr4('10.0.0.0/24')!)).toBe('network');
    expect(reservedAddressOf(parseCidr4('10.0.0.255/24')!)).toBe('broadcast');
    expect(reservedAddressOf(parseCidr4('10.0.0.100/24')!)).toBeUndefined();
    expect(reservedAddressOf(parseCidr4('10.0.0.0/31')!)).toBeUndefined();
  });

  test('overlap uses the shorter prefix', () => {
    expect(subnetsOverlap(parseCidr4('10.0.0.100/24')!, parseCidr4('10.0.0.200/24')!)).toBe(true);
    expect(subnetsOverlap(parseCidr4('10.0.1.100/24')!, parseCidr4('10.0.0.200/16')!)).toBe(true);
    expect(subnetsOverlap(parseCidr4('10.0.1.100/24')!, parseCidr4('10.0.0.200/24')!)).toBe(false);
  });
});
