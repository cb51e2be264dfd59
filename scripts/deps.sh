#!/usr/bin/env bash
# Installs the Debian packages a target needs, only those missing.
#   scripts/deps.sh base|test|vm|bench
set -euo pipefail
base=(busybox-static util-linux jq)
test=(golang-github-containers-common libseccomp-dev tmux dbus-daemon)
vm=(qemu-system-x86 linux-image-amd64 cpio apparmor checkpolicy systemd containerd podman docker.io)
bench=(runc crun python3-matplotlib hyperfine libseccomp-dev)
want=()
for set in "$@"; do
    case "$set" in
        base) want+=("${base[@]}") ;;
        test) want+=("${base[@]}" "${test[@]}") ;;
        vm) want+=("${vm[@]}") ;;
        bench) want+=("${base[@]}" "${bench[@]}") ;;
        *) echo "deps.sh: unknown set $set" >&2; exit 2 ;;
    esac
done
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# qemu-utils from backports conflicts with qemu-system-x86: never name both.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
