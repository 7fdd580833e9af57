import { DeployError, toDeployError } from './errors.js';
import { readActionInputs, readGitHubInputs, rawCommandInput } from './inputs.js';
import { runWithGitHub } from './github/reviewed-run.js';
import { reportScheduledHealth } from './github/scheduled-health.js';
import { ActionsReporter } from './report/actions-reporter.js';
import type { RunReport } from './report/run-report.js';
import { COMMANDS } from './commands/registry.js';
import type { CommandName } from './request.js';
import { executeRun } from './run.js';

/**
 * The action front (actions/typescript-action's shape): read the inputs, run
 * with the GitHub side (plan comment, reviewed-plan gate), report. Every
 * failure ends as outputs + annotations + setFailed, never as an uncaught
 * stack trace.
 */
export async function run(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const reporter = new ActionsReporter();
  const github = readGitHubInputs();
  let report: RunReport;
  try {
    const request = readActionInputs(env);
    const deps = { logger: reporter, redactor: reporter.redactor, registerSecret: (value: string) => reporter.registerSecret(value) };
    report = await runWithGitHub(request, github, {
      execute: (r) => executeRun(r, deps),
      logger: reporter,
      notice: (message) => reporter.notice(message),
      redactor: reporter.redactor,
      env,
    });
  } catch (error) {
    const failure = toDeployError(error);
    // Name the command that was asked for (when it is one), so a refused input still reaches its health issue.
    const asked = rawCommandInput();
    report = {
      command: COMMANDS.some((c) => c.name === asked) ? asked : ('(invalid command)' as CommandName),
      mode: env['INPUT_MODE'] === 'apply' ? 'apply' : 'plan',
      environment: env['INPUT_ENVIRONMENT'] ?? '',
      error: failure instanceof DeployError ? failure : undefined,
    };
  }
  // Scheduled verify-ha: keep the environment's health issue in step (never changes the result).
  const health = await reportScheduledHealth(report, github, { logger: reporter, redactor: reporter.redactor, env });
  if (health?.issue) {
    report.sections = [...(report.sections ?? []), { title: 'Health issue', markdown: `#${health.issue.number} ${health.action}: ${health.issue.url}` }];
  }
  await reporter.report(report);
}
