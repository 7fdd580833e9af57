#!/usr/bin/env bash
# Runs a command while holding the lab lock: the lab is one set of fixed
# names and addresses on this machine, so only one user (a test run, the
# bench, the demo, a developer) may bring it up, use it and take it down at a
# time. Others wait here, first come first served: flock alone wakes an
# arbitrary waiter, and with several people queueing one of them could wait
# for an hour. LMS_HA_LAB_LOCKED=1 marks a nested call.
set -euo pipefail
if [ -n "${LMS_HA_LAB_LOCKED:-}" ]; then exec "$@"; fi
export LMS_HA_LAB_LOCKED=1
LOCK=/run/lms-ha-lab.lock
QUEUE=/run/lms-ha-lab.queue
mkdir -p "$QUEUE"
# Ticket: arrival time in ns, then this shell's pid (kept by exec below).
ticket="$QUEUE/$(date +%s%N).$$"
: > "$ticket"
# A waiter stopped by a signal gives its place up and ends (it used to go on
# waiting with no ticket, forever).
trap 'rm -f "$ticket"; exit 143' INT TERM
said=0
while :; do
  first=""
  for t in "$QUEUE"/*; do
    [ -e "$t" ] || continue
    # A waiter that died leaves its ticket behind: skip and drop it.
    if ! kill -0 "${t##*.}" 2>/dev/null; then rm -f "$t"; continue; fi
    first="$t"
    break
  done
  [ "$first" = "$ticket" ] && break
  if [ "$said" = 0 ]; then echo "with-lab: waiting for the lab ($(ls "$QUEUE" | wc -l) in the queue)" >&2; said=1; fi
  sleep 1
done
# Our turn: wait for the holder (which may predate the queue), then leave the queue.
# -o: the command does not inherit the lock's descriptor, or the lab's hosts
# (started by `lab.sh up`, living on after `npm run demo`) would hold the lock
# as long as they run and every later user would wait for ever.
exec flock -o "$LOCK" bash -c 'rm -f "$0"; exec "$@"' "$ticket" "$@"
