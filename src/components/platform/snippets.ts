/**
 * The platform's own configuration text for the connection: Moodle's
 * config.php block, Tutor's config.yml settings, Chamilo's configuration.php
 * values. Pure and deterministic. A password is never written: the PHP
 * snippets read it with getenv() from the variable lms-ha reads it from, the
 * YAML one names that variable and the command that sets it.
 */
import type { PlatformPreset } from '../../inventory/presets.js';
import type { ConnectionDatabase, ConnectionFiles } from './connection.js';

export interface Snippet {
  /** Where the text goes on the platform's side. */
  file: string;
  language: 'php' | 'yaml';
  text: string;
}

interface SnippetInput {
  preset: PlatformPreset;
  environment: string;
  database: ConnectionDatabase;
  files: ConnectionFiles;
  web: { host: string; port: number } | null;
}

/** A PHP single-quoted string literal: only backslash and quote are special. */
export function phpString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A YAML scalar that reads back as exactly this string (JSON strings are YAML). */
function yamlString(value: string): string {
  return JSON.stringify(value);
}

function balancerWords(d: ConnectionDatabase): string {
  return d.balancer === 'haproxy' ? 'HAProxy + Keepalived' : 'ProxySQL + Keepalived';
}

function causalityComment(d: ConnectionDatabase): string {
  return (d.syncWait & 1) === 1
    ? `reads wait for writes already committed (wsrep_sync_wait=${d.syncWait})`
    : `wsrep_sync_wait=${d.syncWait}: reads may miss a write committed a moment ago`;
}

function moodle(i: SnippetInput): Snippet {
  const d = i.database;
  const pass = `getenv(${phpString(d.password.env)})`;
  const lines = [
    `<?php  // Moodle config.php: the database and files block written by lms-ha for environment ${i.environment}.`,
    `// dbpass is read from ${d.password.env} (the secret lms-ha reads); PHP-FPM clears the environment unless the pool passes it`,
    `// (env[${d.password.env}] = $${d.password.env}), or paste the value in place of getenv() on the web hosts only.`,
    '',
    'unset($CFG);',
    'global $CFG;',
    '$CFG = new stdClass();',
    '',
    "$CFG->dbtype    = 'mariadb';",
    "$CFG->dblibrary = 'native';",
    `$CFG->dbhost    = ${phpString(d.host)};  // the VIP (${balancerWords(d)})`,
    `$CFG->dbname    = ${phpString(d.name)};`,
    `$CFG->dbuser    = ${phpString(d.user)};`,
    `$CFG->dbpass    = ${pass};`,
    "$CFG->prefix    = 'mdl_';",
    '$CFG->dboptions = [',
    "    'dbpersist'   => false,",
    "    'dbsocket'    => false,",
    `    'dbport'      => ${d.writerPort},  // ${d.balancer === 'haproxy' ? 'writer listener: one node takes every write' : 'ProxySQL: writes to the writer hostgroup, reads split by its rules'}`,
    `    'dbcollation' => ${phpString(d.collation)},`,
  ];
  if (d.readerPort !== d.writerPort) {
    lines.push(
      "    'readonly'    => [",
      "        'instance' => [",
      `            ['dbhost' => ${phpString(d.host)}, 'dbport' => ${d.readerPort}, 'dbuser' => ${phpString(d.user)}, 'dbpass' => ${pass}],`,
      '        ],',
      "        'connecttimeout' => 2,",
      `        'latency' => ${(d.syncWait & 1) === 1 ? 0 : 1},  // ${causalityComment(d)}`,
      '    ],',
    );
  }
  lines.push('];', '');
  if (i.files.kind === 'glusterfs') {
    lines.push(
      `$CFG->dataroot  = ${phpString(i.files.mountPath)};  // GlusterFS volume ${i.files.volume}, mounted on ${i.files.mountedOn.join(', ') || 'the web hosts'}`,
      '$CFG->directorypermissions = 02770;',
    );
  } else {
    lines.push("// $CFG->dataroot: a directory shared by every web host (storage.kind is not glusterfs here).");
  }
  lines.push(
    i.web
      ? `// $CFG->wwwroot: your site's URL; the web farm answers on ${i.web.host}:${i.web.port} (HAProxy on the VIP).`
      : "// $CFG->wwwroot: your site's URL.",
    '',
  );
  return { file: 'config.php', language: 'php', text: lines.join('\n') };
}

function tutor(i: SnippetInput): Snippet {
  const d = i.database;
  const lines = [
    `# Tutor config.yml settings written by lms-ha for environment ${i.environment}: the database through ${balancerWords(d)} on the VIP.`,
    '# Merge into "$(tutor config printroot)/config.yml", then run: tutor config save',
    'RUN_MYSQL: false',
    `MYSQL_HOST: ${yamlString(d.host)}`,
    `MYSQL_PORT: ${d.writerPort}`,
    `OPENEDX_MYSQL_DATABASE: ${yamlString(d.name)}`,
    `OPENEDX_MYSQL_USERNAME: ${yamlString(d.user)}`,
    `# OPENEDX_MYSQL_PASSWORD is the value of ${d.password.env} (the secret lms-ha reads), never written here:`,
    `#   tutor config save --set OPENEDX_MYSQL_PASSWORD="$${d.password.env}"`,
    `# lms-ha created the databases (${d.databases.join(', ')}) and ${d.user}; Tutor's init job logs in as MYSQL_ROOT_USERNAME`,
    '# to create missing ones: give it an account allowed to do so, or the same user when nothing is missing.',
    `MYSQL_ROOT_USERNAME: ${yamlString(d.user)}`,
    `#   tutor config save --set MYSQL_ROOT_PASSWORD="$${d.password.env}"`,
    `# ${causalityComment(d)}`,
  ];
  if (i.files.kind === 's3') {
    const f = i.files;
    lines.push(
      '# Files on S3 (plugin tutor-contrib-s3: tutor plugins enable s3).',
      `S3_STORAGE_BUCKET: ${yamlString(f.bucket)}`,
      `S3_FILE_UPLOAD_BUCKET: ${yamlString(f.bucket)}`,
      `S3_PROFILE_IMAGE_BUCKET: ${yamlString(f.bucket)}`,
    );
    if (f.region) lines.push(`S3_REGION: ${yamlString(f.region)}`);
    if (f.endpoint) {
      const url = new URL(f.endpoint);
      lines.push(
        `S3_HOST: ${yamlString(url.hostname)}`,
        `S3_PORT: ${url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port)}`,
        `S3_USE_SSL: ${url.protocol === 'https:'}`,
      );
    }
    lines.push(
      `#   tutor config save --set OPENEDX_AWS_ACCESS_KEY="$${f.accessKeyId.env}" --set OPENEDX_AWS_SECRET_ACCESS_KEY="$${f.secretAccessKey.env}"`,
    );
  } else if (i.files.kind === 'glusterfs') {
    lines.push(`# Files: GlusterFS volume ${i.files.volume} mounted at ${i.files.mountPath} on ${i.files.mountedOn.join(', ')}; mount it as Tutor's data volume.`);
  }
  return { file: 'config.yml', language: 'yaml', text: `${lines.join('\n')}\n` };
}

function chamilo(i: SnippetInput): Snippet {
  const d = i.database;
  const lines = [
    `<?php  // Chamilo app/config/configuration.php: database values written by lms-ha for environment ${i.environment}.`,
    `// db_password is read from ${d.password.env} (the secret lms-ha reads); PHP-FPM clears the environment unless the pool passes it.`,
    `// Chamilo has one connection: every query goes to the ${d.balancer === 'haproxy' ? 'writer listener' : 'ProxySQL port, which splits reads from writes'}.`,
    `$_configuration['db_host'] = ${phpString(d.host)};  // the VIP (${balancerWords(d)})`,
    `$_configuration['db_port'] = ${phpString(String(d.writerPort))};`,
    `$_configuration['main_database'] = ${phpString(d.name)};`,
    `$_configuration['db_user'] = ${phpString(d.user)};`,
    `$_configuration['db_password'] = getenv(${phpString(d.password.env)});`,
    "$_configuration['db_manager_enabled'] = false;",
  ];
  if (i.files.kind === 'glusterfs') {
    lines.push(`// Files: GlusterFS volume ${i.files.volume} at ${i.files.mountPath} on ${i.files.mountedOn.join(', ')}: link app/courses and app/upload into it.`);
  }
  lines.push('');
  return { file: 'app/config/configuration.php', language: 'php', text: lines.join('\n') };
}

export function renderSnippet(i: SnippetInput): Snippet {
  return i.preset === 'moodle' ? moodle(i) : i.preset === 'openedx' ? tutor(i) : chamilo(i);
}
