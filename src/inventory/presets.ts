/**
 * What each application preset brings. A preset declares the databases its
 * platform needs, so `app.users[].databases` can refer to them without the
 * operator repeating them in `app.databases`.
 */
import type { AppPreset } from './schema.js';

export const PRESET_DATABASES: Readonly<Record<AppPreset, readonly string[]>> = {
  moodle: ['moodle'],
  // edxapp_csmh holds courseware student module history, split out of edxapp.
  openedx: ['edxapp', 'edxapp_csmh'],
  chamilo: ['chamilo'],
  custom: [],
};
