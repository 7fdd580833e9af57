/* The bundle's entry: the Actions runner starts it with no arguments; as the
   `lms-ha` CLI it always gets at least one (a command or --help). */
import { runCli } from './cli-main.js';
import { run } from './main.js';

if (process.argv.length > 2) {
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
} else {
  void run();
}
