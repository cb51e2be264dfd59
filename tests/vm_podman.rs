//! podman (Debian's 4.3) runs containers on nook through conmon, exactly as
//! CRI-O drives a runtime (`podman --runtime <nook>`). Each test gets a
//! private podman (storage, runroot, tmpdir and containers.conf in a tmpfs)
//! with a busybox image imported from a rootfs tar; podman needs a whole
//! machine with cgroup v2, so these run in the test VM
//! (`integration/vm/cargo-test-in-vm --test vm_podman -- --include-ignored`,
//! part of `make test-vm`) and are ignored on the host.
//! `NOOK_PODMAN_RUNTIME=/usr/sbin/runc` (through `NOOK_VM_ENV`) runs the same
//! suite on runc, to see what podman expects.

mod common;
mod podman;
use common::*;
use podman::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).trim().to_owned()
}

#[test]
#[ignore = "runs podman and conmon: runs in the test VM (make test-vm)"]
fn run_rm_returns_the_output_and_the_exit_code() {
    let p = Podman::new();
    let out = p.run(&["--rm"], &["sh", "-c", "echo hello from pid $$; echo to stderr >&2; exit 7"]);
    assert_eq!(out.status.code(), Some(7), "stdout: {}\nstderr: {}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).trim(), "hello from pid 1", "stderr: {}", stderr(&out));
    assert_eq!(stderr(&out).trim(), "to stderr");
    ok(&p.run(&["--rm"], &["true"]), "podman run --rm true");
    // podman tells a missing program (127) and one it may not execute (126)
    // from the runtime's error message, as docker does.
    let out = p.run(&["--rm"], &["/bin/nonesuch"]);
    assert_eq!(out.status.code(), Some(127), "a missing program: {}", stderr(&out));
    let out = p.run(&["--rm"], &["/etc"]);
    assert_eq!(out.status.code(), Some(126), "a directory as the program: {}", stderr(&out));
    p.assert_clean();
}

#[test]
#[ignore = "runs podman and conmon: runs in the test VM (make test-vm)"]
fn a_detached_container_execs_pauses_and_is_killed_after_the_stop_timeout() {
    let p = Podman::new();
    // The init ignores SIGTERM: stop must fall back to SIGKILL.
    let init = "trap '' TERM; echo started; exec sleep 100000";
    let out = p.run(&["-d", "--name", "d1", "--memory", "64m", "--pids-limit", "20"], &["sh", "-c", init]);
    let id = ok(&out, "podman run -d").trim().to_owned();
    assert_eq!(p.inspect("d1", "{{.State.Status}}"), "running");
    let pid: u32 = p.inspect("d1", "{{.State.Pid}}").parse().unwrap();
    let cg = clients::cgroup_of(pid);
    assert!(cg.ends_with(format!("libpod_parent/libpod-{id}")), "cgroup {}", cg.display());
    assert_eq!(read(cg.join("memory.max")), "67108864");
    assert_eq!(read(cg.join("pids.max")), "20");

    // exec: output and exit code come back; the limits are visible inside
    // through the cgroup namespace.
    let script = "echo exec beside $(cat /proc/1/comm); cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; exit 3";
    let out = p.podman(&["exec", "d1", "sh", "-c", script]);
    assert_eq!(out.status.code(), Some(3), "stdout: {}\nstderr: {}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), ["exec beside sleep", "67108864", "20"]);

    let top = ok(&p.podman(&["top", "d1", "pid", "args"]), "podman top");
    assert!(top.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "sleep", "100000"]), "{top}");
    let ps = ok(&p.podman(&["ps", "--format", "{{.Names}} {{.Status}}"]), "podman ps");
    assert!(ps.trim().starts_with("d1 Up"), "{ps}");

    ok(&p.podman(&["pause", "d1"]), "podman pause");
    assert_eq!(p.inspect("d1", "{{.State.Status}}"), "paused");
    assert_eq!(clients::keyed(cg.join("cgroup.events"), "frozen"), "1");
    let state = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(!state.contains("State:\tR"), "running while paused: {state}");
    ok(&p.podman(&["unpause", "d1"]), "podman unpause");
    assert_eq!(p.inspect("d1", "{{.State.Status}}"), "running");
    assert_eq!(clients::keyed(cg.join("cgroup.events"), "frozen"), "0");

    let logs = ok(&p.podman(&["logs", "d1"]), "podman logs");
    assert_eq!(logs.trim(), "started");

    let t = Instant::now();
    let out = p.podman(&["stop", "-t", "2", "d1"]);
    ok(&out, "podman stop");
    assert!(t.elapsed() >= Duration::from_secs(2), "stopped before the timeout: {}", stderr(&out));
    assert_eq!(p.inspect("d1", "{{.State.Status}} {{.State.ExitCode}}"), "exited 137");
    assert!(!PathBuf::from(format!("/proc/{pid}")).exists(), "the init is still there");
    ok(&p.podman(&["rm", "d1"]), "podman rm");
    assert!(!cg.exists(), "cgroup {} left after rm", cg.display());
    p.assert_clean();
}

#[test]
#[ignore = "runs podman and conmon: runs in the test VM (make test-vm)"]
fn stop_sends_sigterm_first_and_the_logs_keep_the_output() {
    let p = Podman::new();
    let init = "trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 1; done";
    ok(&p.run(&["-d", "--name", "t1"], &["sh", "-c", init]), "podman run -d");
    wait_until("the container to be ready", PATIENCE, || stdout(&p.podman(&["logs", "t1"])).contains("ready"));
    ok(&p.podman(&["stop", "-t", "100", "t1"]), "podman stop");
    assert_eq!(p.inspect("t1", "{{.State.Status}} {{.State.ExitCode}}"), "exited 0");
    let logs = ok(&p.podman(&["logs", "t1"]), "podman logs");
    assert_eq!(logs.lines().collect::<Vec<_>>(), ["ready", "got TERM"]);
    ok(&p.podman(&["rm", "t1"]), "podman rm");
    p.assert_clean();
}

#[test]
#[ignore = "runs podman and conmon: runs in the test VM (make test-vm)"]
fn limits_are_seen_and_enforced_inside() {
    let p = Podman::new();
    // podman gives the container a cgroup namespace and mounts its cgroup
    // at /sys/fs/cgroup.
    let script = "cat /proc/self/cgroup /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max";
    let out = p.run(&["--rm", "--memory", "64m", "--pids-limit", "20"], &["sh", "-c", script]);
    let text = ok(&out, "podman run --memory --pids-limit");
    assert_eq!(text.lines().collect::<Vec<_>>(), ["0::/", "67108864", "20"], "stderr: {}", stderr(&out));
    // A 64 MiB buffer in a 32 MiB container: the OOM killer, 137.
    let out = p.run(&["--rm", "--memory", "32m"], &["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]);
    assert_eq!(out.status.code(), Some(137), "stdout: {}\nstderr: {}", stdout(&out), stderr(&out));
    p.assert_clean();
}

#[test]
#[ignore = "runs podman and conmon: runs in the test VM (make test-vm)"]
fn a_tty_container_gets_a_terminal() {
    let p = Podman::new();
    // podman -t wants its own stdin to be a terminal: a pty's slave.
    clients::assert_tty_run(p.cmd(&Podman::run_args(&["--rm", "-t"], &["sh", "-c", clients::TTY_SCRIPT])));
    p.assert_clean();
}
