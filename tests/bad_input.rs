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
    for sig in ["SIGNOPE", "0", "99", "SIGRTMIN+99"] {
        assert_one_line_error(&b.nook(&["kill", &b.id, sig]), "invalid signal");
    }
    assert_eq!(b.status(), "created");
}

#[test]
fn bad_flags_are_one_line_and_exit_1() {
    let b = Bundle::new("badflag", &["true"]);
    for args in [&["create", "--no-such-flag", "x"][..], &["kill"], &["list", "--format", "yaml"], &["bogus-command"]] {
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

#[test]
fn lsm_settings_the_host_cannot_honour_are_named() {
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.starts_with('Y'));
    let selinux = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    let cases = [
        ("process.apparmorProfile", apparmor, "AppArmor is not enabled on this host"),
        ("process.selinuxLabel", selinux, "SELinux is not enabled on this host"),
        ("linux.mountLabel", selinux, "SELinux is not enabled on this host"),
    ];
    for (field, enabled, why) in cases {
        let b = Bundle::new("lsm", &["true"]);
        b.edit(|c| match field {
            "process.apparmorProfile" => c["process"]["apparmorProfile"] = "nook-test".into(),
            "process.selinuxLabel" => c["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0".into(),
            _ => c["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0".into(),
        });
        let expect = if enabled { "not supported by this version of nook yet" } else { why };
        assert_one_line_error(&b.with_bundle("run", &[]), &format!("{field}: {expect}"));
        b.assert_clean();
    }
}

/// The host has no systemd as PID 1 (the systemd driver itself is proven
/// in the test VM, tests/vm_systemd.rs).
#[test]
fn systemd_cgroup_without_systemd_is_one_clear_line() {
    assert!(!std::path::Path::new("/run/systemd/system").exists(), "this host test expects no systemd running");
    let b = Bundle::new("systemd", &["true"]);
    b.edit(|c| c["linux"]["cgroupsPath"] = "system.slice:nook:x".into());
    let out = b.nook(&["--systemd-cgroup", "run", "--bundle", b.dir.to_str().unwrap(), &b.id]);
    assert_one_line_error(&out, "systemd cgroup driver: systemd is not running");
    b.assert_clean();
}
