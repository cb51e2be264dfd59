//! seccomp in real containers: podman's default profile
//! (/usr/share/containers/seccomp.json, from containers-common) resolved
//! for the container's capabilities as podman resolves it, custom argument
//! rules, KILL_PROCESS, and SCMP_ACT_NOTIFY answered by this test as the
//! seccomp agent.
//!
//! What podman's profile denies depends on the capabilities: unlike
//! Docker's, it allows `mount`, `unshare`, `keyctl`, `clone` and `setns`
//! to everyone (it relies on user namespaces), so with runc's default
//! capabilities those fail for want of CAP_SYS_ADMIN, not because of
//! seccomp. The tests below therefore show seccomp's hand with syscalls
//! the kernel would otherwise allow: a control run without the profile
//! succeeds (or fails differently).

#[path = "../src/seccomp/tests/podman.rs"]
#[allow(dead_code)]
mod podman;

mod common;
use common::*;
use serde_json::{json, Value};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const PROFILE: &str = "/usr/share/containers/seccomp.json";
const CLONE_NEWNET: u64 = 0x4000_0000;
/// Docker's mask of namespace flags for clone (everything but CLONE_NEWUSER).
const CLONE_NS_MASK: u64 = 0x7e02_0000;

/// runc's default capabilities (what `nook spec` writes) plus `extra`, in
/// every set, so the process really holds them.
fn set_caps(c: &mut Value, extra: &[&str]) {
    let mut caps: Vec<String> = c["process"]["capabilities"]["bounding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    caps.extend(extra.iter().map(|s| s.to_string()));
    for set in ["bounding", "effective", "permitted"] {
        c["process"]["capabilities"][set] = json!(caps);
    }
}

/// Podman's default profile, resolved for the container's bounding
/// capabilities (as containers/common does) and the x86_64 host.
fn podman_profile(c: &Value) -> Value {
    let text = std::fs::read_to_string(PROFILE).unwrap_or_else(|e| panic!("{PROFILE}: {e} (containers-common)"));
    let caps: Vec<&str> =
        c["process"]["capabilities"]["bounding"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    serde_json::to_value(podman::resolve(&text, "amd64", "SCMP_ARCH_X86_64", &caps)).unwrap()
}

/// A bundle running `sh -c script` with a writable /tmp, `extra` caps and
/// (with `seccomp`) podman's profile changed by `tweak`.
fn bundle(name: &str, script: &str, extra: &[&str], seccomp: bool, tweak: impl FnOnce(&mut Value)) -> Bundle {
    let b = Bundle::new(name, &["sh", "-c", script]);
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
        set_caps(c, extra);
        if seccomp {
            let mut p = podman_profile(c);
            tweak(&mut p);
            c["linux"]["seccomp"] = p;
        }
    });
    b
}

/// Runs the bundle; returns (exit code, stdout + stderr) and checks that
/// nothing is left behind.
fn run(b: &Bundle) -> (i32, String) {
    let out = b.with_bundle("run", &[]);
    b.assert_clean();
    (out.status.code().unwrap_or(-1), stdout(&out) + &stderr(&out))
}

#[test]
fn podman_profile_resolution_follows_the_capabilities() {
    let b = Bundle::new("sc-resolve", &["true"]);
    let c: Value = serde_json::from_slice(&std::fs::read(b.config()).unwrap()).unwrap();
    let names = |p: &Value, action: &str| -> Vec<String> {
        p["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == action && r.get("args").is_none_or(|a| a.is_null()))
            .flat_map(|r| r["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_owned()))
            .collect()
    };
    let default = podman_profile(&c);
    assert_eq!(default["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(default["architectures"], json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]));
    assert!(names(&default, "SCMP_ACT_ERRNO").contains(&"sethostname".to_owned()));
    assert!(!names(&default, "SCMP_ACT_ALLOW").contains(&"sethostname".to_owned()));
    let mut c2 = c.clone();
    set_caps(&mut c2, &["CAP_SYS_ADMIN"]);
    let admin = podman_profile(&c2);
    assert!(names(&admin, "SCMP_ACT_ALLOW").contains(&"sethostname".to_owned()));
    assert!(!names(&admin, "SCMP_ACT_ERRNO").contains(&"sethostname".to_owned()));
}

#[test]
fn podman_profile_lets_the_shell_read_and_write_files() {
    let script = "echo hello >/tmp/f && cat /tmp/f && mkdir /tmp/d && ls /tmp && id -u && (echo sub) && echo ok";
    let b = bundle("sc-allowed", script, &[], true, |_| {});
    let (code, out) = run(&b);
    assert_eq!(code, 0, "{out}");
    for want in ["hello", "d\nf", "sub", "ok"] {
        assert!(out.contains(want), "{want:?} missing in {out:?}");
    }
}

#[test]
fn podman_profile_denies_with_eperm_as_the_capabilities_resolve_it() {
    // swapoff: podman's profile denies it with EPERM for everyone. With
    // CAP_SYS_ADMIN, the kernel alone would look the file up (ENOENT).
    let script = "swapoff /nonexistent; echo rc=$?";
    let control = bundle("sc-swapoff-ctl", script, &["CAP_SYS_ADMIN"], false, |_| {});
    let (_, out) = run(&control);
    assert!(out.contains("No such file or directory") && out.contains("rc=1"), "{out}");
    let b = bundle("sc-swapoff", script, &["CAP_SYS_ADMIN"], true, |_| {});
    let (code, out) = run(&b);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Operation not permitted") && out.contains("rc=1"), "{out}");

    // sethostname: allowed only with CAP_SYS_ADMIN (which resolves the
    // profile's includes/excludes the other way).
    let script = "hostname renamed; echo rc=$?; hostname";
    let b = bundle("sc-hostname", script, &[], true, |_| {});
    let (_, out) = run(&b);
    assert!(out.contains("Operation not permitted") && out.contains("rc=1"), "{out}");
    let b = bundle("sc-hostname-admin", script, &["CAP_SYS_ADMIN"], true, |_| {});
    let (_, out) = run(&b);
    assert!(out.contains("rc=0\nrenamed"), "{out}");

    // mount and unshare: podman allows them; default caps stop them.
    let b = bundle("sc-mount", "mount -t tmpfs t /tmp; echo rc=$?; unshare -n true; echo rc=$?", &[], true, |_| {});
    let (_, out) = run(&b);
    assert!(out.contains("mount: permission denied"), "{out}");
    assert!(out.contains("unshare(0x40000000): Operation not permitted"), "{out}");
    assert_eq!(out.matches("rc=1").count(), 2, "{out}");
}

#[test]
fn personality_argument_rules() {
    // busybox linux32 calls personality(PER_LINUX32 = 0x8), linux64
    // personality(PER_LINUX = 0): both listed. With -R it adds
    // ADDR_NO_RANDOMIZE (0x0040000): not listed, so the profile's default
    // errno, ENOSYS.
    let script = "linux32 true; echo a=$?; linux64 true; echo b=$?; linux32 -R true; echo c=$?";
    let control = bundle("sc-pers-ctl", script, &[], false, |_| {});
    let (_, out) = run(&control);
    assert!(out.contains("a=0\nb=0\nc=0"), "{out}");
    let b = bundle("sc-pers", script, &[], true, |_| {});
    let (code, out) = run(&b);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("a=0\nb=0\n"), "{out}");
    assert!(out.contains("personality(0x40008)") && out.contains("Function not implemented"), "{out}");
    assert!(out.contains("c=1"), "{out}");
}

/// Podman's profile with Docker's clone rule (no namespace flags) instead
/// of its unconditional clone, and `unshare` denied with EPERM when it asks
/// for a network namespace.
fn docker_style(p: &mut Value) {
    for r in p["syscalls"].as_array_mut().unwrap() {
        r["names"].as_array_mut().unwrap().retain(|n| n != "clone" && n != "unshare");
    }
    let rules = p["syscalls"].as_array_mut().unwrap();
    rules.push(json!({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": CLONE_NS_MASK, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}));
    rules.push(json!({"names": ["unshare"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": CLONE_NEWNET, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}));
    rules.push(json!({"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
        "args": [{"index": 0, "value": CLONE_NEWNET, "valueTwo": CLONE_NEWNET, "op": "SCMP_CMP_MASKED_EQ"}]}));
}

#[test]
fn namespace_flags_are_blocked_by_argument_rules_while_fork_works() {
    // With CAP_SYS_ADMIN, podman's own profile lets `unshare -n` through.
    let script = "unshare -n true; echo n=$?; unshare -u true; echo u=$?; (echo forked); echo f=$?";
    let control = bundle("sc-ns-ctl", script, &["CAP_SYS_ADMIN"], true, |_| {});
    let (_, out) = run(&control);
    assert!(out.contains("n=0\nu=0\nforked\nf=0"), "{out}");
    let b = bundle("sc-ns", script, &["CAP_SYS_ADMIN"], true, docker_style);
    let (code, out) = run(&b);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Operation not permitted") && out.contains("n=1\nu=0\nforked\nf=0"), "{out}");
}

#[test]
fn exec_processes_get_the_containers_profile() {
    let b = bundle("sc-exec", "sleep 100", &["CAP_SYS_ADMIN"], true, docker_style);
    let out = b.with_bundle("create", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(b.nook(&["start", &b.id]).status.success());
    let ex = b.nook(&["exec", &b.id, "sh", "-c", "unshare -n true; echo n=$?; unshare -u true; echo u=$?"]);
    let out = stdout(&ex) + &stderr(&ex);
    assert!(out.contains("Operation not permitted") && out.contains("n=1") && out.contains("u=0"), "{out}");
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

#[test]
fn a_kill_process_rule_kills_the_container() {
    // mkdir itself is the container's process (a shell would fork it and
    // survive).
    let b = Bundle::new("sc-kill", &["mkdir", "/tmp/x"]);
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}]
        });
    });
    let (code, out) = run(&b);
    assert_eq!(code, 128 + libc::SIGSYS, "{out}");
}

/// What the agent saw: the containerProcessState and the syscalls it
/// answered.
struct Seen {
    state: Value,
    syscalls: Vec<i32>,
}

/// Listens on `path`, takes the listener fd and state nook sends, and
/// answers every notification with `answer` until `stop` is set.
fn agent(listener: UnixListener, answer: libc::seccomp_notif_resp, stop: Arc<AtomicBool>) -> Seen {
    let (conn, _) = listener.accept().unwrap();
    let mut buf = vec![0u8; 16384];
    let (n, fd) = nook::sys::recv_with_fd(conn.as_fd(), &mut buf).unwrap();
    let fd = fd.expect("one fd expected");
    let state: Value = serde_json::from_slice(&buf[..n]).unwrap();
    let mut syscalls = vec![];
    while !stop.load(Ordering::Relaxed) {
        let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut p, 1, 50) } <= 0 || p.revents & libc::POLLIN == 0 {
            continue;
        }
        // SAFETY: a zeroed plain-data struct the kernel fills.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: the ioctl writes one seccomp_notif.
        if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } != 0 {
            continue; // the notifying task went away
        }
        syscalls.push(req.data.nr);
        let resp = libc::seccomp_notif_resp { id: req.id, ..answer };
        // SAFETY: the ioctl reads one seccomp_notif_resp.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) };
        assert_eq!(r, 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
    }
    Seen { state, syscalls }
}

/// Runs `script` with mkdir/mkdirat notifying an agent that answers with
/// `answer`; returns the output and what the agent saw.
fn run_with_agent(name: &str, script: &str, answer: libc::seccomp_notif_resp) -> (i32, String, Seen, String) {
    let b = Bundle::new(name, &["sh", "-c", script]);
    let sock = b.dir.join("agent.sock");
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "listenerPath": sock,
            "listenerMetadata": "nook-test",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        });
    });
    let listener = UnixListener::bind(&sock).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let t = std::thread::spawn(move || agent(listener, answer, s));
    let out = b.with_bundle("run", &[]);
    stop.store(true, Ordering::Relaxed);
    let seen = t.join().unwrap();
    b.assert_clean();
    (out.status.code().unwrap_or(-1), stdout(&out) + &stderr(&out), seen, b.id.clone())
}

fn check_state(seen: &Seen, id: &str) {
    assert_eq!(seen.state["fds"], json!(["seccompFd"]), "{}", seen.state);
    assert!(seen.state["pid"].as_i64().unwrap() > 1, "{}", seen.state);
    assert_eq!(seen.state["state"]["id"], id, "{}", seen.state);
    assert_eq!(seen.state["state"]["pid"], seen.state["pid"], "{}", seen.state);
    assert_eq!(seen.state["metadata"], "nook-test", "{}", seen.state);
    assert!(!seen.syscalls.is_empty());
    assert!(seen.syscalls.iter().all(|&nr| nr == libc::SYS_mkdir as i32 || nr == libc::SYS_mkdirat as i32));
}

#[test]
fn a_notify_rule_is_answered_by_the_agent_with_an_error() {
    let answer = libc::seccomp_notif_resp { id: 0, val: 0, error: -libc::EPERM, flags: 0 };
    let (code, out, seen, id) =
        run_with_agent("sc-notify-err", "mkdir /tmp/a; echo rc=$?; test -d /tmp/a || echo absent", answer);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Operation not permitted") && out.contains("rc=1\nabsent"), "{out}");
    check_state(&seen, &id);
    assert_eq!(seen.syscalls.len(), 1);
}

#[test]
fn a_notify_rule_is_answered_by_the_agent_with_continue_or_a_value() {
    // CONTINUE: the kernel runs the syscall; the directory exists.
    const CONTINUE: u32 = 1; // SECCOMP_USER_NOTIF_FLAG_CONTINUE
    let answer = libc::seccomp_notif_resp { id: 0, val: 0, error: 0, flags: CONTINUE };
    let (code, out, seen, id) =
        run_with_agent("sc-notify-cont", "mkdir /tmp/a; echo rc=$?; test -d /tmp/a && echo present", answer);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("rc=0\npresent"), "{out}");
    check_state(&seen, &id);
    // A success value without running the syscall: mkdir "succeeds", but
    // the directory was never made.
    let answer = libc::seccomp_notif_resp { id: 0, val: 0, error: 0, flags: 0 };
    let (code, out, seen, id) =
        run_with_agent("sc-notify-val", "mkdir /tmp/a; echo rc=$?; test -d /tmp/a || echo absent", answer);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("rc=0\nabsent"), "{out}");
    check_state(&seen, &id);
}

#[test]
fn filter_flags_are_accepted_by_the_kernel_and_the_filter_still_applies() {
    // LOG, SPEC_ALLOW and TSYNC on the podman profile, plus an errno rule
    // for mkdir: the kernel takes the flags and the filter still decides.
    let b = bundle("seccomp-flags", "mkdir /tmp/d 2>&1; grep Seccomp: /proc/self/status", &[], true, |p| {
        p["flags"] = json!(["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"]);
        p["syscalls"]
            .as_array_mut()
            .unwrap()
            .insert(0, json!({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}));
    });
    let (code, out) = run(&b);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    // Seccomp: 2 is SECCOMP_MODE_FILTER.
    assert!(out.contains("Seccomp:\t2"), "{out}");
}

#[test]
fn a_profile_without_close_range_does_not_stop_nooks_own_set_up() {
    // runtime-tools' default profile (as older Docker and containerd
    // profiles) does not list close_range: denying it must not matter,
    // with or without no_new_privs, for init and for exec. fcntl is denied
    // too, so that the fallback (marking fds one by one) cannot save a
    // set-up that runs after the filter went in.
    for nnp in [false, true] {
        let b = Bundle::new("sc-closerange", &["sleep", "100"]);
        b.edit(|c| {
            c["process"]["noNewPrivileges"] = nnp.into();
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ["close_range", "fcntl"], "action": "SCMP_ACT_ERRNO"}],
            });
        });
        let out = b.with_bundle("run", &["-d"]);
        assert!(out.status.success(), "nnp={nnp}: {}", stderr(&out));
        let out = b.nook(&["exec", &b.id, "echo", "exec"]);
        assert!(out.status.success(), "nnp={nnp}: exec: {}", stderr(&out));
        assert_eq!(stdout(&out), "exec\n");
        b.nook(&["delete", "--force", &b.id]);
        b.assert_clean();
    }
}
