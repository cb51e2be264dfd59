//! `process.apparmorProfile` for real: the host has no LSM enabled, so these
//! run in the test VM, whose kernel has AppArmor (enabled once securityfs is
//! mounted, which the harness's /init does) and which sees the host's
//! apparmor_parser (`scripts/deps.sh vm` installs it). Ignored on the host;
//! `integration/vm/cargo-test-in-vm --test vm_lsm -- --include-ignored`,
//! part of `make test-vm`.

mod common;
use common::*;
use std::process::Command;

const PROFILE: &str = "nook-test";

/// The test profile: everything allowed but reading /etc/shadow and
/// writing /tmp/denied. Loaded (or replaced) once per test binary.
fn load_profile() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let text = format!(
            "profile {PROFILE} flags=(attach_disconnected,mediate_deleted) {{\n  file,\n  capability,\n  network,\n  \
             mount,\n  umount,\n  pivot_root,\n  signal,\n  ptrace,\n  unix,\n  deny /etc/shadow r,\n  \
             deny /tmp/denied w,\n}}\n"
        );
        let path = std::env::temp_dir().join("nook-test.apparmor");
        std::fs::write(&path, text).unwrap();
        let out = Command::new("apparmor_parser").arg("-r").arg(&path).output().expect("apparmor_parser");
        assert!(out.status.success(), "apparmor_parser: {}", String::from_utf8_lossy(&out.stderr));
    });
}

/// What the program reports: its AppArmor label, then whether each access
/// worked.
const PROBE: &str = "cat /proc/self/attr/current; \
    cat /etc/shadow >/dev/null 2>&1 && echo shadow-read; \
    echo x 2>/dev/null >/tmp/denied && echo denied-written; \
    echo x >/tmp/allowed && echo allowed-written";

/// A bundle with a writable root holding /etc/shadow and /tmp, running
/// `args` with `profile` (none if `None`).
fn bundle(name: &str, args: &[&str], profile: Option<&str>) -> Bundle {
    load_profile();
    let b = Bundle::new(name, args);
    let root = b.dir.join("rootfs");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    std::fs::write(root.join("etc/shadow"), "root:*:1::::::\n").unwrap();
    b.edit(|c| {
        c["root"]["readonly"] = false.into();
        if let Some(p) = profile {
            c["process"]["apparmorProfile"] = p.into();
        }
    });
    b
}

fn run(b: &Bundle) -> String {
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    stdout(&out)
}

const CONFINED: &str = "nook-test (enforce)\nallowed-written\n";
const UNCONFINED: &str = "unconfined\nshadow-read\ndenied-written\nallowed-written\n";

#[test]
#[ignore = "needs AppArmor: runs in the test VM"]
fn the_profile_confines_the_containers_program() {
    // runc's default spec, as `nook spec` writes it, has noNewPrivileges:
    // the transition from unconfined is still allowed.
    let b = bundle("aa-run", &["sh", "-c", PROBE], Some(PROFILE));
    assert_eq!(run(&b), CONFINED);
    // Without a profile nothing is applied (the caller chooses defaults).
    let b = bundle("aa-none", &["sh", "-c", PROBE], None);
    assert_eq!(run(&b), UNCONFINED);
}

#[test]
#[ignore = "needs AppArmor: runs in the test VM"]
fn unconfined_is_a_profile_like_any_other() {
    let b = bundle("aa-unconfined", &["sh", "-c", PROBE], Some("unconfined"));
    assert_eq!(run(&b), UNCONFINED);
}

#[test]
#[ignore = "needs AppArmor: runs in the test VM"]
fn exec_applies_the_process_profile() {
    let b = bundle("aa-exec", &["sleep", "1000"], Some(PROFILE));
    let out = b.with_bundle("run", &["--detach"]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let pj = b.dir.join("process.json");
    let process = serde_json::json!({
        "args": ["sh", "-c", PROBE], "cwd": "/", "user": {"uid": 0, "gid": 0},
        "env": ["PATH=/bin"], "apparmorProfile": PROFILE,
    });
    std::fs::write(&pj, process.to_string()).unwrap();
    let exec = |args: &[&str]| {
        let out = b.nook(args);
        assert!(out.status.success(), "exec {args:?}: {}", stderr(&out));
        stdout(&out)
    };
    // As runc: a plain exec takes the container's process settings, profile
    // included; --apparmor replaces it; --process is taken as it is.
    assert_eq!(exec(&["exec", &b.id, "sh", "-c", PROBE]), CONFINED);
    assert_eq!(exec(&["exec", "--apparmor", "unconfined", &b.id, "sh", "-c", PROBE]), UNCONFINED);
    assert_eq!(exec(&["exec", "--process", pj.to_str().unwrap(), &b.id]), CONFINED);
    // A profile that is not loaded: one line, and the container runs on.
    let out = b.nook(&["exec", "--apparmor", "nook-no-such-profile", &b.id, "true"]);
    assert_one_line_error(
        &out,
        "process.apparmorProfile: \"nook-no-such-profile\": no such AppArmor profile is loaded",
    );
    assert_eq!(b.status(), "running");
}

#[test]
#[ignore = "needs AppArmor: runs in the test VM"]
fn a_profile_that_is_not_loaded_fails_create_cleanly() {
    let b = bundle("aa-missing", &["true"], Some("nook-no-such-profile"));
    let out = b.with_bundle("run", &[]);
    assert_one_line_error(
        &out,
        "process.apparmorProfile: \"nook-no-such-profile\": no such AppArmor profile is loaded",
    );
    b.assert_clean();
}

/// Gives every file of the rootfs to the mapped root (lchown, recursively).
fn chown_tree(p: &std::path::Path, id: u32) {
    std::os::unix::fs::lchown(p, Some(id), Some(id)).unwrap();
    if std::fs::symlink_metadata(p).unwrap().is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path(), id);
        }
    }
}

#[test]
#[ignore = "needs AppArmor: runs in the test VM"]
fn a_container_in_a_user_namespace_is_confined_too() {
    let b = bundle("aa-userns", &["sh", "-c", PROBE], Some(PROFILE));
    let maps = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.edit(|c| {
        c["linux"]["namespaces"].as_array_mut().unwrap().push(serde_json::json!({"type": "user"}));
        c["linux"]["uidMappings"] = maps.clone();
        c["linux"]["gidMappings"] = maps;
    });
    chown_tree(&b.dir.join("rootfs"), 100000);
    assert_eq!(run(&b), CONFINED);
}
