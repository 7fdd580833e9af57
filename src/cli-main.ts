import { cliUsage, parseCliArgs } from './cli.js';
import { toDeployError } from './errors.js';
import { ConsoleReporter } from './report/console-reporter.js';
import { executeRun } from './run.js';

/** The CLI front: same run, human text on stderr, `--json` result on stdout. Returns the exit code. */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let invocation;
  try {
    invocation = parseCliArgs(argv, env);
  } catch (error) {
    const failure = toDeployError(error);
    process.stderr.write(`lms-ha: ${failure.message}\n${failure.hint ? `hint: ${failure.hint}\n` : ''}`);
    return failure.reason === 'internal' ? 1 : 2;
  }
  if (invocation === 'help') {
    process.stdout.write(cliUsage());
    return 0;
  }
  if (invocation === 'usage') {
    process.stderr.write(`lms-ha: no command given\n\n${cliUsage()}`);
    return 2;
  }
  const reporter = new ConsoleReporter({ json: invocation.json });
  const report = await executeRun(invocation.request, {
    logger: reporter,
    redactor: reporter.redactor,
    registerSecret: (value) => reporter.registerSecret(value),
  });
  return reporter.report(report);
}
