//! A real containerd (Debian's 1.6) runs containers on nook through its own
//! runc shim (io.containerd.runc.v2, `ctr run --runc-binary <nook>`). The
//! test starts a private containerd and imports a busybox image it builds;
//! containerd needs a whole machine with cgroup v2, so these run in the test
//! VM (`integration/vm/cargo-test-in-vm --test vm_containerd --
//! --include-ignored`, part of `make test-vm`) and are ignored on the host.
//! `NOOK_CTRD_RUNTIME=/usr/sbin/runc` (through `NOOK_VM_ENV`) runs the same
//! suite on runc, to see what containerd expects.

mod common;
mod containerd;
use common::*;
use containerd::*;
use std::path::PathBuf;

#[test]
#[ignore = "starts containerd: runs in the test VM (make test-vm)"]
fn run_rm_returns_the_output_and_the_exit_code() {
    let c = Containerd::start();
    let out = c.run(&["--rm"], "hello", &["sh", "-c", "echo hello from pid $$; exit 7"]);
    assert_eq!(out.status.code(), Some(7), "stdout: {}\nstderr: {}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).trim(), "hello from pid 1", "stderr: {}", stderr(&out));
    // A plain success, and a program that is not in the image.
    let out = c.run(&["--rm"], "true", &["true"]);
    ok(&out, "ctr run --rm true");
    let out = c.run(&["--rm"], "missing", &["/bin/nonesuch"]);
    assert!(!out.status.success(), "a missing program ran: {}", stdout(&out));
    // ctr's --rm does not delete a container whose task failed to start.
    let _ = c.ctr(&["containers", "delete", "missing"]);
    c.assert_clean();
}

#[test]
#[ignore = "starts containerd: runs in the test VM (make test-vm)"]
fn a_detached_task_execs_pauses_resumes_and_is_killed() {
    let c = Containerd::start();
    let id = "detached";
    ok(&c.run(&["-d", "--null-io", "--memory-limit", "67108864"], id, &["sleep", "100000"]), "ctr run -d");
    let (pid, status) = c.task(id).expect("the task is listed");
    assert_eq!(status, "RUNNING");
    let cg = clients::cgroup_of(pid);
    assert!(cg.ends_with(format!("nook/{id}")), "cgroup {}", cg.display());
    assert_eq!(std::fs::read_to_string(cg.join("memory.max")).unwrap().trim(), "67108864");

    // exec: output and exit code come back.
    let out =
        c.ctr(&["task", "exec", "--exec-id", "e1", id, "sh", "-c", "echo exec beside $(cat /proc/1/comm); exit 3"]);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "exec beside sleep");

    // ps: the init, by its host pid.
    let ps = ok(&c.ctr(&["task", "ps", id]), "ctr task ps");
    assert!(ps.lines().skip(1).any(|l| l.split_whitespace().next() == Some(&pid.to_string())), "{ps}");

    ok(&c.ctr(&["task", "pause", id]), "ctr task pause");
    assert_eq!(c.status(id), "PAUSED");
    assert_eq!(clients::keyed(cg.join("cgroup.events"), "frozen"), "1");
    let state = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(!state.contains("State:\tR"), "running while paused: {state}");
    ok(&c.ctr(&["task", "resume", id]), "ctr task resume");
    assert_eq!(c.status(id), "RUNNING");
    assert_eq!(clients::keyed(cg.join("cgroup.events"), "frozen"), "0");

    ok(&c.ctr(&["task", "kill", "-s", "SIGKILL", id]), "ctr task kill");
    wait_until("the task to stop", PATIENCE, || c.status(id) == "STOPPED");
    wait_until("the shim to reap the init", PATIENCE, || !PathBuf::from(format!("/proc/{pid}")).exists());
    ok(&c.ctr(&["task", "delete", id]), "ctr task delete");
    assert!(c.task(id).is_none());
    assert!(!cg.exists(), "cgroup {} left after task delete", cg.display());
    ok(&c.ctr(&["containers", "delete", id]), "ctr container delete");
    c.assert_clean();
}

#[test]
#[ignore = "starts containerd: runs in the test VM (make test-vm)"]
fn a_memory_limit_lands_in_the_containers_cgroup() {
    let c = Containerd::start();
    let limit = (48u64 << 20).to_string();
    // ctr's spec has no cgroup mount and no cgroup namespace: add the
    // mount, and find the cgroup through it as cgroup-aware programs do
    // (the mount's root in mountinfo against /proc/self/cgroup). runc
    // mounts the whole hierarchy (root /), nook binds the container's own
    // cgroup (root /nook/memory, so it reads /sys/fs/cgroup/memory.max):
    // both lead to the container's cgroup.
    let script = "read l < /proc/self/cgroup; cg=${l#0::}; \
                  root=$(grep ' /sys/fs/cgroup ' /proc/self/mountinfo | cut -d' ' -f4); \
                  echo $cg $root; cat /sys/fs/cgroup/${cg#$root}/memory.max";
    let out = c.run(
        &[
            "--rm",
            "--memory-limit",
            &limit,
            "--mount",
            "type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro:nosuid:nodev:noexec",
        ],
        "memory",
        &["sh", "-c", script],
    );
    let text = ok(&out, "ctr run --memory-limit");
    let lines: Vec<&str> = text.lines().collect();
    let view = if runtime() == NOOK { "/nook/memory /nook/memory" } else { "/nook/memory /" };
    assert_eq!(lines, [view, limit.as_str()], "stderr: {}", stderr(&out));
    c.assert_clean();
}

#[test]
#[ignore = "starts containerd: runs in the test VM (make test-vm)"]
fn a_tty_container_gets_a_terminal() {
    let c = Containerd::start();
    // ctr -t wants its own stdin to be a terminal: a pty's slave.
    clients::assert_tty_run(c.run_cmd(&["--rm", "-t"], "tty", &["sh", "-c", clients::TTY_SCRIPT]));
    c.assert_clean();
}
