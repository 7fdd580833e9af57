import { yaml } from './helpers.js';

/**
 * Bad inventories, each with every problem lms-ha must report: `line:column:
 * message`, exactly, in the order reported (sorted by position). Line 1 is the
 * first line after the opening backtick.
 */
export interface BadInventory {
  name: string;
  text: string;
  problems: string[];
}

export const BAD_INVENTORIES: BadInventory[] = [
  // ---------------------------------------------------------------- YAML syntax
  {
    name: 'duplicate key in a map',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts: []
          hosts: []
    `,
    problems: [
      '5:5: duplicate key "hosts": a key may appear only once in the same map',
    ],
  },
  {
    name: 'tab used for indentation',
    text: 'version: 1\nenvironments:\n\tprod:\n',
    problems: [
      '3:1: YAML syntax error: Tabs are not allowed as indentation',
    ],
  },
  {
    name: 'two YAML documents in one file',
    text: yaml`
      version: 1
      environments: {}
      ---
      version: 1
    `,
    problems: [
      '3:1: the inventory must be a single YAML document; remove the "---" that starts a second one',
    ],
  },
  {
    name: 'unterminated flow map',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db]
    `,
    problems: [
      '6:1: YAML syntax error: Flow map in block collection must be sufficiently indented and end with a }',
    ],
  },
  // ---------------------------------------------------------------- top level
  {
    name: 'empty file',
    text: '',
    problems: [
      '1:1: the inventory must be a map with "version" and "environments", got an empty value',
    ],
  },
  {
    name: 'top level is a list',
    text: yaml`
      - version: 1
    `,
    problems: [
      '1:1: the inventory must be a map with "version" and "environments", got a list',
    ],
  },
  {
    name: 'unsupported version',
    text: yaml`
      version: 2
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [web] }
    `,
    problems: [
      '1:10: "version" must be 1 (the only inventory format this lms-ha reads), got 2',
    ],
  },
  {
    name: 'misspelled top-level key and missing version',
    text: yaml`
      enviroments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [web] }
    `,
    problems: [
      '1:1: missing required key "environments" at the top level',
      '1:1: missing required key "version" at the top level',
      '1:1: unknown key "enviroments" at the top level; did you mean "environments"?',
    ],
  },
  {
    name: 'no environments',
    text: yaml`
      version: 1
      environments: {}
    `,
    problems: [
      '2:1: "environments" must not be empty',
    ],
  },
  {
    name: 'empty environment',
    text: yaml`
      version: 1
      environments:
        prod:
    `,
    problems: [
      '3:3: environment "prod" must be a map, got an empty value',
    ],
  },
  {
    name: 'environment name with a space',
    text: yaml`
      version: 1
      environments:
        "prod eu":
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web] }
    `,
    problems: [
      '3:3: environment name "prod eu" may only contain letters, digits, ".", "_" and "-", starting with a letter or digit',
    ],
  },
  // ---------------------------------------------------------------- hosts: schema
  {
    name: 'environment without hosts',
    text: yaml`
      version: 1
      environments:
        prod:
          protected: true
    `,
    problems: [
      '3:3: missing required key "hosts" in environment "prod"',
    ],
  },
  {
    name: 'empty host list',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts: []
    `,
    problems: [
      '4:12: "hosts" must not be empty',
    ],
  },
  {
    name: 'misspelled address key',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - name: db1
              adress: 10.0.0.11
              roles: [web]
    `,
    problems: [
      '5:9: missing required key "address" in host "db1"',
      '6:9: unknown key "adress" in host "db1"; did you mean "address"?',
    ],
  },
  {
    name: 'host name with capitals and underscore',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: DB_1, address: 10.0.0.11, roles: [web] }
    `,
    problems: [
      '5:17: "name" of host "DB_1" must be a short host name of lowercase letters, digits and "-" (like db1), got "DB_1"',
    ],
  },
  {
    name: 'unknown role',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web, dbs] }
    `,
    problems: [
      '5:56: "roles[1]" of host "web1" must be one of db, lb, storage, web, bastion, arbitrator, got "dbs"; did you mean "db"?',
    ],
  },
  {
    name: 'role listed twice',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web, web] }
    `,
    problems: [
      '5:56: "web" is listed twice in "roles" of host "web1"',
    ],
  },
  {
    name: 'roles written as a string',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: 10.0.0.31, roles: web }
    `,
    problems: [
      '5:50: "roles" of host "web1" must be a list, got "web"',
    ],
  },
  {
    name: 'ssh port is not a number',
    text: yaml`
      version: 1
      environments:
        prod:
          ssh: { port: 22a }
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web] }
    `,
    problems: [
      '4:18: "ssh.port" must be an integer from 1 to 65535, got "22a"',
    ],
  },
  {
    name: 'host ssh port out of range',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - name: web1
              address: 10.0.0.31
              roles: [web]
              ssh: { port: 70000 }
    `,
    problems: [
      '8:22: "ssh.port" of host "web1" must be an integer from 1 to 65535, got 70000',
    ],
  },
  {
    name: 'bastion set on a host instead of the environment',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - name: web1
              address: 10.0.0.31
              roles: [web]
              ssh: { bastion: jump }
    `,
    problems: [
      '8:16: unknown key "bastion" in "ssh" of host "web1"; allowed keys: user, port',
    ],
  },
  {
    name: 'connect timeout of zero',
    text: yaml`
      version: 1
      environments:
        prod:
          ssh:
            connectTimeout: 5
            connect_timeout: 0
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web] }
    `,
    problems: [
      '5:7: unknown key "connectTimeout" in "ssh"; did you mean "connect_timeout"?',
      '6:24: "ssh.connect_timeout" must be an integer from 1 to 300, got 0',
    ],
  },
  {
    name: 'label value that is not a string',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - name: web1
              address: 10.0.0.31
              roles: [web]
              labels: { zone: 1 }
    `,
    problems: [
      '8:25: "labels.zone" of host "web1" must be a string, got 1',
    ],
  },
  // ---------------------------------------------------------------- secrets
  {
    name: 'password written in the inventory',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
          app:
            preset: moodle
            users:
              - name: moodle
                password: hunter2-Secret
                databases: [moodle]
          database: { cluster_name: c1, sst_password: { env: SST } }
    `,
    problems: [
      '12:21: "password" of app user "moodle" must be a secret reference { env: NAME }: never write secrets in the inventory; put the value in an environment variable (for example from a GitHub secret) and name it here',
    ],
  },
  {
    name: 'secret reference naming a lowercase variable',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
          database: { cluster_name: c1, sst_password: { env: sst-password } }
    `,
    problems: [
      '8:56: "database.sst_password.env" must be the name of an environment variable: capital letters, digits and "_", not starting with a digit (like MOODLE_DB_PASSWORD)',
    ],
  },
  {
    name: 'secret written as a flow-map key',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
          database:
            cluster_name: c1
            sst_password: {hunter2}
    `,
    problems: [
      '10:7: missing required key "env" in "database.sst_password"',
      '10:22: unknown key in "database.sst_password": a secret reference has only the key "env", as { env: NAME }; never write secrets in the inventory',
    ],
  },
  {
    name: 'secret reference with a value next to the name',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
          database:
            cluster_name: c1
            sst_password: { env: SST, value: hunter2 }
    `,
    problems: [
      '10:33: unknown key in "database.sst_password": a secret reference has only the key "env", as { env: NAME }; never write secrets in the inventory',
    ],
  },
  {
    name: 'S3 keys written in the inventory',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web] }
          storage:
            kind: s3
            s3:
              bucket: uploads
              access_key_id: AKIAEXAMPLE
              secret_access_key: 12345
    `,
    problems: [
      '10:24: "storage.s3.access_key_id" must be a secret reference { env: NAME }: never write secrets in the inventory; put the value in an environment variable (for example from a GitHub secret) and name it here',
      '11:28: "storage.s3.secret_access_key" must be a secret reference { env: NAME }: never write secrets in the inventory; put the value in an environment variable (for example from a GitHub secret) and name it here',
    ],
  },
  // ---------------------------------------------------------------- addresses
  {
    name: 'IPv4 address with a part above 255',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: 10.0.0.300, roles: [web] }
    `,
    problems: [
      '5:32: "address" of host "web1" is not a valid IPv4 address (four numbers from 0 to 255, without leading zeros), got "10.0.0.300"',
    ],
  },
  {
    name: 'address with a port',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: "10.0.0.31:2222", roles: [web] }
    `,
    problems: [
      '5:32: "address" of host "web1" must not include a port; set ssh.port: 2222 instead',
    ],
  },
  {
    name: 'IPv6 address in brackets',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: "[2001:db8::31]", roles: [web] }
    `,
    problems: [
      '5:32: "address" of host "web1" must be written without brackets, like 2001:db8::31',
    ],
  },
  {
    name: 'address with a user',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: deploy@web1.example.com, roles: [web] }
    `,
    problems: [
      '5:32: "address" of host "web1" must not include a user name; set ssh.user: deploy instead',
    ],
  },
  {
    name: 'DNS name with an underscore',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: web_1.example.com, roles: [web] }
    `,
    problems: [
      '5:32: "address" of host "web1" is not a valid IP address or DNS name, got "web_1.example.com"',
    ],
  },
  {
    name: 'unspecified address',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: 0.0.0.0, roles: [web] }
    `,
    problems: [
      '5:32: "address" of host "web1" is 0.0.0.0, which means "any address", not a host',
    ],
  },
  {
    name: 'duplicate host name',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web] }
            - { name: web2, address: 10.0.0.32, roles: [web] }
            - { name: web1, address: 10.0.0.33, roles: [web] }
    `,
    problems: [
      '7:17: duplicate host name "web1" (first defined at line 5)',
    ],
  },
  {
    name: 'duplicate address, written differently',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: 2001:db8::31, roles: [web] }
            - { name: web2, address: "2001:DB8:0:0::31", roles: [web] }
            - { name: web3, address: Web3.Example.com., roles: [web] }
            - { name: web4, address: web3.example.com, roles: [web] }
    `,
    problems: [
      '6:32: duplicate address "2001:DB8:0:0::31": host "web1" (line 5) already uses it',
      '8:32: duplicate address "web3.example.com": host "web3" (line 7) already uses it',
    ],
  },
  {
    name: 'host without roles that nothing refers to',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web] }
            - { name: old, address: 10.0.0.5, roles: [] }
    `,
    problems: [
      '6:48: host "old" has no roles; give it roles, or name it as a migration source (migrate.files.source_host or migrate.database.source_host)',
    ],
  },
  // ---------------------------------------------------------------- bastion
  {
    name: 'bastion names a host that does not exist',
    text: yaml`
      version: 1
      environments:
        prod:
          ssh: { bastion: jmp }
          hosts:
            - { name: jump, address: 203.0.113.10, roles: [bastion] }
            - { name: web1, address: 10.0.0.31, roles: [web] }
    `,
    problems: [
      '4:21: "ssh.bastion" names host "jmp", which is not defined in environment "prod"; did you mean "jump"?',
    ],
  },
  {
    name: 'bastion names a host without the bastion role',
    text: yaml`
      version: 1
      environments:
        prod:
          ssh: { bastion: web1 }
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web] }
    `,
    problems: [
      '4:21: "ssh.bastion" names host "web1", which does not have the bastion role; add bastion to its roles',
    ],
  },
  {
    name: 'bastion host that nothing goes through',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: jump, address: 203.0.113.10, roles: [bastion] }
            - { name: web1, address: 10.0.0.31, roles: [web] }
    `,
    problems: [
      '5:54: host "jump" has the bastion role but "ssh.bastion" is not set, so no host would be reached through it; set ssh.bastion: jump',
    ],
  },
  // ---------------------------------------------------------------- database
  {
    name: 'two db nodes and no arbitrator',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
          database: { cluster_name: c1, sst_password: { env: SST } }
    `,
    problems: [
      '7:5: 2 db nodes (db1, db2) and no arbitrator: an even number of votes loses quorum when the cluster splits in half; add a db node or a host with the arbitrator role',
    ],
  },
  {
    name: 'three db nodes plus an arbitrator',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
            - { name: garb, address: 10.0.0.14, roles: [arbitrator] }
          database: { cluster_name: c1, sst_password: { env: SST } }
    `,
    problems: [
      '9:5: 3 db nodes and 1 arbitrator make 4 votes, an even number that loses quorum when the cluster splits in half; add a db node or remove an arbitrator',
    ],
  },
  {
    name: 'a single db node',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
          database: { cluster_name: c1, sst_password: { env: SST } }
    `,
    problems: [
      '6:5: a single db node (db1) is not highly available: Galera needs at least 3 db nodes, or 2 plus a host with the arbitrator role',
    ],
  },
  {
    name: 'database section but no db hosts',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web] }
          database: { cluster_name: c1, sst_password: { env: SST } }
    `,
    problems: [
      '6:5: "database" is configured but no host has the db role; add db to the roles of the Galera nodes',
    ],
  },
  {
    name: 'db node that is also the arbitrator',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db, arbitrator] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
          database: { cluster_name: c1, sst_password: { env: SST } }
    `,
    problems: [
      '6:54: host "db2" has both the db and the arbitrator role; an arbitrator is a vote without data and must run on its own host',
    ],
  },
  {
    name: 'SST account other than mysql without a password',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
          database:
            cluster_name: c1
            sst_user: backup
    `,
    problems: [
      '10:17: "database.sst_user" backup needs "sst_password": without a password SST logs in over the unix socket as the OS user mysqld runs as, so the account must be "mysql"',
    ],
  },
  {
    name: 'empty database section',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
          database:
    `,
    problems: [
      '6:5: "database" must be a map, got an empty value',
    ],
  },
  {
    name: 'camelCase database keys',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
          database:
            clusterName: c1
            sst_password: { env: SST }
    `,
    problems: [
      '8:5: missing required key "cluster_name" in "database"',
      '9:7: unknown key "clusterName" in "database"; did you mean "cluster_name"?',
    ],
  },
  {
    name: 'unquoted MariaDB version and octal-looking numbers',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
          database:
            cluster_name: c1
            version: 10.10
            sst_password: { env: SST }
    `,
    problems: [
      '10:16: "database.version" must be a quoted MariaDB series like "10.11" (unquoted, YAML reads 10.10 as the number 10.1), got 10.1',
    ],
  },
  {
    name: 'sync_wait out of range and a size with a unit typo',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
          database:
            cluster_name: c1
            sst_password: { env: SST }
            sync_wait: 16
            gcache_size: 512MB
    `,
    problems: [
      '11:18: "database.sync_wait" must be an integer from 0 to 15, got 16',
      '12:20: "database.gcache_size" must be a size like 512M or 2G (a whole number followed by K, M, G or T), or a number of bytes, got "512MB"',
    ],
  },
  {
    name: 'options that lms-ha manages and a bad option name',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
          database:
            cluster_name: c1
            sst_password: { env: SST }
            options:
              wsrep-sync-wait: 3
              Slow Query Log: 1
              innodb_log_file_size: 1G
    `,
    problems: [
      '12:9: "database.options.wsrep-sync-wait" is set by "database.sync_wait"; remove it from options',
      '13:9: option name "Slow Query Log" in "database.options" must be lowercase letters, digits, "_" and "-"',
    ],
  },
  {
    name: 'bind address of one host',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
          database:
            cluster_name: c1
            sst_password: { env: SST }
            bind_address: 10.0.0.11
    `,
    problems: [
      '11:21: "database.bind_address" 10.0.0.11 would be the same on every db node; use 0.0.0.0 (the firewall from provision limits who can connect) or leave it out',
    ],
  },
  // ---------------------------------------------------------------- load balancer
  {
    name: 'unknown load balancer kind',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
            - { name: lb1, address: 10.0.0.21, roles: [lb] }
            - { name: lb2, address: 10.0.0.22, roles: [lb] }
          database: { cluster_name: c1, sst_password: { env: SST } }
          load_balancer:
            kind: haproxi
            vip: 10.0.0.100/24
            interface: eth0
            virtual_router_id: 51
            auth_password: { env: VRRP }
    `,
    problems: [
      '12:13: "load_balancer.kind" must be one of haproxy, proxysql, got "haproxi"; did you mean "haproxy"?',
    ],
  },
  {
    name: 'VIP without a prefix, router id out of range, interface name too long',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
            - { name: lb1, address: 10.0.0.21, roles: [lb] }
            - { name: lb2, address: 10.0.0.22, roles: [lb] }
          database: { cluster_name: c1, sst_password: { env: SST } }
          load_balancer:
            kind: haproxy
            vip: 10.0.0.100
            interface: enp0s31f6-uplink0
            virtual_router_id: 256
            auth_password: { env: VRRP }
    `,
    problems: [
      '13:12: "load_balancer.vip" must be an IPv4 address with the prefix length of its subnet, like 10.0.0.100/24, got "10.0.0.100"',
      '14:18: "load_balancer.interface" must be a network interface name like eth0 (at most 15 characters), got "enp0s31f6-uplink0"',
      '15:26: "load_balancer.virtual_router_id" must be an integer from 1 to 255, got 256',
    ],
  },
  {
    name: 'VIP outside the load balancers subnet',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
            - { name: lb1, address: 10.0.0.21, roles: [lb] }
            - { name: lb2, address: 10.0.0.22, roles: [lb] }
          database: { cluster_name: c1, sst_password: { env: SST } }
          load_balancer:
            kind: haproxy
            vip: 10.0.1.100/24
            interface: eth0
            virtual_router_id: 51
            auth_password: { env: VRRP }
    `,
    problems: [
      '13:12: "load_balancer.vip" 10.0.1.100 is not in the subnet of load balancer "lb1" (10.0.0.21/24)',
      '13:12: "load_balancer.vip" 10.0.1.100 is not in the subnet of load balancer "lb2" (10.0.0.22/24)',
    ],
  },
  {
    name: 'VIP equal to a host address',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
            - { name: lb1, address: 10.0.0.21, roles: [lb] }
            - { name: lb2, address: 10.0.0.22, roles: [lb] }
          database: { cluster_name: c1, sst_password: { env: SST } }
          load_balancer:
            kind: haproxy
            vip: 10.0.0.21/24
            interface: eth0
            virtual_router_id: 51
            auth_password: { env: VRRP }
    `,
    problems: [
      '13:12: "load_balancer.vip" 10.0.0.21 is the address of host "lb1"; the VIP must be an address no host uses',
    ],
  },
  {
    name: 'VIP is the network address',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
            - { name: lb1, address: 10.0.0.21, roles: [lb] }
            - { name: lb2, address: 10.0.0.22, roles: [lb] }
          database: { cluster_name: c1, sst_password: { env: SST } }
          load_balancer:
            kind: haproxy
            vip: 10.0.0.0/24
            interface: eth0
            virtual_router_id: 51
            auth_password: { env: VRRP }
    `,
    problems: [
      '13:12: "load_balancer.vip" 10.0.0.0 is the network address of 10.0.0.0/24; pick an unused host address',
    ],
  },
  {
    name: 'one load balancer for a VIP',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
            - { name: lb1, address: 10.0.0.21, roles: [lb] }
          database: { cluster_name: c1, sst_password: { env: SST } }
          load_balancer:
            kind: haproxy
            vip: 10.0.0.100/24
            interface: eth0
            virtual_router_id: 51
            auth_password: { env: VRRP }
    `,
    problems: [
      '10:5: "load_balancer" needs at least two hosts with the lb role to move the VIP between; found 1 (lb1)',
    ],
  },
  {
    name: 'load balancer without a database',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: lb1, address: 10.0.0.21, roles: [lb] }
            - { name: lb2, address: 10.0.0.22, roles: [lb] }
          load_balancer:
            kind: haproxy
            vip: 10.0.0.100/24
            interface: eth0
            virtual_router_id: 51
            auth_password: { env: VRRP }
    `,
    problems: [
      '7:5: "load_balancer" needs a "database" section: it balances the Galera nodes',
    ],
  },
  {
    name: 'proxysql without its section, with haproxy ports',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
            - { name: lb1, address: 10.0.0.21, roles: [lb] }
            - { name: lb2, address: 10.0.0.22, roles: [lb] }
          database: { cluster_name: c1, sst_password: { env: SST } }
          load_balancer:
            kind: proxysql
            vip: 10.0.0.100/24
            interface: eth0
            virtual_router_id: 51
            auth_password: { env: VRRP }
            ports: { writer: 3307 }
            clustercheck_port: 9200
    `,
    problems: [
      '11:5: "load_balancer" of kind proxysql needs a "proxysql" section with admin_password and monitor_password',
      '17:16: "load_balancer.ports.writer" is for kind haproxy; proxysql uses ports mysql, admin',
      '18:7: "load_balancer.clustercheck_port" is only for kind haproxy (ProxySQL monitors the nodes itself)',
    ],
  },
  {
    name: 'haproxy with a proxysql section',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
            - { name: lb1, address: 10.0.0.21, roles: [lb] }
            - { name: lb2, address: 10.0.0.22, roles: [lb] }
          database: { cluster_name: c1, sst_password: { env: SST } }
          load_balancer:
            kind: haproxy
            vip: 10.0.0.100/24
            interface: eth0
            virtual_router_id: 51
            auth_password: { env: VRRP }
            proxysql:
              admin_password: { env: PROXYSQL_ADMIN }
              monitor_password: { env: PROXYSQL_MONITOR }
    `,
    problems: [
      '17:7: "load_balancer.proxysql" is only for kind proxysql; this load balancer is haproxy',
    ],
  },
  {
    name: 'proxysql package with a bad checksum',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
            - { name: lb1, address: 10.0.0.21, roles: [lb] }
            - { name: lb2, address: 10.0.0.22, roles: [lb] }
          database: { cluster_name: c1, sst_password: { env: SST } }
          load_balancer:
            kind: proxysql
            vip: 10.0.0.100/24
            interface: eth0
            virtual_router_id: 51
            auth_password: { env: VRRP }
            proxysql:
              admin_password: { env: PROXYSQL_ADMIN }
              monitor_password: { env: PROXYSQL_MONITOR }
              package: { url: "https://example.com/proxysql.deb", sha256: abc }
    `,
    problems: [
      '20:69: "load_balancer.proxysql.package.sha256" must be the 64 hex digits of a SHA-256 checksum, got "abc"',
    ],
  },
  {
    name: 'proxysql with its ports moved',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
            - { name: lb1, address: 10.0.0.21, roles: [lb] }
            - { name: lb2, address: 10.0.0.22, roles: [lb] }
          database: { cluster_name: c1, sst_password: { env: SST } }
          load_balancer:
            kind: proxysql
            vip: 10.0.0.100/24
            interface: eth0
            virtual_router_id: 51
            auth_password: { env: VRRP }
            ports: { mysql: 3306, admin: 6032 }
            proxysql:
              admin_password: { env: PROXYSQL_ADMIN }
              monitor_password: { env: PROXYSQL_MONITOR }
    `,
    problems: [
      '17:23: "load_balancer.ports.mysql" must stay 6033 with kind proxysql (ProxySQL reads its listening ports only when it starts, and lms-ha does not restart it to move them); leave the key out',
    ],
  },
  {
    name: 'writer port collides with MariaDB on a shared host',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: n1, address: 10.0.0.11, roles: [db, lb] }
            - { name: n2, address: 10.0.0.12, roles: [db, lb] }
            - { name: n3, address: 10.0.0.13, roles: [db] }
          database: { cluster_name: c1, sst_password: { env: SST } }
          load_balancer:
            kind: haproxy
            vip: 10.0.0.100/24
            interface: eth0
            virtual_router_id: 51
            auth_password: { env: VRRP }
            ports: { writer: 3306, reader: 4567 }
    `,
    problems: [
      '15:24: port 3306 of "load_balancer.ports.writer" collides with "database.port" (default 3306) on host "n1"; pick another port',
      '15:38: port 4567 of "load_balancer.ports.reader" collides with the Galera replication port 4567 on host "n1"; pick another port',
    ],
  },
  {
    name: 'reader and writer on the same port',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
            - { name: lb1, address: 10.0.0.21, roles: [lb] }
            - { name: lb2, address: 10.0.0.22, roles: [lb] }
          database: { cluster_name: c1, sst_password: { env: SST } }
          load_balancer:
            kind: haproxy
            vip: 10.0.0.100/24
            interface: eth0
            virtual_router_id: 51
            auth_password: { env: VRRP }
            ports: { writer: 3307, reader: 3307 }
    `,
    problems: [
      '17:38: port 3307 of "load_balancer.ports.reader" collides with "load_balancer.ports.writer" on host "lb1"; pick another port',
    ],
  },
  {
    name: 'web frontend on a load balancer that is also a web host',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
            - { name: lb1, address: 10.0.0.21, roles: [lb, web] }
            - { name: lb2, address: 10.0.0.22, roles: [lb, web] }
          database: { cluster_name: c1, sst_password: { env: SST } }
          load_balancer:
            kind: haproxy
            vip: 10.0.0.100/24
            interface: eth0
            virtual_router_id: 51
            auth_password: { env: VRRP }
            ports: { web: 80 }
    `,
    problems: [
      '17:21: port 80 of "load_balancer.ports.web" collides with "load_balancer.haproxy.web_backend_port" (default 80) on host "lb1"; pick another port',
    ],
  },
  {
    name: 'web frontend without web hosts',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
            - { name: lb1, address: 10.0.0.21, roles: [lb] }
            - { name: lb2, address: 10.0.0.22, roles: [lb] }
          database: { cluster_name: c1, sst_password: { env: SST } }
          load_balancer:
            kind: haproxy
            vip: 10.0.0.100/24
            interface: eth0
            virtual_router_id: 51
            auth_password: { env: VRRP }
            ports: { web: 80 }
    `,
    problems: [
      '17:21: "load_balancer.ports.web" is set but no host has the web role to send the traffic to',
    ],
  },
  {
    name: 'same virtual_router_id in two environments on one network',
    text: yaml`
      version: 1
      environments:
        staging:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
            - { name: lb1, address: 10.0.0.21, roles: [lb] }
            - { name: lb2, address: 10.0.0.22, roles: [lb] }
          database: { cluster_name: c1, sst_password: { env: SST } }
          load_balancer: { kind: haproxy, vip: 10.0.0.100/24, interface: eth0, virtual_router_id: 51, auth_password: { env: VRRP } }
        production:
          hosts:
            - { name: db1, address: 10.0.0.111, roles: [db] }
            - { name: db2, address: 10.0.0.112, roles: [db] }
            - { name: db3, address: 10.0.0.113, roles: [db] }
            - { name: lb1, address: 10.0.0.121, roles: [lb] }
            - { name: lb2, address: 10.0.0.122, roles: [lb] }
          database: { cluster_name: c2, sst_password: { env: SST } }
          load_balancer: { kind: haproxy, vip: 10.0.0.200/24, interface: eth0, virtual_router_id: 51, auth_password: { env: VRRP } }
    `,
    problems: [
      '20:93: "load_balancer.virtual_router_id" 51 is also used by environment "staging" (line 11) on the same network 10.0.0.0/24; VRRP groups sharing a network need distinct ids',
    ],
  },
  // ---------------------------------------------------------------- storage
  {
    name: 'GlusterFS replica 2 without an arbiter',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: s1, address: 10.0.0.41, roles: [storage] }
            - { name: s2, address: 10.0.0.42, roles: [storage] }
          storage: { kind: glusterfs, volume: files, mount_path: /srv/files }
    `,
    problems: [
      '7:5: GlusterFS replica 2 (s1, s2) is refused: two copies without an arbiter can split brain; add a third host with the storage role or name an arbiter host in "storage.arbiter"',
    ],
  },
  {
    name: 'GlusterFS on one host',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: s1, address: 10.0.0.41, roles: [storage] }
          storage: { kind: glusterfs, volume: files, mount_path: /srv/files }
    `,
    problems: [
      '6:5: GlusterFS needs at least 3 hosts with the storage role (or 2 plus "storage.arbiter"); found 1 (s1)',
    ],
  },
  {
    name: 'GlusterFS arbiter naming an unknown host',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: s1, address: 10.0.0.41, roles: [storage] }
            - { name: s2, address: 10.0.0.42, roles: [storage] }
            - { name: quorum, address: 10.0.0.43, roles: [web] }
          storage: { kind: glusterfs, volume: files, mount_path: /srv/files, arbiter: quorom }
    `,
    problems: [
      '8:81: "storage.arbiter" names host "quorom", which is not defined in environment "prod"; did you mean "quorum"?',
    ],
  },
  {
    name: 'GlusterFS arbiter with three data hosts',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: s1, address: 10.0.0.41, roles: [storage] }
            - { name: s2, address: 10.0.0.42, roles: [storage] }
            - { name: s3, address: 10.0.0.43, roles: [storage] }
            - { name: q1, address: 10.0.0.44, roles: [web] }
          storage: { kind: glusterfs, volume: files, mount_path: /srv/files, arbiter: q1 }
    `,
    problems: [
      '9:81: "storage.arbiter" is for a volume with 2 data copies; with 3 storage hosts (s1, s2, s3) remove the arbiter',
    ],
  },
  {
    name: 'GlusterFS without volume and mount path',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: s1, address: 10.0.0.41, roles: [storage] }
            - { name: s2, address: 10.0.0.42, roles: [storage] }
            - { name: s3, address: 10.0.0.43, roles: [storage] }
          storage:
            kind: glusterfs
    `,
    problems: [
      '8:5: "storage" of kind glusterfs needs "mount_path" (where the volume is mounted; the moodle and chamilo presets default it)',
      '8:5: "storage" of kind glusterfs needs "volume" (the GlusterFS volume name)',
    ],
  },
  {
    name: 'GlusterFS brick inside the mounted volume',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: s1, address: 10.0.0.41, roles: [storage] }
            - { name: s2, address: 10.0.0.42, roles: [storage] }
            - { name: s3, address: 10.0.0.43, roles: [storage] }
          storage:
            kind: glusterfs
            volume: files
            mount_path: /srv/files
            brick_path: /srv/files/brick
    `,
    problems: [
      '12:19: the brick /srv/files/brick is inside the mounted volume /srv/files; keep the brick (GlusterFS\'s own copy) outside "storage.mount_path"',
    ],
  },
  {
    name: 'S3 storage without its section, with GlusterFS settings and storage hosts',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: s1, address: 10.0.0.41, roles: [storage] }
          storage:
            kind: s3
            volume: files
    `,
    problems: [
      '5:49: host "s1" has the storage role, but "storage.kind" is s3; only glusterfs uses storage hosts',
      '6:5: "storage" of kind s3 needs an "s3" section with bucket, access_key_id and secret_access_key',
      '8:7: "storage.volume" is only for kind glusterfs; this storage is s3',
    ],
  },
  {
    name: 'unknown storage kind and relative mount path',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web] }
          storage: { kind: nfs, mount_path: srv/files }
    `,
    problems: [
      '6:22: "storage.kind" must be one of glusterfs, s3, none, got "nfs"',
      '6:39: "storage.mount_path" must be an absolute path of letters, digits, ".", "_", "-" and "/" (no spaces), got "srv/files"',
    ],
  },
  // ---------------------------------------------------------------- app
  {
    name: 'unknown preset',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web] }
          app: { preset: mooodle }
    `,
    problems: [
      '6:20: "app.preset" must be one of moodle, openedx, chamilo, custom, got "mooodle"; did you mean "moodle"?',
    ],
  },
  {
    name: 'user granted on a misspelled database',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
          app:
            preset: openedx
            users:
              - { name: edxapp001, password: { env: EDXAPP_DB_PASSWORD }, databases: [edxapp, edxap_csmh] }
          database: { cluster_name: c1, sst_password: { env: SST } }
    `,
    problems: [
      '11:89: app user "edxapp001" refers to database "edxap_csmh", which is not declared; did you mean "edxapp_csmh"?',
    ],
  },
  {
    name: 'user granted on an undeclared database without a preset',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
          app:
            users:
              - { name: lms, password: { env: LMS_DB_PASSWORD }, databases: [lms] }
          database: { cluster_name: c1, sst_password: { env: SST } }
    `,
    problems: [
      '10:72: app user "lms" refers to database "lms", which is not declared; declare it in "app.databases" (no databases are declared)',
    ],
  },
  {
    name: 'duplicate app users and databases, reserved user names',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
          app:
            databases:
              - { name: lms }
              - { name: lms }
            users:
              - { name: lms, password: { env: A }, databases: [lms] }
              - { name: lms, password: { env: B }, databases: [lms] }
              - { name: root, password: { env: C }, databases: [lms] }
              - { name: sst, password: { env: D }, databases: [lms] }
          database: { cluster_name: c1, sst_password: { env: SST } }
    `,
    problems: [
      '11:19: duplicate app database "lms" (first declared at line 10)',
      '14:19: duplicate app user "lms" (first defined at line 13)',
      '15:19: app user "root" is reserved for MariaDB itself; give the application its own user',
      '16:19: app user "sst" is the SST user ("database.sst_user"); give the application its own user',
    ],
  },
  {
    name: 'privileges as a single word and as an unknown privilege',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
          app:
            preset: moodle
            users:
              - { name: a, password: { env: A }, databases: [moodle], privileges: SELECT }
              - { name: b, password: { env: B }, databases: [moodle], privileges: [SELECT, SELEKT] }
          database: { cluster_name: c1, sst_password: { env: SST } }
    `,
    problems: [
      '11:77: "privileges" of app user "a" must be ALL or a list of privileges like [SELECT, INSERT, UPDATE, DELETE], got "SELECT"',
      '12:86: "privileges[1]" of app user "b" must be one of ALTER, ALTER ROUTINE, CREATE, CREATE ROUTINE, CREATE TEMPORARY TABLES, CREATE VIEW, DELETE, DELETE HISTORY, DROP, EVENT, EXECUTE, INDEX, INSERT, LOCK TABLES, REFERENCES, SELECT, SHOW VIEW, TRIGGER, UPDATE, got "SELEKT"; did you mean "SELECT"?',
    ],
  },
  {
    name: 'app users without a database section',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web] }
          app:
            preset: moodle
            users:
              - { name: moodle, password: { env: MOODLE_DB_PASSWORD }, databases: [moodle] }
    `,
    problems: [
      '8:7: "app.users" needs a "database" section (the cluster to create them in)',
    ],
  },
  // ---------------------------------------------------------------- migrate
  {
    name: 'file migration from an unknown host without storage',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web] }
          migrate:
            files: { source_host: legacy, source_path: /var/moodledata }
    `,
    problems: [
      '7:7: "migrate.files" needs a "storage" section of kind glusterfs or s3 to copy the files into',
      '7:29: "migrate.files.source_host" names host "legacy", which is not defined in environment "prod"; defined hosts: web1',
    ],
  },
  {
    name: 'database migration without a cluster, of an undeclared database',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web] }
            - { name: legacy, address: 10.0.0.5, roles: [] }
          app: { preset: chamilo }
          migrate:
            database: { source_host: legacy, databases: [chamilo, forum] }
    `,
    problems: [
      '9:7: "migrate.database" needs a "database" section (the cluster to copy into)',
      '9:61: "migrate.database" refers to database "forum", which is not declared; declare it in "app.databases" (declared: chamilo)',
    ],
  },
  {
    name: 'database migration with an empty database list',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web] }
          migrate:
            database: { source_host: web1, databases: [] }
    `,
    problems: [
      '7:49: "migrate.database.databases" must not be empty',
    ],
  },
  {
    name: 'option value that is a list',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
          database:
            cluster_name: c1
            options: { innodb_log_file_size: [1G] }
    `,
    problems: [
      '8:40: "database.options.innodb_log_file_size" must be a string, a number or a boolean (true or false), got a list',
    ],
  },
  {
    name: 'unquoted octal mode',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: s1, address: 10.0.0.41, roles: [storage] }
          storage: { kind: glusterfs, volume: files, mount_path: /srv/files, mode: 0770 }
    `,
    problems: [
      '6:78: "storage.mode" must be a quoted octal mode like "0770" (YAML reads unquoted 0770 as the number 770), got 770',
    ],
  },
  {
    name: 'protected written as yes',
    text: yaml`
      version: 1
      environments:
        prod:
          protected: yes
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web] }
    `,
    problems: [
      '4:16: "protected" must be a boolean (true or false), got "yes"',
    ],
  },
  {
    name: 'hosts written as a map',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            web1: { address: 10.0.0.31, roles: [web] }
    `,
    problems: [
      '5:7: "hosts" must be a list, got a map',
    ],
  },
  {
    name: 'environments written as a list',
    text: yaml`
      version: 1
      environments:
        - prod
    `,
    problems: [
      '3:3: "environments" must be a map, got a list',
    ],
  },
  {
    name: 'SSH user that is not a Unix user name',
    text: yaml`
      version: 1
      environments:
        prod:
          ssh: { user: Deploy User }
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web] }
    `,
    problems: [
      '4:18: "ssh.user" must be a Unix user or group name (lowercase letters, digits, "_" and "-", like deploy), got "Deploy User"',
    ],
  },
  {
    name: 'DNS name with a port',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: web1, address: "web1.example.com:22", roles: [web] }
    `,
    problems: [
      '5:32: "address" of host "web1" must not include a port; set ssh.port: 22 instead',
    ],
  },
  {
    name: 'GlusterFS arbiter that is one of two storage hosts',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: s1, address: 10.0.0.41, roles: [storage] }
            - { name: s2, address: 10.0.0.42, roles: [storage] }
          storage: { kind: glusterfs, volume: files, mount_path: /srv/files, arbiter: s2 }
    `,
    problems: [
      '7:81: GlusterFS with an arbiter needs 2 storage hosts besides the arbiter; found 1 (s1)',
    ],
  },
  {
    name: 'GlusterFS mount inside the brick',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: s1, address: 10.0.0.41, roles: [storage] }
            - { name: s2, address: 10.0.0.42, roles: [storage] }
            - { name: s3, address: 10.0.0.43, roles: [storage] }
          storage:
            kind: glusterfs
            volume: files
            brick_path: /data/brick
            mount_path: /data/brick/mnt
    `,
    problems: [
      '12:19: "storage.mount_path" /data/brick/mnt is inside the brick /data/brick; mount the volume outside the brick directory',
    ],
  },
  {
    name: 'database migrated twice in one list',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
            - { name: legacy, address: 10.0.0.5, roles: [] }
          app: { preset: moodle }
          database: { cluster_name: c1, sst_password: { env: SST } }
          migrate:
            database: { source_host: legacy, databases: [moodle, moodle] }
    `,
    problems: [
      '12:60: "moodle" is listed twice in "migrate.database.databases"',
    ],
  },
  {
    name: 'user host pattern with a quote',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
          app:
            preset: moodle
            users:
              - name: moodle
                password: { env: MOODLE_DB_PASSWORD }
                databases: [moodle]
                hosts: ["10.0.0.%", "x' OR 1=1"]
          database: { cluster_name: c1, sst_password: { env: SST } }
    `,
    problems: [
      '14:31: "hosts[1]" of app user "moodle" must be a MariaDB host pattern like %, localhost or 10.0.0.%, got "x\' OR 1=1"',
    ],
  },
  {
    name: 'cloud VIP hook with a relative path',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - { name: db1, address: 10.0.0.11, roles: [db] }
            - { name: db2, address: 10.0.0.12, roles: [db] }
            - { name: db3, address: 10.0.0.13, roles: [db] }
            - { name: lb1, address: 10.0.0.21, roles: [lb] }
            - { name: lb2, address: 10.0.0.22, roles: [lb] }
          database: { cluster_name: c1, sst_password: { env: SST } }
          load_balancer:
            kind: haproxy
            vip: 10.0.0.100/24
            interface: eth0
            virtual_router_id: 51
            auth_password: { env: VRRP }
            cloud_vip_hook: move-eip.sh
    `,
    problems: [
      '17:23: "load_balancer.cloud_vip_hook" must be an absolute path of letters, digits, ".", "_", "-" and "/" (no spaces), got "move-eip.sh"',
    ],
  },
  {
    name: 'a list used as a key',
    text: yaml`
      ? [version, environments]
      : 1
    `,
    problems: [
      '1:1: missing required key "environments" at the top level',
      '1:1: missing required key "version" at the top level',
      '1:1: unknown key "[ version, environments ]" at the top level; allowed keys: version, environments',
    ],
  },
  {
    name: 'address left empty',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - name: web1
              address:
              roles: [web]
    `,
    problems: [
      '6:9: "address" of host "web1" must be a string, got an empty value',
    ],
  },
  {
    name: 'unknown YAML tag',
    text: yaml`
      version: 1
      environments:
        prod:
          hosts:
            - !host { name: web1, address: 10.0.0.31, roles: [web] }
    `,
    problems: [
      '5:9: YAML problem: Unresolved tag: !host',
    ],
  },
  // ---------------------------------------------------------------- many at once
  {
    name: 'problems in two environments are all reported, in file order',
    text: yaml`
      version: 1
      environments:
        staging:
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web], zone: a }
        production:
          hosts:
            - { name: web1, address: 10.0.0.31, roles: [web] }
            - { name: web1, address: 10.0.0.31, roles: [web] }
    `,
    problems: [
      '5:57: unknown key "zone" in host "web1"; allowed keys: name, address, roles, ssh, labels',
      '9:17: duplicate host name "web1" (first defined at line 8)',
      '9:32: duplicate address "10.0.0.31": host "web1" (line 8) already uses it',
    ],
  },
];
