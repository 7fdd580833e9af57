/**
 * The command lists the reusable workflows and the caller templates use by
 * default, written once here. YAML cannot import, so
 * test/unit/github/workflows.test.ts holds every `commands` default in
 * .github/workflows/ and workflows-templates/ to these lists, and every entry
 * to a command this version has built.
 *
 * provision is left out until it is built: a default that names an unbuilt
 * command fails the first step of every deploy and puts a red check on every
 * pull request.
 */
export const DEFAULT_PLAN_COMMANDS = ['deploy-db', 'deploy-lb', 'migrate-storage'] as const;

/** In the order the deploy job's steps run them; verify-ha last, read-only. */
export const DEFAULT_DEPLOY_COMMANDS = ['deploy-db', 'deploy-lb', 'migrate-storage', 'verify-ha'] as const;

/** The fixed step order of lms-ha-deploy.yml; a command list only selects from it. */
export const DEPLOY_STEP_ORDER = ['provision', 'deploy-db', 'deploy-lb', 'migrate-storage', 'verify-ha'] as const;
