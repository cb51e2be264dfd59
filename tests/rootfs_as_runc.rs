//! The root filesystem where runc's suites found nook differing from runc
//! 1.1 on the same input: a read-only /dev, the mode of a directory a
//! tmpfs covers, a /proc or /sys that is not a directory.

mod common;
use common::*;
use serde_json::json;

fn run_ok(b: &Bundle) -> String {
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    stdout(&out)
}

fn set_dev(c: &mut serde_json::Value, dev: serde_json::Value) {
    for m in c["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/dev" {
            *m = dev.clone();
        }
    }
}

/// runc's "ro /dev mount": the tmpfs on /dev is made read-only last, after
/// /dev/pts, the devices, the symlinks and /dev/console are made in it.
#[test]
fn a_read_only_dev_tmpfs_still_gets_its_devices_and_terminal() {
    let script = "grep ' /dev ' /proc/self/mountinfo | cut -d' ' -f6; \
                  test -c /dev/null && test -L /dev/ptmx && test -c /dev/pts/ptmx && test -c /dev/console && echo made; \
                  touch /dev/x 2>/dev/null || echo read-only";
    let b = Bundle::new("devro", &["sh", "-c", script]);
    b.edit(|c| {
        set_dev(
            c,
            json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                   "options": ["nosuid", "strictatime", "mode=755", "size=65536k", "ro"]}),
        );
        c["process"]["terminal"] = true.into();
    });
    let out = run_ok(&b);
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert!(lines[0].split(',').any(|o| o == "ro"), "{out}");
    assert_eq!(&lines[1..], ["made", "read-only"], "{out}");
    b.assert_clean();
}

/// A bind mount on /dev is the caller's /dev as it is (runc's
/// needsSetupDev): read-only, nothing is made in it, and the mounts below
/// it go where it has directories for them.
#[test]
fn a_read_only_dev_bind_is_left_as_it_is() {
    let b = Bundle::new("devbind", &["sh", "-c", "ls /dev; grep -c ' /dev/pts ' /proc/self/mountinfo"]);
    let src = b.dir.join("devsrc");
    for d in ["pts", "shm", "mqueue"] {
        std::fs::create_dir_all(src.join(d)).unwrap();
    }
    // The container's own null device (masking binds it).
    let out = std::process::Command::new("mknod").arg(src.join("null")).args(["c", "1", "3"]).output().unwrap();
    assert!(out.status.success(), "mknod: {}", stderr(&out));
    b.edit(|c| set_dev(c, json!({"destination": "/dev", "type": "bind", "source": src, "options": ["rbind", "ro"]})));
    let out = run_ok(&b);
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["mqueue", "null", "pts", "shm", "1"], "{out}");
    let mut left: Vec<String> =
        std::fs::read_dir(&src).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(left, ["mqueue", "null", "pts", "shm"]);
    b.assert_clean();
}

/// A tmpfs over a directory of the image takes the directory's mode
/// (sticky and set-id bits too), even over its own `mode=`, but not its
/// owner; over a new directory its `mode=` holds (runc's mountToRootfs).
#[test]
fn a_tmpfs_keeps_the_mode_of_the_directory_it_covers() {
    use std::os::unix::fs::{chown, PermissionsExt};
    let b = Bundle::new("tmpfsmode", &["stat", "-c", "%n %a %u:%g", "/tmp", "/srv", "/home", "/fresh"]);
    let root = b.dir.join("rootfs");
    for (d, mode) in [("tmp", 0o1777), ("srv", 0o2750), ("home", 0o700)] {
        std::fs::create_dir(root.join(d)).unwrap();
        std::fs::set_permissions(root.join(d), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    chown(root.join("home"), Some(1000), Some(1000)).unwrap();
    b.edit(|c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        for (dest, opts) in
            [("/tmp", json!([])), ("/srv", json!(["mode=755"])), ("/home", json!([])), ("/fresh", json!(["mode=750"]))]
        {
            mounts.push(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": opts}));
        }
    });
    let out = run_ok(&b);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["/tmp 1777 0:0", "/srv 2750 0:0", "/home 700 0:0", "/fresh 750 0:0"]);
    b.assert_clean();
}

/// A /proc or /sys that is a symlink (to a directory, relative, dangling)
/// or a file is refused in runc's words, not followed, and nothing is
/// made where it points.
#[test]
fn a_proc_or_sys_that_is_not_a_directory_is_refused() {
    let cases = [("proc", Some("/elsewhere")), ("sys", Some("elsewhere")), ("proc", Some("/missing")), ("sys", None)];
    for (name, link) in cases {
        let b = Bundle::new("procsym", &["true"]);
        let root = b.dir.join("rootfs");
        std::fs::create_dir(root.join("elsewhere")).unwrap();
        match link {
            Some(target) => std::os::unix::fs::symlink(target, root.join(name)).unwrap(),
            None => std::fs::write(root.join(name), "").unwrap(),
        }
        let fs = if name == "proc" { "proc" } else { "sysfs" };
        let out = b.with_bundle("run", &[]);
        assert_one_line_error(&out, &format!("filesystem \"{fs}\" must be mounted on ordinary directory"));
        assert!(std::fs::read_dir(root.join("elsewhere")).unwrap().next().is_none(), "{name} -> {link:?}: followed");
        assert!(!root.join("missing").exists(), "{name} -> {link:?}: made the target");
        b.assert_clean();
    }
}
