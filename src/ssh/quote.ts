/**
 * POSIX shell quoting. Everything we run remotely goes through `sh -c`, often
 * behind `sudo`, so an argument is quoted once per shell it passes through.
 */

const SAFE = /^[A-Za-z0-9_\/.:@%+,-]+$/;

/**
 * Quotes one word for a POSIX shell. Inside single quotes nothing is special
 * except the quote itself, which is closed, escaped and reopened: `'\''`.
 */
export function shellQuote(word: string): string {
  if (word.includes('\0')) throw new Error('a shell argument cannot contain a NUL byte');
  if (SAFE.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Quotes and joins words into one command line. */
export function shellJoin(words: readonly string[]): string {
  return words.map(shellQuote).join(' ');
}

/**
 * The exact command line sent to the server: the script runs under `sh -c`
 * (whatever the login shell is), and under `sudo -n` when root is wanted and
 * we did not log in as root. `-n` makes sudo fail at once instead of waiting
 * for a password nobody can type. With `timeoutSeconds`, coreutils `timeout`
 * runs the script in its own process group and signals the whole group when
 * time is up (TERM, then KILL 5 s later): closing an SSH channel does not stop
 * a command that has no terminal, so the limit has to be enforced on the host.
 */
export function wrapCommand(script: string, options: { user: string; sudo: boolean; timeoutSeconds?: number }): string {
  let line = `sh -c ${shellQuote(script)}`;
  if (options.timeoutSeconds !== undefined) {
    const secs = Math.max(0.001, Math.round(options.timeoutSeconds * 1000) / 1000);
    line = `timeout -k 5 ${secs} ${line}`;
  }
  return options.sudo && options.user !== 'root' ? `sudo -n -- ${line}` : line;
}
