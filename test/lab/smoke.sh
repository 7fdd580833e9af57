#!/bin/bash
# Checks that a running lab (`lab.sh up`) has the properties the e2e tests rely on.
#   bash test/lab/smoke.sh          fast checks (a few seconds)
#   bash test/lab/smoke.sh --apt    also installs mariadb-server on db1 from the lab repo
#                                   (changes db1: run `lab.sh up` again afterwards to reset)
# Prints one line per check and "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail

LAB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lab.sh"
RUN_DIR=/run/lms-ha-lab
KEY="$RUN_DIR/id_ed25519"
KH="$RUN_DIR/known_hosts"
CFG="$RUN_DIR/ssh_config"
TSV="$RUN_DIR/hosts.tsv"
RUNNER=lab-runner
BASTION=10.231.0.5
WITH_APT=0
[ "${1:-}" = --apt ] && WITH_APT=1

passed=0 failed=0
pass() { passed=$((passed + 1)); printf 'ok    %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$1"; [ -n "${2:-}" ] && printf '      %s\n' "$2"; }
check() { # check "description" cmd...
  local what="$1" out; shift
  if out="$("$@" 2>&1)"; then pass "$what"; else fail "$what" "$(printf '%s' "$out" | tail -2 | tr '\n' ' ')"; fi
}

# The exact client form the brief and the tests use: key + pinned known_hosts, no config file.
runner_ssh() {
  ip netns exec "$RUNNER" ssh -i "$KEY" -o UserKnownHostsFile="$KH" -o StrictHostKeyChecking=yes \
    -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=5 "$@"
}

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

[ -f "$RUN_DIR/state.json" ] || { echo "lab is not up"; echo "0 passed, 1 failed"; exit 1; }

check "state.json is valid JSON" node -e "JSON.parse(require('fs').readFileSync('$RUN_DIR/state.json','utf8'))"
check "lab.sh status reports every host up" bash "$LAB" status

# fd 3: the checks' ssh/nsenter must not eat the host list from stdin.
while IFS=$'\t' read -r name seg addr _ <&3; do
  if [ "$seg" = a ]; then
    check "$name: root ssh from $RUNNER with pinned host key" runner_ssh "root@$addr" true
    check "$name: hostname is $name" bash -c "[ \"\$(bash '$LAB' exec '$name' -- hostname)\" = '$name' ]"
  fi
done 3< "$TSV"

# Segment B: unreachable from the runner, reachable through the bastion.
if runner_ssh -o ConnectTimeout=3 root@10.231.1.31 true >/dev/null 2>&1; then
  fail "priv1 is NOT reachable directly from $RUNNER"
else
  pass "priv1 is NOT reachable directly from $RUNNER"
fi
check "priv1 via the bastion (-F ssh_config -J root@$BASTION)" \
  ip netns exec "$RUNNER" ssh -F "$CFG" -J "root@$BASTION" root@10.231.1.31 true
check "priv1 via the bastion (ProxyCommand with -i/-o only)" \
  runner_ssh -o "ProxyCommand=ssh -i $KEY -o UserKnownHostsFile=$KH -o StrictHostKeyChecking=yes -o BatchMode=yes -W %h:%p root@$BASTION" \
  root@10.231.1.31 true
check "priv1: hostname is priv1" bash -c "[ \"\$(bash '$LAB' exec priv1 -- hostname)\" = priv1 ]"

# Host keys: pinned, per host (none shared through the image).
check "known_hosts: no host key shared by two hosts" \
  bash -c "[ -z \"\$(awk '{print \$3}' '$KH' | sort | uniq -c | awk '\$1 > 2')\" ]"
check "wrong host key is refused (StrictHostKeyChecking)" bash -c "
  sed 's/^10.231.0.11 /10.231.0.12 /; /^10.231.0.12 /d' '$KH' > $TMP/kh-wrong
  sed -n 's/^10.231.0.11 /10.231.0.12 /p' '$KH' >> $TMP/kh-wrong
  ! ip netns exec $RUNNER ssh -i '$KEY' -o UserKnownHostsFile=$TMP/kh-wrong -o StrictHostKeyChecking=yes \
      -o BatchMode=yes root@10.231.0.12 true 2>/dev/null"

# sudo flavours.
check "deploy: sudo -n true" runner_ssh deploy@10.231.0.11 sudo -n true
out="$(runner_ssh pwuser@10.231.0.11 sudo -n true 2>&1)" && rc=0 || rc=$?
if [ "$rc" != 0 ] && grep -q 'a password is required' <<<"$out"; then
  pass "pwuser: sudo -n true fails with 'a password is required'"
else
  fail "pwuser: sudo -n true fails with 'a password is required'" "rc=$rc $out"
fi
check "pwuser: sudo with the password from pwuser.password" bash -c \
  "runner() { ip netns exec $RUNNER ssh -i '$KEY' -o UserKnownHostsFile='$KH' -o BatchMode=yes \"\$@\"; }
   runner pwuser@10.231.0.11 \"sudo -S -p '' true\" < '$RUN_DIR/pwuser.password'"

# Network isolation.
check "bastion: IP forwarding off" bash -c "[ \"\$(ip netns exec lab-bastion sysctl -n net.ipv4.ip_forward)\" = 0 ]"
check "no lab namespace has a default route" bash -c \
  "for ns in \$(ip netns list | awk '{print \$1}' | grep '^lab-'); do
     [ -z \"\$(ip -n \$ns route show default)\" ] || { echo \$ns; exit 1; }; done"
# Only probe once the guard route is proven: a lab address must never go to the
# default gateway, off the machine.
root_probe() { # ping if installed, else a TCP connect to sshd
  if command -v ping >/dev/null; then ping -c1 -W1 "$1"; else timeout 3 bash -c "</dev/tcp/$1/22"; fi
}
route="$(ip route get 10.231.0.11 2>&1 || true)"
if grep -q -e unreachable -e 'No route' <<<"$route"; then
  if out="$(root_probe 10.231.0.11 2>&1)"; then
    fail "root namespace cannot reach 10.231.0.11"
  else
    pass "root namespace cannot reach 10.231.0.11: $(tail -1 <<<"$out")"
  fi
else
  fail "root namespace has an unreachable route for 10.231.0.0/16" "$route"
fi
check "runner reaches db1:22 over segment A" ip netns exec "$RUNNER" timeout 3 bash -c '</dev/tcp/10.231.0.11/22'

# /etc/hosts without the host's own name (the product's provision step writes it).
check "db1: /etc/hosts has no entry for db1" bash -c "! bash '$LAB' exec db1 -- grep -qw db1 /etc/hosts"
check "db1: apt sources = only the lab repo" bash -c \
  "[ \"\$(bash '$LAB' exec db1 -- cat /etc/apt/sources.list)\" = 'deb [trusted=yes] file:/srv/lab-apt ./' ]"
check "exec: fault injection (stop + start ssh on lb2)" bash -c \
  "bash '$LAB' exec lb2 -- systemctl stop ssh.service &&
   ! ip netns exec $RUNNER ssh -F '$CFG' -o ConnectTimeout=2 root@10.231.0.22 true 2>/dev/null &&
   bash '$LAB' exec lb2 -- systemctl start ssh.service &&
   ip netns exec $RUNNER ssh -F '$CFG' root@10.231.0.22 true"

if [ "$WITH_APT" = 1 ]; then
  check "db1: apt-get update && apt-get install -y mariadb-server from the lab repo" \
    bash "$LAB" exec db1 -- bash -c 'DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server'
  check "db1: mariadb answers after install" bash "$LAB" exec db1 -- mariadb -e 'select version()'
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
