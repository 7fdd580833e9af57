/* The bundle's entry: the Actions runner starts it with no arguments and the
   action's inputs in INPUT_* variables; anything else is the `lms-ha` CLI,
   which prints its usage when given nothing. */
import { runCli } from './cli-main.js';
import { run } from './main.js';

const actionRunner = process.argv.length <= 2 && Object.keys(process.env).some((name) => name.startsWith('INPUT_'));
if (!actionRunner) {
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
} else {
  void run();
}
