import { DeployError, toDeployError } from './errors.js';
import { readActionInputs } from './inputs.js';
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
  await reporter.report(report);
}
