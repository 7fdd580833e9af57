/**
 * The inventory: what the rest of lms-ha may use. Load a file, select an
 * environment (defaults applied), check it has what the command needs, then
 * resolve its secrets. Nothing here touches the network.
 */
export { loadInventory, parseInventory, type ParsedInventory } from './load.js';
export {
  selectEnvironment,
  hostsWithRole,
  type Environment,
  type Host,
  type HostSsh,
  type App,
  type AppDatabase,
  type AppUser,
  type Database,
  type LoadBalancer,
  type HaproxyLoadBalancer,
  type ProxysqlLoadBalancer,
  type Storage,
  type GlusterStorage,
  type S3Storage,
  type NoStorage,
  type Migrate,
} from './environment.js';
export { requiredRoles, checkCommandNeeds, type CommandNeeds } from './commands.js';
export { resolveSecrets, findSecretReferences, Secrets, type SecretReference } from './secrets.js';
export {
  DEFAULTS,
  ROLES,
  InventorySchema,
  JSON_SCHEMA_PATH,
  type Inventory,
  type EnvironmentSpec,
  type HostSpec,
  type Role,
  type SecretRef,
} from './schema.js';
