#!/usr/bin/env bash
# The README's test command (`npm test`): type check, lint, knip, dist/ in sync, unit tests, then the e2e
# tests against real hosts in the lab, which this script brings up and down.
# Ends with one "N passed, N failed" line summing both test projects.
set -euo pipefail
cd "$(dirname "$0")/.."

results="$(mktemp -d)"
lab_started=0
cleanup() {
  if [ "$lab_started" = 1 ] && [ -z "${LMS_HA_KEEP_LAB:-}" ]; then bash test/lab/lab.sh down || true; fi
}
trap cleanup EXIT

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

e2e_rc=0
if [ -n "${LMS_HA_SKIP_E2E:-}" ]; then
  echo "== e2e tests skipped (LMS_HA_SKIP_E2E is set)"
else
  # The lab is one per machine: wait for anyone else using it (scripts/with-lab.sh).
  if [ -z "${LMS_HA_LAB_LOCKED:-}" ]; then exec 9>/run/lms-ha-lab.lock; flock 9; export LMS_HA_LAB_LOCKED=1; fi
  echo "== lab up"
  lab_started=1
  # 9>&-: the hosts must not inherit the lock (with LMS_HA_KEEP_LAB they outlive this run).
  bash test/lab/lab.sh up --extra "${LMS_HA_LAB_EXTRA:-0}" 9>&-
  echo "== e2e tests (real hosts)"
  npx vitest run --project e2e --reporter=default --reporter=json --outputFile.json="$results/e2e.json" 9>&- || e2e_rc=$?
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
