import { DeployError, toDeployError } from './errors.js';
import { readActionInputs, readGitHubInputs } from './inputs.js';
import { reportScheduledHealth } from './github/scheduled-health.js';
import { ActionsReporter } from './report/actions-reporter.js';
import type { RunReport } from './report/run-report.js';
import { executeRun } from './run.js';

/**
 * The action front (actions/typescript-action's shape): read the inputs, run,
 * report. Every failure ends as outputs + annotations + setFailed, never as an
 * uncaught stack trace.
 */
export async function run(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const reporter = new ActionsReporter();
  let report: RunReport;
  try {
    const request = readActionInputs(env);
    report = await executeRun(request, {
      logger: reporter,
      redactor: reporter.redactor,
      registerSecret: (value) => reporter.registerSecret(value),
    });
  } catch (error) {
    const failure = toDeployError(error);
    report = {
      command: 'preflight',
      mode: 'plan',
      environment: env['INPUT_ENVIRONMENT'] ?? '',
      error: failure instanceof DeployError ? failure : undefined,
    };
  }
  // Scheduled verify-ha: keep the environment's health issue in step (never changes the result).
  const health = await reportScheduledHealth(report, readGitHubInputs(), { logger: reporter, redactor: reporter.redactor, env });
  if (health?.issue) {
    report.sections = [...(report.sections ?? []), { title: 'Health issue', markdown: `#${health.issue.number} ${health.action}: ${health.issue.url}` }];
  }
  await reporter.report(report);
}
