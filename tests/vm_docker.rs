//! A real dockerd (Debian's 20.10) runs containers on nook: `dockerd
//! --add-runtime nook=<nook>` and `docker run --runtime nook`, through the
//! containerd dockerd starts and its runc shim. Each test starts a private
//! dockerd (tests/docker/mod.rs) and imports a busybox image it builds;
//! dockerd needs a whole machine with cgroup v2, so these run in the test
//! VM (`integration/vm/cargo-test-in-vm --test vm_docker --
//! --include-ignored`, part of `make test-vm`) and are ignored on the host.
//! `NOOK_DOCKER_RUNTIME=/usr/sbin/runc` (through `NOOK_VM_ENV`) runs the
//! same suite on runc, to see what docker expects.

mod common;
mod docker;
use common::*;
use docker::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).trim().to_owned()
}

#[test]
#[ignore = "starts dockerd: runs in the test VM (make test-vm)"]
fn run_rm_returns_the_output_the_exit_code_and_the_limits() {
    let d = Dockerd::start();
    let out = d.run(&["--rm"], &["sh", "-c", "echo hello from pid $$; exit 7"]);
    assert_eq!(out.status.code(), Some(7), "stdout: {}\nstderr: {}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).trim(), "hello from pid 1", "stderr: {}", stderr(&out));
    // A program that is not in the image: docker's 127 (it reads the
    // runtime's error for "no such file or directory").
    let out = d.run(&["--rm"], &["/bin/nonesuch"]);
    assert_eq!(out.status.code(), Some(127), "stdout: {}\nstderr: {}", stdout(&out), stderr(&out));
    // Limits, seen from inside: docker gives the container a cgroup
    // namespace and mounts its cgroup at /sys/fs/cgroup.
    let out = d.run(
        &["--rm", "--memory", "64m", "--pids-limit", "20", "--cpus", "0.5"],
        &["sh", "-c", "cat /proc/self/cgroup /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max"],
    );
    let text = ok(&out, "docker run with limits");
    assert_eq!(text.lines().collect::<Vec<_>>(), ["0::/", "67108864", "20", "50000 100000"]);
    d.assert_clean();
}

#[test]
#[ignore = "starts dockerd: runs in the test VM (make test-vm)"]
fn a_detached_container_execs_pauses_updates_logs_and_stops() {
    let d = Dockerd::start();
    // A shell that ignores TERM (explicitly: as the namespace's init it
    // would anyway), so `docker stop` has to kill it.
    let script = "trap '' TERM; echo started; while true; do sleep 1; done";
    let out = d.run(&["-d", "--memory", "64m", "--pids-limit", "20", "--cpus", "0.5"], &["sh", "-c", script]);
    let id = ok(&out, "docker run -d").trim().to_owned();
    assert_eq!(id.len(), 64, "not an id: {id}");
    assert_eq!(d.inspect(&id, "{{.State.Running}} {{.HostConfig.Runtime}}"), "true nook");
    let pid = d.inspect(&id, "{{.State.Pid}}");
    let cg = clients::cgroup_of(&pid);
    assert!(cg.ends_with(format!("docker/{id}")), "cgroup {}", cg.display());
    assert_eq!(read(cg.join("memory.max")), "67108864");
    assert_eq!(read(cg.join("pids.max")), "20");
    assert_eq!(read(cg.join("cpu.max")), "50000 100000");

    // logs: the container's output, through containerd's fifos.
    wait_until("the output in docker logs", PATIENCE, || stdout(&d.docker(&["logs", &id])).trim() == "started");

    // exec: output and exit code come back; it sees the same cgroup.
    let out = d.docker(&[
        "exec",
        &id,
        "sh",
        "-c",
        "echo exec beside $(cat /proc/1/comm); cat /sys/fs/cgroup/pids.max; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), ["exec beside sh", "20"]);

    // top: the init, by its host pid.
    let top = ok(&d.docker(&["top", &id]), "docker top");
    assert!(top.lines().skip(1).any(|l| l.split_whitespace().nth(1) == Some(pid.as_str())), "{top}");

    ok(&d.docker(&["pause", &id]), "docker pause");
    assert_eq!(d.inspect(&id, "{{.State.Paused}}"), "true");
    assert_eq!(clients::keyed(cg.join("cgroup.events"), "frozen"), "1");
    ok(&d.docker(&["unpause", &id]), "docker unpause");
    assert_eq!(d.inspect(&id, "{{.State.Paused}} {{.State.Running}}"), "false true");
    assert_eq!(clients::keyed(cg.join("cgroup.events"), "frozen"), "0");

    // update drives `nook update`: the new limit lands in the cgroup.
    ok(&d.docker(&["update", "--memory", "96m", "--memory-swap", "-1", &id]), "docker update");
    assert_eq!(read(cg.join("memory.max")), "100663296");
    assert_eq!(d.inspect(&id, "{{.HostConfig.Memory}}"), "100663296");

    // stop: TERM is ignored, so after 2 s it is KILL: 137.
    let t = Instant::now();
    ok(&d.docker(&["stop", "-t", "2", &id]), "docker stop");
    assert!(t.elapsed() >= Duration::from_secs(2), "stopped after {:?}: TERM was not ignored", t.elapsed());
    assert_eq!(d.inspect(&id, "{{.State.Running}} {{.State.ExitCode}}"), "false 137");
    assert!(!PathBuf::from(format!("/proc/{pid}")).exists(), "the init {pid} outlived docker stop");
    assert!(!cg.exists(), "cgroup {} left after the container stopped", cg.display());
    ok(&d.docker(&["rm", &id]), "docker rm");
    d.assert_clean();
}

#[test]
#[ignore = "starts dockerd: runs in the test VM (make test-vm)"]
fn a_tty_container_gets_a_terminal() {
    let d = Dockerd::start();
    // docker -t takes the window size from its own stdout: a pty's slave.
    clients::assert_tty_run(d.run_cmd(&["--rm", "-t"], &["sh", "-c", clients::TTY_SCRIPT]));
    d.assert_clean();
}
