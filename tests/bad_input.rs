//! Bad input: each case fails with one line naming the field, file or id,
//! exits non-zero, and leaves nothing behind.

mod common;
use common::*;
use serde_json::json;

#[test]
fn missing_config_json_names_the_file() {
    let b = Bundle::new("noconfig", &["true"]);
    std::fs::remove_file(b.config()).unwrap();
    assert_one_line_error(&b.with_bundle("create", &[]), "config.json: No such file");
    b.assert_clean();
}

#[test]
fn malformed_json_says_where() {
    let b = Bundle::new("badjson", &["true"]);
    std::fs::write(b.config(), "{\"ociVersion\": \"1.0.2\", \"process\": ").unwrap();
    assert_one_line_error(&b.with_bundle("run", &[]), "line 1");
    b.assert_clean();
}

#[test]
fn a_field_of_the_wrong_type_is_named() {
    let b = Bundle::new("badtype", &["true"]);
    b.edit(|c| c["process"]["user"]["uid"] = "root".into());
    assert_one_line_error(&b.with_bundle("create", &[]), "process.user.uid");
    b.assert_clean();
}

#[test]
fn each_invalid_field_is_named() {
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("root.path", Box::new(|c| c["root"]["path"] = "no-such-rootfs".into())),
        ("process.args", Box::new(|c| c["process"]["args"] = json!([]))),
        ("process.cwd", Box::new(|c| c["process"]["cwd"] = "relative/dir".into())),
        ("process.env[0]", Box::new(|c| c["process"]["env"] = json!(["NOEQUALS"]))),
        ("ociVersion", Box::new(|c| c["ociVersion"] = "2.0.0".into())),
        ("hostname", Box::new(|c| c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "uts"))),
        (
            "linux.namespaces[6]",
            Box::new(|c| c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "pid"}))),
        ),
        (
            "process.capabilities.bounding",
            Box::new(|c| c["process"]["capabilities"]["bounding"] = json!(["CAP_NOT_A_CAP"])),
        ),
        ("mounts[1]", Box::new(|c| c["mounts"][1]["options"] = json!(["nosuid", "bogus=1"]))),
        ("linux.cgroupsPath", Box::new(|c| c["linux"]["cgroupsPath"] = "/a/../../etc".into())),
        (
            "process.rlimits",
            Box::new(|c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}])),
        ),
    ];
    for (field, edit) in cases {
        let b = Bundle::new("field", &["true"]);
        b.edit(|c| edit(c));
        assert_one_line_error(&b.with_bundle("run", &[]), field);
        b.assert_clean();
    }
}

#[test]
fn a_missing_program_fails_create_and_leaves_nothing() {
    let b = Bundle::new("noprog", &["no-such-program"]);
    assert_one_line_error(&b.with_bundle("create", &[]), "executable file not found in $PATH");
    b.assert_clean();
}

/// A program named by path fails as runc's (Go's exec.LookPath) does:
/// the stat error when it is missing, "permission denied" when it is a
/// directory or not executable. podman (and docker) read these words to
/// exit 127 or 126.
#[test]
fn a_program_by_path_fails_with_runcs_words() {
    let cases = [
        ("/bin/nonesuch", "exec: \"/bin/nonesuch\": stat /bin/nonesuch: no such file or directory"),
        ("/bin/sh/x", "exec: \"/bin/sh/x\": stat /bin/sh/x: not a directory"),
        ("/bin", "exec: \"/bin\": permission denied"),
        ("/etc/hostname", "exec: \"/etc/hostname\": permission denied"),
    ];
    for (prog, words) in cases {
        let b = Bundle::new("byprog", &[prog]);
        std::fs::create_dir_all(b.dir.join("rootfs/etc")).unwrap();
        std::fs::write(b.dir.join("rootfs/etc/hostname"), "x\n").unwrap();
        assert_one_line_error(&b.with_bundle("create", &[]), words);
        b.assert_clean();
    }
}

#[test]
fn unknown_ids_are_named() {
    let b = Bundle::new("unknown", &["true"]);
    for verb in [&["state"][..], &["start"], &["kill"], &["delete"], &["kill", "--all"]] {
        let args: Vec<&str> = verb.iter().copied().chain(["nope-no-such-id"]).collect();
        assert_one_line_error(&b.nook(&args), "\"nope-no-such-id\" does not exist");
    }
}

#[test]
fn invalid_ids_are_refused() {
    let b = Bundle::new("badid", &["true"]);
    for id in ["../escape", "a/b", ".", "with space"] {
        let out = b.nook(&["create", "--bundle", b.dir.to_str().unwrap(), id]);
        assert_one_line_error(&out, "is invalid");
        assert_one_line_error(&b.nook(&["state", id]), "is invalid");
    }
    assert!(!b.dir.join("escape").exists());
}

#[test]
fn an_existing_id_is_refused_and_the_first_container_is_untouched() {
    let b = Bundle::new("dup", &["sleep", "100"]);
    assert!(b.with_bundle("create", &[]).status.success());
    let before = b.state();
    assert_one_line_error(&b.with_bundle("create", &[]), "already exists");
    let after = b.state();
    assert_eq!(before["pid"], after["pid"]);
    assert_eq!(after["status"], "created");
}

#[test]
fn starting_a_stopped_container_is_refused() {
    let b = Bundle::new("startstopped", &["true"]);
    assert!(b.with_bundle("run", &["--keep"]).status.success());
    assert_one_line_error(&b.nook(&["start", &b.id]), "stopped");
}

#[test]
fn bad_signals_are_named() {
    let b = Bundle::new("badsig", &["sleep", "100"]);
    assert!(b.with_bundle("create", &[]).status.success());
    for sig in ["SIGNOPE", "65", "99", "SIGRTMIN+99"] {
        assert_one_line_error(&b.nook(&["kill", &b.id, sig]), "invalid signal");
    }
    assert_eq!(b.status(), "created");
}

#[test]
fn bad_flags_are_one_line_and_exit_1() {
    let b = Bundle::new("badflag", &["true"]);
    for args in [&["create", "--no-such-flag", "x"][..], &["kill"], &["list", "--format", "yaml"]] {
        let out = b.nook(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_one_line_error(&out, "nook");
    }
}

#[test]
fn preserve_fds_beyond_those_passed_is_refused() {
    let b = Bundle::new("fds", &["true"]);
    assert_one_line_error(&b.with_bundle("run", &["--preserve-fds", "40"]), "is not open");
    b.assert_clean();
}

#[test]
fn a_huge_config_is_refused_before_parsing() {
    let b = Bundle::new("huge", &["true"]);
    let f = std::fs::File::options().append(true).open(b.config()).unwrap();
    f.set_len(17 << 20).unwrap();
    assert_one_line_error(&b.with_bundle("create", &[]), "larger than");
    b.assert_clean();
}

/// runc's test: securityfs shows AppArmor and the module says it is on.
fn apparmor_enabled() -> bool {
    std::path::Path::new("/sys/kernel/security/apparmor").exists()
        && std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.starts_with('Y'))
}

#[test]
fn lsm_settings_the_host_cannot_honour_are_named() {
    let selinux = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    // Where AppArmor is on, a profile that is not loaded is the error
    // (tests/vm_lsm.rs covers the rest).
    let apparmor_why =
        if apparmor_enabled() { "no such AppArmor profile is loaded" } else { "AppArmor is not enabled on this host" };
    // Where SELinux is on, a label no policy knows is (tests/vm_selinux.rs).
    let (label_why, mount_why) = match selinux {
        true => ("not a valid SELinux context here", "(with context= from linux.mountLabel)"),
        false => ("SELinux is not enabled on this host", "SELinux is not enabled on this host"),
    };
    let cases = [
        ("process.apparmorProfile", "nook-test-not-loaded", apparmor_why),
        ("process.selinuxLabel", "nook_u:nook_r:nook_no_such_t:s0", label_why),
        ("linux.mountLabel", "nook_u:object_r:nook_no_such_t:s0", mount_why),
    ];
    for (field, value, why) in cases {
        let b = Bundle::new("lsm", &["true"]);
        b.edit(|c| match field {
            "process.apparmorProfile" => c["process"]["apparmorProfile"] = value.into(),
            "process.selinuxLabel" => c["process"]["selinuxLabel"] = value.into(),
            _ => c["linux"]["mountLabel"] = value.into(),
        });
        let out = b.with_bundle("run", &[]);
        assert_one_line_error(&out, field);
        assert_one_line_error(&out, why);
        b.assert_clean();
    }
}

/// The host has no systemd as PID 1 (the systemd driver itself is proven
/// in the test VM, tests/vm_systemd.rs).
#[test]
fn exec_with_an_lsm_setting_the_host_cannot_honour_is_named() {
    if apparmor_enabled() {
        // tests/vm_lsm.rs covers exec with AppArmor on.
        return;
    }
    let b = Bundle::new("lsm-exec", &["sleep", "1000"]);
    let out = b.with_bundle("run", &["--detach"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pj = b.dir.join("process.json");
    std::fs::write(&pj, r#"{"args":["true"],"cwd":"/","user":{"uid":0,"gid":0},"apparmorProfile":"unconfined"}"#)
        .unwrap();
    let pj = pj.to_str().unwrap();
    for a in [vec!["exec", "--process", pj, &b.id], vec!["exec", "--apparmor", "unconfined", &b.id, "true"]] {
        assert_one_line_error(&b.nook(&a), "process.apparmorProfile: AppArmor is not enabled on this host");
    }
    if !std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        let out = b.nook(&["exec", "--process-label", "system_u:system_r:container_t:s0", &b.id, "true"]);
        assert_one_line_error(&out, "process.selinuxLabel: SELinux is not enabled on this host");
    }
    // The container is untouched.
    assert_eq!(b.status(), "running");
}

#[test]
fn systemd_cgroup_without_systemd_is_one_clear_line() {
    assert!(!std::path::Path::new("/run/systemd/system").exists(), "this host test expects no systemd running");
    let b = Bundle::new("systemd", &["true"]);
    b.edit(|c| c["linux"]["cgroupsPath"] = "system.slice:nook:x".into());
    let out = b.nook(&["--systemd-cgroup", "run", "--bundle", b.dir.to_str().unwrap(), &b.id]);
    assert_one_line_error(&out, "systemd cgroup driver: systemd is not running");
    b.assert_clean();
}

#[test]
fn intel_rdt_without_resctrl_is_one_clear_line() {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let resctrl = mounts.lines().any(|l| l.split_once(" - ").is_some_and(|(_, fs)| fs.starts_with("resctrl ")));
    let b = Bundle::new("rdt", &["true"]);
    b.edit(|c| c["linux"]["intelRdt"] = serde_json::json!({"closID": "nook", "l3CacheSchema": "L3:0=f"}));
    let expect = if resctrl {
        "linux.intelRdt: not supported by this version of nook yet"
    } else {
        "linux.intelRdt: resctrl is not mounted on this host (Intel RDT / AMD QoS unavailable)"
    };
    assert_one_line_error(&b.with_bundle("run", &[]), expect);
    b.assert_clean();
}

/// A capability nook does not hold itself (here dropped from its bounding
/// set by `setpriv`, as CAP_SYS_RESOURCE is missing on some hosts) cannot
/// be granted: the error names it instead of the kernel's bare EPERM.
#[test]
fn a_capability_nook_lacks_is_named() {
    let b = Bundle::new("capbeyond", &["true"]);
    b.edit(|c| {
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set].as_array_mut().unwrap().push(json!("CAP_NET_RAW"));
        }
    });
    let bundle = b.dir.to_str().unwrap();
    let root = b.root.to_str().unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--bounding-set", "-net_raw", "--", NOOK, "--root", root, "run", "--bundle", bundle, &b.id])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_one_line_error(&out, "process.capabilities: effective: CAP_NET_RAW cannot be granted");
    b.assert_clean();
}
