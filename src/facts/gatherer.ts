/**
 * The plan account's only way to root: a root-owned script, generated from
 * the registry's read-only facts, that runs one fact by name with plain-word
 * arguments it checks itself, and nothing else. A plan run logged in as the
 * plan account sends each root request through `rootRouteForGatherer`: a
 * request that is one of these facts becomes `sudo -n GATHERER VERSION NAME
 * ARGS`, anything else is refused before it leaves the runner (and sudo on the
 * host refuses it anyway). The version is a digest of the script, so a plan
 * by an lms-ha whose facts differ from the installed gatherer says which
 * version to install instead of reading something else.
 */
import { createHash } from 'node:crypto';
import { shellQuote } from '../ssh/quote.js';
import type { RootRoute } from '../ssh/types.js';
import { allFacts, type GatherForm } from './registry.js';

export const GATHERER_PATH = '/usr/local/libexec/lms-ha/gather';
/** The gatherer's exits for "not this version", "argument refused", "no such fact". */
const REFUSED_EXITS = [3, 4, 5] as const;

function gatherable(): { name: string; form: GatherForm }[] {
  return allFacts()
    .filter((f) => f.readOnly && f.gather !== undefined)
    .map((f) => ({ name: f.name, form: f.gather! }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function caseArm(name: string, form: GatherForm): string {
  const run = `sh -c ${shellQuote(form.body)} lms-ha-gather "$@"`;
  const line = form.stdin === undefined ? `exec ${run} </dev/null` : `printf '%s' ${shellQuote(form.stdin)} | ${run}`;
  return `  ${name})\n    ${line} ;;`;
}

function body(): string {
  return [
    'fact="${1-}"; [ $# -gt 0 ] && shift',
    // Plain words only: no option to a tool (leading "-"), no path climbing, nothing the shell would read.
    'for a in "$@"; do',
    '  case "$a" in',
    "    ''|-*|*..*|*[!A-Za-z0-9@_.:/+=-]*) echo \"lms-ha-gather: argument refused (plain names only)\" >&2; exit 4 ;;",
    '  esac',
    'done',
    'case "$fact" in',
    ...gatherable().map((g) => caseArm(g.name, g.form)),
    '  *) echo "lms-ha-gather: no read-only fact named $fact" >&2; exit 5 ;;',
    'esac',
  ].join('\n');
}

/** A digest of what the gatherer runs: any change to a fact's snippet is a new version. */
export function gathererVersion(): string {
  return createHash('sha256').update(body()).digest('hex').slice(0, 16);
}

/** The gatherer provision installs (root:root 0755), with the facts it runs listed for a reviewer. */
export function gathererScript(): string {
  const version = gathererVersion();
  return [
    '#!/bin/sh',
    `# lms-ha plan gatherer, version ${version}. Written by \`lms-ha provision\`; do not edit.`,
    '# The plan account may run this (and nothing else) as root through sudo. It runs one',
    '# read-only fact of the registry (src/facts/registry.ts) by name:',
    ...gatherable().map((g) => `#   ${g.name}: ${allFacts().find((f) => f.name === g.name)!.reads}`),
    'set -u',
    `version=${version}`,
    'if [ "${1-}" = --version ]; then echo "$version"; exit 0; fi',
    'if [ "${1-}" != "$version" ]; then',
    '  echo "lms-ha-gather: this host has plan gatherer version $version, the plan needs ${1-none}: run lms-ha provision (mode apply, with the apply key) with the lms-ha version of the plan" >&2',
    '  exit 3',
    'fi',
    'shift',
    body(),
    '',
  ].join('\n');
}

/**
 * The transport's root route for the plan account: a named fact goes to the
 * gatherer, anything else is refused, naming what was asked.
 */
export function rootRouteForGatherer(): RootRoute {
  const facts = gatherable();
  const version = gathererVersion();
  const hint =
    'The plan account runs plans only, through the lms-ha gatherer that provision installs. Run provision (mode apply, with the apply key) with this lms-ha version, or run this command with the apply account.';
  return (request) => {
    const asked = 'readPath' in request ? { readPath: request.readPath } : { script: request.script, ...(request.stdin !== undefined ? { stdin: request.stdin.toString() } : {}) };
    for (const { name, form } of facts) {
      const args = form.recognise(asked);
      if (args) return { command: ['sudo', '-n', '--', GATHERER_PATH, version, name, ...args].map(shellQuote).join(' '), refusedCodes: REFUSED_EXITS, hint };
    }
    return { refused: 'readPath' in request ? `reading ${request.readPath} is not one of its facts` : 'that command is not one of its facts', hint };
  };
}
