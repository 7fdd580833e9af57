#!/usr/bin/env bash
# The main job, on a fresh machine: installs what it needs, builds the lab
# (real Debian 12 hosts in network namespaces), then deploys one of the example
# topologies (examples/NAME.yml, mapped onto the lab's hosts) the way a deploy
# workflow does, in the order of a first rollout:
#   provision -> preflight (plan) -> deploy-db -> deploy-lb -> migrate-storage -> verify-ha with a failover drill
# and ends with a short summary: what was deployed, how the platform connects
# (the preset's snippet), what was proven. Leaves the lab up so you can look
# around (`npm run lab -- status`, `npm run lab -- down`).
#
#   npm run demo                       # the Moodle example (HAProxy 3307/3308/80, GlusterFS)
#   npm run demo -- --example openedx  # ProxySQL on 6033, files on S3
#   npm run demo -- --example chamilo  # ProxySQL, GlusterFS
#
# ProxySQL cannot be installed in this lab (no Debian package, no vendor
# download), so the ProxySQL examples are validated and planned, not deployed,
# unless LMS_HA_PROXYSQL_DEB names the vendor's .deb (a path on this machine).
set -euo pipefail
cd "$(dirname "$0")/.."

example=moodle
while [ $# -gt 0 ]; do
  case "$1" in
    --example) example="${2:?--example needs a name}"; shift 2 ;;
    --example=*) example="${1#*=}"; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown argument $1 (use --example NAME)" >&2; exit 2 ;;
  esac
done
file="examples/$example.yml"
if [ ! -f "$file" ]; then
  echo "demo: there is no example \"$example\"; choose one of: $(cd examples && ls *.yml | sed 's/\.yml$//' | tr '\n' ' ')" >&2
  exit 2
fi

if ! dpkg-query -W -f='${Status}' debootstrap 2>/dev/null | grep -q "install ok installed"; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap systemd-container apt-utils >/dev/null
fi
[ -d node_modules ] || npm ci --no-audit --no-fund
[ -f dist/index.js ] || npm run build

started=$SECONDS
elapsed() { printf '%d:%02d' $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)); }

echo "=== [$(elapsed)] building the lab (real Debian 12 hosts: db1-3, lb1, lb2)"
bash test/lab/lab.sh up
work="$(mktemp -d)"
kind="$(node --input-type=module -e 'import { parse } from "yaml"; import { readFileSync } from "node:fs"; const e = Object.values(parse(readFileSync(process.argv[1], "utf8")).environments)[0]; console.log(e.load_balancer?.kind ?? "none")' "$file")"

deploy=yes
deb_args=()
server_pid=
if [ "$kind" = proxysql ]; then
  if [ -z "${LMS_HA_PROXYSQL_DEB:-}" ]; then
    deploy=no
  else
    [ -f "$LMS_HA_PROXYSQL_DEB" ] || { echo "demo: LMS_HA_PROXYSQL_DEB=$LMS_HA_PROXYSQL_DEB: no such file (give the path of ProxySQL's .deb)" >&2; exit 2; }
    # Served on the runner namespace's loopback, where lms-ha downloads it from (pinned by SHA-256).
    port=$((18000 + RANDOM % 1000))
    ip netns exec lab-runner python3 -m http.server "$port" --bind 127.0.0.1 --directory "$(dirname "$LMS_HA_PROXYSQL_DEB")" >/dev/null 2>&1 &
    server_pid=$!
    trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true' EXIT
    deb_args=("http://127.0.0.1:$port/$(basename "$LMS_HA_PROXYSQL_DEB")" "$(sha256sum "$LMS_HA_PROXYSQL_DEB" | cut -d' ' -f1)")
  fi
fi

# The example's topology on the lab's hosts; every secret it names gets a fresh random value.
secrets="$(node scripts/demo-inventory.mjs "$file" /run/lms-ha-lab/state.json "$work/ha.yml" "${deb_args[@]}")"
while read -r name secret_kind; do
  [ -n "$name" ] || continue
  case "$secret_kind" in
    vrrp) value="ka$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')" ;;   # VRRP: at most 8 characters
    *) value="demo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" ;;
  esac
  export "$name=$value"
done <<<"$secrets"
echo "=== [$(elapsed)] inventory: $work/ha.yml (the lab's version of $file)"

export LMS_HA_SSH_KEY=/run/lms-ha-lab/id_ed25519 LMS_HA_KNOWN_HOSTS=/run/lms-ha-lab/known_hosts
lms_ha() { (cd "$work" && ip netns exec lab-runner node "$OLDPWD/dist/index.js" "$@"); }

storage_kind="$(sed -n '/^    storage:/,/^    [a-z]/s/^      kind: //p' "$work/ha.yml")"
if [ "$deploy" = yes ]; then
  # First the host baseline: /etc/hosts for the inventory, package sources, the firewall, time.
  steps=("provision apply" "preflight plan")
  steps+=("deploy-db apply" "deploy-lb apply")
  if [ "$storage_kind" = glusterfs ]; then
    steps+=("migrate-storage apply")
  elif [ "$storage_kind" = s3 ]; then
    echo "=== note: storage is S3 in $file; the lab reaches no S3 service, so migrate-storage is left out here"
  fi
  drill=proxy-stop
  steps+=("verify-ha apply drills=$drill")
else
  cat <<EOF

=== ProxySQL cannot be installed in this lab: it is not a Debian package and the lab
=== reaches no vendor download. The $example example is validated and PLANNED here,
=== not deployed. To deploy it, download ProxySQL's .deb for Debian 12 on a machine
=== that can, then run:  LMS_HA_PROXYSQL_DEB=/path/to/proxysql_X_amd64.deb npm run demo -- --example $example

EOF
  steps=("provision plan" "preflight plan" "deploy-db plan" "deploy-lb plan")
fi

if [ "$example" = moodle ] && [ "$deploy" = yes ]; then
  # The old single server's files (a small moodledata on lb1) that migrate-storage
  # moves into the GlusterFS volume on db1..db3 (bricks at /srv/gluster, mounted on
  # the web hosts db1..db3, as in the Moodle seed).
  bash test/lab/lab.sh exec lb1 -- python3 -c '
import os
root = "/srv/old-moodledata"
for i in range(500):
    d = os.path.join(root, "filedir", "%02x" % (i % 16))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%04d" % i), "wb") as f: f.write(os.urandom(512 + i))
os.makedirs(os.path.join(root, "course files"), exist_ok=True)
with open(os.path.join(root, "course files", "résumé du cours.pdf"), "w") as f: f.write("pdf")
os.symlink("course files", os.path.join(root, "latest")) if not os.path.islink(os.path.join(root, "latest")) else None
'
  printf '    migrate:\n      files: { source_host: lb1, source_path: /srv/old-moodledata }\n' >>"$work/ha.yml"
fi

total=${#steps[@]}
n=0
last_json=
for step in "${steps[@]}"; do
  set -- $step
  n=$((n + 1))
  command=$1 mode=$2
  extra=()
  [ $# -ge 3 ] && extra=(-o "$3")
  echo
  case "$command" in
    deploy-db) on="db1 db2 db3" ;;
    deploy-lb) on="lb1 lb2 (and the clustercheck on db1-3)" ;;
    migrate-storage) on="db1 db2 db3 (bricks and mounts)" ;;
    provision) on="every host (/etc/hosts, package sources, firewall, time)" ;;
    *) on="every host" ;;
  esac
  echo "=== [$(elapsed)] step $n/$total: lms-ha $command --mode $mode ${3:-} on $on"
  rc=0
  json="$work/$command.json"
  lms_ha "$command" -e lab --mode "$mode" --json "${extra[@]}" >"$json" 2>"$work/$command.log" || rc=$?
  cat "$work/$command.log"
  if grep -q "is not available in this version" "$work/$command.log"; then
    echo "=== skipped: $command is not built yet (see README, 'Status')"
    continue
  fi
  [ "$rc" = 0 ] || { echo "=== [$(elapsed)] $command failed (exit $rc); the lab is left up to look at (npm run lab -- status)"; exit "$rc"; }
  echo "=== [$(elapsed)] $command done"
  last_json="$json"
done

echo
echo "=================================================================="
echo " Summary ($(elapsed) in all): example $example"
echo "=================================================================="
node --input-type=module - "$work" "$deploy" "$example" <<'EOF'
import { existsSync, readFileSync } from 'node:fs';
const [work, deployed, example] = process.argv.slice(2);
const read = (c) => (existsSync(`${work}/${c}.json`) && readFileSync(`${work}/${c}.json`, 'utf8').trim() ? JSON.parse(readFileSync(`${work}/${c}.json`, 'utf8')) : null);
const provision = read('provision');
const db = read('deploy-db');
const lb = read('deploy-lb');
const st = read('migrate-storage');
const verify = read('verify-ha');
const done = (r) => (r ? `${r.mode === 'apply' ? (r.changed ? 'changed' : 'already as wanted') : 'planned'} (${r.status})` : 'not run');
console.log('What was deployed:');
console.log(`  provision:       ${done(provision)}`);
console.log(`  deploy-db:       ${done(db)}`);
console.log(`  deploy-lb:       ${done(lb)}`);
console.log(`  migrate-storage: ${done(st)}`);
if (deployed !== 'yes') console.log('  (ProxySQL example: planned only, see above)');
const connection = verify?.connection ?? lb?.connection;
if (connection) {
  const d = connection.database;
  console.log('\nHow the platform connects:');
  console.log(`  ${connection.platform}: ${d.host} writer port ${d.writerPort}, reader port ${d.readerPort}, database ${d.name}, user ${d.user}, password from $${d.password.env}`);
  console.log(`  ${connection.snippet.file}:\n`);
  console.log(connection.snippet.text.replace(/^/gm, '    '));
}
if (verify) {
  const count = (s) => verify.checks.filter((c) => c.status === s).length;
  console.log(`What was proven: verify-ha ${verify.status}: ${count('ok')} checks ok, ${count('warn')} warnings, ${count('fail')} failed`);
  for (const c of verify.checks.filter((c) => c.layer === 'platform' || c.layer === 'causality')) console.log(`  ${c.check}: ${c.observed}`);
  for (const d of verify.drills ?? []) {
    console.log(`  drill ${d.drill} on ${d.host} (${d.effect}): writes paused ${(d.unavailableMs / 1000).toFixed(1)} s, steady again after ${(d.resumedMs / 1000).toFixed(1)} s, ${d.acknowledged} writes acknowledged, ${d.lost} lost`);
  }
}
EOF
