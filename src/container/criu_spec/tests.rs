use super::*;
use serde_json::json;

fn spec(v: serde_json::Value) -> Spec {
    let mut base = json!({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}}});
    if let (Some(b), Some(o)) = (base.as_object_mut(), v.as_object()) {
        b.extend(o.clone());
    }
    serde_json::from_value(base).unwrap()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nook-criu-spec-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn pairs(v: &[ExtMountMap]) -> Vec<(&str, &str)> {
    v.iter().map(|m| (m.key.as_str(), m.val.as_str())).collect()
}

#[test]
fn the_flags_are_checked_as_runc_checks_them() {
    let o = |mode: &str, ns: &[&str]| CriuOptions {
        manage_cgroups_mode: Some(mode.into()),
        empty_ns: ns.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    assert_eq!(o("", &[]).cg_mode().unwrap(), CriuCgMode::Default);
    assert_eq!(o("soft", &[]).cg_mode().unwrap(), CriuCgMode::Soft);
    assert_eq!(o("strict", &[]).cg_mode().unwrap(), CriuCgMode::Strict);
    assert_eq!(o("ignore", &[]).cg_mode().unwrap(), CriuCgMode::Ignore);
    let e = o("hard", &[]).check().unwrap_err().to_string();
    assert_eq!(e, "--manage-cgroups-mode \"hard\": not soft, full, strict or ignore");
    // The network namespace is always left empty (runc manages no network).
    assert_eq!(o("", &[]).empty_ns_mask().unwrap(), libc::CLONE_NEWNET as u32);
    assert_eq!(o("", &["network"]).empty_ns_mask().unwrap(), libc::CLONE_NEWNET as u32);
    let e = o("", &["ipc"]).check().unwrap_err().to_string();
    assert_eq!(e, "--empty-ns \"ipc\": only \"network\" is supported");
}

#[test]
fn criu_reads_nooks_config_file_unless_an_annotation_names_another_or_none() {
    assert_eq!(config_file(&spec(json!({}))).as_deref(), Some("/etc/criu/nook.conf"));
    let s = spec(json!({"annotations": {"org.criu.config": "/etc/x.conf"}}));
    assert_eq!(config_file(&s).as_deref(), Some("/etc/x.conf"));
    assert_eq!(config_file(&spec(json!({"annotations": {"org.criu.config": ""}}))), None);
}

#[test]
fn binds_masked_files_and_devices_are_external_mounts_keyed_by_where_criu_finds_them() {
    let dir = tmpdir("ext");
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("real")).unwrap();
    std::os::unix::fs::symlink("/real", rootfs.join("link")).unwrap();
    let s = spec(json!({
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/data/./x/", "type": "bind", "source": "/srv/x"},
            {"destination": "/link/y", "source": "vol", "options": ["rbind", "ro"]},
        ],
        "linux": {
            // A file and a directory of this very process's root (/).
            "maskedPaths": ["/proc/cmdline", "/proc/sys", "/nonexistent"],
            "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}],
        }
    }));
    let dump = dump_ext_mounts(&s, &rootfs, std::process::id() as i32);
    let mut want = vec![("/data/x", "/data/x"), ("/real/y", "/real/y"), ("/proc/cmdline", "/dev/null")];
    let devs = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/fuse"];
    want.extend(devs.iter().map(|d| (*d, *d)));
    assert_eq!(pairs(&dump), want);

    let restore = restore_ext_mounts(&s, &rootfs, Path::new("/bundle"));
    let mut want = vec![("/data/x", "/srv/x"), ("/real/y", "/bundle/vol"), ("/dev/null", "/dev/null")];
    want.extend(devs.iter().map(|d| (*d, *d)));
    assert_eq!(pairs(&restore), want);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn namespaces_by_path_are_handed_over_or_joined_and_a_cgroup_one_is_refused() {
    let s = spec(json!({"linux": {"namespaces": [
        {"type": "pid"},
        {"type": "network", "path": "/proc/self/ns/net"},
        {"type": "ipc", "path": "/proc/self/ns/ipc"},
        {"type": "mount"},
    ]}}));
    let (join, fds) = restore_namespaces(&s).unwrap();
    assert_eq!(join.len(), 1);
    assert_eq!((join[0].ns.as_str(), join[0].ns_file.as_str()), ("ipc", "/proc/self/ns/ipc"));
    assert_eq!(fds.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["extRootNetNS"]);
    use std::os::unix::fs::MetadataExt;
    let ino = std::fs::metadata("/proc/self/ns/net").unwrap().ino();
    assert_eq!(dump_externals(&s).unwrap(), [format!("net[{ino}]:extRootNetNS")]);

    let s = spec(json!({"linux": {"namespaces": [{"type": "cgroup", "path": "/proc/self/ns/cgroup"}]}}));
    let e = restore_namespaces(&s).unwrap_err().to_string();
    assert!(e.contains("cgroup namespace given by path"), "{e}");
    let s = spec(json!({"linux": {"namespaces": [{"type": "network", "path": "/nonexistent/ns"}]}}));
    let e = restore_namespaces(&s).unwrap_err().to_string();
    assert!(e.starts_with("linux.namespaces: the net namespace /nonexistent/ns: "), "{e}");
}

#[test]
fn mount_points_are_made_in_the_rootfs_or_in_the_bind_source_that_holds_them() {
    let dir = tmpdir("mp");
    let rootfs = dir.join("rootfs");
    let vol = dir.join("vol");
    std::fs::create_dir_all(&rootfs).unwrap();
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(dir.join("hosts"), "").unwrap();
    let s = spec(json!({"mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts"},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"},
        {"destination": "/etc/hosts", "type": "bind", "source": "hosts", "options": ["rbind"]},
        {"destination": "/data", "type": "bind", "source": vol, "options": ["rbind"]},
        {"destination": "/data/cache", "type": "tmpfs", "source": "tmpfs"},
    ]}));
    prepare_mountpoints(&s, &rootfs, &dir).unwrap();
    assert!(rootfs.join("proc").is_dir());
    assert!(rootfs.join("dev").is_dir());
    assert!(!rootfs.join("dev/pts").exists(), "inside a tmpfs: CRIU restores it");
    assert!(!rootfs.join("sys").exists(), "a cgroup mount point comes with /sys");
    assert!(rootfs.join("etc/hosts").is_file(), "a file bind gets a file");
    assert!(rootfs.join("data").is_dir());
    assert!(vol.join("cache").is_dir(), "made in the bind's source");
    assert!(!rootfs.join("data/cache").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_first_error_of_crius_log_is_quoted_without_its_timestamp() {
    let dir = tmpdir("log");
    let log = "(00.000100) Version: 3.17.1\n(00.001000) Error (criu/mount.c:12): mnt: No mapping for 98:/x\n\
               (00.002000) Error (criu/cr-dump.c:2): Dumping FAILED.\n";
    std::fs::write(dir.join("dump.log"), log).unwrap();
    assert_eq!(log_error(&dir, "dump.log").as_deref(), Some("Error (criu/mount.c:12): mnt: No mapping for 98:/x"));
    assert_eq!(log_error(&dir, "missing.log"), None);
    std::fs::remove_dir_all(&dir).unwrap();
}
