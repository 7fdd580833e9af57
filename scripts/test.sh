#!/usr/bin/env bash
# The README's test command (`npm test`): type check, lint, knip, dist/ in sync and unit tests, and beside
# them the e2e tests against real hosts in the lab, which this script brings up and down.
# Ends with one "N passed, N failed" line summing both test projects.
set -euo pipefail
cd "$(dirname "$0")/.."

results="$(mktemp -d)"
e2e_pid=""
take_lab() {
  # The lab is one per machine: wait for anyone else using it (scripts/with-lab.sh).
  if [ -z "${LMS_HA_LAB_LOCKED:-}" ]; then exec 9>/run/lms-ha-lab.lock; flock 9; fi
}
cleanup() {
  if [ -n "$e2e_pid" ] && kill -0 "$e2e_pid" 2>/dev/null; then
    # A static check or the unit run failed (set -e): stop the e2e run beside
    # it and take its lab down, under the lock it held.
    kill -- -"$e2e_pid" 2>/dev/null || kill "$e2e_pid" 2>/dev/null || true
    wait "$e2e_pid" 2>/dev/null || true
    [ -f "$results/e2e.log" ] && cat "$results/e2e.log"
    if [ -z "${LMS_HA_KEEP_LAB:-}" ]; then (take_lab; bash test/lab/lab.sh down 9>&-) || true; fi
  fi
}
trap cleanup EXIT

# The e2e tests mostly wait on real hosts (package installs, Galera joins,
# failovers), so they run beside the static checks and the unit tests instead
# of after them: on a 2-core CI machine that saves the few minutes those take.
# Their output goes to a file, shown in one piece when they end.
run_e2e() {
  take_lab
  export LMS_HA_LAB_LOCKED=1
  local rc=0
  echo "== lab up"
  # 9>&-: the hosts must not inherit the lock (with LMS_HA_KEEP_LAB they outlive this run).
  if bash test/lab/lab.sh up --extra "${LMS_HA_LAB_EXTRA:-0}" 9>&-; then
    echo "== e2e tests (real hosts)"
    npx vitest run --project e2e --reporter=default --reporter=json --outputFile.json="$results/e2e.json" 9>&- || rc=$?
  else
    rc=$?
  fi
  # Down while the lock is still held, so the next user never finds it half gone.
  if [ -z "${LMS_HA_KEEP_LAB:-}" ]; then bash test/lab/lab.sh down 9>&- || true; fi
  return "$rc"
}

e2e_rc=0
if [ -n "${LMS_HA_SKIP_E2E:-}" ]; then
  echo "== e2e tests skipped (LMS_HA_SKIP_E2E is set)"
else
  # set -m: the e2e run gets a process group of its own, so cleanup can stop all of it.
  set -m
  run_e2e > "$results/e2e.log" 2>&1 &
  e2e_pid=$!
  set +m
  echo "== e2e tests started beside the checks below (their output follows the unit tests)"
fi

echo "== type check"
npx tsc --noEmit -p .

echo "== lint (eslint: layering, one import style)"
npx eslint .

echo "== knip (unused files, exports, dependencies)"
npx knip
echo "== knip --production (nothing in src/ used by tests only)"
npx knip --production

echo "== dist/ in sync with the sources"
node scripts/check-dist.mjs

echo "== unit tests"
unit_rc=0
npx vitest run --project unit --reporter=default --reporter=json --outputFile.json="$results/unit.json" || unit_rc=$?

if [ -n "$e2e_pid" ]; then
  echo "== waiting for the e2e tests"
  wait "$e2e_pid" || e2e_rc=$?
  e2e_pid=""
  cat "$results/e2e.log"
fi

node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const f of process.argv.slice(1)) {
    if (!fs.existsSync(f)) continue;
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + (r.numTodoTests || 0);
  }
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
' "$results/unit.json" "$results/e2e.json"

[ "$unit_rc" = 0 ] && [ "$e2e_rc" = 0 ]
