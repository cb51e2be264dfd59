#!/usr/bin/env python3
"""nook's benchmark (`make bench`): nook against Debian's runc and crun.

Times, in alternation (nook crun runc, nook crun runc, ...; warm-up first):
  1. create + start + wait + delete of /bin/true
  2. run of /bin/true
  3. exec of /bin/true into a running container
  4. peak RSS of the `create` process (wait4 ru_maxrss)
  5. 10, 50, 100 containers created and started in parallel, then deleted
  6. seccomp per-syscall overhead, nook's filter against libseccomp's (examples/seccomp_bench.rs)
and breaks one `nook run` down by phase (debug log, perf trace, ablations).

Every runtime runs in one private mount namespace with cgroup2 mounted on
/sys/fs/cgroup: nothing touches the host's cgroup v1 hierarchies.

Writes target/bench/results.{md,json}, target/bench/chart.png and
docs/performance.md. It measures and reports; it asserts nothing about
timing. BENCH_MAX_LOAD / BENCH_WAIT_S: wait for a quieter machine first.
`bench.py --docs-only` rewrites docs/performance.md from the last
results.json. `bench.py --vm` (`make bench-vm`) runs `bench.py --vm-guest`
in the test VM (integration/vm) with the full default bundle: the
sequential benchmarks and peak RSS only, into target/bench/results-vm.json
and its own section of docs/performance.md (which the host run keeps;
`bench.py --vm-docs-only` rewrites just that section from the JSON). Environment knobs: BENCH_RUNS (default 30), BENCH_PAR_RUNS (20),
BENCH_WARMUP (3).
"""

import ctypes
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "target", "bench")
NOOK = os.path.join(REPO, "target", "x86_64-unknown-linux-gnu", "release", "nook")
SECCOMP_BENCH = os.path.join(REPO, "target", "x86_64-unknown-linux-gnu", "release", "examples", "seccomp_bench")
STATE = "/run/nook-bench"
RUNS = int(os.environ.get("BENCH_RUNS", "30"))
PAR_RUNS = int(os.environ.get("BENCH_PAR_RUNS", "20"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
# Optional: wait (at most BENCH_WAIT_S seconds) for the 1-minute load
# average to fall below BENCH_MAX_LOAD before starting.
MAX_LOAD = float(os.environ.get("BENCH_MAX_LOAD", "0"))
WAIT_S = float(os.environ.get("BENCH_WAIT_S", "300"))
PAR_SIZES = (10, 50, 100)
ORDER = ("nook", "crun", "runc")
# GNU time if present; else BusyBox's, whose %M prints ru_maxrss × 4
# (it takes KiB for pages), corrected in read_rss().
TIME = ["/usr/bin/time", "-f", "%M"] if os.path.exists("/usr/bin/time") else ["busybox", "time", "-f", "%M"]
CGROUP_NOTE = ("Each runtime runs inside a private mount namespace (`unshare -m --propagation private`) "
               "with cgroup2 mounted on /sys/fs/cgroup, so no runtime touches the host's cgroup v1 hierarchies.")


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Setting up: namespace, subreaper, bundles, runtimes

def enter_namespace():
    """Re-executes this script in a private mount namespace, then mounts
    cgroup2 on /sys/fs/cgroup there (never on a v1 controller)."""
    if os.environ.get("NOOK_BENCH_INNER") != "1":
        env = dict(os.environ, NOOK_BENCH_INNER="1")
        argv = ["unshare", "-m", "--propagation", "private", sys.executable, os.path.abspath(__file__)] + sys.argv[1:]
        os.execvpe("unshare", argv, env)
    subprocess.run(["mount", "-t", "cgroup2", "none", "/sys/fs/cgroup"], check=True)
    fstype = subprocess.run(["stat", "-f", "-c", "%T", "/sys/fs/cgroup"], capture_output=True, text=True).stdout.strip()
    if fstype != "cgroup2fs":
        sys.exit(f"bench: /sys/fs/cgroup is {fstype}, not cgroup2")


def become_subreaper():
    """Orphaned container inits are reparented to us, so every runtime's
    container is waited for the same way: waitpid() on the pid from
    --pid-file."""
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("bench: PR_SET_CHILD_SUBREAPER failed")


def reap_strays():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def prepare_bundle(full=False):
    """One busybox bundle (hard links for applets, as scripts/demo.sh does),
    from `nook spec`, with ociVersion 1.0.2, no terminal, /bin/true, and
    no linux.resources (unless `full`: the VM keeps `nook spec`'s default
    resources, i.e. the deny-all device rule); plus a second config on the
    same rootfs that sleeps (the target of exec)."""
    bundle = os.path.join(OUT, "bundle")
    shutil.rmtree(bundle, ignore_errors=True)
    os.makedirs(os.path.join(bundle, "rootfs", "bin"))
    bb = os.path.join(bundle, "rootfs", "bin", "busybox")
    shutil.copy2("/bin/busybox", bb)
    for a in ("sh", "true", "sleep", "cat", "ls"):
        os.link(bb, os.path.join(bundle, "rootfs", "bin", a))
    subprocess.run([NOOK, "spec", "--bundle", bundle], check=True)
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        spec = json.load(f)
    spec["ociVersion"] = "1.0.2"
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["/bin/true"]
    if not full:
        spec["linux"].pop("resources", None)
    with open(path, "w") as f:
        json.dump(spec, f, indent=2)
    sleeper = os.path.join(OUT, "bundle-sleep")
    shutil.rmtree(sleeper, ignore_errors=True)
    os.makedirs(sleeper)
    spec["process"]["args"] = ["/bin/sleep", "100000"]
    spec["root"]["path"] = os.path.join(bundle, "rootfs")
    with open(os.path.join(sleeper, "config.json"), "w") as f:
        json.dump(spec, f, indent=2)
    return bundle, sleeper


class Runtime:
    def __init__(self, name, binary):
        self.name = name
        self.binary = binary
        self.root = os.path.join(STATE, name)
        os.makedirs(self.root, exist_ok=True)

    def cmd(self, *args, debug_log=None):
        c = [self.binary, "--root", self.root]
        if debug_log:
            c += ["--debug", "--log", debug_log]
        return c + list(args)

    def version(self):
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True).stdout
        return out.splitlines()[0] if out else "?"


def call(argv, check=True):
    """Runs one runtime command; stdin/stdout from/to /dev/null."""
    # Not a pipe for stderr: a container's init inherits it and would hold
    # the pipe open for as long as it lives.
    with tempfile.TemporaryFile() as err:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        if check and p.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(argv)}: exit {p.returncode}: {err.read().decode(errors='replace').strip()}")
    return p.returncode


def read_pid(pidfile):
    with open(pidfile) as f:
        return int(f.read().strip())


def wait_exit(pid):
    """The one waiting method for all runtimes: the container's init was
    orphaned to us (subreaper), so waitpid() it; else poll /proc."""
    try:
        os.waitpid(pid, 0)
        return "waitpid"
    except ChildProcessError:
        while True:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        return "proc"
            except FileNotFoundError:
                return "proc"
            time.sleep(0.0001)


_seq = [0]


def new_id(rt):
    _seq[0] += 1
    return f"b-{rt.name}-{os.getpid()}-{_seq[0]}"


# --------------------------------------------------------------------------
# Benchmarks: each returns milliseconds (or a dict of them)

WAIT_METHODS = {}


def bench_lifecycle(rt, bundle):
    cid = new_id(rt)
    pidfile = os.path.join(OUT, f"{cid}.pid")
    t0 = time.perf_counter()
    call(rt.cmd("create", "--bundle", bundle, "--pid-file", pidfile, cid))
    t1 = time.perf_counter()
    call(rt.cmd("start", cid))
    t2 = time.perf_counter()
    WAIT_METHODS.setdefault(rt.name, set()).add(wait_exit(read_pid(pidfile)))
    t3 = time.perf_counter()
    call(rt.cmd("delete", cid))
    t4 = time.perf_counter()
    os.unlink(pidfile)
    return {"total": (t4 - t0) * 1e3, "create": (t1 - t0) * 1e3, "start": (t2 - t1) * 1e3,
            "wait": (t3 - t2) * 1e3, "delete": (t4 - t3) * 1e3}


def bench_run(rt, bundle):
    cid = new_id(rt)
    t0 = time.perf_counter()
    call(rt.cmd("run", "--bundle", bundle, cid))
    return (time.perf_counter() - t0) * 1e3


def bench_exec(rt, cid):
    t0 = time.perf_counter()
    call(rt.cmd("exec", cid, "/bin/true"))
    return (time.perf_counter() - t0) * 1e3


def bench_rss(rt, bundle):
    """Peak RSS (KiB) of the `create` process: GNU time's %M (wait4
    ru_maxrss). Covers the image nook re-executes itself into and children
    create reaps, not the container's init. Not measured straight from
    Python: a vfork()ed child's ru_maxrss starts from Python's own RSS."""
    cid = new_id(rt)
    pidfile = os.path.join(OUT, f"{cid}.pid")
    out = os.path.join(OUT, f"{cid}.rss")
    call(TIME + ["-o", out] + rt.cmd("create", "--bundle", bundle, "--pid-file", pidfile, cid))
    call(rt.cmd("start", cid))
    wait_exit(read_pid(pidfile))
    call(rt.cmd("delete", cid))
    os.unlink(pidfile)
    kib = read_rss(out)
    os.unlink(out)
    return kib


def read_rss(path):
    with open(path) as f:
        v = int(f.read().strip().splitlines()[-1])
    return v // 4 if TIME[0] == "busybox" else v


def rss_floor():
    """%M of /bin/true under the same wrapper: what the wrapper itself adds."""
    out = os.path.join(OUT, "floor.rss")
    call(TIME + ["-o", out, "/bin/true"])
    return read_rss(out)


def bench_parallel(rt, bundle, n):
    """n containers created and started concurrently (one thread each does
    create then start), all waited for, then all deleted concurrently."""
    ids = [new_id(rt) for _ in range(n)]
    pidfiles = {c: os.path.join(OUT, f"{c}.pid") for c in ids}

    def up(c):
        call(rt.cmd("create", "--bundle", bundle, "--pid-file", pidfiles[c], c))
        call(rt.cmd("start", c))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as ex:
        list(ex.map(up, ids))
    t1 = time.perf_counter()
    for c in ids:
        wait_exit(read_pid(pidfiles[c]))
    t2 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as ex:
        list(ex.map(lambda c: call(rt.cmd("delete", c)), ids))
    t3 = time.perf_counter()
    for c in ids:
        os.unlink(pidfiles[c])
    reap_strays()
    return {"total": (t3 - t0) * 1e3, "up": (t1 - t0) * 1e3, "wait": (t2 - t1) * 1e3, "delete": (t3 - t2) * 1e3}


def alternate(runtimes, fn, runs, warmup, label):
    """A B C A B C ...: warm-up rounds first (discarded), then `runs` rounds;
    the starting runtime rotates each round so none always goes first."""
    samples = {rt.name: [] for rt in runtimes}
    for i in range(warmup + runs):
        k = i % len(runtimes)
        for rt in runtimes[k:] + runtimes[:k]:
            v = fn(rt)
            if i >= warmup:
                samples[rt.name].append(v)
        reap_strays()
    def summary(xs):
        if isinstance(xs[0], dict):
            key = "total" if "total" in xs[0] else next(iter(xs[0]))
            return f"{key} {statistics.median(x[key] for x in xs):.2f}"
        return f"{statistics.median(xs):.2f}"
    log(f"{label}: " + ", ".join(f"{n} {summary(s)}" for n, s in samples.items()))
    return samples


def stat(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs),
            "mean": statistics.fmean(xs), "stdev": statistics.stdev(xs) if len(xs) > 1 else 0.0}


# --------------------------------------------------------------------------
# Where nook's time goes

def debug_log_phases(rt, bundle, runs):
    """Untraced: the [N.NNN ms] stamps of `nook --debug --log` (time since
    the re-executed process started), plus the wall time around it."""
    rows = []
    path = os.path.join(OUT, "nook-debug.log")
    for _ in range(runs):
        if os.path.exists(path):
            os.unlink(path)
        cid = new_id(rt)
        t0 = time.perf_counter()
        call(rt.cmd("run", "--bundle", bundle, cid, debug_log=path))
        wall = (time.perf_counter() - t0) * 1e3
        stamps = {}
        with open(path) as f:
            for line in f:
                m = re.search(r"\[(\d+\.\d+) ms\] (.*?)\"?$", line)
                if m:
                    msg = re.sub(r"init \d+ ready", "init ready", m.group(2))
                    # runc's `process exited` line: its pid field varies.
                    msg = re.sub(r'" pid=\d+ status=(\d+)$', r" status=\1", msg).rstrip('"')
                    stamps[msg] = float(m.group(1))
        stamps["wall"] = wall
        rows.append(stamps)
    keys = [k for k in rows[0] if all(k in r for r in rows)]
    return {k: statistics.median(r[k] for r in rows) for k in keys}


def ablation_sealed(rt, bundle, runs):
    """`nook run` from a read-only bind mount of target/release (seal.rs
    then skips the overlay + re-exec) against the normal binary, alternated."""
    ro = os.path.join(OUT, "ro-bin")
    os.makedirs(ro, exist_ok=True)
    subprocess.run(["mount", "--bind", os.path.dirname(NOOK), ro], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", ro], check=True)
    try:
        sealed = Runtime("nook", os.path.join(ro, "nook"))
        sealed.name = "nook-ro"
        s = alternate([rt, sealed], lambda r: bench_run(r, bundle), runs, WARMUP, "run, nook vs nook from a read-only mount")
    finally:
        subprocess.run(["umount", ro], check=True)
    return {k: stat(v) for k, v in s.items()}


def kernel_floor(runs):
    """What the kernel charges anyone: spawning /bin/true, and unshare(1)
    creating the same namespaces a container gets (pid, net, ipc, uts,
    mount, cgroup) before running /bin/true."""
    variants = {
        "spawn /bin/true": ["/bin/true"],
        "unshare -m -u -i -p -f -C + true": ["unshare", "-m", "-u", "-i", "-p", "-f", "-C", "/bin/true"],
        "unshare -n + true (net ns only)": ["unshare", "-n", "/bin/true"],
        "unshare -m -u -i -n -p -f -C + true": ["unshare", "-m", "-u", "-i", "-n", "-p", "-f", "-C", "/bin/true"],
    }
    out = {}
    for _ in range(WARMUP):
        for argv in variants.values():
            call(argv)
    samples = {k: [] for k in variants}
    for _ in range(runs):
        for k, argv in variants.items():
            t0 = time.perf_counter()
            call(argv)
            samples[k].append((time.perf_counter() - t0) * 1e3)
    for k, v in samples.items():
        out[k] = stat(v)
    return out


# Syscalls that wait for another task when perf trace shows them interrupted.
BLOCKING = {"read", "recvfrom", "recvmsg", "poll", "ppoll", "epoll_wait", "epoll_pwait", "futex", "wait4",
            "waitid", "nanosleep", "clock_nanosleep", "pselect6", "select", "openat", "write"}
PT_LINE = re.compile(r"^\s*([\d.]+|\?) \(\s*([\d.]+)? ?(?:ms)?\s*\): (\S+?)/(\d+) (.*)$")


def perf_trace(rt, bundle, runs):
    """`perf trace` of `run` (all threads and children); per syscall name,
    the median over `runs` traces of its total time, and the phases of
    nook's run between landmark syscalls. perf trace adds ~10 µs per
    syscall, so absolute totals are inflated; the big items stand out."""
    if shutil.which("perf") is None:
        return None
    traces = []
    for i in range(runs):
        path = os.path.join(OUT, f"perf-trace-{rt.name}.txt")
        cid = new_id(rt)
        try:
            call(["perf", "trace", "-o", path, "-f"] + rt.cmd("run", "--bundle", bundle, cid))
        except RuntimeError as e:
            log(f"perf trace of {rt.name} failed: {str(e)[:300]}")
            return None
        with open(path) as f:
            traces.append(parse_perf_trace(f.read()))
    names = set().union(*(t["by_syscall"] for t in traces))
    by_sys = {n: {"ms": statistics.median(t["by_syscall"].get(n, (0, 0.0))[1] for t in traces),
                  "calls": statistics.median(t["by_syscall"].get(n, (0, 0.0))[0] for t in traces)} for n in names}
    top = sorted(((n, v) for n, v in by_sys.items() if not n.endswith("(blocked)")), key=lambda kv: -kv[1]["ms"])[:15]
    blocked = sorted(((n, v) for n, v in by_sys.items() if n.endswith("(blocked)")), key=lambda kv: -kv[1]["ms"])
    big = {}
    for t in traces:
        for (name, key), ms in t["big"].items():
            big.setdefault((name, key), []).append(ms)
    # Median over all traces (a trace without it counts 0), so a one-off
    # stall under load does not make the list.
    big_rows = sorted(((n, k, statistics.median(v + [0.0] * (runs - len(v))), len(v)) for (n, k), v in big.items()
                       if not n.endswith("(blocked)")), key=lambda r: -r[2])
    out = {"runs": runs, "top": [{"syscall": n, **v} for n, v in top], "blocked": [{"syscall": n, **v} for n, v in blocked],
           "big": [{"syscall": n, "detail": k, "ms": ms, "seen": c} for n, k, ms, c in big_rows[:15]],
           "wall_ms": statistics.median(t["wall"] for t in traces), "syscalls": statistics.median(t["count"] for t in traces)}
    phases = [t["phases"] for t in traces if t["phases"]]
    if phases:
        out["phases"] = {k: statistics.median(p[k] for p in phases) for k in phases[0] if all(k in p for p in phases)}
    return out


def parse_perf_trace(text):
    by_syscall = {}
    big = {}
    events = []  # (ts, dur, comm, pid, name, rest)
    count = 0
    for line in text.splitlines():
        m = PT_LINE.match(line)
        if not m or m.group(1) == "?":
            continue
        ts, dur, comm, pid, rest = float(m.group(1)), float(m.group(2) or 0.0), m.group(3), int(m.group(4)), m.group(5)
        rest = rest.strip()
        if rest.startswith("... [continued]:"):
            # Interrupted by other tasks' events: it blocked. Counted apart.
            name = rest.split(":", 1)[1].strip().split("(")[0]
            if name in BLOCKING:
                name += " (blocked)"
        else:
            name = rest.split("(")[0]
            if rest.rstrip().endswith("..."):
                events.append((ts, 0.0, comm, pid, name, rest))
                continue  # its duration comes with the continuation
        count += 1
        c, ms = by_syscall.get(name, (0, 0.0))
        by_syscall[name] = (c + 1, ms + dur)
        events.append((ts, dur, comm, pid, name, rest))
        if dur >= 0.1 and not name.endswith("(blocked)"):
            detail = ""
            for key in ("cmd: ", "option: "):
                if key in rest:
                    detail = rest.split(key, 1)[1].split(",")[0].split(")")[0]
            big_key = (name, detail)
            big[big_key] = big.get(big_key, 0.0) + dur
    wall = max((e[0] + e[1] for e in events), default=0.0)
    return {"by_syscall": by_syscall, "big": big, "phases": nook_phases(events, wall), "wall": wall, "count": count}


def nook_phases(events, wall):
    """Landmarks in a traced `nook run`: the self re-exec (execveat), the
    first cgroup mkdir after it, the device filter's BPF_PROG_LOAD,
    clone3, init's pivot_root/umount2, init's execve of the program, its
    exit, and the parent's exit."""
    main = events[0][3] if events else None
    def first(pred, after=0.0):
        for e in events:
            if e[0] >= after and pred(e):
                return e
        return None
    reexec = first(lambda e: e[3] == main and e[4] == "execveat")
    if reexec is None:
        return None
    t_reexec = reexec[0] + reexec[1]
    load = first(lambda e: e[3] == main and e[4] == "bpf" and "PROG_LOAD" in e[5], t_reexec)
    clone = first(lambda e: e[3] == main and e[4] == "clone3", t_reexec)
    if load is None or clone is None:
        return None
    init = first(lambda e: e[3] != main and e[0] >= clone[0])
    exe = first(lambda e: init and e[3] == init[3] and e[4] == "execve", clone[0])
    ready = first(lambda e: e[3] == main and e[4] in ("recvfrom", "recvmsg", "read") and e[1] > 0, clone[0])
    exit_ = first(lambda e: exe and e[3] == exe[3] and e[4] == "exit_group", exe[0]) if exe else None
    if not (init and exe and exit_):
        return None
    return {
        "start to re-exec done (ld.so, clap, overlay seal, execveat)": t_reexec,
        "re-exec'd start to BPF_PROG_LOAD (ld.so again, spec, state, cgroup mkdir)": load[0] - t_reexec,
        "BPF_PROG_LOAD + attach of the device filter": clone[0] - load[0],
        "clone3 (namespaces, into cgroup)": clone[1],
        "init: rootfs, pivot_root, caps, up to execve": exe[0] - (clone[0] + clone[1]),
        "the program (/bin/true: execve to exit_group)": exit_[0] - exe[0],
        "after exit: wait, delete (state, cgroup rmdir), exit": wall - exit_[0],
    }


LANDMARKS = "execveat,execve,mkdir,bpf,clone3,pivot_root,umount2,sendto,recvfrom,wait4,rmdir,exit_group,close_range"


def landmark_trace(rt, bundle, runs):
    """`perf trace -e <a few landmark syscalls>` of `nook run`: only those
    syscalls pay for tracing, so the gaps between them are close to
    untraced time. Returns the median of each phase over `runs` traces."""
    rows = []
    path = os.path.join(OUT, "perf-landmarks-nook.txt")
    for _ in range(runs):
        cid = new_id(rt)
        call(["perf", "trace", "-o", path, "-e", LANDMARKS, "-f"] + rt.cmd("run", "--bundle", bundle, cid))
        with open(path) as f:
            ph = landmark_phases(f.read())
        if ph:
            rows.append(ph)
    if not rows:
        return None
    keys = [k for k in rows[0] if all(k in r for r in rows)]
    return {"runs": len(rows), "phases": {k: statistics.median(r[k] for r in rows) for k in keys}}


def landmark_phases(text):
    ev = []  # (start, end, pid, name, rest)
    pending = {}
    for line in text.splitlines():
        m = PT_LINE.match(line)
        if not m or m.group(1) == "?":
            continue
        ts, dur, pid, rest = float(m.group(1)), m.group(2), int(m.group(4)), m.group(5).strip()
        if rest.startswith("... [continued]:"):
            name = rest.split(":", 1)[1].strip().split("(")[0]
            ev.append((ts, ts + float(dur or 0), pid, name, rest))
            pending.pop((pid, name), None)
            continue
        name = rest.split("(")[0]
        if rest.endswith("..."):
            pending[(pid, name)] = ts
            if name == "exit_group":
                ev.append((ts, ts, pid, name, rest))
            continue
        ev.append((ts, ts + float(dur or 0), pid, name, rest))
    ev.sort()
    if not ev:
        return None
    main = next((e[2] for e in ev if e[3] == "execveat"), None)

    def find(pred):
        return next((e for e in ev if pred(e)), None)
    reexec = find(lambda e: e[2] == main and e[3] == "execveat")
    query = find(lambda e: e[2] == main and e[3] == "bpf" and "PROG_QUERY" in e[4])
    attach = find(lambda e: e[2] == main and e[3] == "bpf" and "PROG_ATTACH" in e[4])
    clone = find(lambda e: e[2] == main and e[3] == "clone3" and e[1] > e[0])
    pivot = find(lambda e: e[2] != main and e[3] == "pivot_root")
    ready = find(lambda e: e[2] != main and e[3] == "sendto")
    exe = find(lambda e: e[2] != main and e[3] == "execve")
    exited = find(lambda e: exe and e[2] == exe[2] and e[3] == "exit_group")
    waited = find(lambda e: e[2] == main and e[3] == "wait4")
    rmdir = find(lambda e: e[2] == main and e[3] == "rmdir")
    end = find(lambda e: e[2] == main and e[3] == "exit_group")
    if not all((reexec, query, attach, clone, pivot, ready, exe, exited, waited, rmdir, end)):
        return None
    return {
        "1st image: exec, ld.so, Rust + clap start-up, overlay mount (seal.rs)": reexec[0],
        "execveat of the sealed binary": reexec[1] - reexec[0],
        "2nd image: ld.so, start-up, spec load, state dir, cgroup mkdir": query[0] - reexec[1],
        "device filter: BPF_PROG_QUERY + PROG_LOAD + PROG_ATTACH": attach[1] - query[0],
        "exec fifo, socketpair, up to clone3": clone[0] - attach[1],
        "clone3 (new pid/net/ipc/uts/mount/cgroup namespaces, into the cgroup)": clone[1] - clone[0],
        "init: mount propagation, rootfs mounts, /dev nodes, up to pivot_root": pivot[1] - clone[1],
        "init: old root umount2(MNT_DETACH), hostname, rlimits, to ready": ready[1] - pivot[1],
        "ready to execve: parent saves state, start (fifo), caps, close_range": exe[0] - ready[1],
        "execve of /bin/true": exe[1] - exe[0],
        "/bin/true runs": exited[0] - exe[1],
        "parent: wakes up, wait4": waited[1] - exited[0],
        "delete: state, cgroup.freeze check, cgroup rmdir": rmdir[1] - waited[1],
        "remove state dir, exit": end[0] - rmdir[1],
        "total (traced)": end[0],
    }


def device_programs(runtimes, bundle):
    """The BPF_CGROUP_DEVICE programs each runtime attaches to a created
    container's cgroup: verified_insns (the verifier's work, which is most
    of PROG_LOAD's cost) from /proc/self/fdinfo of each program."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    SYS_bpf, PROG_QUERY, PROG_GET_FD_BY_ID, CGROUP_DEVICE = 321, 16, 13, 6

    def bpf(cmd, attr):
        buf = ctypes.create_string_buffer(bytes(attr), 128)
        r = libc.syscall(SYS_bpf, cmd, buf, 128)
        if r < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        return r, buf

    def progs(cg):
        fd = os.open(cg, os.O_RDONLY | os.O_DIRECTORY)
        try:
            ids = (ctypes.c_uint32 * 16)()
            _, buf = bpf(PROG_QUERY, struct.pack("IIIIQI", fd, CGROUP_DEVICE, 0, 0, ctypes.addressof(ids), 16))
            out = []
            for i in range(struct.unpack_from("I", buf.raw, 24)[0]):
                pfd, _ = bpf(PROG_GET_FD_BY_ID, struct.pack("III", ids[i], 0, 0))
                with open(f"/proc/self/fdinfo/{pfd}") as f:
                    info = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
                os.close(pfd)
                out.append({k: info.get(k, "").strip() for k in ("prog_tag", "verified_insns", "memlock")})
            return out
        finally:
            os.close(fd)

    result = {}
    for rt in runtimes:
        cid = new_id(rt)
        try:
            call(rt.cmd("create", "--bundle", bundle, cid))
            cg = None
            for dirpath, dirs, _ in os.walk("/sys/fs/cgroup"):
                if os.path.basename(dirpath).endswith(cid) or os.path.basename(dirpath) == cid:
                    cg = dirpath
                    break
                if dirpath.count("/") > 5:
                    dirs[:] = []
            result[rt.name] = progs(cg) if cg else None
        except (OSError, RuntimeError) as e:
            log(f"device programs of {rt.name}: {e}")
            result[rt.name] = None
        finally:
            call(rt.cmd("delete", "--force", cid), check=False)
            reap_strays()
    return result


def read_perf_csv(path):
    """The counters of a `perf stat -x ,` output file, by event name."""
    vals = {}
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) > 2 and parts[0] and not line.startswith("#"):
                try:
                    vals[parts[2]] = float(parts[0])
                except ValueError:
                    pass
    return vals


def cpu_stats(runtimes, bundle, runs):
    """CPU time (perf stat task-clock, which counts the container's init
    too for `run`), page faults and context switches per `run`."""
    path = os.path.join(OUT, "perf-stat.csv")

    def one(rt):
        cid = new_id(rt)
        call(["perf", "stat", "-x", ",", "-o", path, "-e", "task-clock,page-faults,context-switches", "--"]
             + rt.cmd("run", "--bundle", bundle, cid))
        return read_perf_csv(path)
    s = alternate(runtimes, one, runs, 1, "perf stat of run")
    out = {}
    for n, v in s.items():
        out[n] = {k: statistics.median(x.get(k, 0.0) for x in v) for k in ("task-clock", "page-faults", "context-switches")}
    # Start-up alone: `--version` (and /bin/true for scale), mean of 30.
    startup = {}
    for name, argv in [("/bin/true", ["/bin/true"])] + [(f"{rt.name} --version", [rt.binary, "--version"]) for rt in runtimes]:
        call(["perf", "stat", "-x", ",", "-r", "30", "-o", path, "-e", "task-clock,page-faults", "--"] + argv)
        startup[name] = read_perf_csv(path)
    out["startup"] = startup
    return out


# --------------------------------------------------------------------------
# Reporting

def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu": cpu, "python": platform.python_version()}


def fmt(s):
    return f"{s['median']:.2f} ({s['min']:.2f}–{s['max']:.2f})"


def ratio(a, b):
    return f"{a / b:.2f}" if b else "–"


def tables(res):
    lines = ["| benchmark (ms, median (min–max)) | nook | crun | runc | nook/crun | nook/runc |",
             "|---|---|---|---|---|---|"]
    for key, label in (("lifecycle", "create+start+wait+delete /bin/true"), ("run", "run /bin/true"),
                       ("exec", "exec /bin/true into a running container")):
        row = res["bench"][key]
        cells = []
        for n in ORDER:
            cells.append(fmt(row[n]) if n in row else "n/a (not implemented)")
        med = {n: row[n]["median"] for n in row}
        r1 = ratio(med["nook"], med["crun"]) if "nook" in med else "–"
        r2 = ratio(med["nook"], med["runc"]) if "nook" in med else "–"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {r1} | {r2} |")
    for n_ in PAR_SIZES:
        row = res["bench"][f"parallel_{n_}"]
        med = {n: row[n]["total"]["median"] for n in ORDER}
        cells = [f"{fmt(row[n]['total'])}; {row[n]['per_container_ms']:.2f}/ctr" for n in ORDER]
        lines.append(f"| {n_} in parallel: total; per container | " + " | ".join(cells)
                     + f" | {ratio(med['nook'], med['crun'])} | {ratio(med['nook'], med['runc'])} |")
    rss = res["bench"]["rss_create_kib"]
    lines.append("| peak RSS of `create` (KiB, ru_maxrss) | " + " | ".join(
        f"{rss[n]['median']:.0f} ({rss[n]['min']:.0f}–{rss[n]['max']:.0f})" for n in ORDER)
        + f" | {ratio(rss['nook']['median'], rss['crun']['median'])} | {ratio(rss['nook']['median'], rss['runc']['median'])} |")
    mins = []
    for key, label in (("lifecycle", "create+start+wait+delete"), ("run", "run")):
        row = res["bench"][key]
        mins.append(f"{label} {row['nook']['min'] / row['crun']['min']:.2f} (nook/crun), "
                    f"{row['nook']['min'] / row['runc']['min']:.2f} (nook/runc)")
    lines.append("\nRatios of the minima, less sensitive to other load on the machine: " + "; ".join(mins) + ".")
    lines.append(f"\nPeak RSS via `{' '.join(TIME)}`; the wrapper alone gives {res['rss_floor_kib']} KiB for /bin/true (a floor).")
    lc = res["bench"]["lifecycle_steps"]
    steps = ["", "Lifecycle by step (medians, ms):", "",
             "| step | nook | crun | runc |", "|---|---|---|---|"]
    for s in ("create", "start", "wait", "delete"):
        steps.append(f"| {s} | " + " | ".join(f"{lc[n][s]['median']:.2f}" for n in ORDER) + " |")
    par = ["", "Parallel runs by phase (medians, ms: create+start all / wait all / delete all):", "",
           "| containers | nook | crun | runc |", "|---|---|---|---|"]
    for n_ in PAR_SIZES:
        row = res["bench"][f"parallel_{n_}"]
        par.append(f"| {n_} | " + " | ".join(
            f"{row[n]['up']['median']:.0f} / {row[n]['wait']['median']:.0f} / {row[n]['delete']['median']:.0f}" for n in ORDER) + " |")
    return "\n".join(lines + steps + par)


def seccomp_md(sc):
    if not sc or "rows" not in sc:
        return "seccomp_bench did not run."
    ins, cu = sc["insns"], sc["compile_us"]
    out = [f"{sc['profile']}: nook's filter against libseccomp 2.5's as runc builds it (default layout) and "
           "libseccomp's binary tree (`SCMP_FLTATR_CTL_OPTIMIZE` = 2), each installed in a forked child "
           f"({sc['iterations']} calls per run, best of 3 interleaved runs; overhead = time minus the same loop "
           "without a filter). *insns* = BPF instructions the filter executes for the call (exact; the timings "
           "on this shared 2-vCPU host swing by tens of ns). Since Linux 5.11 the kernel skips the filter for a "
           "syscall the filter always allows, so only the rows with argument rules and the denied ones run it on "
           "every call. runc's -ENOSYS stub in front of libseccomp's filter (a few instructions) is not counted.\n",
           "| syscall | verdict | none (ns) | nook overhead (ns) / insns | libseccomp (ns) / insns "
           "| libseccomp tree (ns) / insns |",
           "|---|---|---|---|---|---|"]
    for r in sc["rows"]:
        cells = " | ".join(f"{r[v + '_ns']:.1f} / {r[v + '_insns']}" for v in ("nook", "libseccomp", "libseccomp_tree"))
        out.append(f"| `{r['syscall']}` | {r['verdict']} | {r['none_ns']:.1f} | {cells} |")
    out.append("")
    out.append(f"Filter size (instructions): nook {ins['nook']}, libseccomp {ins['libseccomp']}, "
               f"libseccomp tree {ins['libseccomp_tree']}. Compile time of the profile (mean of 200): nook "
               f"{cu['nook']:.0f} µs, libseccomp {cu['libseccomp']:.0f} µs, libseccomp tree "
               f"{cu['libseccomp_tree']:.0f} µs (rules added and program exported).")
    return "\n".join(out)


def breakdown_md(res):
    b = res["breakdown"]
    out = []
    lm = b.get("landmarks")
    if lm:
        out.append(f"**`nook run` of /bin/true, phase by phase** (`perf trace -e {LANDMARKS}`: only these syscalls "
                   f"are traced, so the gaps are close to untraced time; median of {lm['runs']} traces, µs):\n")
        out.append("| phase | µs |\n|---|---|")
        for k, v in lm["phases"].items():
            out.append(f"| {k} | {v * 1000:.0f} |" if not k.startswith("total") else f"| **{k}** | **{v * 1000:.0f}** |")
        out.append("")
    cpu = b.get("cpu")
    if cpu:
        out.append("**CPU per `run`** (`perf stat`, median of alternated runs; includes the container's /bin/true):\n")
        out.append("| runtime | task-clock ms | page faults | context switches |\n|---|---|---|---|")
        for n in ORDER:
            out.append(f"| {n} | {cpu[n]['task-clock']:.2f} | {cpu[n]['page-faults']:.0f} | {cpu[n]['context-switches']:.0f} |")
        out.append("\nStart-up alone (`perf stat -r 30`, mean): " + "; ".join(
            f"`{k}` {v.get('task-clock', 0):.2f} ms CPU, {v.get('page-faults', 0):.0f} faults" for k, v in cpu.get("startup", {}).items()) + ".")
        out.append("")
    dp = b.get("device_programs")
    if dp:
        out.append("**Device-cgroup BPF programs attached to a created container** (from the kernel: "
                   "`verified_insns` is the verifier's work, most of PROG_LOAD's cost):\n")
        out.append("| runtime | programs | verified_insns | tag |\n|---|---|---|---|")
        for n in ORDER:
            v = dp.get(n)
            if v is None:
                out.append(f"| {n} | ? | | |")
            else:
                out.append(f"| {n} | {len(v)} | {', '.join(p['verified_insns'] for p in v) or '–'} | "
                           f"{', '.join(p['prog_tag'] for p in v) or '–'} |")
        out.append("")
    dl = b["debug_log"]
    out.append(f"**Untraced, `nook --debug --log`** (median of {b['debug_runs']} `run`s; the stamps count from the start "
               "of the re-executed process):\n")
    out.append("| mark | ms |\n|---|---|")
    for k, v in dl.items():
        out.append(f"| {'wall time of the whole `nook run` (measured outside)' if k == 'wall' else k} | {v:.3f} |")
    if "wall" in dl and "binary sealed" in dl:
        out.append(f"\nSo about {dl['wall'] - dl.get('exited with 0', 0):.2f} ms of the wall time is before the re-executed "
                   "image logs anything or after it exits (process spawn, the first image's startup, overlay mount, "
                   "execveat, the second start-up, final exit).")
    ab = b["ablation_sealed"]
    out.append(f"\n**Ablation: the self re-exec** (`run`, {ab['nook']['n']} alternated runs each). A binary on a read-only "
               "mount skips src/seal.rs's overlay + execveat:\n")
    out.append("| binary | run /bin/true, ms median (min–max) |\n|---|---|")
    out.append(f"| target/release/nook (sealed by re-exec) | {fmt(ab['nook'])} |")
    out.append(f"| read-only bind mount of target/release (no re-exec) | {fmt(ab['nook-ro'])} |")
    out.append(f"\nCost of the re-exec: **{ab['nook']['median'] - ab['nook-ro']['median']:.2f} ms** per command that seals.")
    kf = b["kernel_floor"]
    out.append("\n**Kernel floor** (same spawn method as the benchmark, ms median (min–max)):\n")
    out.append("| command | ms |\n|---|---|")
    for k, v in kf.items():
        out.append(f"| `{k}` | {fmt(v)} |")
    for name in ORDER:
        pt = b["perf_trace"].get(name)
        if not pt:
            continue
        out.append(f"\n**`perf trace -f {name} run`** (median of {pt['runs']} traces; {pt['syscalls']:.0f} syscalls, "
                   f"{pt['wall_ms']:.1f} ms traced wall; perf trace adds ≈10 µs per syscall, so count × 0.01 ms "
                   "of the wall is tracing overhead):\n")
        out.append("| syscall | calls | total ms (traced) |\n|---|---|---|")
        for r in pt["top"][:12]:
            out.append(f"| {r['syscall']} | {r['calls']:.0f} | {r['ms']:.3f} |")
        if pt.get("blocked"):
            out.append("\nWaiting for another task (not work): " + ", ".join(
                f"{r['syscall'].replace(' (blocked)', '')} {r['ms']:.2f} ms" for r in pt["blocked"][:6]) + ".")
        out.append("\nSingle syscalls ≥ 0.1 ms, summed per kind (median over the traces):\n")
        out.append("| syscall | detail | ms (median) | in n/N traces |\n|---|---|---|---|")
        for r in pt["big"][:10]:
            out.append(f"| {r['syscall']} | {r['detail']} | {r['ms']:.3f} | {r['seen']}/{pt['runs']} |")
    return "\n".join(out)


def chart(res, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib missing: no chart")
        return
    groups = [("lifecycle", "create+start\n+wait+delete"), ("run", "run"), ("exec", "exec")] + \
             [(f"parallel_{n}", f"{n} parallel\nper container") for n in PAR_SIZES]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [4, 1]})
    width = 0.27
    colors = {"nook": "#2a9d8f", "crun": "#e9c46a", "runc": "#e76f51"}
    for i, n in enumerate(ORDER):
        xs, meds, lo, hi = [], [], [], []
        for j, (key, _) in enumerate(groups):
            row = res["bench"][key]
            if n not in row:
                continue
            s = row[n]["total"] if key.startswith("parallel") else row[n]
            div = int(key.split("_")[1]) if key.startswith("parallel") else 1
            xs.append(j + (i - 1) * width)
            meds.append(s["median"] / div)
            lo.append((s["median"] - s["min"]) / div)
            hi.append((s["max"] - s["median"]) / div)
        ax.bar(xs, meds, width, yerr=[lo, hi], capsize=3, label=n, color=colors[n])
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([g[1] for g in groups])
    ax.set_ylabel("ms (median; whiskers min–max)")
    ax.set_title("nook vs crun vs runc, /bin/true in busybox (nook has no exec yet)")
    ax.legend()
    rss = res["bench"]["rss_create_kib"]
    ax2.bar(list(ORDER), [rss[n]["median"] / 1024 for n in ORDER], color=[colors[n] for n in ORDER])
    ax2.set_ylabel("MiB")
    ax2.set_title("peak RSS of create")
    fig.text(0.01, 0.01, f"{res['date']}  {res['machine']['cpu']}, {res['machine']['nproc']} CPUs, "
             f"kernel {res['machine']['kernel']}, load {res['load_before'][0]:.2f}→{res['load_after'][0]:.2f}", fontsize=8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_docs(res, table_md):
    m = res["machine"]
    sizes = res["binary_sizes"]
    notes_path = os.path.join(REPO, "bench", "notes.md")
    notes = open(notes_path).read().strip() if os.path.exists(notes_path) else ""
    doc = f"""# Performance

Generated by `make bench` (bench/bench.py) on {res['date']}; do not edit by hand
(the analysis at the end comes from bench/notes.md).

**Machine:** {m['cpu']}, {m['nproc']} CPUs (nproc), kernel {m['kernel']}. Load average
{' / '.join(f'{x:.2f}' for x in res['load_before'])} before and {' / '.join(f'{x:.2f}' for x in res['load_after'])} after
(1/5/15 min; other work on the machine inflates the numbers, for all runtimes alike since they alternate;
the benchmark's own 100 parallel containers raise the load average too).
1-minute load when each part started: {', '.join(f"{k} {v:.2f}" for k, v in res.get('load_at', {}).items()) or 'not recorded'}.

**Runtimes:** {'; '.join(f"{n}: {res['versions'][n]}" for n in ORDER)}.

**Binary sizes:** {'; '.join(f"{n} {sizes[n] / 1e6:.2f} MB ({sizes[n]:,} bytes)" for n in ORDER)}.

**Method.** One busybox bundle (/bin/busybox of busybox-static, hard links for the applets),
from `nook spec`, with `ociVersion` 1.0.2 (crun 1.8.1 rejects 1.3.0), `process.terminal=false`,
args `["/bin/true"]` and **no `linux.resources`** (this host lacks CAP_SYS_RESOURCE and Debian's
crun fails raising RLIMIT_MEMLOCK for its device eBPF program otherwise); the same bundle and
options for all three. {CGROUP_NOTE} The runtimes alternate (nook crun runc, rotating who goes
first) after {res['params']['warmup']} warm-up rounds; sequential benchmarks take {res['params']['runs']}
runs each, the parallel ones {res['params']['par_runs']}. The harness is a subreaper, so every
container's init is waited for the same way (waitpid on the pid from `--pid-file`; methods seen:
{res['wait_methods']}). Times are wall-clock around each command as spawned from Python
(the spawn of `/bin/true` itself costs {res['breakdown']['kernel_floor']['spawn /bin/true']['median']:.2f} ms
the same way). Peak RSS is `ru_maxrss` of the `create` process through `{' '.join(TIME)}` (it covers
the image nook re-executes itself into, and children it reaps, not the container; from Python
directly, a vfork()ed child would start from Python's own RSS). All state roots (`--root`)
are on a tmpfs at {STATE}, private to the benchmark's mount namespace. The benchmark asserts nothing.

## Results

{table_md}

Ratios are of medians; the targets are nook/crun ≤ 0.66 and nook/runc ≤ 0.33.
Machine-readable: target/bench/results.json; chart: target/bench/chart.png.

## Seccomp per-syscall overhead

{seccomp_md(res.get('seccomp'))}

{vm_md(load_vm_results()) or existing_vm_section()}
## Where nook's time goes

{breakdown_md(res)}

{notes}
"""
    with open(os.path.join(REPO, "docs", "performance.md"), "w") as f:
        f.write(doc)


# --------------------------------------------------------------------------
# The test VM (`make bench-vm`): the full default bundle, where crun can
# load its device program (root has every capability in the guest).

VM_RESULTS = os.path.join(OUT, "results-vm.json")
VM_HEADING = "## In the test VM (full default bundle, TCG)"
VM_TIMEOUT = 1500


def arg_value(name, default):
    if name in sys.argv:
        return int(sys.argv[sys.argv.index(name) + 1])
    return default


def vm_guest():
    """`bench.py --vm-guest [--runs N] [--warmup N]`, run by `bench.py --vm`
    inside integration/vm/run-in-vm: the sequential benchmarks and peak RSS
    with the full default bundle; prints one line of JSON on stdout (the
    log goes to stderr)."""
    global OUT
    if os.geteuid() != 0:
        sys.exit("bench: needs root")
    if os.environ.get("NOOK_IN_VM") != "1":
        log("warning: NOOK_IN_VM is not 1; this mode is meant for integration/vm/run-in-vm")
    runs, warmup = arg_value("--runs", 10), arg_value("--warmup", 2)
    fstype = subprocess.run(["stat", "-f", "-c", "%T", "/sys/fs/cgroup"], capture_output=True, text=True).stdout.strip()
    if fstype != "cgroup2fs":
        sys.exit(f"bench: /sys/fs/cgroup is {fstype}, not cgroup2 (the guest mounts it; not mounted again here)")
    # Bundle, pid files and state roots on tmpfs, not on the guest's
    # overlay over the host's 9p root.
    OUT = "/run/nook-bench-vm"
    for d, name in ((OUT, "nook-bench-vm"), (STATE, "nook-bench")):
        os.makedirs(d, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700", name, d], check=True)
    become_subreaper()
    with open("/sys/fs/cgroup/cgroup.subtree_control") as f:
        controllers = f.read().strip()
    all_rts = [Runtime("nook", NOOK), Runtime("crun", shutil.which("crun")), Runtime("runc", shutil.which("runc"))]
    bundle, sleeper = prepare_bundle(full=True)
    with open(os.path.join(bundle, "config.json")) as f:
        spec = json.load(f)
    res = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "machine": machine(),
           "versions": {rt.name: rt.version() for rt in all_rts},
           "binary_sizes": {rt.name: os.path.getsize(rt.binary) for rt in all_rts},
           "params": {"runs": runs, "warmup": warmup, "rss_runs": min(runs, 5)},
           "cgroup": f"cgroup2 at /sys/fs/cgroup (the guest's own), subtree_control: {controllers}",
           "bundle": {"resources": spec["linux"].get("resources"),
                      "namespaces": [n["type"] for n in spec["linux"].get("namespaces", [])],
                      "maskedPaths": len(spec["linux"].get("maskedPaths", [])),
                      "readonlyPaths": len(spec["linux"].get("readonlyPaths", [])),
                      "ociVersion": spec["ociVersion"]},
           "errors": {}, "bench": {}}
    log(f"VM guest: kernel {res['machine']['kernel']}, {res['machine']['nproc']} CPUs; {runs} runs, {warmup} warm-up; "
        f"full default bundle ({res['bundle']})")
    started = time.time()
    # A runtime that cannot run the bundle at all is reported (its stderr)
    # and left out of the rest.
    runtimes = []
    for rt in all_rts:
        try:
            bench_lifecycle(rt, bundle)
            runtimes.append(rt)
        except RuntimeError as e:
            log(f"{rt.name} fails with the full bundle: {e}")
            res["errors"][rt.name] = str(e)
        reap_strays()
    B = res["bench"]

    def part(key, fn):
        try:
            fn()
        except RuntimeError as e:
            log(f"{key}: {e}")
            res["errors"][key] = str(e)
        reap_strays()

    def lifecycle():
        lc = alternate(runtimes, lambda rt: bench_lifecycle(rt, bundle), runs, warmup, "create+start+wait+delete")
        B["lifecycle"] = {n: stat([x["total"] for x in v]) for n, v in lc.items()}
        B["lifecycle_steps"] = {n: {s: stat([x[s] for x in v]) for s in ("create", "start", "wait", "delete")}
                                for n, v in lc.items()}

    def run():
        B["run"] = {n: stat(v) for n, v in alternate(runtimes, lambda rt: bench_run(rt, bundle), runs, warmup, "run").items()}

    def exec_():
        targets = {}
        try:
            for rt in runtimes:
                cid = new_id(rt)
                call(rt.cmd("run", "--detach", "--bundle", sleeper, cid))
                targets[rt.name] = cid
            B["exec"] = {n: stat(v) for n, v in alternate(
                runtimes, lambda rt: bench_exec(rt, targets[rt.name]), runs, warmup, "exec").items()}
        finally:
            for rt in runtimes:
                if rt.name in targets:
                    call(rt.cmd("delete", "--force", targets[rt.name]), check=False)

    def rss():
        res["rss_floor_kib"] = rss_floor()
        B["rss_create_kib"] = {n: stat(v) for n, v in alternate(
            runtimes, lambda rt: bench_rss(rt, bundle), res["params"]["rss_runs"], 1, "peak RSS of create (KiB)").items()}

    part("lifecycle", lifecycle)
    part("run", run)
    part("exec", exec_)
    part("rss", rss)
    res["device_programs"] = device_programs(runtimes, bundle)
    res["spawn_true"] = kernel_floor(runs)["spawn /bin/true"]
    res["wait_methods"] = ", ".join(f"{k}: {'/'.join(sorted(v))}" for k, v in sorted(WAIT_METHODS.items()))
    res["elapsed_s"] = time.time() - started
    print(json.dumps(res, default=str), flush=True)


def vm_host():
    """`bench.py --vm` (`make bench-vm`): boots the test VM, runs
    `bench.py --vm-guest` there, writes target/bench/results-vm.json and
    the VM section of docs/performance.md."""
    runs, warmup = arg_value("--runs", 10), arg_value("--warmup", 2)
    os.makedirs(OUT, exist_ok=True)
    argv = [os.path.join(REPO, "integration", "vm", "run-in-vm"), "--timeout", str(VM_TIMEOUT), "--",
            "/usr/bin/python3", "bench/bench.py", "--vm-guest", "--runs", str(runs), "--warmup", str(warmup)]
    load_before = os.getloadavg()
    log(f"host load {load_before}; {' '.join(argv)}")
    t0 = time.time()
    p = subprocess.run(argv, cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    wall = time.time() - t0
    with open(os.path.join(OUT, "vm-guest.log"), "w") as f:
        f.write(p.stderr)
    sys.stderr.write(p.stderr)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        sys.exit(f"bench: run-in-vm exit {p.returncode}, no results (stdout: {p.stdout[-2000:]!r}); "
                 "guest log in target/bench/vm-guest.log")
    res = json.loads(lines[-1])
    res["host"] = {"machine": machine(), "load_before": load_before, "load_after": os.getloadavg(),
                   "wall_s": wall, "run_in_vm": " ".join(argv[:4]) + " -- ..."}
    with open(VM_RESULTS, "w") as f:
        json.dump(res, f, indent=2, default=str)
    md = vm_md(res)
    splice_vm_docs(md)
    print(md)
    print(f"\nbench: VM run {wall:.0f} s; target/bench/results-vm.json, docs/performance.md ({VM_HEADING[3:]})")


def load_vm_results():
    try:
        with open(VM_RESULTS) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def existing_vm_section():
    """The VM section docs/performance.md has now: kept when this machine
    has no target/bench/results-vm.json (a fresh clone), so that `make
    bench` never drops the last `make bench-vm` results."""
    try:
        doc = open(os.path.join(REPO, "docs", "performance.md")).read()
    except OSError:
        return ""
    start = doc.find(VM_HEADING)
    if start < 0:
        return ""
    nxt = doc.find("\n## ", start + len(VM_HEADING))
    return doc[start:nxt + 1] if nxt >= 0 else doc[start:]


def vm_md(res):
    """The docs section for target/bench/results-vm.json."""
    if not res:
        return ""
    m, h, prm = res["machine"], res.get("host", {}), res["params"]
    rts = [n for n in ORDER if n not in res["errors"]]
    bd = res["bundle"]
    devices = (bd.get("resources") or {}).get("devices")
    out = [VM_HEADING, "",
           f"Generated by `make bench-vm` (bench/bench.py --vm) on {res['date']}; the data is target/bench/results-vm.json.",
           "",
           f"**Guest:** integration/vm (QEMU TCG, no KVM, `-cpu max`), {m['nproc']} vCPUs, kernel {m['kernel']}, "
           f"{res['cgroup']}; root with every capability. Host: {h.get('machine', {}).get('cpu', '?')}, "
           f"{h.get('machine', {}).get('nproc', '?')} CPUs, shared with other work; host load average "
           + (f"{' / '.join(f'{x:.2f}' for x in h['load_before'])} before and {' / '.join(f'{x:.2f}' for x in h['load_after'])} after"
              if h.get("load_before") else "not recorded")
           + f" (1/5/15 min); the whole VM run took {h.get('wall_s', 0):.0f} s.",
           "",
           f"**Runtimes:** {'; '.join(f'{n}: {v}' for n, v in res['versions'].items())}.",
           "",
           "**Method.** The **full default bundle**: `nook spec` (runc's default config) with "
           f"`ociVersion` {bd['ociVersion']}, `process.terminal=false` and args `[\"/bin/true\"]`, keeping "
           f"`linux.resources` ({json.dumps(devices) if devices else 'no device rules'}), "
           f"{bd['maskedPaths']} masked and {bd['readonlyPaths']} read-only paths, and the namespaces "
           f"{', '.join(bd['namespaces'])}; the same bundle for all three runtimes. Bundle (busybox, hard-linked applets), "
           "pid files and state roots are on tmpfs in the guest; the runtimes' binaries and libraries are the host's, "
           "read through the guest's overlay over 9p. Only the sequential benchmarks: the runtimes alternate "
           f"(rotating who goes first) after {prm['warmup']} warm-up rounds, {prm['runs']} runs each "
           f"({prm['rss_runs']} for peak RSS, after 1 warm-up); medians. Waiting: {res.get('wait_methods') or '–'}. "
           "Under TCG every instruction is emulated, so the times are tens of times the host's and only the "
           f"ratios compare with the host sections above; for scale, spawning /bin/true from the harness takes "
           f"{fmt(res['spawn_true'])} ms in the guest. Nothing is asserted.",
           ""]
    for n, err in res["errors"].items():
        if n in ORDER:
            out += [f"**{n} fails with this bundle in the guest** and is left out; its error:", "", "```", err, "```", ""]
    B = res["bench"]
    if rts:
        out.append("| benchmark (ms, median (min–max)) | " + " | ".join(rts) + " | "
                   + " | ".join(f"nook/{n}" for n in rts if n != "nook") + " |")
        out.append("|---" * (1 + len(rts) + len([n for n in rts if n != "nook"])) + "|")
        rows = (("lifecycle", "create+start+wait+delete /bin/true", fmt), ("run", "run /bin/true", fmt),
                ("exec", "exec /bin/true into a running container", fmt),
                ("rss_create_kib", "peak RSS of `create` (KiB, ru_maxrss)",
                 lambda s: f"{s['median']:.0f} ({s['min']:.0f}–{s['max']:.0f})"))
        for key, label, f_ in rows:
            row = B.get(key)
            if not row:
                out.append(f"| {label} | " + " | ".join("failed" for _ in rts) + " |" + " |" * len([n for n in rts if n != "nook"]))
                continue
            cells = [f_(row[n]) if n in row else "–" for n in rts]
            rat = [ratio(row["nook"]["median"], row[n]["median"]) if "nook" in row and n in row else "–"
                   for n in rts if n != "nook"]
            out.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(rat) + " |")
        mins = [f"{label} " + ", ".join(f"{B[key]['nook']['min'] / B[key][n]['min']:.2f} (nook/{n})"
                                        for n in rts if n != "nook" and n in B[key])
                for key, label in (("lifecycle", "create+start+wait+delete"), ("run", "run"), ("exec", "exec"))
                if key in B and "nook" in B[key]]
        if mins:
            out.append("\nRatios of the minima (less sensitive to the host's other load, which widens "
                       "the min–max spread under emulation): " + "; ".join(mins) + ".")
        if "rss_floor_kib" in res:
            out.append(f"\nPeak RSS via `{' '.join(TIME)}`; the wrapper alone gives {res['rss_floor_kib']} KiB for /bin/true.")
        lc = B.get("lifecycle_steps")
        if lc:
            out += ["", "Lifecycle by step (medians, ms):", "", "| step | " + " | ".join(rts) + " |",
                    "|---" * (1 + len(rts)) + "|"]
            for s_ in ("create", "start", "wait", "delete"):
                out.append(f"| {s_} | " + " | ".join(f"{lc[n][s_]['median']:.1f}" for n in rts if n in lc) + " |")
    for k, err in res["errors"].items():
        if k not in ORDER:
            out += ["", f"The `{k}` benchmark failed: `{err}`"]
    dp = res.get("device_programs")
    if dp:
        out += ["", "Device-cgroup BPF programs attached to a created container (from the kernel):", "",
                "| runtime | programs | verified_insns | tag |", "|---|---|---|---|"]
        for n in rts:
            v = dp.get(n)
            if v is None:
                out.append(f"| {n} | ? | | |")
            else:
                out.append(f"| {n} | {len(v)} | {', '.join(p['verified_insns'] for p in v) or '–'} | "
                           f"{', '.join(p['prog_tag'] for p in v) or '–'} |")
    return "\n".join(out) + "\n"


def splice_vm_docs(md):
    """Replaces (or adds, before "## Where nook's time goes") the VM
    section of docs/performance.md, leaving the host sections alone."""
    path = os.path.join(REPO, "docs", "performance.md")
    doc = open(path).read() if os.path.exists(path) else "# Performance\n"
    start = doc.find(VM_HEADING)
    if start >= 0:
        nxt = doc.find("\n## ", start + len(VM_HEADING))
        doc = doc[:start] + md + ("\n" + doc[nxt + 1:] if nxt >= 0 else "")
    else:
        at = doc.find("## Where nook's time goes")
        doc = doc[:at] + md + "\n" + doc[at:] if at >= 0 else doc.rstrip("\n") + "\n\n" + md
    with open(path, "w") as f:
        f.write(doc)


# --------------------------------------------------------------------------

def docs_only():
    """`bench.py --docs-only`: rewrites docs/performance.md from the last
    target/bench/results.json (after editing bench/notes.md)."""
    with open(os.path.join(OUT, "results.json")) as f:
        res = json.load(f)
    write_docs(res, tables(res))
    print("bench: docs/performance.md rewritten from target/bench/results.json")


def main():
    if "--docs-only" in sys.argv:
        return docs_only()
    if "--vm-guest" in sys.argv:
        return vm_guest()
    if "--vm" in sys.argv:
        return vm_host()
    if "--vm-docs-only" in sys.argv:
        splice_vm_docs(vm_md(load_vm_results()))
        return print("bench: the VM section of docs/performance.md rewritten from target/bench/results-vm.json")
    if os.geteuid() != 0:
        sys.exit("bench: needs root")
    enter_namespace()
    become_subreaper()
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(os.path.join(REPO, "docs"), exist_ok=True)
    # State roots on a tmpfs (as /run usually is; here / is ext4), private
    # to this mount namespace: it goes away with it.
    os.makedirs(STATE, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700", "nook-bench", STATE], check=True)
    if MAX_LOAD > 0:
        deadline = time.time() + WAIT_S
        while os.getloadavg()[0] >= MAX_LOAD and time.time() < deadline:
            log(f"load {os.getloadavg()[0]:.2f} ≥ BENCH_MAX_LOAD={MAX_LOAD}: waiting")
            time.sleep(15)
    started = time.time()
    load_before = os.getloadavg()
    runtimes = [Runtime("nook", NOOK), Runtime("crun", shutil.which("crun")), Runtime("runc", shutil.which("runc"))]
    bundle, sleeper = prepare_bundle()
    log(f"load average {load_before}; {RUNS} runs, {PAR_RUNS} parallel runs, {WARMUP} warm-up; cgroup2 on /sys/fs/cgroup in a private mount ns")
    res = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "machine": machine(),
           "load_before": load_before, "versions": {rt.name: rt.version() for rt in runtimes},
           "binary_sizes": {rt.name: os.path.getsize(rt.binary) for rt in runtimes},
           "params": {"runs": RUNS, "par_runs": PAR_RUNS, "warmup": WARMUP}, "cgroup": CGROUP_NOTE, "bench": {}}
    B = res["bench"]

    res["load_at"] = {"lifecycle": os.getloadavg()[0]}
    lc = alternate(runtimes, lambda rt: bench_lifecycle(rt, bundle), RUNS, WARMUP, "create+start+wait+delete")
    B["lifecycle"] = {n: stat([x["total"] for x in v]) for n, v in lc.items()}
    B["lifecycle_steps"] = {n: {s: stat([x[s] for x in v]) for s in ("create", "start", "wait", "delete")} for n, v in lc.items()}
    B["run"] = {n: stat(v) for n, v in alternate(runtimes, lambda rt: bench_run(rt, bundle), RUNS, WARMUP, "run").items()}

    # exec: one long-running container per runtime.
    ex_rts = list(runtimes)
    targets = {}
    for rt in ex_rts:
        cid = new_id(rt)
        call(rt.cmd("run", "--detach", "--bundle", sleeper, cid))
        targets[rt.name] = cid
    try:
        B["exec"] = {n: stat(v) for n, v in alternate(ex_rts, lambda rt: bench_exec(rt, targets[rt.name]), RUNS, WARMUP, "exec").items()}
    finally:
        for rt in ex_rts:
            call(rt.cmd("delete", "--force", targets[rt.name]), check=False)
        reap_strays()

    res["rss_floor_kib"] = rss_floor()
    B["rss_create_kib"] = {n: stat(v) for n, v in alternate(runtimes, lambda rt: bench_rss(rt, bundle), min(RUNS, 20), 1, "peak RSS of create (KiB)").items()}

    for n_ in PAR_SIZES:
        res["load_at"][f"parallel_{n_}"] = os.getloadavg()[0]
        s = alternate(runtimes, lambda rt: bench_parallel(rt, bundle, n_), PAR_RUNS, 1, f"{n_} in parallel")
        B[f"parallel_{n_}"] = {n: {k: stat([x[k] for x in v]) for k in ("total", "up", "wait", "delete")} for n, v in s.items()}
        for n in s:
            B[f"parallel_{n_}"][n]["per_container_ms"] = B[f"parallel_{n_}"][n]["total"]["median"] / n_

    # seccomp
    sc = None
    if os.path.exists(SECCOMP_BENCH):
        p = subprocess.run([SECCOMP_BENCH], capture_output=True, text=True)
        try:
            sc = json.loads(p.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            log(f"seccomp_bench: no JSON ({p.stderr.strip()[:200]})")
    else:
        log(f"{SECCOMP_BENCH} missing (cargo build --release --example seccomp_bench)")
    res["seccomp"] = sc
    log(f"seccomp: {sc}")

    # breakdown
    nook = runtimes[0]
    res["load_at"]["breakdown"] = os.getloadavg()[0]
    br = {"debug_runs": 20}
    br["debug_log"] = debug_log_phases(nook, bundle, br["debug_runs"])
    br["ablation_sealed"] = ablation_sealed(nook, bundle, RUNS)
    br["kernel_floor"] = kernel_floor(RUNS)
    perf_ok = shutil.which("perf") is not None
    br["device_programs"] = device_programs(runtimes, bundle)
    br["landmarks"] = landmark_trace(nook, bundle, 15) if perf_ok else None
    br["cpu"] = cpu_stats(runtimes, bundle, 10) if perf_ok else None
    br["perf_trace"] = {rt.name: perf_trace(rt, bundle, 7) for rt in runtimes} if perf_ok else {}
    res["breakdown"] = br
    reap_strays()

    res["load_after"] = os.getloadavg()
    res["wait_methods"] = ", ".join(f"{k}: {'/'.join(sorted(v))}" for k, v in sorted(WAIT_METHODS.items()))
    res["elapsed_s"] = time.time() - started
    table_md = tables(res)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(res, f, indent=2, default=str)
    header = (f"{res['date']}; {res['machine']['cpu']}, {res['machine']['nproc']} CPUs, kernel {res['machine']['kernel']}; "
              f"load {load_before[0]:.2f} → {res['load_after'][0]:.2f}\n{CGROUP_NOTE}\n\n")
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(header + table_md + "\n")
    chart(res, os.path.join(OUT, "chart.png"))
    write_docs(res, table_md)
    print(header + table_md)
    print(f"\nbench: {res['elapsed_s']:.0f} s; target/bench/results.{{md,json}}, target/bench/chart.png, docs/performance.md")


if __name__ == "__main__":
    main()
