//! User namespaces (new and joined by path), idmapped mounts, sysctls and
//! time namespaces, run as root on the host.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;

const HOST_ID: u32 = 100000;

/// Gives every file of the rootfs to the mapped root (lchown, recursively).
fn chown_tree(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
    if std::fs::symlink_metadata(p).unwrap().is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path(), uid, gid);
        }
    }
}

fn maps() -> Value {
    json!([{"containerID": 0, "hostID": HOST_ID, "size": 65536}])
}

/// A bundle with a new user namespace mapping 0 → 100000 (65536 ids), its
/// rootfs owned by the mapped root. `rootless` starts from `nook spec
/// --rootless`'s config (no network namespace, /sys bound), else from the
/// default one plus a user namespace.
fn userns_bundle(name: &str, args: &[&str], rootless: bool) -> Bundle {
    let b = Bundle::new(name, args);
    if rootless {
        std::fs::remove_file(b.config()).unwrap();
        let out = b.nook(&["spec", "--rootless", "--bundle", b.dir.to_str().unwrap()]);
        assert!(out.status.success(), "spec --rootless: {}", stderr(&out));
        b.edit(|c| {
            c["process"]["terminal"] = false.into();
            c["process"]["args"] = args.iter().map(|s| Value::from(*s)).collect();
        });
    } else {
        b.edit(|c| {
            c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
        });
    }
    b.edit(|c| {
        c["linux"]["uidMappings"] = maps();
        c["linux"]["gidMappings"] = maps();
    });
    chown_tree(&b.dir.join("rootfs"), HOST_ID, HOST_ID);
    b
}

#[test]
fn a_new_user_namespace_maps_root_to_the_host_ids() {
    for rootless in [true, false] {
        let script = "id -u; id -g; cat /proc/self/uid_map; cat /proc/self/gid_map; \
                      stat -c '%u %g %t:%T' /dev/null; echo hi > /dev/null; touch /tmp-file && stat -c %u /tmp-file";
        let b = userns_bundle("userns", &["sh", "-c", script], rootless);
        b.edit(|c| c["root"]["readonly"] = false.into());
        let out = b.with_bundle("run", &[]);
        assert!(out.status.success(), "run (rootless spec: {rootless}): {}", stderr(&out));
        let s = stdout(&out);
        let lines: Vec<Vec<&str>> = s.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(lines[0], ["0"], "{s}");
        assert_eq!(lines[1], ["0"], "{s}");
        assert_eq!(lines[2], ["0", "100000", "65536"], "{s}");
        assert_eq!(lines[3], ["0", "100000", "65536"], "{s}");
        // The host's null device, bound (owned by the host's root, which
        // the namespace does not map).
        assert_eq!(lines[4], ["65534", "65534", "1:3"], "{s}");
        assert_eq!(lines[5], ["0"], "{s}");
        // On the host, the file belongs to the mapped root.
        let md = std::fs::metadata(b.dir.join("rootfs/tmp-file")).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::uid(&md), HOST_ID);
        b.assert_clean();
    }
}

#[test]
fn init_and_exec_run_as_the_mapped_host_ids() {
    let b = userns_bundle("userns-exec", &["sleep", "100"], true);
    let out = b.with_bundle("run", &["--detach"]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let pid = b.state()["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(uid.split_whitespace().collect::<Vec<_>>(), ["Uid:", "100000", "100000", "100000", "100000"]);
    let out = b.nook(&["exec", &b.id, "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    assert!(out.status.success(), "exec: {}", stderr(&out));
    assert_eq!(stdout(&out).split_whitespace().collect::<Vec<_>>(), ["0", "0", "100000", "65536"]);
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

#[test]
fn a_user_namespace_can_be_joined_by_path() {
    let a = userns_bundle("userns-owner", &["sleep", "100"], true);
    let out = a.with_bundle("run", &["--detach"]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let pid = a.state()["pid"].as_i64().unwrap();

    let b = Bundle::new("userns-joiner", &["sh", "-c", "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user"]);
    chown_tree(&b.dir.join("rootfs"), HOST_ID, HOST_ID);
    b.edit(|c| {
        c["linux"]["namespaces"] = json!([
            {"type": "user", "path": format!("/proc/{pid}/ns/user")},
            {"type": "pid", "path": format!("/proc/{pid}/ns/pid")},
            {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}, {"type": "cgroup"}
        ]);
        c["linux"].as_object_mut().unwrap().remove("resources");
    });
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let want = std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap();
    assert_eq!(
        stdout(&out).split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "100000", "65536", want.to_str().unwrap()]
    );
    b.assert_clean();
    assert!(a.nook(&["delete", "--force", &a.id]).status.success());
    a.assert_clean();
}

/// A joined user namespace owns the container's new pid namespace (init
/// forks once more, as in runc): /proc mounts, init is pid 1, and its exit
/// code and pid reach nook.
#[test]
fn a_joined_user_namespace_owns_a_new_pid_namespace() {
    let a = userns_bundle("userns-pid-owner", &["sleep", "100"], true);
    let out = a.with_bundle("run", &["--detach"]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let apid = a.state()["pid"].as_i64().unwrap();
    let script = "echo $$; id -u; readlink /proc/self/ns/user; test -e /proc/1/status && exit 7";
    let b = Bundle::new("userns-pid-joiner", &["sh", "-c", script]);
    chown_tree(&b.dir.join("rootfs"), HOST_ID, HOST_ID);
    b.edit(|c| {
        c["linux"]["namespaces"] = json!([
            {"type": "user", "path": format!("/proc/{apid}/ns/user")},
            {"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}
        ]);
        c["linux"].as_object_mut().unwrap().remove("resources");
    });
    let out = b.with_bundle("run", &[]);
    assert_eq!(out.status.code(), Some(7), "run: {}", stderr(&out));
    let want = std::fs::read_link(format!("/proc/{apid}/ns/user")).unwrap();
    assert_eq!(stdout(&out).split_whitespace().collect::<Vec<_>>(), ["1", "0", want.to_str().unwrap()]);
    b.assert_clean();

    // create/start/kill/delete follow the real init, not the first clone.
    b.edit(|c| c["process"]["args"] = json!(["sleep", "100"]));
    assert!(b.with_bundle("create", &[]).status.success());
    let pid = b.state()["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let nspid: Vec<&str> = status.lines().find(|l| l.starts_with("NSpid:")).unwrap().split_whitespace().collect();
    assert_eq!(nspid, ["NSpid:", &pid.to_string(), "1"], "state's pid is not the new namespace's init");
    assert!(b.nook(&["start", &b.id]).status.success());
    assert_eq!(b.status(), "running");
    assert!(b.nook(&["kill", &b.id, "KILL"]).status.success());
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
    assert!(a.nook(&["delete", "--force", &a.id]).status.success());
    a.assert_clean();
}

/// A namespace the host's user namespace owns, held by `unshare FLAGS
/// sleep`: the holder (to kill) and the namespace's path.
fn host_owned_ns(name: &str, flags: &[&str]) -> (std::process::Child, String) {
    let holder = std::process::Command::new("unshare")
        .args(flags)
        .args(["sleep", "100"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ns = format!("/proc/{}/ns/{name}", holder.id());
    let t = std::time::Instant::now();
    while std::fs::read_link(&ns).ok() == std::fs::read_link(format!("/proc/self/ns/{name}")).ok() {
        assert!(t.elapsed() < std::time::Duration::from_secs(5), "unshare {flags:?} did not start");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    (holder, ns)
}

/// A new user namespace beside a network namespace the host owns (as CNI
/// makes them): nook joins it for the clone, since init could not from
/// inside its new user namespace.
#[test]
fn a_new_user_namespace_can_join_a_host_owned_network_namespace() {
    let (mut holder, netns) = host_owned_ns("net", &["--net"]);
    let script = "readlink /proc/self/ns/net; id -u; cat /proc/self/uid_map; test -d /sys/kernel && echo sys";
    let b = userns_bundle("userns-hostnet", &["sh", "-c", script], false);
    b.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "network");
        ns.push(json!({"type": "network", "path": netns}));
    });
    let out = b.with_bundle("run", &[]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(out.status.success(), "run: {}", stderr(&out));
    let want = std::fs::read_link(&netns).unwrap_or_default();
    let s = stdout(&out);
    let words: Vec<&str> = s.split_whitespace().collect();
    // sysfs for a network namespace the user namespace does not own is
    // refused by the kernel: the host's /sys is bound instead.
    assert_eq!(words[1..], ["0", "0", "100000", "65536", "sys"], "{s}");
    assert!(
        words[0].starts_with("net:[") && (want.as_os_str().is_empty() || words[0] == want.to_str().unwrap()),
        "{s}"
    );
    assert_ne!(Some(std::path::PathBuf::from(words[0])), std::fs::read_link("/proc/self/ns/net").ok(), "{s}");
    b.assert_clean();
}

/// A new user namespace beside a mount namespace the host owns: as with
/// runc, the container's root is set up inside the joined namespace, which
/// the new user namespace may not mount in: one clear line, nothing left.
#[test]
fn a_new_user_namespace_cannot_set_up_a_root_in_a_host_owned_mount_namespace() {
    let (mut holder, mntns) = host_owned_ns("mnt", &["--mount", "--propagation", "private"]);
    let b = userns_bundle("userns-hostmnt", &["/bin/busybox", "true"], false);
    b.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "mount");
        ns.push(json!({"type": "mount", "path": mntns}));
    });
    let out = b.with_bundle("create", &[]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_one_line_error(&out, "Operation not permitted");
    b.assert_clean();
}

/// runtime-spec "Cgroup Ownership": a new cgroup namespace and a
/// read-write cgroup mount hand the container's cgroup (the directory and
/// the delegable files only) to the host uid of the container's user, who
/// can then make child cgroups; `delete` removes them too. Read-only, it
/// stays root's.
#[test]
fn a_read_write_cgroup_mount_delegates_the_cgroup_to_the_container() {
    let script = "mkdir /sys/fs/cgroup/child 2>/err && echo made > /out; sleep 100";
    for rw in [true, false] {
        let b = userns_bundle("cgroup-owner", &["sh", "-c", script], false);
        b.edit(|c| {
            c["root"]["readonly"] = false.into();
            for m in c["mounts"].as_array_mut().unwrap() {
                if m["destination"] == "/sys/fs/cgroup" && rw {
                    m["options"].as_array_mut().unwrap().retain(|o| o != "ro");
                }
            }
        });
        let out = b.with_bundle("run", &["--detach"]);
        assert!(out.status.success(), "run: {}", stderr(&out));
        let cg = b.cgroup_dir();
        let want = if rw { HOST_ID } else { 0 };
        assert_eq!(owner(&cg).0, want, "cgroup dir (rw: {rw})");
        assert_eq!(owner(&cg.join("cgroup.procs")).0, want, "cgroup.procs (rw: {rw})");
        assert_eq!(owner(&cg.join("cgroup.controllers")).0, 0, "not a delegable file");
        let made = b.dir.join("rootfs/out");
        let t = std::time::Instant::now();
        while rw && !made.exists() {
            let err = std::fs::read_to_string(b.dir.join("rootfs/err")).unwrap_or_default();
            assert!(
                t.elapsed() < std::time::Duration::from_secs(5),
                "the container could not make a child cgroup: {err}"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(cg.join("child").is_dir(), rw);
        assert!(b.nook(&["delete", "--force", &b.id]).status.success());
        b.assert_clean();
        assert!(!cg.exists(), "the delegated cgroup (and its child) outlived delete");
    }
}

#[test]
fn bad_user_namespace_configs_are_refused_by_field() {
    let b = Bundle::new("userns-bad", &["true"]);
    b.edit(|c| c["linux"]["uidMappings"] = maps());
    assert_one_line_error(&b.with_bundle("run", &[]), "linux.uidMappings");
    b.edit(|c| {
        c["linux"].as_object_mut().unwrap().remove("uidMappings");
        c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
    });
    assert_one_line_error(&b.with_bundle("run", &[]), "linux.uidMappings");
    b.edit(|c| {
        c["linux"]["uidMappings"] = maps();
        c["linux"]["gidMappings"] = maps();
        c["linux"]["namespaces"] = json!([
            {"type": "user", "path": "/proc/self/ns/user"}, {"type": "pid"}, {"type": "mount"}, {"type": "uts"}
        ]);
    });
    assert_one_line_error(&b.with_bundle("run", &[]), "linux.uidMappings");
    b.assert_clean();
}

#[test]
fn namespaced_sysctls_are_set_inside_and_the_host_is_unchanged() {
    let host_fwd = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let want_fwd = if host_fwd.trim() == "1" { "0" } else { "1" };
    let host_shm = std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap();
    let b = Bundle::new(
        "sysctl",
        &["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/kernel/domainname"],
    );
    b.edit(|c| {
        c["linux"]["sysctl"] =
            json!({"net.ipv4.ip_forward": want_fwd, "kernel.shmmax": "123456789", "kernel.domainname": "sysctl.test"});
    });
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    assert_eq!(stdout(&out).split_whitespace().collect::<Vec<_>>(), [want_fwd, "123456789", "sysctl.test"]);
    assert_eq!(std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(), host_fwd);
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap(), host_shm);
    b.assert_clean();

    // In a user namespace too (the namespaces' sysctls belong to its root).
    let u = userns_bundle("sysctl-userns", &["cat", "/proc/sys/net/ipv4/ip_forward"], false);
    u.edit(|c| c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": want_fwd}));
    let out = u.with_bundle("run", &[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    assert_eq!(stdout(&out).trim(), want_fwd);
    u.assert_clean();
}

#[test]
fn sysctls_that_would_change_the_host_are_refused_by_key() {
    let b = Bundle::new("sysctl-bad", &["true"]);
    b.edit(|c| c["linux"]["sysctl"] = json!({"kernel.panic": "1"}));
    assert_one_line_error(&b.with_bundle("run", &[]), "linux.sysctl.kernel.panic");
    // net.* without a network namespace of its own.
    b.edit(|c| {
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "network");
    });
    assert_one_line_error(&b.with_bundle("run", &[]), "linux.sysctl.net.ipv4.ip_forward");
    // ... or joining the host's.
    b.edit(|c| {
        c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "network", "path": "/proc/self/ns/net"}));
    });
    assert_one_line_error(&b.with_bundle("run", &[]), "linux.sysctl.net.ipv4.ip_forward");
    b.edit(|c| {
        c["linux"]["sysctl"] = json!({"kernel.shmmax": "1"});
        c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "ipc");
    });
    assert_one_line_error(&b.with_bundle("run", &[]), "linux.sysctl.kernel.shmmax");
    b.assert_clean();
}

#[test]
fn a_time_namespace_shifts_boottime_and_monotonic() {
    let b = Bundle::new("timens", &["sh", "-c", "cat /proc/uptime; cat /proc/self/timens_offsets"]);
    b.edit(|c| {
        c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "time"}));
        c["linux"]["timeOffsets"] =
            json!({"boottime": {"secs": 86400 * 365, "nanosecs": 0}, "monotonic": {"secs": 3600, "nanosecs": 5}});
    });
    let host_uptime: f64 =
        std::fs::read_to_string("/proc/uptime").unwrap().split_whitespace().next().unwrap().parse().unwrap();
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let s = stdout(&out);
    let uptime: f64 = s.split_whitespace().next().unwrap().parse().unwrap();
    let diff = uptime - host_uptime - (86400.0 * 365.0);
    assert!((0.0..60.0).contains(&diff), "uptime {uptime} vs host {host_uptime}: {s}");
    assert!(s.contains("monotonic") && s.contains("3600") && s.contains("boottime"), "{s}");
    b.assert_clean();

    // A process exec'd into the container is in its time namespace too.
    b.edit(|c| c["process"]["args"] = json!(["sleep", "100"]));
    assert!(b.with_bundle("run", &["--detach"]).status.success());
    let out = b.nook(&["exec", &b.id, "cat", "/proc/uptime"]);
    assert!(out.status.success(), "exec: {}", stderr(&out));
    let uptime: f64 = stdout(&out).split_whitespace().next().unwrap().parse().unwrap();
    assert!(uptime > 86400.0 * 365.0, "{uptime}");
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();

    // Offsets need a new time namespace.
    b.edit(|c| c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "time"));
    assert_one_line_error(&b.with_bundle("run", &[]), "linux.timeOffsets");
    b.assert_clean();
}

fn owner(p: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::symlink_metadata(p).unwrap();
    (md.uid(), md.gid())
}

#[test]
fn an_idmapped_bind_maps_owners_both_ways() {
    // No user namespace: disk id 1000 is the container's root, and what
    // the container's root creates is stored as 1000.
    let b = Bundle::new(
        "idmap",
        &["sh", "-c", "stat -c '%u %g' /mnt/theirs /mnt/hosts; touch /mnt/new && mkdir /mnt/newdir"],
    );
    let shared = b.dir.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::os::unix::fs::chown(&shared, Some(1000), Some(1000)).unwrap();
    std::fs::write(shared.join("theirs"), "").unwrap();
    std::os::unix::fs::chown(shared.join("theirs"), Some(1000), Some(1000)).unwrap();
    std::fs::write(shared.join("hosts"), "").unwrap();
    let map = json!([{"containerID": 1000, "hostID": 0, "size": 1}]);
    b.edit(|c| {
        c["root"]["readonly"] = false.into();
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt", "type": "bind", "source": "shared", "options": ["bind"],
            "uidMappings": map, "gidMappings": map
        }));
    });
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    assert_eq!(stdout(&out).split_whitespace().collect::<Vec<_>>(), ["0", "0", "65534", "65534"]);
    assert_eq!(owner(&shared.join("new")), (1000, 1000));
    assert_eq!(owner(&shared.join("newdir")), (1000, 1000));
    b.assert_clean();
}

#[test]
fn idmap_without_mappings_uses_the_containers_and_ridmap_covers_submounts() {
    // A user namespace 0 → 100000: a host directory owned by root is the
    // container root's through the idmapped mount, and what it creates
    // there is root's on the host.
    let b = userns_bundle("idmap-userns", &["sh", "-c", "stat -c %u /mnt /mnt/sub; touch /mnt/new /mnt/sub/new"], true);
    let shared = b.dir.join("shared");
    std::fs::create_dir_all(shared.join("sub")).unwrap();
    let sub_src = b.dir.join("sub-src");
    std::fs::create_dir(&sub_src).unwrap();
    // A submount under the source, so ridmap has something to recurse into.
    let st = std::process::Command::new("mount")
        .args(["--bind", sub_src.to_str().unwrap(), shared.join("sub").to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    struct Umount(std::path::PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _u = Umount(shared.join("sub"));
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt", "type": "bind", "source": "shared", "options": ["rbind", "ridmap"]
        }));
    });
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    assert_eq!(stdout(&out).split_whitespace().collect::<Vec<_>>(), ["0", "0"]);
    assert_eq!(owner(&shared.join("new")), (0, 0));
    assert_eq!(owner(&sub_src.join("new")), (0, 0));
    drop(_u);
    // The container's mount of the bundle is gone with it.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(b.dir.to_str().unwrap()), "{mounts}");
    b.assert_clean();
}

#[test]
fn idmapped_mounts_that_cannot_be_are_refused_by_mount() {
    let b = Bundle::new("idmap-bad", &["true"]);
    let map = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "uidMappings": map, "gidMappings": map
        }));
    });
    assert_one_line_error(&b.with_bundle("run", &[]), "must be bind mounts");
    // idmap with no mappings anywhere.
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap().last_mut().unwrap();
        *m = json!({"destination": "/mnt", "type": "bind", "source": "rootfs", "options": ["bind", "idmap"]});
    });
    assert_one_line_error(&b.with_bundle("run", &[]), "mounts[7] (/mnt)");
    b.assert_clean();
}

/// A directory of the host's root, mode 0700, holding a file and a
/// directory to bind: a user namespace that does not map the host's root
/// cannot search it.
fn private_sources(b: &Bundle) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let private = b.dir.join("private");
    std::fs::create_dir_all(private.join("vol")).unwrap();
    std::fs::write(private.join("vol/f"), "in-vol\n").unwrap();
    std::fs::write(private.join("file"), "a-file\n").unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(
            json!({"destination": "/vol", "type": "bind", "source": private.join("vol"), "options": ["rbind", "ro"]}),
        );
        m.push(json!({"destination": "/file", "type": "bind", "source": private.join("file"), "options": ["bind"]}));
    });
    (private.join("vol"), private.join("file"))
}

/// Bind sources the container's user namespace may not reach are still
/// bound, as runc does it: nook opens them, with the host's credentials,
/// inside init's mount namespace, and init binds from the fds. For a new
/// user namespace and for one joined by path (with a new pid namespace:
/// the sources go to the second fork).
#[test]
fn bind_sources_the_user_namespace_cannot_reach_are_still_bound() {
    let script = "cat /vol/f /file; touch /vol/x 2>/dev/null || echo ro";
    let b = userns_bundle("userns-src", &["sh", "-c", script], false);
    private_sources(&b);
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    assert_eq!(stdout(&out), "in-vol\na-file\nro\n");
    b.assert_clean();

    let a = userns_bundle("userns-src-owner", &["sleep", "100"], true);
    assert!(a.with_bundle("run", &["--detach"]).status.success());
    let apid = a.state()["pid"].as_i64().unwrap();
    let j = Bundle::new("userns-src-joiner", &["sh", "-c", script]);
    chown_tree(&j.dir.join("rootfs"), HOST_ID, HOST_ID);
    private_sources(&j);
    j.edit(|c| {
        c["linux"]["namespaces"] = json!([
            {"type": "user", "path": format!("/proc/{apid}/ns/user")},
            {"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}
        ]);
        c["linux"].as_object_mut().unwrap().remove("resources");
    });
    let out = j.with_bundle("run", &[]);
    assert!(out.status.success(), "run (joined): {}", stderr(&out));
    assert_eq!(stdout(&out), "in-vol\na-file\nro\n");
    j.assert_clean();
    assert!(a.nook(&["delete", "--force", &a.id]).status.success());
    a.assert_clean();
}
