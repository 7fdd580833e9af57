#!/bin/bash
# lms-ha test lab: real Debian 12 hosts (systemd + sshd) on this one machine,
# each a systemd-nspawn container in its own network namespace.
#
#   lab.sh up [--extra N]     (re)create the lab; N extra sshd-only hosts x01..xNN
#   lab.sh down               tear everything down
#   lab.sh status             per-host state; non-zero exit unless fully up
#   lab.sh exec HOST -- CMD   run CMD inside HOST (nsenter; works even with sshd stopped)
#   lab.sh ssh HOST [CMD]     ssh from the runner namespace as root (priv1 via the bastion)
#
# Facts and pitfalls this follows are in shared/lab.md; docs/lab.md describes the lab.
# Must run as root. Nothing here ever routes lab traffic off the machine: lab
# namespaces have no default route and the root namespace has none into the lab.
set -euo pipefail

LAB_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_DIR=/var/cache/lms-ha-lab          # debootstrap, base image, apt repository
HOSTS_DIR=/var/lib/lms-ha-lab/hosts      # per-host overlay upper/work/root
RUN_DIR=/run/lms-ha-lab                  # key, known_hosts, state of the running lab
LOG_DIR=/var/log/lms-ha-lab              # console output of each host (kept after down)
LOCK_FILE=/run/lock/lms-ha-lab.lock

STATE_FILE="$RUN_DIR/state.json"
HOSTS_TSV="$RUN_DIR/hosts.tsv"           # same data as state.json, for bash
SSH_KEY="$RUN_DIR/id_ed25519"
KNOWN_HOSTS="$RUN_DIR/known_hosts"
SSH_CONFIG="$RUN_DIR/ssh_config"
PWUSER_PASSWORD_FILE="$RUN_DIR/pwuser.password"

SUITE=bookworm
# The Debian mirror is the machine's own (read from its apt sources by
# find_mirrors); the lab names none itself.
MIRROR=""
BASE_PACKAGES=systemd,systemd-sysv,dbus,openssh-server,iproute2,procps,ca-certificates,sudo,python3,iputils-ping,less
PAYLOAD_PACKAGES="mariadb-server galera-4 mariadb-backup mariadb-client rsync socat haproxy keepalived glusterfs-server glusterfs-client nftables curl netcat-openbsd psmisc systemd-timesyncd rclone"
# A second, newer MariaDB from Debian's security suite sits next to the
# bookworm one in the lab repository, so deploy-db's version pin and its
# rolling upgrade run for real (test/e2e/deploy-db-upgrade.test.ts). Unpinned
# installs get the newer one, as on a host with both suites in its sources.
UPGRADE_SOURCE=""   # "deb <the machine's security mirror> bookworm-security main", set by find_mirrors
UPGRADE_PACKAGES="mariadb-server galera-4 mariadb-backup mariadb-client"

RUNNER_NS=lab-runner
RUNNER_ADDRESS=10.231.0.2
VIP=10.231.0.100
LAB_SUPERNET=10.231.0.0/16
SEGMENT_A_BRIDGE_NS=lab-br    # bridge "lab-br" lives in netns "lab-br"
SEGMENT_B_BRIDGE_NS=lab-br2   # bridge "lab-br2" lives in netns "lab-br2"
BASTION_ADDRESS=10.231.0.5
MAX_EXTRA=150                 # x01..x150 = 10.231.0.101..250

# name segment address private-address("-" if none). Other code depends on these.
CORE_HOSTS=(
  "bastion a 10.231.0.5  10.231.1.5"
  "db1     a 10.231.0.11 -"
  "db2     a 10.231.0.12 -"
  "db3     a 10.231.0.13 -"
  "lb1     a 10.231.0.21 -"
  "lb2     a 10.231.0.22 -"
  "priv1   b 10.231.1.31 -"
)

# CAP_NET_ADMIN: keepalived adds the VIP, the product writes nftables rules.
# CAP_IPC_LOCK: keepalived mlockall()s itself. CAP_SYS_ADMIN (FUSE mount of the
# GlusterFS volume, trusted.* xattrs on bricks) is already in nspawn's default set.
NSPAWN_CAPS=CAP_NET_ADMIN,CAP_IPC_LOCK

log() { printf '[lab %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
}

require_root() { [ "$(id -u)" = 0 ] || die "must run as root (network namespaces, mounts, nspawn)"; }

take_lock() {
  mkdir -p "$(dirname "$LOCK_FILE")"
  exec 9>"$LOCK_FILE"
  flock -n 9 || die "another lab.sh up/down is running (lock $LOCK_FILE)"
}

# ---------------------------------------------------------------- tools

ensure_tools() {
  local missing=0 cmd
  for cmd in debootstrap systemd-nspawn apt-ftparchive ip ssh ssh-keygen nsenter flock; do
    command -v "$cmd" >/dev/null 2>&1 || missing=1
  done
  [ "$missing" = 0 ] && return 0
  log "installing the lab's tools (debootstrap systemd-container apt-utils iproute2 openssh-client)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    debootstrap systemd-container apt-utils iproute2 openssh-client >/dev/null
}

# Kernel limits are per user of the whole machine, and every host's systemd runs
# as the same root (and its services as the same uids), so 50 hosts share them:
# - fs.inotify.max_user_instances (default 128): each systemd needs several, and
#   with ~20 hosts PID 1 dies with "Failed to allocate manager object: Too many open files".
# - kernel.keys.maxkeys/maxbytes (default 200/20000 per uid): systemd gives every
#   service its own session keyring, charged to the service's uid (messagebus,
#   mysql, ...), which is the same uid on every host.
# Only ever raised, never lowered.
raise_kernel_limits() {
  local kv key want have
  for kv in fs.inotify.max_user_instances=8192 fs.inotify.max_user_watches=524288 \
            kernel.keys.maxkeys=20000 kernel.keys.maxbytes=2000000; do
    key="${kv%%=*}" want="${kv#*=}"
    have="$(sysctl -n "$key" 2>/dev/null || echo "$want")"
    if [ "$have" -lt "$want" ]; then sysctl -qw "$key=$want"; fi
  done
}

# ---------------------------------------------------------------- cleanup helpers

# Mount points at or below $1 in the root mount namespace, deepest first.
mounts_under() {
  local prefix="${1%/}"
  awk -v p="$prefix" '$5 == p || index($5, p "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

unmount_all_under() {
  local mp
  for mp in $(mounts_under "$1"); do
    umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true
  done
}

# Mounts outlive the processes that made them; rm -rf through a live overlay
# would delete the lower image's files (pitfall). Refuse if anything is still mounted.
remove_tree_safely() {
  local dir="$1"
  [ -e "$dir" ] || return 0
  unmount_all_under "$dir"
  if [ -n "$(mounts_under "$dir")" ]; then
    die "refusing to remove $dir: still mounted: $(mounts_under "$dir" | tr '\n' ' ')"
  fi
  rm -rf --one-file-system "$dir"
}

lab_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep '^lab-' || true; }

# systemd-nspawn supervisors of lab hosts, found by their root directory so a
# crashed run whose pid files are gone is still cleaned up, and nothing else is touched.
lab_nspawn_pids() {
  local p cmd
  for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = systemd-nspawn ] || continue
    cmd="$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)" || continue
    case "$cmd" in *"$HOSTS_DIR/"*) echo "${p#/proc/}" ;; esac
  done
}

# cgroup hierarchies that the hosts' systemd manages: cgroup2 on a unified
# machine; on a hybrid one (like this build machine) the named v1 "systemd"
# hierarchy plus the cgroup2 one under unified/.
cgroup_roots() {
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    echo /sys/fs/cgroup
  else
    if [ -d /sys/fs/cgroup/systemd ]; then echo /sys/fs/cgroup/systemd; fi
    if [ -f /sys/fs/cgroup/unified/cgroup.procs ]; then echo /sys/fs/cgroup/unified; fi
  fi
}

# Every process in a lab host's cgroup (catches orphans of a crashed run even
# when their namespace or nspawn supervisor is gone).
lab_cgroup_pids() {
  local r
  for r in $(cgroup_roots); do
    [ -d "$r/lms-ha-lab" ] || continue
    find "$r/lms-ha-lab" -name cgroup.procs -exec cat {} + 2>/dev/null || true
  done
}

remove_lab_cgroups() {
  local r
  for r in $(cgroup_roots); do
    [ -d "$r/lms-ha-lab" ] || continue
    # cgroup directories go with rmdir only, deepest first, once empty.
    find "$r/lms-ha-lab" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

children_of() { cat "/proc/$1/task/$1/children" 2>/dev/null || pgrep -P "$1" || true; }

# Kill every lab process: everything inside a lab-* network namespace (the
# containers' payload and anything a test left running in lab-runner), the
# container init processes (killing a pid namespace's init kills all of it, even
# after its nspawn supervisor was kill -9'ed), and the nspawn supervisors.
kill_lab_processes() {
  local pids=() ns p c
  for ns in $(lab_namespaces); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do pids+=("$p"); done
  done
  for p in $(lab_nspawn_pids); do
    for c in $(children_of "$p"); do pids+=("$c"); done
    pids+=("$p")
  done
  for p in $(lab_cgroup_pids); do pids+=("$p"); done
  [ "${#pids[@]}" = 0 ] && return 0
  kill -KILL "${pids[@]}" 2>/dev/null || true
  local deadline=$((SECONDS + 20)) alive
  while :; do
    alive=0
    for p in "${pids[@]}"; do [ -e "/proc/$p" ] && alive=1 && break; done
    [ "$alive" = 0 ] && break
    [ "$SECONDS" -ge "$deadline" ] && { log "warning: some lab processes survived SIGKILL"; break; }
    sleep 0.2
  done
}

remove_root_guard_route() {
  ip route del unreachable "$LAB_SUPERNET" 2>/dev/null || true
}

# Deleting hosts that installed MariaDB/GlusterFS takes seconds per host
# (hundreds of MB of small files in their upper dirs). `up` does not need to wait
# for that: it renames the unmounted tree aside and deletes it in the background.
TRASH_PREFIX="$(dirname "$HOSTS_DIR")/.trash-"

discard_hosts_dir_in_background() {
  [ -e "$HOSTS_DIR" ] || return 0
  unmount_all_under "$HOSTS_DIR"
  [ -z "$(mounts_under "$HOSTS_DIR")" ] || die "refusing to discard $HOSTS_DIR: still mounted"
  local trash
  trash="$TRASH_PREFIX$$-$(date +%s%N)"
  mv -T "$HOSTS_DIR" "$trash"
  setsid rm -rf --one-file-system "$trash" </dev/null >/dev/null 2>&1 9>&- &
}

# Trash of an earlier run whose background delete did not finish.
remove_leftover_trash() {
  local d
  for d in "$TRASH_PREFIX"*; do
    [ -e "$d" ] || continue
    # Skip a tree another run is still deleting; it goes away by itself.
    pgrep -f -x "rm -rf --one-file-system $d" >/dev/null 2>&1 && continue
    remove_tree_safely "$d"
  done
}

# Order matters: processes first (they keep mounts busy and namespaces alive),
# then mounts (lazily if busy), then namespaces, and only then the directories.
# $1 = "sync" (down: everything is gone when it returns) or "async" (up).
teardown() {
  local mode="${1:-sync}"
  kill_lab_processes
  unmount_all_under "$HOSTS_DIR"
  local ns
  for ns in $(lab_namespaces); do ip netns del "$ns" 2>/dev/null || true; done
  if [ "$mode" = async ]; then
    discard_hosts_dir_in_background
  else
    remove_tree_safely "$HOSTS_DIR"
    remove_leftover_trash
  fi
  remove_lab_cgroups
  remove_root_guard_route
  rm -f "$STATE_FILE" "$HOSTS_TSV" "$KNOWN_HOSTS" "$SSH_CONFIG" "$SSH_KEY" "$SSH_KEY.pub" \
    "$PWUSER_PASSWORD_FILE"
  rm -rf "$RUN_DIR/pids"
}

# ---------------------------------------------------------------- images (cached)

# The first URI the machine's apt sources give for a suite: the deb822 stanzas
# of /etc/apt/sources.list.d/*.sources (Types: deb, Suites: listing it, not
# Enabled: no), then the one-line `deb` entries of /etc/apt/sources.list.
apt_source_uri() {
  local suite="$1" f uri=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri="$(awk -v want="$suite" '
      function flush() {
        if (deb && has && enabled && uris != "") { split(uris, u, " "); print u[1]; found = 1; exit }
        deb = 0; has = 0; enabled = 1; uris = ""
      }
      BEGIN { enabled = 1 }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == want) has = 1 }
      tolower($1) == "enabled:" { enabled = (tolower($2) != "no") }
      tolower($1) == "uris:" { $1 = ""; uris = $0 }
      END { if (!found) flush() }' "$f")"
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  done
  if [ -f /etc/apt/sources.list ]; then
    uri="$(awk -v want="$suite" '
      $1 == "deb" {
        i = 2
        if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == want) { print $i; exit }
      }' /etc/apt/sources.list)"
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  fi
  return 1
}

# Sets MIRROR and UPGRADE_SOURCE from the machine's apt sources (only `up`
# downloads anything, so only `up` needs them).
find_mirrors() {
  MIRROR="$(apt_source_uri "$SUITE")" ||
    die "no apt source for $SUITE in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list: add the machine's Debian mirror there"
  local security
  security="$(apt_source_uri "$SUITE-security")" ||
    die "no apt source for $SUITE-security in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list: add the machine's Debian security mirror there"
  MIRROR="${MIRROR%/}"
  UPGRADE_SOURCE="deb ${security%/} $SUITE-security main"
}

hash_of() { sha256sum | cut -c1-16; }

debootstrap_key() { printf '%s|%s|%s|minbase|%s\n' "$SUITE" "$MIRROR" "$BASE_PACKAGES" v1 | hash_of; }
base_key() { { debootstrap_key; cat "$LAB_SRC/customise-base.sh"; } | hash_of; }
repo_key() { { debootstrap_key; echo "$PAYLOAD_PACKAGES"; echo "$UPGRADE_SOURCE $UPGRADE_PACKAGES"; echo v2; } | hash_of; }

# Drop cache entries of one kind whose key is not the current one, and builds
# that crashed half-way (their temp dirs; a finished build is only ever renamed in).
prune_cache() {
  local kind="$1" keep="$2" d
  for d in "$CACHE_DIR/$kind"-*; do
    [ -d "$d" ] || continue
    [ "$d" = "$keep" ] && continue
    log "pruning stale cache $d"
    remove_tree_safely "$d"
  done
}

remove_crashed_builds() {
  local d
  for d in "$CACHE_DIR"/.tmp-*; do
    [ -e "$d" ] || continue
    log "removing crashed build $d"
    remove_tree_safely "$d"
  done
}

# Plain debootstrap output, Debian sources still enabled. Kept because it is the
# slow part (minutes) and the apt repository is downloaded from a copy of it.
ensure_debootstrap() {
  local final
  final="$CACHE_DIR/debootstrap-$(debootstrap_key)"
  DEBOOTSTRAP_DIR_RESULT="$final"
  [ -d "$final" ] && return 0
  local tmp="$CACHE_DIR/.tmp-debootstrap-$$"
  log "debootstrap $SUITE (minbase) into $tmp — takes a few minutes, once per machine"
  local t0=$SECONDS
  if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$tmp" "$MIRROR" \
      > "$LOG_DIR/debootstrap.log" 2>&1; then
    tail -20 "$LOG_DIR/debootstrap.log" >&2
    unmount_all_under "$tmp"
    die "debootstrap failed (log: $LOG_DIR/debootstrap.log)"
  fi
  unmount_all_under "$tmp"   # debootstrap can leave /proc,/sys mounted in the target
  mv -T "$tmp" "$final"      # atomic: a crashed build is never mistaken for a finished one
  log "debootstrap done in $((SECONDS - t0)) s"
  prune_cache debootstrap "$final"
}

ensure_base_image() {
  local raw="$1" final
  final="$CACHE_DIR/base-$(base_key)"
  BASE_DIR_RESULT="$final"
  [ -d "$final" ] && return 0
  local tmp="$CACHE_DIR/.tmp-base-$$"
  log "customising base image $final"
  cp -a "$raw" "$tmp"
  chroot "$tmp" /bin/bash -s < "$LAB_SRC/customise-base.sh"
  mv -T "$tmp" "$final"
  prune_cache base "$final"
}

# Hosts have no internet: the payload is downloaded once with Debian's sources
# (in a throwaway copy of the debootstrap tree, so dependency resolution matches
# exactly what is installed on the hosts) and served as a flat trusted repository.
ensure_apt_repo() {
  local raw="$1" final
  final="$CACHE_DIR/apt-$(repo_key)"
  APT_REPO_RESULT="$final"
  [ -d "$final" ] && return 0
  local tmp="$CACHE_DIR/.tmp-apt-$$" t0=$SECONDS
  log "downloading payload packages into a local apt repository"
  mkdir -p "$tmp/repo"
  cp -a "$raw" "$tmp/chroot"
  cp /etc/resolv.conf "$tmp/chroot/etc/resolv.conf"
  # shellcheck disable=SC2086
  if ! { chroot "$tmp/chroot" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
         chroot "$tmp/chroot" env DEBIAN_FRONTEND=noninteractive \
           apt-get install -y -qq --download-only $PAYLOAD_PACKAGES; } > "$LOG_DIR/apt-download.log" 2>&1; then
    tail -20 "$LOG_DIR/apt-download.log" >&2
    die "payload download failed (log: $LOG_DIR/apt-download.log)"
  fi
  mv "$tmp/chroot/var/cache/apt/archives/"*.deb "$tmp/repo/"
  # The newer MariaDB and whatever newer dependencies it needs, resolved
  # against the same tree with the security suite added.
  echo "$UPGRADE_SOURCE" > "$tmp/chroot/etc/apt/sources.list.d/upgrade.list"
  # shellcheck disable=SC2086
  if ! { chroot "$tmp/chroot" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
         chroot "$tmp/chroot" env DEBIAN_FRONTEND=noninteractive \
           apt-get install -y -qq --download-only $UPGRADE_PACKAGES; } >> "$LOG_DIR/apt-download.log" 2>&1; then
    tail -20 "$LOG_DIR/apt-download.log" >&2
    die "download of the upgrade packages failed (log: $LOG_DIR/apt-download.log)"
  fi
  mv -f "$tmp/chroot/var/cache/apt/archives/"*.deb "$tmp/repo/" 2>/dev/null || true
  remove_tree_safely "$tmp/chroot"
  (cd "$tmp/repo" && apt-ftparchive packages . > Packages && apt-ftparchive release . > Release)
  mv -T "$tmp/repo" "$final"
  rmdir "$tmp"
  log "apt repository: $(find "$final" -name '*.deb' | wc -l) packages, $(du -sh "$final" | cut -f1), in $((SECONDS - t0)) s"
  prune_cache apt "$final"
}

# ---------------------------------------------------------------- host list

# Fills HOSTS (lines "name segment address private") for the core hosts + N extras.
build_host_list() {
  local extra="$1" i line
  HOSTS=()
  # shellcheck disable=SC2086  # word splitting squeezes the table's alignment spaces
  for line in "${CORE_HOSTS[@]}"; do set -- $line; HOSTS+=("$*"); done
  for ((i = 1; i <= extra; i++)); do
    HOSTS+=("$(printf 'x%02d a 10.231.0.%d -' "$i" $((100 + i)))")
  done
}

# Two hosts with one address both boot, then one sshd loses the port and its
# ssh.service dies in its restart limit (pitfall): refuse before booting.
check_addresses_unique() {
  local all=("$RUNNER_ADDRESS" "$VIP") line name seg addr priv
  for line in "${HOSTS[@]}"; do
    read -r name seg addr priv <<<"$line"
    all+=("$addr")
    if [ "$priv" != - ]; then all+=("$priv"); fi
  done
  local dup
  dup="$(printf '%s\n' "${all[@]}" | sort | uniq -d)"
  [ -z "$dup" ] || die "duplicate lab addresses: $dup"
}

# ---------------------------------------------------------------- network

# The root namespace must never send lab traffic to its default gateway (off the
# machine): an "unreachable" route makes every 10.231.0.0/16 packet fail locally.
# It is a guard, not a route into the lab.
add_root_guard_route() {
  ip route replace unreachable "$LAB_SUPERNET"
}

create_bridge_namespace() {
  local ns="$1"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$ns" link add "$ns" type bridge stp_state 0 forward_delay 0
  ip -n "$ns" link set "$ns" up
}

# veth pair: bridge side "v-NAME" inside the bridge's namespace, host side IFACE
# inside the host's namespace. No default route anywhere: a wrong address can
# never leave the lab.
attach_to_segment() {
  local bridge_ns="$1" host_ns="$2" port="$3" iface="$4" cidr="$5"
  ip -n "$bridge_ns" link add "$port" type veth peer name "$iface" netns "$host_ns"
  ip -n "$bridge_ns" link set "$port" master "$bridge_ns" up
  ip -n "$host_ns" addr add "$cidr" dev "$iface"
  ip -n "$host_ns" link set "$iface" up
}

create_networks() {
  add_root_guard_route
  create_bridge_namespace "$SEGMENT_A_BRIDGE_NS"
  create_bridge_namespace "$SEGMENT_B_BRIDGE_NS"
  ip netns add "$RUNNER_NS"
  ip -n "$RUNNER_NS" link set lo up
  attach_to_segment "$SEGMENT_A_BRIDGE_NS" "$RUNNER_NS" v-runner eth0 "$RUNNER_ADDRESS/24"
  local line name seg addr priv ns
  for line in "${HOSTS[@]}"; do
    read -r name seg addr priv <<<"$line"
    ns="lab-$name"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    if [ "$seg" = a ]; then
      attach_to_segment "$SEGMENT_A_BRIDGE_NS" "$ns" "v-$name" eth0 "$addr/24"
    else
      attach_to_segment "$SEGMENT_B_BRIDGE_NS" "$ns" "v-$name" eth0 "$addr/24"
    fi
    if [ "$priv" != - ]; then
      attach_to_segment "$SEGMENT_B_BRIDGE_NS" "$ns" "v-$name" eth1 "$priv/24"
    fi
    # The bastion is a jump host, not a router: segment B stays private.
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=0
  done
}

# ---------------------------------------------------------------- hosts

make_ssh_identity() {
  mkdir -p "$RUN_DIR"
  chmod 0700 "$RUN_DIR"
  rm -f "$SSH_KEY" "$SSH_KEY.pub"
  ssh-keygen -q -t ed25519 -N '' -C "lms-ha-lab-$(date +%Y%m%d%H%M%S)" -f "$SSH_KEY"
  head -c 24 /dev/urandom | base64 | tr -d '/+=\n' > "$PWUSER_PASSWORD_FILE"
  chmod 0600 "$PWUSER_PASSWORD_FILE"
  # ProxyJump does not pass -i/-o to the jump connection, only -F: tests that use
  # the OpenSSH client (and `lab.sh ssh`) use this file so priv1 works via the bastion.
  cat > "$SSH_CONFIG" <<EOF
Host *
  User root
  IdentityFile $SSH_KEY
  IdentitiesOnly yes
  UserKnownHostsFile $KNOWN_HOSTS
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 5
  LogLevel ERROR
EOF
}

uid_in_image() { awk -F: -v u="$2" '$1 == u { print $3 ":" $4 }' "$1/etc/passwd"; }

# Overlay root: lower = shared base image (read-only), upper/work per host.
# Per-host identity is written through the merged mount into the upper dir before boot.
prepare_host_root() {
  local name="$1" base="$2" dir="$HOSTS_DIR/$1"
  mkdir -p "$dir/upper" "$dir/work" "$dir/root"
  mount -t overlay overlay -o "lowerdir=$base,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
  local root="$dir/root" user home owner
  echo "$name" > "$root/etc/hostname"
  head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$root/etc/machine-id"
  for user in root deploy pwuser; do
    if [ "$user" = root ]; then home=/root; else home="/home/$user"; fi
    install -m 0600 "$SSH_KEY.pub" "$root$home/.ssh/authorized_keys"
    owner="$(uid_in_image "$root" "$user")"
    chown "$owner" "$root$home/.ssh/authorized_keys"
  done
  # Same as `chpasswd`, without a chroot + SHA-512 rounds per host (50 extra hosts).
  awk -F: -v OFS=: -v h="$PWUSER_HASH" '$1 == "pwuser" { $2 = h } { print }' \
    "$root/etc/shadow" > "$root/etc/shadow.lab" &&
    chmod --reference="$root/etc/shadow" "$root/etc/shadow.lab" &&
    chown --reference="$root/etc/shadow" "$root/etc/shadow.lab" &&
    mv "$root/etc/shadow.lab" "$root/etc/shadow"
}

# crypt(3) hash of this run's pwuser password, computed once with the image's
# own python3 (read-only use of the base; nothing is written to it).
hash_pwuser_password() {
  local base="$1"
  PWUSER_HASH="$(chroot "$base" /usr/bin/python3 -W ignore -c \
    'import crypt, sys; print(crypt.crypt(sys.stdin.read().strip(), crypt.mksalt(crypt.METHOD_SHA512)))' \
    < "$PWUSER_PASSWORD_FILE")"
  [ -n "$PWUSER_HASH" ] || die "could not hash the pwuser password"
}

# Each host gets a cgroup of its own, /lms-ha-lab/NAME. With --keep-unit nspawn
# uses the cgroup it starts in; when all hosts started in the same one, their
# systemds shared the directories /payload/system.slice/X.service, and a unit
# failed at random with 219/CGROUP "Failed to attach to cgroup ...: No such file
# or directory" when a neighbour removed the directory they shared (seen at boot:
# one host of seven came up degraded). Tests starting mariadb on three hosts at
# once would be flaky the same way. (Pid namespaces do stop one host's systemd
# from killing a neighbour's processes; that was checked.)
make_host_cgroups() {
  local name="$1" r
  HOST_CGROUP_DIRS=""
  for r in $(cgroup_roots); do
    mkdir -p "$r/lms-ha-lab/$name"
    HOST_CGROUP_DIRS+="$r/lms-ha-lab/$name "
  done
}

# --keep-unit --register=no: there is no systemd bus on the build machine
# ("Failed to open system bus" otherwise). setsid: the host must survive the
# shell that started it. 9>&-: do not hand the lab lock to the container.
# The inner bash moves itself into the host's cgroups, then becomes nspawn (same pid).
# GlusterFS bricks: the db hosts (which the e2e tests give the storage role) get
# a filesystem of their own at /srv/gluster, a directory of the machine bound
# in, so a brick under it (/srv/gluster/VOLUME, the product's default) is not on
# the host's root filesystem (the overlay) and the product's and gluster's
# root-filesystem refusal is exercised honestly: a brick path elsewhere (e.g.
# /srv/data) is on "/" and refused unless storage.force_root_brick is set.
BRICK_DISK_MOUNT=/srv/gluster
host_binds() {
  HOST_BINDS=()
  case "$1" in
    db[0-9]*)
      mkdir -p "$HOSTS_DIR/$1/brick-disk"
      HOST_BINDS+=(--bind="$HOSTS_DIR/$1/brick-disk:$BRICK_DISK_MOUNT") ;;
  esac
}

boot_host() {
  local name="$1" repo="$2" pid
  mkdir -p "$RUN_DIR/pids" "$LOG_DIR"
  make_host_cgroups "$name"
  host_binds "$name"
  # shellcheck disable=SC2016  # $$ and $d expand in the inner shell
  # SYSTEMD_NSPAWN_API_VFS_WRITABLE=network: with --network-namespace-path nspawn
  # leaves /proc/sys/net read-only, so `sysctl net.ipv4.ip_nonlocal_bind=1` (HAProxy
  # binding the VIP on the backup LB) would fail. Each host has its own netns, so
  # this only ever changes that host's own network settings.
  SYSTEMD_NSPAWN_API_VFS_WRITABLE=network LAB_CGROUPS="$HOST_CGROUP_DIRS" setsid bash -c 'for d in $LAB_CGROUPS; do echo $$ > "$d/cgroup.procs"; done; exec "$@"' \
    lab-boot-"$name" systemd-nspawn -D "$HOSTS_DIR/$name/root" --boot --keep-unit --register=no \
    -M "$name" --network-namespace-path="/run/netns/lab-$name" \
    --bind-ro="$repo:/srv/lab-apt" --bind=/dev/fuse "${HOST_BINDS[@]}" \
    --capability="$NSPAWN_CAPS" \
    --resolv-conf=off --link-journal=no --settings=no --console=read-only \
    < /dev/null > "$LOG_DIR/$name.console.log" 2>&1 9>&- &
  pid=$!
  echo "$pid" > "$RUN_DIR/pids/$name"
}

nspawn_pid_of() { cat "$RUN_DIR/pids/$1" 2>/dev/null; }

# PID 1 of the container, as seen from the root namespace.
init_pid_of() {
  local npid c
  npid="$(nspawn_pid_of "$1")" || return 1
  for c in $(children_of "$npid"); do
    [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ] && { echo "$c"; return 0; }
  done
  return 1
}

in_host() {
  local pid="$1"; shift
  nsenter --target "$pid" --mount --uts --ipc --net --pid --root --wd -- \
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 "$@"
}

# Wait until every host's systemd reports running/degraded.
wait_for_boot() {
  local deadline=$((SECONDS + $1)) pending=() line name state pid still
  for line in "${HOSTS[@]}"; do pending+=("${line%% *}"); done
  while [ "${#pending[@]}" -gt 0 ]; do
    still=()
    for name in "${pending[@]}"; do
      pid="$(nspawn_pid_of "$name")"
      if [ ! -e "/proc/$pid" ]; then
        tail -20 "$LOG_DIR/$name.console.log" >&2
        die "host $name: systemd-nspawn exited during boot (log: $LOG_DIR/$name.console.log)"
      fi
      state=""
      if pid="$(init_pid_of "$name")"; then
        state="$(in_host "$pid" systemctl is-system-running </dev/null 2>/dev/null || true)"
      fi
      case "$state" in
        running) ;;
        degraded)
          log "warning: $name booted degraded: $(in_host "$pid" systemctl --failed --plain --no-legend </dev/null 2>/dev/null | awk '{print $1}' | tr '\n' ' ')" ;;
        *) still+=("$name") ;;
      esac
    done
    pending=("${still[@]+"${still[@]}"}")
    [ "${#pending[@]}" = 0 ] && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      for name in "${pending[@]}"; do tail -5 "$LOG_DIR/$name.console.log" >&2 || true; done
      die "hosts not booted in time: ${pending[*]}"
    fi
    sleep 0.5
  done
}

# Plain OpenSSH format, one line per key type per address, read from the host's
# own /etc/ssh (generated at its boot), so pinning is exact, not trust-on-first-use.
write_known_hosts() {
  local line name seg addr priv f tmp="$KNOWN_HOSTS.tmp"
  : > "$tmp"
  for line in "${HOSTS[@]}"; do
    read -r name seg addr priv <<<"$line"
    for f in "$HOSTS_DIR/$name/root/etc/ssh/"ssh_host_*_key.pub; do
      [ -e "$f" ] || die "host $name has no ssh host keys (ssh.service failed?)"
      awk -v a="$addr" '{ print a, $1, $2 }' "$f" >> "$tmp"
      if [ "$priv" != - ]; then awk -v a="$priv" '{ print a, $1, $2 }' "$f" >> "$tmp"; fi
    done
  done
  mv "$tmp" "$KNOWN_HOSTS"
  chmod 0644 "$KNOWN_HOSTS"
}

# ssh argv for reaching HOST as USER from the runner namespace with pinned keys.
ssh_argv() {
  local seg="$1" addr="$2" user="$3"
  SSH_ARGV=(ip netns exec "$RUNNER_NS" ssh -F "$SSH_CONFIG")
  [ "$seg" = b ] && SSH_ARGV+=(-J "root@$BASTION_ADDRESS")
  SSH_ARGV+=("$user@$addr")
}

# The same check the tests rely on: real sshd, pinned host key, lab key.
wait_for_ssh() {
  local timeout="$1" line name seg addr priv dir="$RUN_DIR/sshcheck"
  rm -rf "$dir"; mkdir -p "$dir"
  local checkers=()
  for line in "${HOSTS[@]}"; do
    read -r name seg addr priv <<<"$line"
    (
      ssh_argv "$seg" "$addr" root
      deadline=$((SECONDS + timeout))
      until "${SSH_ARGV[@]}" true </dev/null >"$dir/$name.err" 2>&1; do
        [ "$SECONDS" -ge "$deadline" ] && exit 1
        sleep 0.5
      done
      touch "$dir/$name.ok"
    ) 9>&- &
    checkers+=($!)
  done
  # Only these pids: a bare `wait` would also wait for the nspawn supervisors,
  # which are background children of this shell too.
  wait "${checkers[@]}" || true
  local failed=()
  for line in "${HOSTS[@]}"; do
    name="${line%% *}"
    [ -e "$dir/$name.ok" ] || failed+=("$name: $(tail -1 "$dir/$name.err" 2>/dev/null)")
  done
  [ "${#failed[@]}" = 0 ] || die "sshd not reachable: $(printf '%s; ' "${failed[@]}")"
  rm -rf "$dir"
}

write_state() {
  local line name seg addr priv ns pid ipid first=1 tmp="$STATE_FILE.tmp" tsv="$HOSTS_TSV.tmp"
  : > "$tsv"
  {
    printf '{\n'
    printf '  "runnerNamespace": "%s",\n' "$RUNNER_NS"
    printf '  "runnerAddress": "%s",\n' "$RUNNER_ADDRESS"
    printf '  "sshKey": "%s",\n' "$SSH_KEY"
    printf '  "knownHosts": "%s",\n' "$KNOWN_HOSTS"
    printf '  "sshConfig": "%s",\n' "$SSH_CONFIG"
    printf '  "vip": "%s",\n' "$VIP"
    printf '  "sudoUser": "deploy",\n'
    printf '  "passwordSudoUser": "pwuser",\n'
    printf '  "passwordSudoUserPasswordFile": "%s",\n' "$PWUSER_PASSWORD_FILE"
    printf '  "aptRepository": "%s",\n' "$APT_REPO_RESULT"
    printf '  "hosts": [\n'
    for line in "${HOSTS[@]}"; do
      read -r name seg addr priv <<<"$line"
      ns="lab-$name"; pid="$(nspawn_pid_of "$name")"; ipid="$(init_pid_of "$name")"
      [ "$first" = 1 ] || printf ',\n'
      first=0
      printf '    {"name": "%s", "address": "%s", ' "$name" "$addr"
      if [ "$priv" != - ]; then printf '"privateAddress": "%s", ' "$priv"; fi
      printf '"segment": "%s", "namespace": "%s", "pid": %s, "initPid": %s}' "$seg" "$ns" "$pid" "$ipid"
      printf '%s\t%s\t%s\t%s\n' "$name" "$seg" "$addr" "$priv" >> "$tsv"
    done
    printf '\n  ]\n}\n'
  } > "$tmp"
  mv "$tsv" "$HOSTS_TSV"
  mv "$tmp" "$STATE_FILE"
}

# ---------------------------------------------------------------- commands

cmd_up() {
  local extra=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --extra) extra="${2:-}"; shift 2 || usage ;;
      --extra=*) extra="${1#--extra=}"; shift ;;
      *) usage ;;
    esac
  done
  if ! [[ "$extra" =~ ^[0-9]+$ ]] || [ "$extra" -gt "$MAX_EXTRA" ]; then
    die "--extra must be 0..$MAX_EXTRA"
  fi
  require_root
  take_lock
  local t0=$SECONDS
  # A failed `up` leaves what it made for inspection; the next up/down cleans it.
  # shellcheck disable=SC2154  # rc is assigned inside the trap
  trap 'rc=$?; [ "$rc" = 0 ] || log "up failed; logs in $LOG_DIR/; clean up with: lab.sh down"' EXIT
  ensure_tools
  log "cleaning up any previous lab"
  teardown async
  mkdir -p "$CACHE_DIR" "$HOSTS_DIR" "$RUN_DIR" "$LOG_DIR"
  remove_crashed_builds
  find_mirrors
  ensure_debootstrap;             local raw="$DEBOOTSTRAP_DIR_RESULT"
  ensure_base_image "$raw";       local base="$BASE_DIR_RESULT"
  ensure_apt_repo "$raw";         local repo="$APT_REPO_RESULT"
  build_host_list "$extra"
  check_addresses_unique
  raise_kernel_limits
  log "creating networks and ${#HOSTS[@]} hosts"
  make_ssh_identity
  hash_pwuser_password "$base"
  create_networks
  local line name
  for line in "${HOSTS[@]}"; do
    name="${line%% *}"
    prepare_host_root "$name" "$base"
    boot_host "$name" "$repo"
  done
  wait_for_boot $((60 + 3 * ${#HOSTS[@]}))
  write_known_hosts
  wait_for_ssh $((30 + ${#HOSTS[@]}))
  write_state
  log "lab up: ${#HOSTS[@]} hosts in $((SECONDS - t0)) s; state in $STATE_FILE"
}

cmd_down() {
  require_root
  take_lock
  teardown
  log "lab down"
}

cmd_status() {
  require_root
  [ -f "$HOSTS_TSV" ] || { echo "lab is down (no $STATE_FILE)"; exit 1; }
  local name seg addr priv ns running reach ok=0 pid ipid shown
  printf '%-8s %-12s %-24s %-8s %s\n' HOST NAMESPACE ADDRESS RUNNING SSHD
  while IFS=$'\t' read -r name seg addr priv; do
    ns="lab-$name"
    ip netns list | awk '{print $1}' | grep -qx "$ns" || ns="$ns(missing)"
    running=no
    pid="$(nspawn_pid_of "$name" || true)"
    if [ -n "$pid" ] && [ -e "/proc/$pid" ] && ipid="$(init_pid_of "$name")"; then
      running="$(in_host "$ipid" systemctl is-system-running </dev/null 2>/dev/null || true)"
      [ -n "$running" ] || running=unknown
    fi
    ssh_argv "$seg" "$addr" root
    if "${SSH_ARGV[@]}" true </dev/null >/dev/null 2>&1; then reach=yes; else reach=no; fi
    shown="$addr"
    if [ "$priv" != - ]; then shown="$addr,$priv"; fi
    printf '%-8s %-12s %-24s %-8s %s\n' "$name" "$ns" "$shown" "$running" "$reach"
    case "$running" in running|degraded) ;; *) ok=1 ;; esac
    [ "$reach" = yes ] || ok=1
    case "$ns" in *missing*) ok=1 ;; esac
  done < "$HOSTS_TSV"
  return "$ok"
}

host_init_pid_or_die() {
  [ -f "$HOSTS_TSV" ] || die "lab is down"
  awk -F'\t' -v n="$1" '$1 == n { f = 1 } END { exit !f }' "$HOSTS_TSV" || die "no lab host named $1"
  init_pid_of "$1" || die "host $1 is not running"
}

cmd_exec() {
  require_root
  [ $# -ge 1 ] || usage
  local name="$1"; shift
  [ "${1:-}" = -- ] && shift
  local pid
  pid="$(host_init_pid_or_die "$name")"
  [ $# -gt 0 ] || set -- /bin/bash -l
  in_host "$pid" "$@"
}

cmd_ssh() {
  require_root
  [ $# -ge 1 ] || usage
  local name="$1"; shift
  [ "${1:-}" = -- ] && shift
  [ -f "$HOSTS_TSV" ] || die "lab is down"
  local line seg addr
  line="$(awk -F'\t' -v n="$name" '$1 == n' "$HOSTS_TSV")"
  [ -n "$line" ] || die "no lab host named $name"
  IFS=$'\t' read -r _ seg addr _ <<<"$line"
  ssh_argv "$seg" "$addr" root
  exec "${SSH_ARGV[@]}" "$@"
}

main() {
  [ $# -ge 1 ] || usage
  local cmd="$1"; shift
  case "$cmd" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    exec) cmd_exec "$@" ;;
    ssh) cmd_ssh "$@" ;;
    -h|--help|help) usage ;;
    *) usage ;;
  esac
}

main "$@"
