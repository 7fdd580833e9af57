import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cliUsage, parseCliArgs, parseImportTerraformArgs } from './cli.js';
import { mergeTerraformHosts, parseTerraformHosts } from './inventory/terraform.js';
import { DeployError, toDeployError } from './errors.js';
import { ConsoleReporter } from './report/console-reporter.js';
import { executeRun } from './run.js';

/** The CLI front: same run, human text on stderr, `--json` result on stdout. Returns the exit code. */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv[0] === 'import-terraform') return importTerraform(argv.slice(1));
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

/** Merges a Terraform output's hosts into the inventory file; nothing is written unless the result is a valid inventory. */
function importTerraform(argv: string[]): number {
  try {
    const args = parseImportTerraformArgs(argv);
    let tf: string;
    try {
      tf = readFileSync(args.from, 'utf8');
    } catch (error) {
      throw new DeployError('invalid-input', `--from ${args.from}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`, { hint: 'Write it with `terraform output -json > FILE`.' });
    }
    const hosts = parseTerraformHosts(tf, args.from, args.output);
    const current = existsSync(args.inventory) ? readFileSync(args.inventory, 'utf8') : null;
    const result = mergeTerraformHosts(current, args.inventory, args.environment, hosts);
    writeFileSync(args.inventory, result.text);
    process.stderr.write(`imported ${hosts.length} host(s) into ${args.inventory} environment ${args.environment}: added ${result.added.join(', ') || 'none'}; replaced ${result.replaced.join(', ') || 'none'}\n`);
    return 0;
  } catch (error) {
    const failure = toDeployError(error);
    process.stderr.write(`lms-ha: ${failure.message}\n${failure.hint ? `hint: ${failure.hint}\n` : ''}`);
    return failure.reason === 'internal' ? 1 : 2;
  }
}
