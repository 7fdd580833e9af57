/**
 * `database.package_version` as an apt preferences file. Naming the version
 * on the command line (`apt-get install mariadb-server=V`) is not enough: its
 * siblings from the same source (mariadb-server-core, mariadb-client,
 * libmariadb3, ...) depend on exactly V, and apt would still pick the newest
 * of those, so an older pin fails to install and an unattended `apt-get
 * upgrade` moves a pinned node out of step with the others. One preferences
 * record for the whole source package holds every one of them at V.
 */
export const MARIADB_PIN_PATH = '/etc/apt/preferences.d/lms-ha-mariadb.pref';

/** Debian's source package for mariadb-server and everything built with it. */
export const MARIADB_SOURCE_PACKAGE = 'mariadb';

export function renderMariadbPin(version: string): string {
  return [
    '# Written by lms-ha from database.package_version: every package built from',
    "# MariaDB's source stays at this version (also for apt-get upgrade), until",
    '# the inventory names another one and deploy-db upgrades node by node.',
    `Package: src:${MARIADB_SOURCE_PACKAGE}`,
    `Pin: version ${version}`,
    'Pin-Priority: 1001',
    '',
  ].join('\n');
}
