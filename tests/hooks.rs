//! OCI hooks: each kind runs at its point of the lifecycle, in its
//! namespaces, with the state on stdin; failures fail or warn as
//! runtime-spec 1.3 (and runc) ask.

mod common;
use common::*;
use serde_json::json;

fn hook(script: &str) -> serde_json::Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

#[test]
fn every_hook_kind_runs_in_order_with_the_state() {
    let b = Bundle::new("hooks", &["true"]);
    let logdir = b.dir.join("log");
    std::fs::create_dir_all(&logdir).unwrap();
    let log = logdir.join("hooks.log");
    let l = log.display().to_string();
    // Runtime-side hooks log the uts namespace they run in and the state's status.
    let host_side = |kind: &str| {
        hook(&format!("s=$(cat); echo \"{kind} $(readlink /proc/self/ns/uts) $(echo $s | grep -o '\"status\":\"[a-z]*\"')\" >> {l}"))
    };
    b.edit(|c| {
        c["hooks"] = json!({
            "prestart": [host_side("prestart")],
            "createRuntime": [host_side("createRuntime")],
            "createContainer": [host_side("createContainer")],
            // After pivot_root: the path and the log are the container's.
            "startContainer": [hook("echo startContainer $(hostname) >> /hooklog/hooks.log")],
            "poststart": [host_side("poststart")],
            "poststop": [host_side("poststop")]
        });
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/hooklog", "type": "bind", "source": logdir, "options": ["bind"]}));
    });
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = got.lines().collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        kinds,
        ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "{got}"
    );
    let host_uts = std::fs::read_link("/proc/self/ns/uts").unwrap().display().to_string();
    assert!(lines[1].contains(&host_uts), "createRuntime must run in the runtime's namespaces: {got}");
    assert!(!lines[2].contains(&host_uts), "createContainer must run in the container's namespaces: {got}");
    assert_eq!(lines[3], "startContainer nook");
    assert!(lines[1].ends_with("\"status\":\"creating\""), "{got}");
    assert!(lines[5].ends_with("\"status\":\"stopped\""), "{got}");
    b.assert_clean();
}

#[test]
fn a_failing_create_hook_fails_create_and_leaves_nothing() {
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let b = Bundle::new("hookfail", &["true"]);
        b.edit(|c| c["hooks"] = json!({kind: [hook("echo no-network-for-you >&2; exit 4")]}));
        let out = b.with_bundle("create", &[]);
        assert_one_line_error(&out, &format!("hooks.{kind}[0] /bin/sh: exited with status 4: no-network-for-you"));
        b.assert_clean();
    }
}

#[test]
fn a_hook_that_hangs_is_killed_at_its_timeout() {
    let b = Bundle::new("hooktimeout", &["true"]);
    b.edit(|c| c["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}));
    let t = std::time::Instant::now();
    assert_one_line_error(&b.with_bundle("create", &[]), "timed out after 1s");
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
    b.assert_clean();
}

/// runtime.md "Lifecycle" step 13: a failing poststop hook is a warning;
/// the other hooks and the delete go on.
#[test]
fn failing_poststop_hooks_only_warn() {
    let b = Bundle::new("hookwarn", &["true"]);
    let log = b.dir.join("second.log");
    let second = hook(&format!("echo ran > {}", log.display()));
    b.edit(|c| c["hooks"] = json!({"poststop": [hook("exit 2"), second]}));
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("hooks.poststop[0]"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "ran\n", "the next poststop hook must still run");
    b.assert_clean();
}

/// runtime.md "Lifecycle" step 9 (runtime-spec 1.3): a failing poststart
/// hook is an error and stops the container; `delete` then destroys it,
/// running the poststop hooks. `run` does all of it at once.
#[test]
fn a_failing_poststart_hook_fails_start_and_stops_the_container() {
    let b = Bundle::new("poststartfail", &["sleep", "100"]);
    let log = b.dir.join("poststop.log");
    b.edit(|c| {
        c["hooks"] = json!({
            "poststart": [hook("exit 3")],
            "poststop": [hook(&format!("echo poststop >> {}", log.display()))]
        })
    });
    assert!(b.with_bundle("create", &[]).status.success());
    assert_one_line_error(&b.nook(&["start", &b.id]), "hooks.poststart[0] /bin/sh: exited with status 3");
    assert_eq!(b.status(), "stopped", "start returned with the container still running");
    assert!(b.nook(&["delete", &b.id]).status.success());
    b.assert_clean();
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "poststop\n");

    assert_one_line_error(&b.with_bundle("run", &[]), "hooks.poststart[0] /bin/sh: exited with status 3");
    b.assert_clean();
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "poststop\npoststop\n");
}

/// createContainer hooks run with the container's rootfs as working
/// directory, as runc runs them (the path as the runtime's namespace names
/// it: they run before the pivot).
#[test]
fn create_container_hooks_run_in_the_rootfs() {
    let b = Bundle::new("cc-cwd", &["true"]);
    let out_file = b.dir.join("cc-cwd");
    b.edit(|c| c["hooks"] = json!({"createContainer": [hook(&format!("pwd -P > {}", out_file.display()))]}));
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rootfs = std::fs::canonicalize(b.dir.join("rootfs")).unwrap();
    assert_eq!(std::fs::read_to_string(&out_file).unwrap().trim_end(), rootfs.to_str().unwrap());
    b.assert_clean();
}

/// startContainer hooks run as runc runs them: after the container's
/// seccomp filter is in place (a syscall the filter denies fails in the
/// hook too), and with no fd of nook's to inherit, not even one nook
/// inherited itself (fd 7 here): `ls /proc/self/fd`, exec'd by the hook's
/// shell, sees 0, 1, 2 and its own directory fd (3).
#[test]
fn start_container_hooks_run_under_the_filter_with_only_stdio() {
    for nnp in [true, false] {
        let b = Bundle::new("sc-filter", &["true"]);
        let script = "mkdir /hook-dir 2> /hook-mkdir; exec /bin/ls /proc/self/fd > /hook-fds";
        b.edit(|c| {
            c["root"]["readonly"] = false.into();
            c["process"]["noNewPrivileges"] = nnp.into();
            c["hooks"] = json!({"startContainer": [hook(script)]});
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
            });
        });
        let mut c = std::process::Command::new("/bin/sh");
        c.args(["-c", "exec \"$0\" \"$@\" 7</dev/null", NOOK, "--root"]).arg(&b.root);
        c.args(["run", "--bundle"]).arg(&b.dir).arg(&b.id).stdin(std::process::Stdio::null());
        let out = output_via_files(c);
        assert!(out.status.success(), "noNewPrivileges {nnp}: {}", stderr(&out));
        let rootfs = b.dir.join("rootfs");
        assert!(!rootfs.join("hook-dir").exists(), "noNewPrivileges {nnp}: the hook ran before the filter");
        let err = std::fs::read_to_string(rootfs.join("hook-mkdir")).unwrap();
        assert!(err.contains("Operation not permitted"), "noNewPrivileges {nnp}: {err}");
        let fds = std::fs::read_to_string(rootfs.join("hook-fds")).unwrap();
        assert_eq!(fds.split_whitespace().collect::<Vec<_>>(), ["0", "1", "2", "3"], "noNewPrivileges {nnp}");
        b.assert_clean();
    }
}
