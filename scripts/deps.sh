#!/usr/bin/env bash
# Installs the Debian packages a target needs, only those missing.
#   scripts/deps.sh base|test|vm|bench|conformance
set -euo pipefail
base=(busybox-static util-linux jq)
test=(golang-github-containers-common libseccomp-dev tmux dbus-daemon criu protobuf-compiler)
vm=(qemu-system-x86 linux-image-amd64 cpio apparmor checkpolicy systemd containerd containernetworking-plugins podman docker.io criu)
bench=(runc crun python3-matplotlib hyperfine libseccomp-dev)
want=()
for set in "$@"; do
    case "$set" in
        base) want+=("${base[@]}") ;;
        test) want+=("${base[@]}" "${test[@]}") ;;
        vm) want+=("${vm[@]}") ;;
        bench) want+=("${base[@]}" "${bench[@]}") ;;
        conformance) want+=("${base[@]}" golang-go) ;;
        *) echo "deps.sh: unknown set $set" >&2; exit 2 ;;
    esac
done
# Rust: the cargo on PATH must be at least Cargo.toml's rust-version.
# Debian 12 ships rustc-web/cargo-web (1.96, from bookworm-security) beside
# its older rustc; they install /usr/bin/cargo and /usr/bin/rustc.
rust_want=$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' "$(dirname "$0")/../Cargo.toml")
rust_have() { cargo --version 2>/dev/null | awk '{print $2}' | cut -d- -f1; }
rust_ok() {
    local have; have=$(rust_have)
    [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$rust_want" "$have" | sort -V | head -1)" = "$rust_want" ]
}
if ! rust_ok; then
    want+=(rustc-web cargo-web gcc libc6-dev)
fi

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # qemu-utils from backports conflicts with qemu-system-x86: never name both.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! rust_ok; then
    have=$(rust_have)
    echo "deps.sh: nook needs cargo >= $rust_want, and PATH has ${have:-no cargo}: install Debian's cargo-web and rustc-web (apt-get install cargo-web rustc-web gcc libc6-dev) or rustup's stable, and put it first on PATH" >&2
    exit 1
fi
