/**
 * The inventory: what the rest of lms-ha may use. Load a file, select an
 * environment (defaults applied), check it has what the command needs, then
 * resolve its secrets. Nothing here touches the network.
 */
export { loadInventory, parseInventory, type ParsedInventory } from './load';
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
} from './environment';
export { requiredRoles, checkCommandNeeds, type CommandNeeds } from './commands';
export { resolveSecrets, findSecretReferences, Secrets, type SecretReference } from './secrets';
export {
  DEFAULTS,
  ROLES,
  InventorySchema,
  JSON_SCHEMA_PATH,
  renderInventoryJsonSchema,
  type Inventory,
  type EnvironmentSpec,
  type HostSpec,
  type Role,
  type SecretRef,
} from './schema';
