#!/usr/bin/env bash
# Self-test of the VM harness: checks, in real guests, the facts the runtime's
# tests rely on (pure cgroup v2 with working limits, user namespaces, exit codes
# coming back, hangs and crashes reported) and that a real OCI runtime (Debian's
# runc) runs a busybox bundle with a memory limit in the guest.
#
#   integration/vm/selftest.sh [--quick]     # on the host (boots 2-4 VMs)
#   integration/vm/selftest.sh --guest       # inside the guest (run by the above)
#
# --quick skips the slow hang/crash tests. The last line is always
# "N passed, N failed"; the exit status is 0 only when nothing failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN_IN_VM=$HERE/run-in-vm

PASS=0
FAIL=0
ok()  { echo "ok - $1"; PASS=$((PASS + 1)); }
nok() { echo "not ok - $1${2:+ ($2)}"; FAIL=$((FAIL + 1)); }
# expect NAME WANT GOT
expect() { if [ "$2" = "$3" ]; then ok "$1"; else nok "$1" "want '$2', got '$3'"; fi; }

# ====================================================================== guest
# wait_for SECS CMD...: poll CMD every 0.2 s until it succeeds.
wait_for() {
    local n=$(( $1 * 5 )); shift
    until "$@"; do n=$((n - 1)); [ "$n" -gt 0 ] || return 1; sleep 0.2; done
}
# in_cg CGROUP CMD...: run CMD inside cgroup CGROUP (a directory).
in_cg() { sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$@"; }
cg_field() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
cg_cleanup() {   # kill everything in the cgroup, then remove it
    [ -d "$1" ] || return 0
    echo 1 > "$1/cgroup.kill" 2>/dev/null
    wait_for 10 grep -qx 'populated 0' "$1/cgroup.events"
    rmdir "$1"
}

guest_main() {
    local CG=/sys/fs/cgroup cg rc out bb
    bb=$(command -v busybox || echo /bin/busybox)
    echo "# guest: kernel $(uname -r), $(nproc) cpus, uptime $(cut -d' ' -f1 /proc/uptime)s"

    # ---- mounts and basics
    expect "cgroup2 mounted at /sys/fs/cgroup" cgroup2fs "$(stat -fc %T $CG)"
    if awk '$2 == "/sys/fs/cgroup" && $4 ~ /nsdelegate/' /proc/mounts | grep -q .; then
        ok "cgroup2 mounted with nsdelegate"; else nok "cgroup2 mounted with nsdelegate"; fi
    expect "root is the overlay" overlay "$(awk '$2 == "/" { t = $3 } END { print t }' /proc/mounts)"
    expect "devpts on /dev/pts" devpts "$(stat -fc %T /dev/pts)"
    expect "tmpfs on /dev/shm and /run" "tmpfs tmpfs" "$(stat -fc %T /dev/shm) $(stat -fc %T /run)"
    expect "loopback is up" 1 "$(( $(cat /sys/class/net/lo/flags) & 1 ))"
    # CAP_SYS_RESOURCE (24) is what the host lacks.
    if (( 0x$(awk '/^CapEff/ { print $2 }' /proc/self/status) >> 24 & 1 )); then
        ok "root has CAP_SYS_RESOURCE"; else nok "root has CAP_SYS_RESOURCE"; fi

    # ---- controllers
    local ctrls missing=
    ctrls=" $(cat $CG/cgroup.controllers) "
    for c in memory pids cpu io; do [[ $ctrls == *" $c "* ]] || missing+=" $c"; done
    expect "cgroup.controllers has memory pids cpu io" "" "$missing"
    expect "all controllers enabled in root subtree_control" \
        "$(cat $CG/cgroup.controllers)" "$(cat $CG/cgroup.subtree_control)"

    # ---- memory.max
    cg=$CG/selftest-mem
    mkdir "$cg" && echo 32M > "$cg/memory.max"
    echo 0 > "$cg/memory.swap.max" 2>/dev/null
    in_cg "$cg" "$bb" dd if=/dev/zero of=/dev/null bs=16M count=1 2>/dev/null
    expect "memory.max=32M: a 16M allocation fits" 0 "$?"
    # (in a subshell: keeps bash's "Killed" job notice off stderr)
    (in_cg "$cg" "$bb" dd if=/dev/zero of=/dev/null bs=64M count=1) 2>/dev/null
    expect "memory.max=32M: a 64M allocation is OOM-killed (137)" 137 "$?"
    expect "memory.events counts the oom_kill" 1 "$(cg_field "$cg/memory.events" oom_kill)"
    cg_cleanup "$cg"

    # ---- pids.max (the shell may die on the failed fork: look at pids.events)
    cg=$CG/selftest-pids
    mkdir "$cg" && echo 5 > "$cg/pids.max"
    in_cg "$cg" "$bb" sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 2 & done; wait' >/dev/null 2>&1
    out=$(cg_field "$cg/pids.events" max)
    if [ "${out:-0}" -ge 1 ]; then ok "pids.max=5 stops further forks (pids.events max $out)"
    else nok "pids.max=5 stops further forks" "pids.events max ${out:-?}"; fi
    cg_cleanup "$cg"

    # ---- cgroup.freeze / cgroup.events / cgroup.kill
    cg=$CG/selftest-freeze
    mkdir "$cg"
    (in_cg "$cg" sleep 1000) 2>/dev/null &
    local bg=$!
    if wait_for 20 grep -qx 'populated 1' "$cg/cgroup.events"; then ok "cgroup.events populated 1"
    else nok "cgroup.events populated 1"; fi
    echo 1 > "$cg/cgroup.freeze"
    if wait_for 20 grep -qx 'frozen 1' "$cg/cgroup.events"; then ok "cgroup.freeze=1 -> frozen 1"
    else nok "cgroup.freeze=1 -> frozen 1"; fi
    echo 0 > "$cg/cgroup.freeze"
    if wait_for 20 grep -qx 'frozen 0' "$cg/cgroup.events"; then ok "cgroup.freeze=0 -> frozen 0"
    else nok "cgroup.freeze=0 -> frozen 0"; fi
    echo 1 > "$cg/cgroup.kill"
    if wait_for 20 grep -qx 'populated 0' "$cg/cgroup.events"; then ok "cgroup.kill -> populated 0"
    else nok "cgroup.kill -> populated 0"; fi
    wait "$bg"
    expect "cgroup.kill delivered SIGKILL" 137 "$?"
    rmdir "$cg" 2>/dev/null || cg_cleanup "$cg"

    # ---- cpu.max
    cg=$CG/selftest-cpu
    mkdir "$cg" && echo "10000 100000" > "$cg/cpu.max"
    in_cg "$cg" timeout 2 "$bb" sh -c 'while :; do :; done'
    out=$(cg_field "$cg/cpu.stat" nr_throttled)
    if [ "${out:-0}" -gt 0 ]; then ok "cpu.max throttles a busy loop (nr_throttled $out)"
    else nok "cpu.max throttles a busy loop" "nr_throttled ${out:-?}"; fi
    cg_cleanup "$cg"

    # ---- namespaces
    local uns=(unshare --user --map-root-user --pid --net --mount --uts --ipc --fork --mount-proc)
    out=$("${uns[@]}" sh -c 'echo "$(id -u) $$"' 2>&1)
    expect "user+pid+net+mount+uts+ipc namespaces as root" "0 1" "$out"
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "${uns[@]}" sh -c 'echo "$(id -u) $$"' 2>&1)
    expect "user+pid+... namespaces as an unprivileged user" "0 1" "$out"
    out=$(unshare --cgroup --time --fork sh -c 'cat /proc/self/cgroup' 2>&1)
    expect "cgroup and time namespaces" "0::/" "$out"
    if modprobe veth && modprobe bridge && [ -d /sys/module/veth ] && [ -d /sys/module/bridge ]; then
        ok "modprobe veth bridge from the shared /lib/modules"
    else nok "modprobe veth bridge from the shared /lib/modules"; fi

    # ---- a real OCI runtime: Debian's runc with a busybox bundle
    guest_runc
}

guest_runc() {
    local runc b rc out
    runc=$(command -v runc || true)
    if [ -z "$runc" ] || ! command -v jq >/dev/null; then
        nok "runc runs a busybox bundle" "runc or jq missing on the host"; return
    fi
    b=$(mktemp -d /tmp/selftest-bundle.XXXXXX)
    mkdir -p "$b/rootfs/bin" "$b/rootfs/proc" "$b/rootfs/dev" "$b/rootfs/sys"
    cp "$(readlink -f /bin/busybox)" "$b/rootfs/bin/busybox"
    for a in sh dd echo cat sleep; do ln "$b/rootfs/bin/busybox" "$b/rootfs/bin/$a"; done
    (cd "$b" && "$runc" spec) || { nok "runc spec"; rm -rf "$b"; return; }
    # make_config ARGS_JSON
    make_config() {
        jq --argjson args "$1" '.process.terminal = false | .process.args = $args
            | .linux.cgroupsPath = "/selftest-runc/ctr"
            | .linux.resources.memory = {limit: 33554432, swap: 33554432}
            | .linux.resources.pids = {limit: 32}' "$b/config.json.orig" > "$b/config.json"
    }
    mv "$b/config.json" "$b/config.json.orig"
    local R=(timeout 120 "$runc" --root /run/selftest-runc)

    make_config '["sh","-c","echo hello-from-runc; cat /sys/fs/cgroup/memory.max; exit 5"]'
    out=$(cd "$b" && "${R[@]}" run selftest-a 2>&1); rc=$?
    expect "runc run: exit code comes back" 5 "$rc"
    expect "runc run: output and memory.max in the container" "hello-from-runc 33554432" "$(echo $out)"

    make_config '["dd","if=/dev/zero","of=/dev/null","bs=64M","count=1"]'
    out=$(cd "$b" && "${R[@]}" run selftest-b 2>&1); rc=$?
    expect "runc run: memory limit OOM-kills a 64M allocation (137)" 137 "$rc"
    [ "$rc" = 137 ] || echo "# runc output: $out"

    # lifecycle: run -d, state, pause/resume (freezer), exec, kill, delete
    make_config '["sleep","1000"]'
    (cd "$b" && "${R[@]}" run -d selftest-c </dev/null >/dev/null 2>&1); rc=$?
    expect "runc run -d" 0 "$rc"
    rstate() { "${R[@]}" state selftest-c 2>/dev/null | jq -r .status; }
    expect "runc state: running" running "$(rstate)"
    "${R[@]}" pause selftest-c
    expect "runc pause: paused" paused "$(rstate)"
    "${R[@]}" resume selftest-c
    expect "runc resume: running" running "$(rstate)"
    out=$("${R[@]}" exec selftest-c echo exec-ok 2>&1)
    expect "runc exec" exec-ok "$out"
    "${R[@]}" kill selftest-c KILL
    if wait_for 30 test "$(rstate)" = stopped; then ok "runc kill: stopped"; else nok "runc kill: stopped" "$(rstate)"; fi
    "${R[@]}" delete selftest-c
    expect "runc delete" "" "$("${R[@]}" list -q 2>&1)"

    "${R[@]}" delete -f selftest-a >/dev/null 2>&1
    "${R[@]}" delete -f selftest-b >/dev/null 2>&1
    "${R[@]}" delete -f selftest-c >/dev/null 2>&1
    rm -rf "$b"
}

# ====================================================================== host
# run_vm OUTFILE ERRFILE ARGS...: run-in-vm, returns its exit code
run_vm() { local o=$1 e=$2; shift 2; "$RUN_IN_VM" "$@" >"$o" 2>"$e"; }

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

host_main() {
    local quick=0 t0 rc line
    [ "${1:-}" = --quick ] && quick=1
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/nook-selftest.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    # ---- initramfs cache: a second build is a no-op
    local img1 img2 m1 m2
    img1=$("$RUN_IN_VM" --build-only 2>/dev/null); m1=$(stat -c %Y.%i "$img1" 2>/dev/null)
    img2=$("$RUN_IN_VM" --build-only 2>/dev/null); m2=$(stat -c %Y.%i "$img2" 2>/dev/null)
    if [ -n "$img1" ] && [ "$img1" = "$img2" ] && [ "$m1" = "$m2" ]; then ok "initramfs is cached ($img1)"
    else nok "initramfs is cached" "$img1 / $img2"; fi

    # ---- exit code, stdout/stderr, --env, cwd, discarded writes
    mkdir "$tmp/cwd"
    t0=$(now)
    (cd "$tmp/cwd" && NOOK_SELFTEST_VAR="a b'c\$d \"e\"" run_vm "$tmp/o" "$tmp/e" --timeout 300 \
        --env NOOK_SELFTEST_VAR --env NOOK_SELFTEST_SET=x=y -- \
        sh -c 'printf "%s\n" "$NOOK_SELFTEST_VAR" "$NOOK_SELFTEST_SET" "$(pwd)"; touch guest-file; echo err >&2; exit 7')
    rc=$?
    echo "# trivial command VM: $(since "$t0") s"
    expect "exit code comes back (sh -c 'exit 7')" 7 "$rc"
    expect "--env passes a value with quotes and spaces" "a b'c\$d \"e\"" "$(sed -n 1p "$tmp/o")"
    expect "--env NAME=VALUE" "x=y" "$(sed -n 2p "$tmp/o")"
    expect "command runs in the caller's cwd" "$(cd "$tmp/cwd" && pwd -P)" "$(sed -n 3p "$tmp/o")"
    expect "stderr comes back separately" "err" "$(cat "$tmp/e")"
    if [ ! -e "$tmp/cwd/guest-file" ]; then ok "guest writes to the host tree are discarded"
    else nok "guest writes to the host tree are discarded"; fi
    [ "$rc" = 7 ] || sed 's/^/# /' "$tmp/e"

    # ---- the guest suite, all in one VM
    t0=$(now)
    # (through --script: this file is copied onto the work share and run with its shebang)
    run_vm "$tmp/o" "$tmp/e" --timeout 600 --script "$HERE/selftest.sh" --guest
    rc=$?
    echo "# guest suite VM: $(since "$t0") s"
    while IFS= read -r line; do
        case $line in
            "ok - "*) echo "$line"; PASS=$((PASS + 1)) ;;
            "not ok - "*) echo "$line"; FAIL=$((FAIL + 1)) ;;
            "#"*) echo "$line" ;;
            *) echo "# $line" ;;
        esac
    done < "$tmp/o"
    if [ "$rc" = 0 ]; then ok "guest suite ran to completion"
    else nok "guest suite ran to completion" "run-in-vm exit $rc"; sed 's/^/# /' "$tmp/e"; fi

    if [ "$quick" = 0 ]; then
        # ---- a hung guest is killed and reported
        t0=$(now)
        run_vm "$tmp/o" "$tmp/e" --timeout 20 -- sh -c 'echo going-to-hang; sleep 600'
        rc=$?
        echo "# hang VM: $(since "$t0") s"
        expect "hung guest: exit 124" 124 "$rc"
        if grep -q "guest timed out" "$tmp/e" && grep -qx going-to-hang "$tmp/o"; then
            ok "hung guest: clear message and partial output"
        else nok "hung guest: clear message and partial output"; fi

        # ---- a crashed guest is reported
        t0=$(now)
        run_vm "$tmp/o" "$tmp/e" --timeout 300 -- sh -c 'echo c > /proc/sysrq-trigger'
        rc=$?
        echo "# crash VM: $(since "$t0") s"
        expect "crashed guest: exit 125" 125 "$rc"
        if grep -q "guest crashed" "$tmp/e" && grep -q "Kernel panic" "$tmp/e"; then
            ok "crashed guest: clear message and console tail"
        else nok "crashed guest: clear message and console tail"; fi
    fi

    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" = 0 ]
}

if [ "${1:-}" = --guest ]; then
    guest_main
    # The host counts the ok/not ok lines; our exit code says the suite finished.
    exit 0
fi
host_main "$@"
