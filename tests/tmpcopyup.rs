//! The `tmpcopyup` mount option: a tmpfs over a rootfs directory starts
//! with a copy of its contents (files, directories, symlinks as symlinks,
//! modes, owners, times); the bundle's rootfs is left as it was.

mod common;
use common::*;
use serde_json::json;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

/// rootfs/data with a file, a subdirectory, and symlinks (one pointing out
/// of the rootfs, which must be copied, never followed).
fn populate(b: &Bundle) {
    let data = b.dir.join("rootfs/data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("a"), "hello\n").unwrap();
    std::fs::write(data.join("sub/b"), "deep\n").unwrap();
    std::fs::set_permissions(data.join("a"), std::fs::Permissions::from_mode(0o604)).unwrap();
    std::fs::set_permissions(data.join("sub"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::chown(data.join("a"), Some(1000), Some(1001)).unwrap();
    std::os::unix::fs::symlink("sub/b", data.join("rel")).unwrap();
    std::os::unix::fs::symlink("/", data.join("host-root")).unwrap();
    let t = std::fs::FileTimes::new().set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000));
    std::fs::File::options().write(true).open(data.join("a")).unwrap().set_times(t).unwrap();
}

fn tmpfs(options: &[&str]) -> serde_json::Value {
    json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": options})
}

#[test]
fn tmpcopyup_copies_the_directory_into_the_tmpfs() {
    let script = "cat /data/a /data/sub/b /data/rel; readlink /data/host-root; \
                  stat -c '%a %u:%g %Y' /data/a; stat -c '%a' /data/sub; ls /data/host-root/ | wc -l; \
                  echo changed > /data/sub/b && cat /data/sub/b && touch /data/new && \
                  grep -c ' /data .* tmpfs ' /proc/self/mountinfo";
    let b = Bundle::new("copyup", &["sh", "-c", script]);
    populate(&b);
    b.edit(|c| c["mounts"].as_array_mut().unwrap().push(tmpfs(&["tmpcopyup", "nosuid", "mode=755"])));
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    let root_entries = std::fs::read_dir(b.dir.join("rootfs")).unwrap().count().to_string();
    let want = [
        "hello",
        "deep",
        "deep",
        "/",
        "604 1000:1001 1000000",
        "750",
        // host-root resolves to the container's own root, not the host's
        // (the link was copied, not followed).
        &root_entries,
        "changed",
        "1",
    ];
    assert_eq!(lines, want, "{}", stderr(&out));
    // The bundle's rootfs is untouched.
    let data = b.dir.join("rootfs/data");
    assert_eq!(std::fs::read_to_string(data.join("a")).unwrap(), "hello\n");
    assert_eq!(std::fs::read_to_string(data.join("sub/b")).unwrap(), "deep\n");
    assert!(!data.join("new").exists());
    assert_eq!(std::fs::metadata(data.join("a")).unwrap().uid(), 1000);
    b.assert_clean();
}

#[test]
fn without_tmpcopyup_the_tmpfs_is_empty_and_ro_applies_after_the_copy() {
    let b = Bundle::new("nocopyup", &["sh", "-c", "ls -A /data | wc -l"]);
    populate(&b);
    b.edit(|c| c["mounts"].as_array_mut().unwrap().push(tmpfs(&["nosuid"])));
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "0");

    // ro with tmpcopyup: filled, then read-only.
    let r = Bundle::new("copyup-ro", &["sh", "-c", "cat /data/a; touch /data/x 2>/dev/null || echo read-only"]);
    populate(&r);
    r.edit(|c| c["mounts"].as_array_mut().unwrap().push(tmpfs(&["tmpcopyup", "ro"])));
    let out = r.with_bundle("run", &[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    assert_eq!(stdout(&out), "hello\nread-only\n");
    b.assert_clean();
    r.assert_clean();
}

#[test]
fn tmpcopyup_on_other_mounts_or_a_file_is_refused_by_mount() {
    let b = Bundle::new("copyup-bad", &["true"]);
    populate(&b);
    let src = b.dir.join("rootfs/data/sub");
    b.edit(|c| {
        let m = json!({"destination": "/data", "type": "bind", "source": src, "options": ["rbind", "tmpcopyup"]});
        c["mounts"].as_array_mut().unwrap().push(m);
    });
    assert_one_line_error(&b.with_bundle("run", &[]), "tmpcopyup is for tmpfs mounts, not bind");
    b.assert_clean();
    b.edit(|c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.pop();
        mounts.push(json!({"destination": "/data/a", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}));
    });
    assert_one_line_error(&b.with_bundle("run", &[]), "tmpcopyup: Not a directory");
    b.assert_clean();
}
