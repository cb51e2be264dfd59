//! The whole runc lifecycle on the host: create, state, start, kill,
//! delete, run, list, spec, features.

mod common;
use common::*;
use std::time::{Duration, Instant};

fn wait_status(b: &Bundle, want: &str) {
    let t = Instant::now();
    while b.status() != want {
        assert!(t.elapsed() < Duration::from_secs(10), "status stayed {} (want {want})", b.status());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn version_names_the_commit_and_spec() {
    let out = std::process::Command::new(NOOK).arg("--version").output().unwrap();
    let s = stdout(&out);
    assert!(out.status.success());
    assert!(s.contains(env!("CARGO_PKG_VERSION")), "{s}");
    assert!(s.contains("commit: "), "{s}");
    assert!(s.contains("spec: 1.3.0"), "{s}");
}

#[test]
fn create_start_kill_delete() {
    let b = Bundle::new("life", &["sleep", "100"]);
    let out = b.with_bundle("create", &[]);
    assert!(out.status.success(), "create: {}", stderr(&out));
    let st = b.state();
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], b.id.as_str());
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0);
    assert_eq!(st["bundle"], b.dir.to_str().unwrap());
    assert_eq!(st["rootfs"], b.dir.join("rootfs").to_str().unwrap());
    assert_eq!(st["owner"], "root");
    assert!(st["created"].as_str().unwrap().ends_with('Z'));
    // The init waits in its cgroup, not yet running the program.
    let procs = std::fs::read_to_string(b.cgroup_dir().join("cgroup.procs")).unwrap();
    assert!(procs.lines().any(|l| l == pid.to_string()), "init not in its cgroup: {procs}");
    assert!(!std::fs::read_link(format!("/proc/{pid}/exe")).unwrap().ends_with("sleep"));

    let out = b.nook(&["start", &b.id]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    assert_eq!(b.status(), "running");
    // Once started, init has exec'd the program.
    let t = Instant::now();
    while !std::fs::read_link(format!("/proc/{pid}/exe")).map(|p| p.ends_with("sleep")).unwrap_or(false) {
        assert!(t.elapsed() < Duration::from_secs(5), "init never exec'd");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Starting twice is an error naming the state.
    assert_one_line_error(&b.nook(&["start", &b.id]), "running");
    // Deleting a running container needs --force.
    assert_one_line_error(&b.nook(&["delete", &b.id]), "not stopped");

    let out = b.nook(&["kill", &b.id, "KILL"]);
    assert!(out.status.success(), "kill: {}", stderr(&out));
    wait_status(&b, "stopped");
    assert_eq!(b.state()["pid"], 0);
    let out = b.nook(&["delete", &b.id]);
    assert!(out.status.success(), "delete: {}", stderr(&out));
    b.assert_clean();
    assert_one_line_error(&b.nook(&["state", &b.id]), "does not exist");
}

#[test]
fn kill_default_is_sigterm_and_reaches_a_created_container() {
    let b = Bundle::new("term", &["sleep", "100"]);
    assert!(b.with_bundle("create", &[]).status.success());
    let out = b.nook(&["kill", &b.id]);
    assert!(out.status.success(), "kill: {}", stderr(&out));
    wait_status(&b, "stopped");
    assert_one_line_error(&b.nook(&["kill", &b.id, "TERM"]), "not running");
    assert!(b.nook(&["delete", &b.id]).status.success());
    b.assert_clean();
}

/// Signal 0 only checks (kill(2)): accepted as runc accepts it, with and
/// without --all, and nothing is signalled. --all also takes the signals
/// nix cannot name (the real-time ones: RTMIN+3 is 37 with glibc).
#[test]
fn kill_signal_0_checks_and_all_takes_any_signal() {
    let b = Bundle::new("sig0", &["sh", "-c", "trap 'echo rt >> /rt' 37; while true; do sleep 0.05; done"]);
    b.edit(|c| c["root"]["readonly"] = false.into());
    assert!(b.with_bundle("run", &["--detach"]).status.success());
    for args in [&["kill", &b.id, "0"][..], &["kill", "-a", &b.id, "0"], &["kill", "--all", &b.id, "0"]] {
        let out = b.nook(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(b.status(), "running");
    let out = b.nook(&["kill", "--all", &b.id, "RTMIN+3"]);
    assert!(out.status.success(), "kill --all RTMIN+3: {}", stderr(&out));
    let rt = b.dir.join("rootfs/rt");
    let t = Instant::now();
    while !rt.exists() {
        assert!(t.elapsed() < Duration::from_secs(5), "the trap never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

/// `"path": ""` in a namespace entry means a new namespace, as runc's
/// decoder reads it (an empty string is no path).
#[test]
fn an_empty_namespace_path_is_a_new_namespace() {
    let b = Bundle::new("emptypath", &["readlink", "/proc/self/ns/uts"]);
    b.edit(|c| {
        for ns in c["linux"]["namespaces"].as_array_mut().unwrap() {
            ns["path"] = "".into();
        }
    });
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let host = std::fs::read_link("/proc/self/ns/uts").unwrap();
    let inside = stdout(&out);
    assert!(inside.starts_with("uts:["), "{inside}");
    assert_ne!(inside.trim(), host.to_str().unwrap(), "the uts namespace must be new");
    b.assert_clean();
}

/// `--debug` says what runc's says at the same steps (runc's own suite
/// looks for these lines), in runc's formats, on stderr or in `--log`; the
/// lines init writes after its stdio became the container's (a terminal)
/// still go to nook's stderr, never into the container's output.
#[test]
fn debug_lines_say_what_runcs_say() {
    const STEPS: [&str; 4] = [
        "nsexec container setup",
        "child process in init()",
        "init: closing the pipe to signal completion",
        "process exited",
    ];
    let has_steps = |text: &str, what: &str| {
        for step in STEPS {
            assert!(text.contains(step), "{what}: no {step:?} in {text}");
        }
    };
    let b = Bundle::new("debug", &["true"]);
    let out = b.nook(&["--debug", "run", "--bundle", b.dir.to_str().unwrap(), &b.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    has_steps(&err, "stderr");
    assert!(err.contains("level=debug"), "{err}");
    let exited = err.lines().find(|l| l.contains("process exited")).unwrap();
    assert!(exited.ends_with(" status=0") && exited.contains(" pid="), "{exited}");

    for format in ["text", "json"] {
        let log = b.dir.join(format!("log.{format}"));
        let out = b.nook(&[
            "--debug",
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            format,
            "run",
            "--bundle",
            b.dir.to_str().unwrap(),
            &b.id,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(!stderr(&out).contains("debug"), "{format}: debug lines on stderr with --log: {}", stderr(&out));
        let text = std::fs::read_to_string(&log).unwrap();
        has_steps(&text, format);
        if format == "json" {
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(v["level"], "debug", "{line}");
                if v["msg"].as_str().unwrap().ends_with("process exited") {
                    assert_eq!(v["status"], 0, "{line}");
                    assert!(v["pid"].as_i64().unwrap() > 0, "{line}");
                }
            }
        }
    }

    // A terminal, relayed in the foreground: the container's output holds
    // no debug line, nook's stderr holds them all.
    b.edit(|c| {
        c["process"]["terminal"] = true.into();
        c["process"]["args"] = serde_json::json!(["echo", "hi"]);
    });
    let out = b.nook(&["--debug", "run", "--bundle", b.dir.to_str().unwrap(), &b.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim_end(), "hi", "only the program's output");
    has_steps(&stderr(&out), "stderr with a terminal");
    b.assert_clean();
}

#[test]
fn delete_force_kills_a_running_container() {
    let b = Bundle::new("force", &["sleep", "100"]);
    assert!(b.with_bundle("run", &["--detach"]).status.success());
    assert_eq!(b.status(), "running");
    let pid = b.state()["pid"].as_i64().unwrap();
    let out = b.nook(&["delete", "--force", &b.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap().contains(" Z ")
    );
    b.assert_clean();
    // --force on a container that does not exist succeeds, as in runc.
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
}

#[test]
fn delete_of_a_created_container_needs_no_force() {
    let b = Bundle::new("delcreated", &["sleep", "100"]);
    assert!(b.with_bundle("create", &[]).status.success());
    let out = b.nook(&["delete", &b.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    b.assert_clean();
}

#[test]
fn run_exit_codes_are_the_programs() {
    for (args, code) in [(vec!["sh", "-c", "exit 3"], 3), (vec!["true"], 0), (vec!["false"], 1)] {
        let b = Bundle::new("exit", &args);
        let out = b.with_bundle("run", &[]);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        b.assert_clean();
    }
}

#[test]
fn run_exits_128_plus_the_signal_that_ended_the_program() {
    // Without a pid namespace of its own, the shell is not an init and can
    // die of a signal it sends itself.
    for (sig, code) in [("TERM", 143), ("KILL", 137)] {
        let b = Bundle::new("sig", &["sh", "-c", &format!("kill -{sig} $$; sleep 5")]);
        b.edit(|c| c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "pid"));
        let out = b.with_bundle("run", &[]);
        assert_eq!(out.status.code(), Some(code), "{sig}: {}", stderr(&out));
        b.assert_clean();
    }
}

#[test]
fn run_reports_a_kill_from_outside() {
    let b = Bundle::new("extkill", &["sleep", "100"]);
    let mut run = b.cmd(&["run", "--bundle", b.dir.to_str().unwrap(), &b.id]);
    let mut child = run.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let t = Instant::now();
    while b.nook(&["state", &b.id]).stdout.is_empty() || b.status() != "running" {
        assert!(t.elapsed() < Duration::from_secs(10), "never running");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(b.nook(&["kill", &b.id, "9"]).status.success());
    assert_eq!(child.wait().unwrap().code(), Some(137));
    b.assert_clean();
}

#[test]
fn run_prints_from_inside_the_namespaces() {
    let b = Bundle::new("ns", &["sh", "-c", "echo host=$(hostname) pid=$$; ls /proc/self/fd; cat /proc/self/uid_map"]);
    b.edit(|c| c["domainname"] = "nookdomain".into());
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = stdout(&out);
    assert!(s.contains("host=nook pid=1"), "{s}");
    // Only stdio (and ls's own directory fd) are open: nothing of nook's leaks.
    let fds: Vec<&str> = s.lines().skip(1).take_while(|l| l.trim().parse::<u32>().is_ok()).collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{s}");
    b.assert_clean();
}

#[test]
fn run_keep_leaves_a_stopped_container() {
    let b = Bundle::new("keep", &["true"]);
    let out = b.with_bundle("run", &["--keep"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(b.status(), "stopped");
    assert!(b.nook(&["delete", &b.id]).status.success());
    b.assert_clean();
}

#[test]
fn no_pivot_chroots_into_the_rootfs() {
    let b = Bundle::new("nopivot", &["sh", "-c", "ls /; test -e /bin/busybox"]);
    let out = b.with_bundle("run", &["--no-pivot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("bin"));
    b.assert_clean();
}

#[test]
fn pid_file_holds_the_init_pid() {
    let b = Bundle::new("pidfile", &["sleep", "100"]);
    let pf = b.dir.join("pid");
    assert!(b.with_bundle("create", &["--pid-file", pf.to_str().unwrap()]).status.success());
    let pid: i64 = std::fs::read_to_string(&pf).unwrap().parse().unwrap();
    assert_eq!(pid, b.state()["pid"].as_i64().unwrap());
}

#[test]
fn list_shows_table_json_and_ids() {
    let b = Bundle::new("list", &["sleep", "100"]);
    assert!(b.with_bundle("create", &[]).status.success());
    let table = stdout(&b.nook(&["list"]));
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]);
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(row[0], b.id);
    assert_eq!(row[2], "created");
    let json: serde_json::Value = serde_json::from_slice(&b.nook(&["list", "--format", "json"]).stdout).unwrap();
    assert_eq!(json[0]["id"], b.id.as_str());
    assert_eq!(json[0]["status"], "created");
    assert_eq!(stdout(&b.nook(&["list", "-q"])).trim(), b.id);
}

#[test]
fn joins_an_existing_namespace_by_path() {
    let mut holder = std::process::Command::new("unshare")
        .args(["--uts", "sh", "-c", "hostname joined-ns && sleep 30"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let ns = format!("/proc/{}/ns/uts", holder.id());
    // unshare execs sh in the new namespace; wait until the hostname is set.
    while std::fs::read_link(&ns).unwrap() == std::fs::read_link("/proc/self/ns/uts").unwrap()
        || !std::process::Command::new("nsenter")
            .args(["--uts=".to_owned() + &ns, "hostname".into()])
            .output()
            .map(|o| stdout(&o).contains("joined-ns"))
            .unwrap_or(false)
    {
        assert!(t.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(20));
    }
    let b = Bundle::new("join", &["hostname"]);
    b.edit(|c| {
        c.as_object_mut().unwrap().remove("hostname");
        let nss = c["linux"]["namespaces"].as_array_mut().unwrap();
        nss.retain(|n| n["type"] != "uts");
        nss.push(serde_json::json!({"type": "uts", "path": ns}));
    });
    let out = b.with_bundle("run", &[]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "joined-ns");
}

#[test]
fn a_mount_namespace_joined_by_path_gets_the_containers_root() {
    // As runc: the rootfs is set up (bound, mounted, pivoted into) inside
    // the joined namespace, which here is a copy of the host's.
    let mut holder = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sleep", "30"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ns = format!("/proc/{}/ns/mnt", holder.id());
    let t = Instant::now();
    while std::fs::read_link(&ns).unwrap() == std::fs::read_link("/proc/self/ns/mnt").unwrap() {
        assert!(t.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(20));
    }
    let want = std::fs::read_link(&ns).unwrap();
    let b = Bundle::new(
        "joinmnt",
        &["sh", "-c", "readlink /proc/self/ns/mnt; cat /marker; ls /proc/1/ns >/dev/null && echo proc"],
    );
    std::fs::write(b.dir.join("rootfs/marker"), "the container's root\n").unwrap();
    b.edit(|c| {
        let nss = c["linux"]["namespaces"].as_array_mut().unwrap();
        nss.retain(|n| n["type"] != "mount");
        nss.push(serde_json::json!({"type": "mount", "path": ns}));
    });
    let out = b.with_bundle("run", &[]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{}\nthe container's root\nproc\n", want.display()));
    b.assert_clean();
}

#[test]
fn preserved_fds_reach_the_container() {
    use std::os::unix::process::CommandExt;
    let b = Bundle::new("fds", &["sh", "-c", "echo through-fd-3 >&3"]);
    let (r, w) = std::io::pipe().unwrap();
    let mut c = b.cmd(&["run", "--preserve-fds", "1", "--bundle", b.dir.to_str().unwrap(), &b.id]);
    let wfd = std::os::fd::OwnedFd::from(w);
    let raw = std::os::fd::AsRawFd::as_raw_fd(&wfd);
    unsafe {
        c.pre_exec(move || {
            if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = c.output().unwrap();
    drop(wfd);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut s = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(std::os::fd::OwnedFd::from(r)), &mut s).unwrap();
    assert_eq!(s.trim(), "through-fd-3");
}

#[test]
fn spec_writes_runcs_default_config() {
    let dir = std::path::PathBuf::from(format!("/tmp/nook-tests/spec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new(NOOK).args(["spec", "--bundle", dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success());
    let c: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(c["root"]["path"], "rootfs");
    assert_eq!(c["process"]["args"][0], "sh");
    assert_eq!(c["linux"]["resources"]["devices"][0]["allow"], false);
    // Refuses to overwrite.
    let again = std::process::Command::new(NOOK).args(["spec", "--bundle", dir.to_str().unwrap()]).output().unwrap();
    assert_one_line_error(&again, "already exists");
    std::fs::remove_file(dir.join("config.json")).unwrap();
    let out =
        std::process::Command::new(NOOK).args(["spec", "--rootless", "-b", dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let c: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert!(c["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n["type"] == "user"));
    assert!(c["linux"]["uidMappings"].is_array());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn features_tell_what_nook_supports() {
    let out = std::process::Command::new(NOOK).arg("features").output().unwrap();
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(f["ociVersionMax"], "1.3.0");
    let ns: Vec<&str> = f["linux"]["namespaces"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(ns.contains(&"pid") && ns.contains(&"mount"));
    assert!(f["linux"]["capabilities"].as_array().unwrap().iter().any(|c| c == "CAP_SYS_ADMIN"));
    assert_eq!(f["linux"]["cgroup"]["v2"], true);
    assert_eq!(f["linux"]["cgroup"]["v1"], false);
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    assert_eq!(f["linux"]["apparmor"]["enabled"], true);
    assert_eq!(f["linux"]["selinux"]["enabled"], true);
    assert!(f["linux"]["seccomp"]["actions"].as_array().unwrap().iter().any(|a| a == "SCMP_ACT_NOTIFY"));
    assert!(f["linux"]["seccomp"]["operators"].as_array().unwrap().iter().any(|a| a == "SCMP_CMP_MASKED_EQ"));
    let opts = f["mountOptions"].as_array().unwrap();
    for o in ["ro", "rro", "nosuid", "rbind", "rslave", "strictatime", "tmpcopyup"] {
        assert!(opts.iter().any(|v| v == o), "{o} missing");
    }
    let modes = f["linux"]["memoryPolicy"]["modes"].as_array().unwrap();
    assert_eq!(modes.len(), 7, "{modes:?}");
    assert_eq!(f["linux"]["memoryPolicy"]["flags"].as_array().unwrap().len(), 3);
}

#[test]
fn json_log_lines_carry_level_msg_and_time() {
    let b = Bundle::new("log", &["true"]);
    let log = b.dir.join("nook.log");
    let out = b.nook(&["--log", log.to_str().unwrap(), "--log-format", "json", "state", "no-such-container"]);
    assert_one_line_error(&out, "does not exist");
    let line = std::fs::read_to_string(&log).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    assert_eq!(v["level"], "error");
    assert!(v["msg"].as_str().unwrap().contains("no-such-container"));
    assert!(v["time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn the_same_lifecycle_on_a_pure_cgroup2_mount() {
    // As on a v2-only host: cgroup2 mounted on /sys/fs/cgroup, in a private
    // mount namespace so the host's hierarchies are untouched.
    let b = Bundle::new("v2", &["sh", "-c", "cat /proc/self/cgroup"]);
    let script = format!(
        "{{ [ \"$(stat -f -c %T /sys/fs/cgroup)\" = cgroup2fs ] || mount -t cgroup2 none /sys/fs/cgroup; }} && {nook} --root {root} run --bundle {bundle} {id} && test ! -e /sys/fs/cgroup/{id}",
        nook = NOOK,
        root = b.root.display(),
        bundle = b.dir.display(),
        id = b.id
    );
    let out = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // With a cgroup namespace, the container sees its cgroup as the root.
    assert!(stdout(&out).lines().any(|l| l == "0::/"), "{}", stdout(&out));
}

#[test]
fn a_recycled_pid_is_never_taken_for_the_container() {
    let b = Bundle::new("recycled", &["sleep", "100"]);
    assert!(b.with_bundle("run", &["--detach"]).status.success());
    // Point the state at another live process (a sleeper of ours) with the
    // container's recorded start time: as if the pid had been reused. Start
    // times count clock ticks (10 ms): let one pass so the two differ.
    std::thread::sleep(Duration::from_millis(50));
    let mut other = std::process::Command::new("sleep").arg("100").spawn().unwrap();
    let path = b.root.join(&b.id).join("state.json");
    let mut st: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let real_pid = st["pid"].as_i64().unwrap();
    st["pid"] = (other.id() as i64).into();
    std::fs::write(&path, serde_json::to_vec(&st).unwrap()).unwrap();
    assert_eq!(b.status(), "stopped");
    assert_one_line_error(&b.nook(&["kill", &b.id, "KILL"]), "not running");
    assert!(other.try_wait().unwrap().is_none(), "nook signalled a process that is not the container's");
    let _ = other.kill();
    let _ = other.wait();
    // Put the real pid back so the container can be cleaned up.
    st["pid"] = real_pid.into();
    std::fs::write(&path, serde_json::to_vec(&st).unwrap()).unwrap();
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

#[test]
fn pidfd_socket_receives_a_pidfd_of_init() {
    use std::os::fd::AsRawFd;
    let b = Bundle::new("pidfd", &["sleep", "100"]);
    let sock_path = b.dir.join("pidfd.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    let recv = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        nook::sys::recv_with_fd(std::os::fd::AsFd::as_fd(&conn), &mut buf).unwrap().1.expect("a pidfd")
    });
    let out = b.with_bundle("create", &["--pidfd-socket", sock_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pidfd = recv.join().unwrap();
    // The pidfd names init: its fdinfo carries init's pid.
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd())).unwrap();
    let pid = b.state()["pid"].as_i64().unwrap();
    assert!(info.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Pid:", &pid.to_string()]), "{info}");
}

#[test]
fn a_fresh_session_keyring_unless_no_new_keyring() {
    for (flag, expect) in [(None, true), (Some("--no-new-keyring"), false)] {
        let b = Bundle::new("keyring", &["sh", "-c", "cat /proc/keys"]);
        // /proc/keys is masked by runc's default spec; unmask it here.
        b.edit(|c| c["linux"]["maskedPaths"].as_array_mut().unwrap().retain(|p| p != "/proc/keys"));
        let out = b.with_bundle("run", flag.as_slice());
        assert!(out.status.success(), "{}", stderr(&out));
        let has = stdout(&out).contains(&format!("_ses.{}", b.id));
        assert_eq!(has, expect, "{flag:?}: {}", stdout(&out));
    }
}

#[test]
fn masked_and_readonly_paths() {
    let script = "wc -c < /proc/keys; ls /proc/acpi | wc -l; touch /proc/acpi/x 2>/dev/null || echo acpi-ro; \
                  echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo sys-ro; \
                  grep -E ' /(proc/acpi|sys/firmware) ' /proc/self/mountinfo | cut -d' ' -f3";
    let b = Bundle::new("masked", &["sh", "-c", script]);
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = stdout(&out);
    let l: Vec<&str> = s.lines().collect();
    assert_eq!(&l[..4], ["0", "0", "acpi-ro", "sys-ro"], "{s}");
    // Every masked directory shares one read-only tmpfs.
    assert_eq!(l.len(), 6, "{s}");
    assert_eq!(l[4], l[5], "{s}");
}

#[test]
fn socket_activation_fds_are_passed_on_like_runc() {
    use std::os::unix::process::CommandExt;
    let b = Bundle::new("listenfds", &["sh", "-c", "echo $LISTEN_FDS $LISTEN_PID; echo via-activation >&3"]);
    let (r, w) = std::io::pipe().unwrap();
    let wfd = std::os::fd::OwnedFd::from(w);
    let raw = std::os::fd::AsRawFd::as_raw_fd(&wfd);
    // systemd's protocol: LISTEN_PID names the process the fds are for, so
    // a shell sets it to its own pid, then becomes nook.
    let script = format!(
        "LISTEN_FDS=1 LISTEN_PID=$$ exec {NOOK} --root {} run --bundle {} {}",
        b.root.display(),
        b.dir.display(),
        b.id
    );
    let mut c = std::process::Command::new("sh");
    c.args(["-c", &script]).stdin(std::process::Stdio::null());
    unsafe {
        c.pre_exec(move || {
            if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = output_via_files(c);
    drop(wfd);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "1 1");
    let mut s = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(std::os::fd::OwnedFd::from(r)), &mut s).unwrap();
    assert_eq!(s.trim(), "via-activation");
    b.assert_clean();
}

/// No `linux.namespaces` at all, as runc runs it (runtime-tools'
/// linux_ns_itype): the container shares every namespace of nook's, its
/// mounts are made in the host's mount namespace on a private bind of the
/// rootfs and chroot'ed into, `exec` enters the same root, and delete
/// detaches every one of those mounts (runc leaves them).
#[test]
fn a_container_without_namespaces_shares_the_hosts_and_leaves_no_mount() {
    let b = Bundle::new("nons", &["sh", "-c", "cat /marker; sleep 100"]);
    std::fs::write(b.dir.join("rootfs/marker"), "inside\n").unwrap();
    b.edit(|c| {
        c["linux"].as_object_mut().unwrap().remove("namespaces");
        c.as_object_mut().unwrap().remove("hostname");
        c["linux"]["maskedPaths"] = serde_json::json!([]);
        c["linux"]["readonlyPaths"] = serde_json::json!([]);
    });
    let rootfs = b.dir.join("rootfs");
    let mounted = || {
        let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        mi.lines().filter(|l| l.contains(rootfs.to_str().unwrap())).count()
    };
    assert!(b.with_bundle("run", &["-d"]).status.success());
    let pid = b.state()["pid"].as_i64().unwrap();
    for ns in ["mnt", "pid", "net", "ipc", "uts", "cgroup"] {
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        assert_eq!(theirs, std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap(), "{ns}");
    }
    assert_eq!(std::fs::read_link(format!("/proc/{pid}/root")).unwrap(), rootfs);
    assert!(mounted() > 0, "the container's mounts are in the host's namespace");
    let out = b.nook(&["exec", &b.id, "sh", "-c", "cat /marker; ls /proc/1/ns >/dev/null && echo proc"]);
    assert!(out.status.success(), "exec: {}", stderr(&out));
    assert_eq!(stdout(&out), "inside\nproc\n");
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    assert_eq!(mounted(), 0, "delete left mounts on the rootfs");
    b.assert_clean();
    // A failed create leaves none either.
    b.edit(|c| c["process"]["args"] = serde_json::json!(["/nonexistent"]));
    assert!(!b.with_bundle("create", &[]).status.success());
    assert_eq!(mounted(), 0, "a failed create left mounts on the rootfs");
    b.assert_clean();
}

#[test]
fn masking_needs_a_mount_namespace() {
    for field in ["maskedPaths", "readonlyPaths", "rootfsPropagation"] {
        let b = Bundle::new("nons-mask", &["true"]);
        b.edit(|c| {
            c["linux"].as_object_mut().unwrap().remove("namespaces");
            c.as_object_mut().unwrap().remove("hostname");
            c["linux"]["maskedPaths"] = serde_json::json!([]);
            c["linux"]["readonlyPaths"] = serde_json::json!([]);
            c["linux"][field] =
                if field == "rootfsPropagation" { "rprivate".into() } else { serde_json::json!(["/proc/kcore"]) };
        });
        assert_one_line_error(&b.with_bundle("run", &[]), &format!("linux.{field}: needs a mount namespace"));
        b.assert_clean();
    }
}
