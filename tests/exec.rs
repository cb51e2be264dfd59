//! `nook exec`: processes that join a running container.

mod common;
use common::*;
use std::time::{Duration, Instant};

fn running(name: &str) -> Bundle {
    let b = Bundle::new(name, &["sleep", "1000"]);
    let out = b.with_bundle("run", &["--detach"]);
    assert!(out.status.success(), "{}", stderr(&out));
    b
}

#[test]
fn exec_joins_every_namespace_and_the_cgroup() {
    let b = running("exec-ns");
    let out = b.nook(&["exec", &b.id, "sh", "-c", "hostname; echo pid=$$; ps -o pid,comm | grep -c sleep; ls /; cat /proc/self/cgroup | tail -1; ls /proc/self/fd | wc -l"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = stdout(&out);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines[0], "nook", "{s}");
    // A small pid in the container's pid namespace, next to its init.
    let pid: u32 = lines[1].trim_start_matches("pid=").parse().unwrap();
    assert!(pid > 1 && pid < 100, "{s}");
    assert_eq!(lines[2], "1", "the container's sleep is not visible: {s}");
    assert!(s.contains("\nbin\n") && s.contains("\nproc\n"), "not the container's root: {s}");
    assert!(s.contains("0::/\n"), "not in the container's cgroup namespace: {s}");
    // stdin, stdout, stderr and ls's directory: nothing of nook's.
    assert_eq!(lines.last().unwrap().trim(), "4", "{s}");
}

#[test]
fn exec_exit_codes_reach_the_caller() {
    let b = running("exec-code");
    assert_eq!(b.nook(&["exec", &b.id, "sh", "-c", "exit 7"]).status.code(), Some(7));
    assert_eq!(b.nook(&["exec", &b.id, "true"]).status.code(), Some(0));
    assert_eq!(b.nook(&["exec", &b.id, "sh", "-c", "kill -9 $$"]).status.code(), Some(137));
}

#[test]
fn exec_with_user_env_cwd_and_caps() {
    let b = running("exec-user");
    let out = b.nook(&[
        "exec",
        "-u",
        "1000:1001",
        "-g",
        "7",
        "-e",
        "FOO=bar",
        "--cwd",
        "/proc",
        &b.id,
        "sh",
        "-c",
        "id; echo $FOO; pwd",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = stdout(&out);
    assert!(s.contains("uid=1000 gid=1001 groups=7"), "{s}");
    assert!(s.contains("bar\n/proc"), "{s}");
    // CAP_NET_RAW is bit 13; runc's default spec does not grant it.
    let caps = |extra: &[&str]| {
        let mut a = vec!["exec"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&[&b.id, "grep", "CapEff", "/proc/self/status"]);
        let out = b.nook(&a);
        assert!(out.status.success(), "{}", stderr(&out));
        u64::from_str_radix(stdout(&out).split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    assert_eq!(caps(&[]) & (1 << 13), 0);
    assert_ne!(caps(&["--cap", "CAP_NET_RAW"]) & (1 << 13), 0);
}

#[test]
fn exec_process_json_and_detach_with_pid_file() {
    let b = running("exec-json");
    let pj = b.dir.join("process.json");
    std::fs::write(&pj, r#"{"args":["sh","-c","echo from-json > /dev/shm/out; sleep 100"],"cwd":"/","user":{"uid":0,"gid":0},"env":["PATH=/bin"]}"#).unwrap();
    let pf = b.dir.join("exec.pid");
    let out =
        b.nook(&["exec", "--detach", "--pid-file", pf.to_str().unwrap(), "--process", pj.to_str().unwrap(), &b.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pid: i32 = std::fs::read_to_string(&pf).unwrap().parse().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let t = Instant::now();
    loop {
        let out = b.nook(&["exec", &b.id, "cat", "/dev/shm/out"]);
        if stdout(&out).trim() == "from-json" {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "the detached process never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A process.json without `user` runs as uid 0, gid 0: runc's decoder
/// leaves the zero value, and callers leave the field out.
#[test]
fn exec_process_json_without_user_runs_as_root() {
    let b = running("exec-nouser");
    let pj = b.dir.join("process.json");
    std::fs::write(&pj, r#"{"args":["id"],"cwd":"/","env":["PATH=/bin"]}"#).unwrap();
    let out = b.nook(&["exec", "--process", pj.to_str().unwrap(), &b.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out);
    assert!(id.starts_with("uid=0") && id.contains(" gid=0"), "{id}");
    // `cwd` is still required, as runc requires it.
    std::fs::write(&pj, r#"{"args":["id"]}"#).unwrap();
    assert_one_line_error(&b.nook(&["exec", "--process", pj.to_str().unwrap(), &b.id]), "cwd");
}

#[test]
fn exec_forwards_signals_to_the_process() {
    let b = running("exec-signal");
    let mut c = b.cmd(&[
        "exec",
        &b.id,
        "sh",
        "-c",
        "trap 'exit 42' TERM; echo ready > /dev/shm/ready; while true; do sleep 0.05; done",
    ]);
    let mut child = c.stdout(std::process::Stdio::null()).spawn().unwrap();
    let t = Instant::now();
    while !stdout(&b.nook(&["exec", &b.id, "cat", "/dev/shm/ready"])).contains("ready") {
        assert!(t.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(42));
}

/// A failed exec is one line, "exec failed: …", and exit 255, as runc's
/// (`fatalWithCode(…, 255)`): callers tell a failed exec from the
/// program's own exit code by it.
fn assert_exec_failed(out: &std::process::Output, needle: &str) {
    assert_one_line_error(out, needle);
    assert!(stderr(out).contains("exec failed: "), "{}", stderr(out));
    assert_eq!(out.status.code(), Some(255), "{}", stderr(out));
}

#[test]
fn exec_bad_input_is_one_line() {
    let b = running("exec-bad");
    assert_exec_failed(&b.nook(&["exec", &b.id, "no-such-program"]), "executable file not found");
    assert_exec_failed(&b.nook(&["exec", "no-such-container", "true"]), "does not exist");
    assert_exec_failed(&b.nook(&["exec", &b.id]), "process args cannot be empty");
    assert_exec_failed(&b.nook(&["exec", "-u", "root", &b.id, "true"]), "uid must be a number");
    assert_exec_failed(&b.nook(&["exec", "--cap", "CAP_BOGUS", &b.id, "true"]), "unknown capability");
    assert_exec_failed(&b.nook(&["exec", "--preserve-fds", "9", &b.id, "true"]), "is not open");
    let missing = b.dir.join("no-such-dir/exec.pid");
    let out = b.nook(&["exec", "--pid-file", missing.to_str().unwrap(), &b.id, "true"]);
    assert_exec_failed(&out, "no-such-dir");
    assert!(b.nook(&["kill", &b.id, "KILL"]).status.success());
    let t = Instant::now();
    while b.status() != "stopped" {
        assert!(t.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_exec_failed(&b.nook(&["exec", &b.id, "true"]), "not running");
}

#[test]
fn exec_ends_cleanly_when_the_container_dies_first() {
    let b = running("exec-dies");
    let mut c = b.cmd(&["exec", &b.id, "sh", "-c", "sleep 100 & sleep 100"]);
    let mut child = c.stdout(std::process::Stdio::null()).spawn().unwrap();
    let t = Instant::now();
    while stdout(&b.nook(&["ps", "--format", "json", &b.id])).matches(',').count() < 2 {
        assert!(t.elapsed() < Duration::from_secs(5), "the exec'd processes never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Killing the container's init ends its pid namespace: the exec'd
    // shell and its child die with it, and nook exec reports the kill.
    assert!(b.nook(&["kill", &b.id, "KILL"]).status.success());
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(137));
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "nook exec did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Init exits last in its pid namespace (after the exec'd processes,
    // which nook exec saw die): wait for it as a client would.
    let t = Instant::now();
    while b.status() != "stopped" {
        assert!(t.elapsed() < Duration::from_secs(5), "init outlived the kill");
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = b.nook(&["delete", &b.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    b.assert_clean();
}

/// `exec --cgroup` (runc's sub-cgroup form, cgroup v2): the process is
/// born in an existing sub-cgroup of the container's; paths that leave the
/// container's cgroup, missing ones and named controllers are refused.
#[test]
fn exec_cgroup_runs_the_process_in_a_sub_cgroup() {
    let b = running("exec-subcg");
    std::fs::create_dir(b.cgroup_dir().join("sub")).unwrap();
    for arg in ["sub", ":sub", "/sub", "x/../sub"] {
        let out = b.nook(&["exec", "--cgroup", arg, &b.id, "cat", "/proc/self/cgroup"]);
        assert!(out.status.success(), "--cgroup {arg}: {}", stderr(&out));
        assert!(stdout(&out).lines().any(|l| l == "0::/sub"), "--cgroup {arg}: {}", stdout(&out));
    }
    let out = b.nook(&["exec", "--cgroup", "/", &b.id, "cat", "/proc/self/cgroup"]);
    assert!(stdout(&out).lines().any(|l| l == "0::/"), "--cgroup /: {}", stdout(&out));
    let out = b.nook(&["exec", &b.id, "cat", "/proc/self/cgroup"]);
    assert!(stdout(&out).lines().any(|l| l == "0::/"), "no --cgroup: {}", stdout(&out));
    assert_exec_failed(&b.nook(&["exec", "--cgroup", "..", &b.id, "true"]), ".. is not a sub cgroup path");
    assert_exec_failed(&b.nook(&["exec", "--cgroup", "nonexistent", &b.id, "true"]), "nonexistent: No such file");
    assert_exec_failed(&b.nook(&["exec", "--cgroup", "hugetlb:sub", &b.id, "true"]), "unknown controller hugetlb");
    assert_exec_failed(&b.nook(&["exec", "--cgroup", "a", "--cgroup", "b", &b.id, "true"]), "missing <controller>:");
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

/// A container that gave its top cgroup domain controllers for children of
/// its own (init moved into a sub-cgroup, as systemd in a container does)
/// has no room there for processes: exec joins init's cgroup, as runc
/// does, unless `--cgroup` names the place.
#[test]
fn exec_joins_inits_cgroup_when_the_containers_is_busy() {
    let b = Bundle::new("exec-busy", &["sleep", "1000"]);
    // A hugetlb limit makes the controller available to the container's
    // cgroup (the only one this host's v2 hierarchy has).
    b.edit(|c| c["linux"]["resources"]["hugepageLimits"] = serde_json::json!([{"pageSize": "2MB", "limit": 0}]));
    assert!(b.with_bundle("run", &["--detach"]).status.success());
    let cg = b.cgroup_dir();
    std::fs::create_dir(cg.join("init")).unwrap();
    std::fs::write(cg.join("init/cgroup.procs"), b.state()["pid"].to_string()).unwrap();
    std::fs::write(cg.join("cgroup.subtree_control"), "+hugetlb").unwrap();
    let out = b.nook(&["exec", &b.id, "cat", "/proc/self/cgroup"]);
    assert!(out.status.success(), "exec: {}", stderr(&out));
    assert!(stdout(&out).lines().any(|l| l == "0::/init"), "{}", stdout(&out));
    assert_exec_failed(&b.nook(&["exec", "--cgroup", "/", &b.id, "true"]), "Device or resource busy");
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

#[test]
fn exec_into_a_paused_container_is_refused() {
    let b = running("exec-paused");
    assert!(b.nook(&["pause", &b.id]).status.success());
    let out = b.nook(&["exec", &b.id, "true"]);
    assert_exec_failed(&out, "cannot exec in a paused container (use --ignore-paused to override)");
    assert!(b.nook(&["resume", &b.id]).status.success());
    assert!(b.nook(&["exec", &b.id, "true"]).status.success());
}

#[test]
fn exec_process_oom_score_adj_is_written() {
    // Through nook's private procfs handle (src/init/exec.rs), not /proc.
    let b = running("exec-oom");
    let pj = b.dir.join("process.json");
    std::fs::write(
        &pj,
        r#"{"args":["cat","/proc/self/oom_score_adj"],"cwd":"/","user":{"uid":0,"gid":0},"oomScoreAdj":321}"#,
    )
    .unwrap();
    let out = b.nook(&["exec", "--process", pj.to_str().unwrap(), &b.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "321");
}
