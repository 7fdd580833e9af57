#!/bin/bash
# Customises a fresh debootstrap tree into the lab's base image.
# Runs INSIDE a chroot of a copy of the debootstrap output (lab.sh pipes it to
# `chroot DIR /bin/bash -s`). Its content is part of the base image's cache key,
# so editing this file makes the next `lab.sh up` rebuild the base (not the debootstrap).
#
# Everything here is shared by all hosts. Per-host things (hostname, machine-id,
# authorized_keys, the pwuser password of this run) are written by lab.sh into
# each host's overlay before boot.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

random_secret() { head -c 24 /dev/urandom | base64 | tr -d '/+=\n'; }

# --- apt: hosts have no internet; only the lab's local repository (bind-mounted
# read-only at /srv/lab-apt by lab.sh). The product's own apt-get runs against it.
printf 'deb [trusted=yes] file:/srv/lab-apt ./\n' > /etc/apt/sources.list
rm -f /etc/apt/sources.list.d/*
apt-get clean
rm -rf /var/lib/apt/lists/*
mkdir -p /srv/lab-apt

# --- sshd: every host must get its OWN host keys (that is what makes known_hosts
# pinning testable), so none may live in the shared image. Debian's ssh.service
# runs `sshd -t` first, which fails without keys: reset the ExecStartPre list and
# generate the keys before the syntax check (found building the lab).
rm -f /etc/ssh/ssh_host_*
mkdir -p /etc/systemd/system/ssh.service.d
cat > /etc/systemd/system/ssh.service.d/lab-host-keys.conf <<'EOF'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
EOF
mkdir -p /etc/ssh/sshd_config.d
cat > /etc/ssh/sshd_config.d/lab.conf <<'EOF'
# lms-ha lab: root may log in with a key, never with a password.
PermitRootLogin prohibit-password
EOF

# --- users: `deploy` sudoes without a password, `pwuser` only with one.
# lab.sh sets a fresh pwuser password at every `up`; this one is never used.
id deploy >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --user-group deploy
printf 'deploy ALL=(ALL) NOPASSWD: ALL\n' > /etc/sudoers.d/lab-deploy
chmod 0440 /etc/sudoers.d/lab-deploy
id pwuser >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --user-group --groups sudo pwuser
printf 'pwuser:%s\n' "$(random_secret)" | chpasswd
for home in /root /home/deploy /home/pwuser; do
  mkdir -p "$home/.ssh"
  chmod 0700 "$home/.ssh"
done
chown deploy:deploy /home/deploy/.ssh
chown pwuser:pwuser /home/pwuser/.ssh

# --- identity: written per host by lab.sh. /etc/hosts deliberately has NO entry
# for the host's own name: real hosts often look like this and the product's
# provision step must write /etc/hosts for the inventory.
rm -f /etc/hostname
cat > /etc/hosts <<'EOF'
127.0.0.1	localhost
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
# debootstrap copied the build machine's resolver; lab hosts have no DNS at all.
printf '# lms-ha lab: no DNS; names come from /etc/hosts\n' > /etc/resolv.conf
# An empty machine-id would make systemd treat every boot as a first boot;
# lab.sh writes a distinct one per host.
: > /etc/machine-id

# --- journald: keep each host's journal small so 50 hosts stay cheap.
mkdir -p /etc/systemd/journald.conf.d
cat > /etc/systemd/journald.conf.d/lab.conf <<'EOF'
[Journal]
Storage=volatile
RuntimeMaxUse=16M
EOF

# --- units that make no sense in a lab container:
# - apt-daily*: would grab the dpkg lock at random times, in the middle of a test's apt-get.
# - systemd-firstboot: could prompt on the console and block boot.
# - console/container gettys: nobody logs in on the console (lab.sh exec uses nsenter);
#   they only cost memory on 50 hosts.
systemctl mask \
  apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service \
  systemd-firstboot.service \
  console-getty.service container-getty@.service getty@.service \
  e2scrub_all.timer e2scrub_reap.service \
  >/dev/null 2>&1 || true
