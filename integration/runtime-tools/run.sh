#!/usr/bin/env bash
# The OCI runtime-tools validation suite, run against nook (or, to compare,
# another runtime) on this host:
#
#   integration/runtime-tools/run.sh [PROGRAM...]      (as root)
#
#   RUNTIME_TOOLS_TARBALL  the suite's source with its Go modules vendored
#                          (make passes its own variable's value)
#   NOOK                   the nook binary (default: the debug build)
#   RT_RUNTIME             nook (default), runc, or a path: the runtime to test
#   RT_DIR                 build cache and work area (default target/runtime-tools)
#
# PROGRAM is a validation program's name (e.g. `hooks_stdin`); default all.
#
# The suite is built once per tarball (Debian's golang-go, offline). Each
# validation program then runs the runtime as `$RUNTIME create/start/...`,
# with the runtime's --root in this run's own directory, inside
#   - a private mount namespace with cgroup2 mounted on /sys/fs/cgroup
#     (the layout of a v2-only host; never a v1 hierarchy), and
#   - a cgroup namespace rooted at a cgroup of this run's own
#     (nook-conformance-PID in the unified hierarchy): the suite's absolute
#     cgroupsPaths (/cgrouptest) and relative ones (testdir/...) land there.
# Afterwards everything in that cgroup is killed and the tree removed, the
# run's directory too, and a controller the run had to switch on in the
# hierarchy's root is switched off again: the suite leaves containers and
# cgroups behind when a runtime fails it, this runner does not.
#
# Every "not ok" line fails the run unless expected-failures lists it (the
# program and the assertion's words), each with its reason there and in
# docs/conformance.md. The last line is the summary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tarball=${RUNTIME_TOOLS_TARBALL:-/work/shared/conformance/runtime-tools-260e151.tar.gz}
nook=${NOOK:-$repo/target/x86_64-unknown-linux-gnu/debug/nook}
runtime=${RT_RUNTIME:-nook}
dir=${RT_DIR:-$repo/target/runtime-tools}
expected=${RT_EXPECTED:-$here/expected-failures}

die() { echo "runtime-tools: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "must run as root"
[ -r "$tarball" ] || die "no suite at $tarball (set RUNTIME_TOOLS_TARBALL)"
command -v go >/dev/null || die "go is missing (apt-get install golang-go)"

# 1. Build, once per tarball.
sum=$(sha256sum "$tarball" | cut -c1-12)
src=$dir/src-$sum/runtime-tools
if [ ! -x "$src/runtimetest" ] || [ ! -f "$src/.built" ]; then
    rm -rf "$dir/src-$sum"
    mkdir -p "$dir/src-$sum"
    tar -xzf "$tarball" -C "$dir/src-$sum"
    [ -f "$src/Makefile" ] || die "$tarball does not hold runtime-tools/Makefile"
    echo "runtime-tools: building the suite ($tarball)" >&2
    (cd "$src" && GOFLAGS=-mod=vendor GOPROXY=off GOCACHE="$dir/gocache" HOME="$dir" \
        make runtimetest validation-executables >"$dir/build.log" 2>&1) ||
        { tail -20 "$dir/build.log" >&2; die "build failed (log: $dir/build.log)"; }
    touch "$src/.built"
fi

# 2. The runtime under test, with its state in this run's directory.
work=$(mktemp -d "$dir/run.XXXXXX")
mkdir -p "$work/tmp" "$work/state"
# As /tmp: the bundles go here, and a container in a user namespace must be
# able to reach its rootfs (the path down to it is not mapped).
chmod 0755 "$work" && chmod 1777 "$work/tmp"
case "$runtime" in
    nook) bin=$nook ;;
    runc) bin=$(command -v runc) || die "runc is not installed" ;;
    *) bin=$runtime ;;
esac
[ -x "$bin" ] || die "no runtime at $bin (build nook first)"
printf '#!/bin/sh\nexec %s --root %s "$@"\n' "$bin" "$work/state" >"$work/runtime"
chmod +x "$work/runtime"

# 3. This run's cgroup, below the unified hierarchy's root.
v2=""
for m in /sys/fs/cgroup/unified /sys/fs/cgroup; do
    if [ "$(stat -f -c %T "$m" 2>/dev/null)" = cgroup2fs ]; then v2=$m; break; fi
done
[ -n "$v2" ] || die "no cgroup v2 hierarchy on this host"
cg=$v2/nook-conformance-$$
mkdir "$cg"
switched_on=()
for c in $(cat "$v2/cgroup.controllers"); do
    case " $(cat "$v2/cgroup.subtree_control") " in
        *" $c "*) ;;
        *) echo "+$c" >"$v2/cgroup.subtree_control" && switched_on+=("$c") ;;
    esac
done

cleanup() {
    if [ -e "$cg/cgroup.kill" ]; then echo 1 >"$cg/cgroup.kill" 2>/dev/null || true; fi
    for _ in $(seq 50); do grep -q "populated 0" "$cg/cgroup.events" 2>/dev/null && break; sleep 0.1; done
    find "$cg" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
    rmdir "$cg" 2>/dev/null || echo "runtime-tools: could not remove $cg" >&2
    for c in "${switched_on[@]}"; do echo "-$c" >"$v2/cgroup.subtree_control" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# 4. The programs, each in the namespaces described above.
if [ $# -gt 0 ]; then
    progs=("$@")
else
    progs=()
    for t in "$src"/validation/*/*.t; do progs+=("$(basename "$t" .t)"); done
fi
cat >"$work/inner.sh" <<'EOF'
#!/bin/sh
# In the private mount and cgroup namespaces: cgroup2 as on a v2-only
# host, the runner itself in a leaf so that the namespace's root may enable
# controllers for the containers' cgroups.
set -e
umount -l /sys/fs/cgroup 2>/dev/null || true
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir /sys/fs/cgroup/runner
echo $$ >/sys/fs/cgroup/runner/cgroup.procs
cd "$SRC"
for p in $PROGS; do
    echo "=== $p"
    timeout 180 "./validation/$p/$p.t" </dev/null 2>&1 || echo "=== exit $?"
done
EOF
chmod +x "$work/inner.sh"
export SRC=$src PROGS="${progs[*]}" RUNTIME=$work/runtime TMPDIR=$work/tmp
sh -c 'echo $$ >"$0/cgroup.procs" && exec unshare -m -C --propagation private "$1"' "$cg" "$work/inner.sh" \
    >"$work/tap" 2>&1 || true
cp "$work/tap" "$dir/last-$(basename "$bin").tap"

# 5. Tally: per program, the ok and not-ok lines, and which not-ok lines
# are expected (listed as `program | assertion | reason`).
awk -v xfile="$expected" -v runtime="$(basename "$bin")" -f "$here/tally.awk" "$work/tap"
