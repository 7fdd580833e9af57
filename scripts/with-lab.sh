#!/usr/bin/env bash
# Runs a command while holding the lab lock: the lab is one set of fixed
# names and addresses on this machine, so only one user (a test run, the
# bench, the demo, a developer) may bring it up, use it and take it down at a
# time. Others wait here. LMS_HA_LAB_LOCKED=1 marks a nested call.
set -euo pipefail
if [ -n "${LMS_HA_LAB_LOCKED:-}" ]; then exec "$@"; fi
export LMS_HA_LAB_LOCKED=1
exec flock /run/lms-ha-lab.lock "$@"
