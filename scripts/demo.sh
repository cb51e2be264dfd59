#!/usr/bin/env bash
# Builds a busybox bundle and runs a container that prints from inside its
# namespaces.   scripts/demo.sh NOOK DIR
set -euo pipefail
nook=$(realpath "$1")
dir=$2
rm -rf "$dir"
mkdir -p "$dir/rootfs/bin"
cp /bin/busybox "$dir/rootfs/bin/busybox"
for a in sh echo hostname cat ls id ps; do ln "$dir/rootfs/bin/busybox" "$dir/rootfs/bin/$a"; done
"$nook" spec --bundle "$dir"
# runc's default spec wants a terminal and runs sh; run a script instead.
jq '.process.terminal = false
    | .process.args = ["sh", "-c", "echo \"hello from $(hostname), I am pid $$ as uid $(id -u)\"; echo \"my processes:\"; ps; echo \"my root:\"; ls /"]' \
    "$dir/config.json" > "$dir/config.json.new"
mv "$dir/config.json.new" "$dir/config.json"
echo "+ nook run --bundle $dir demo"
"$nook" --root "$dir/state" run --bundle "$dir" "demo-$$"
