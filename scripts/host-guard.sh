#!/usr/bin/env bash
# Runs a command (a host test suite) and leaves the host as it found it:
#   scripts/host-guard.sh COMMAND [ARGS...]
#
# The suites enable controllers in the unified hierarchy's root (a
# container with a hugetlb limit needs hugetlb in every ancestor's
# cgroup.subtree_control), and nook, like runc, never disables a shared
# ancestor's controller: a sibling may be using it. So the guard records
# the root's subtree_control first and switches off, afterwards, what the
# run switched on. It then checks that the run left nothing behind: no
# cgroup, no mount, no nook process, no test state. A leftover fails the
# run (after it is cleaned up), even when the command itself passed.
# Only the cgroup v2 hierarchy is ever read or written, never a v1 one.
set -uo pipefail

v2=""
for m in /sys/fs/cgroup/unified /sys/fs/cgroup; do
    if [ "$(stat -f -c %T "$m" 2>/dev/null)" = cgroup2fs ]; then v2=$m; break; fi
done

snapshot_cgroups() { [ -n "$v2" ] && find "$v2" -mindepth 1 -maxdepth 3 -type d 2>/dev/null | sort; }
nook_mounts() { awk '$5 ~ /nook-tests|ocitest/ {print $5}' /proc/self/mountinfo | sort; }
# Processes running the nook binary (a container's init before its exec
# is a clone of nook): found by their executable, sealed copies included.
nook_procs() {
    local p exe
    for p in /proc/[0-9]*; do
        exe=$(readlink "$p/exe" 2>/dev/null) || continue
        case "$exe" in */nook | */nook" (deleted)") echo "${p#/proc/}" ;; esac
    done
}

before_control=""
[ -n "$v2" ] && before_control=$(cat "$v2/cgroup.subtree_control")
before_cgroups=$(snapshot_cgroups)
before_mounts=$(nook_mounts)

"$@"
rc=$?

left=0
new_cgroups=$(comm -13 <(echo "$before_cgroups") <(snapshot_cgroups))
if [ -n "$new_cgroups" ]; then
    echo "host-guard: cgroups left behind:" >&2
    echo "$new_cgroups" | sed 's/^/  /' >&2
    left=1
    # Deepest first; kill what is inside (cgroup.kill), then remove.
    echo "$new_cgroups" | sort -r | while read -r d; do
        [ -e "$d/cgroup.kill" ] && echo 1 > "$d/cgroup.kill" 2>/dev/null
        for _ in 1 2 3 4 5 6 7 8 9 10; do rmdir "$d" 2>/dev/null && break; sleep 0.1; done
    done
fi
new_mounts=$(comm -13 <(echo "$before_mounts") <(nook_mounts))
if [ -n "$new_mounts" ]; then
    echo "host-guard: mounts left behind:" >&2
    echo "$new_mounts" | sed 's/^/  /' >&2
    left=1
    echo "$new_mounts" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
fi
procs=$(nook_procs)
if [ -n "$procs" ]; then
    echo "host-guard: nook processes left behind: $procs" >&2
    left=1
    kill -9 $procs 2>/dev/null
fi
if [ -n "$v2" ]; then
    for c in $(cat "$v2/cgroup.subtree_control"); do
        case " $before_control " in
            *" $c "*) ;;
            *) echo "-$c" > "$v2/cgroup.subtree_control" 2>/dev/null \
                || echo "host-guard: could not switch $c off again in $v2" >&2 ;;
        esac
    done
fi
# The suites' bundles, once nothing is mounted below them any more.
if [ -z "$(nook_mounts)" ]; then rm -rf /tmp/nook-tests; fi
if [ "$rc" -eq 0 ] && [ "$left" -ne 0 ]; then rc=1; fi
exit "$rc"
