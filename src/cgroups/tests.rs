//! Host tests against the real cgroup2 hierarchy. They create cgroups only
//! under the cgroup2 mount (`nook-test-*`), remove them, and restore the
//! root's `cgroup.subtree_control`. They never touch a v1 hierarchy. When
//! not root, or without cgroup2, they print why and pass.
//!
//! The same scenario runs twice: against the hierarchy as this host mounts
//! it (hybrid: /sys/fs/cgroup/unified), and in a private mount namespace
//! with cgroup2 mounted on /sys/fs/cgroup (the v2-only layout).

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use super::*;

/// Tests that enable controllers at the hierarchy root run one at a time.
static ROOT_LOCK: Mutex<()> = Mutex::new(());

fn mount_or_skip() -> Option<PathBuf> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return None;
    }
    match cgroup2_mount() {
        Ok(m) => Some(m),
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("nook-test-{tag}-{}-{t:x}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A test area under the mount, removed (with the root's subtree_control
/// restored) on drop.
struct Area {
    mount: PathBuf,
    top: PathBuf,
    root_subtree: String,
}

impl Area {
    fn new(mount: &Path, tag: &str) -> Area {
        Area {
            mount: mount.to_path_buf(),
            top: mount.join(unique(tag)),
            root_subtree: fs::read_to_string(mount.join("cgroup.subtree_control")).unwrap(),
        }
    }
}

impl Drop for Area {
    fn drop(&mut self) {
        // Kill whatever a failed scenario left (even frozen), then remove.
        let left = Cgroup::open(&self.top).ok().map(|cg| (cg.pids().unwrap_or_default(), cg));
        if let Some((pids, cg)) = &left {
            if !pids.is_empty() {
                cg.kill_all(libc::SIGKILL).unwrap();
                assert!(std::thread::panicking(), "test left processes behind: {pids:?}");
            }
        }
        remove_tree(&self.top).unwrap();
        let now = words(&fs::read_to_string(self.mount.join("cgroup.subtree_control")).unwrap());
        for c in now.difference(&words(&self.root_subtree)) {
            let _ = write_raw(&self.mount, "cgroup.subtree_control", &format!("-{c}"));
        }
    }
}

fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

fn sleeper(cg: &Cgroup) -> std::process::Child {
    let mut cmd = Command::new("sleep");
    // Not holding the test's output pipes: a failed test must not hang.
    cmd.arg("100").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    cg.join_on_exec(&mut cmd);
    cmd.spawn().unwrap()
}

fn scenario_create_and_destroy(mount: &Path) {
    let area = Area::new(mount, "tree");
    let path = area.top.join("a/b");
    let cg = Cgroup::create(mount, &path, &LinuxResources::default(), None, Enable::Needed).unwrap();
    assert!(path.is_dir());
    assert_eq!(cg.path(), path);
    let st = nix::sys::stat::fstat(cg.fd()).unwrap();
    assert_eq!(st.st_ino, fs::metadata(&path).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap());
    // Creating again over an existing tree is fine.
    let again = Cgroup::create(mount, &path, &LinuxResources::default(), None, Enable::Needed).unwrap();
    drop(again);
    cg.destroy().unwrap();
    assert!(!path.exists());
    assert!(area.top.join("a").is_dir());
}

fn scenario_unavailable_controllers(mount: &Path) {
    let area = Area::new(mount, "unavail");
    let path = area.top.join("c");
    let available = fs::read_to_string(mount.join("cgroup.controllers")).unwrap();
    for (json, ctrl) in [
        (r#"{"memory":{"limit":1048576}}"#, "memory"),
        (r#"{"pids":{"limit":10}}"#, "pids"),
        (r#"{"cpu":{"shares":512}}"#, "cpu"),
        (r#"{"unified":{"memory.high":"1000"}}"#, "memory"),
    ] {
        if words(&available).contains(ctrl) {
            eprintln!("{ctrl} is available here; not checking its error");
            continue;
        }
        let e = Cgroup::create(mount, &path, &res(json), None, Enable::Needed).unwrap_err().to_string();
        let want = format!(
            "cgroup controller {ctrl:?} is not available in {} (available: {})",
            mount.display(),
            available.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        assert_eq!(e, want);
        assert!(!area.top.exists(), "nothing may be left behind");
    }
    for bad in [mount.to_path_buf(), area.top.join("../etc"), PathBuf::from("/tmp/x")] {
        let e = Cgroup::create(mount, &bad, &LinuxResources::default(), None, Enable::Needed).unwrap_err();
        assert!(e.to_string().contains("is not below the cgroup2 mount"), "{e}");
    }
    // Invalid values: nothing is created either.
    let e = Cgroup::create(mount, &path, &res(r#"{"pids":{"limit":-4}}"#), None, Enable::Needed).unwrap_err();
    assert!(e.to_string().contains("pids.limit"), "{e}");
    assert!(!area.top.exists());
}

fn scenario_hugetlb(mount: &Path) {
    let sizes = resources::hugepage_sizes();
    let Some(size) = sizes.first() else {
        eprintln!("skipped hugetlb: no huge page sizes");
        return;
    };
    if !words(&fs::read_to_string(mount.join("cgroup.controllers")).unwrap()).contains("hugetlb") {
        eprintln!("skipped hugetlb: controller not available");
        return;
    }
    let _g = ROOT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let area = Area::new(mount, "huge");
    let path = area.top.join("x/y");
    let limit = 8 * 1024 * 1024 * 1024u64;
    let json = format!(r#"{{"hugepageLimits":[{{"pageSize":"{size}","limit":{limit}}}]}}"#);
    let cg = Cgroup::create(mount, &path, &res(&json), None, Enable::Needed).unwrap();
    let max = fs::read_to_string(path.join(format!("hugetlb.{size}.max"))).unwrap();
    // The kernel rounds down to whole pages.
    assert_eq!(max.trim(), limit.to_string());
    if let Ok(rsvd) = fs::read_to_string(path.join(format!("hugetlb.{size}.rsvd.max"))) {
        assert_eq!(rsvd.trim(), limit.to_string());
    }
    for d in [mount, &area.top, &area.top.join("x")] {
        assert!(words(&read(d, "cgroup.subtree_control").unwrap()).contains("hugetlb"), "{}", d.display());
    }
    // Live update, and a rejected update that writes nothing.
    cg.update(&res(&json.replace(&limit.to_string(), "0"))).unwrap();
    assert_eq!(read(&path, &format!("hugetlb.{size}.max")).unwrap().trim(), "0");
    let bad = format!(r#"{{"hugepageLimits":[{{"pageSize":"{size}","limit":4096}}],"memory":{{"limit":1}}}}"#);
    let e = cg.update(&res(&bad)).unwrap_err().to_string();
    assert!(e.contains("\"memory\" is not available"), "{e}");
    assert_eq!(read(&path, &format!("hugetlb.{size}.max")).unwrap().trim(), "0");
    // Stats report the hugetlb entry.
    let st = cg.stats();
    assert_eq!(st.hugetlb[size].max, 0);
    cg.destroy().unwrap();
}

fn scenario_rollback(mount: &Path) {
    if !words(&fs::read_to_string(mount.join("cgroup.controllers")).unwrap()).contains("hugetlb") {
        return;
    }
    let _g = ROOT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let area = Area::new(mount, "rollback");
    let before = read(mount, "cgroup.subtree_control").unwrap();
    // Valid as far as validation goes, but the file does not exist: the
    // failure comes after mkdir and subtree_control writes.
    let r = res(r#"{"unified":{"hugetlb.nonexistent":"1"}}"#);
    let e = Cgroup::create(mount, &area.top.join("p/q"), &r, None, Enable::Needed).unwrap_err().to_string();
    assert!(e.contains("hugetlb.nonexistent"), "{e}");
    assert!(!area.top.exists(), "created directories must be removed");
    // The root is shared: what it enabled stays enabled (as with runc; see
    // a_failed_create_leaves_shared_ancestors_alone), and nothing is taken away.
    let after = words(&read(mount, "cgroup.subtree_control").unwrap());
    assert!(words(&before).is_subset(&after), "{before:?} → {after:?}");
}

/// An existing ancestor that does not pass a needed controller down (a
/// parent made earlier for other containers) gets it enabled, from the
/// mount down; with [`Enable::All`] every controller the hierarchy offers
/// reaches the container, as with runc (a later update or a nested runtime
/// finds them).
fn scenario_existing_ancestors(mount: &Path) {
    let offered = words(&fs::read_to_string(mount.join("cgroup.controllers")).unwrap());
    let Some(size) = resources::hugepage_sizes().into_iter().next().filter(|_| offered.contains("hugetlb")) else {
        eprintln!("skipped existing ancestors: no hugetlb here");
        return;
    };
    let _g = ROOT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let area = Area::new(mount, "ancestors");
    // The parent exists and enables nothing for its children.
    let plain = Cgroup::create(mount, &area.top.join("p/first"), &LinuxResources::default(), None, Enable::Needed);
    plain.unwrap().destroy().unwrap();
    assert_eq!(read(&area.top.join("p"), "cgroup.subtree_control").unwrap().trim(), "");
    // Whole pages of any size (1GB pages included).
    let limit = 8u64 << 30;
    let json = format!(r#"{{"hugepageLimits":[{{"pageSize":"{size}","limit":{limit}}}]}}"#);
    let cg = Cgroup::create(mount, &area.top.join("p/q/r"), &res(&json), None, Enable::Needed).unwrap();
    assert_eq!(read(cg.path(), &format!("hugetlb.{size}.max")).unwrap().trim(), limit.to_string());
    cg.destroy().unwrap();
    // Enable::All: a container without limits is offered everything.
    let all = Cgroup::create(mount, &area.top.join("all/c"), &LinuxResources::default(), None, Enable::All).unwrap();
    assert_eq!(words(&read(all.path(), "cgroup.controllers").unwrap()), offered);
    all.destroy().unwrap();
}

fn scenario_processes(mount: &Path) {
    let area = Area::new(mount, "procs");
    let parent =
        Cgroup::create(mount, &area.top.join("ctr"), &LinuxResources::default(), None, Enable::Needed).unwrap();
    let child_cg =
        Cgroup::create(mount, &area.top.join("ctr/sub"), &LinuxResources::default(), None, Enable::Needed).unwrap();
    let mut a = sleeper(&parent);
    let mut b = sleeper(&child_cg);
    let mut pids = parent.pids().unwrap();
    pids.sort();
    let mut want = vec![a.id() as i32, b.id() as i32];
    want.sort();
    assert_eq!(pids, want, "pids() is recursive");
    assert_eq!(child_cg.pids().unwrap(), vec![b.id() as i32]);

    assert!(!parent.paused().unwrap());
    parent.freeze().unwrap();
    assert!(parent.paused().unwrap());
    assert!(read(parent.path(), "cgroup.events").unwrap().contains("frozen 1"));
    let child_frozen = (0..1000).any(|_| {
        std::thread::sleep(Duration::from_millis(1));
        read(child_cg.path(), "cgroup.events").unwrap().contains("frozen 1")
    });
    assert!(child_frozen, "freezing is recursive");
    parent.thaw().unwrap();
    assert!(!parent.paused().unwrap());
    assert!(read(parent.path(), "cgroup.events").unwrap().contains("frozen 0"));

    let st = parent.stats();
    assert_eq!(st.pids.current, 2, "pids.current falls back to counting cgroup.procs");
    assert!(serde_json::to_value(&st).unwrap()["cpu"]["usage"].is_object());
    assert_eq!(parent.oom_events().oom_kill, 0);

    // A signal other than SIGKILL goes to each pid.
    child_cg.kill_all(libc::SIGTERM).unwrap();
    assert_eq!(b.wait().unwrap().signal(), Some(libc::SIGTERM));
    // SIGKILL goes through cgroup.kill.
    parent.kill_all(libc::SIGKILL).unwrap();
    assert_eq!(a.wait().unwrap().signal(), Some(libc::SIGKILL));
    child_cg.destroy().unwrap();
    parent.destroy().unwrap();
    assert!(!area.top.join("ctr").exists());
}

fn scenario_frozen_process_is_killed(mount: &Path) {
    let area = Area::new(mount, "frozenkill");
    let cg = Cgroup::create(mount, &area.top.join("ctr"), &LinuxResources::default(), None, Enable::Needed).unwrap();
    let mut c = sleeper(&cg);
    cg.freeze().unwrap();
    cg.kill_all(libc::SIGKILL).unwrap();
    assert_eq!(c.wait().unwrap().signal(), Some(libc::SIGKILL));
    // Destroy right away: rmdir may see EBUSY while the task drains.
    cg.destroy().unwrap();
}

fn scenario_devices(mount: &Path) {
    let area = Area::new(mount, "dev");
    let rules = container_rules(&[], &[]).unwrap();
    let prog = bpf::load_device_program(&devices::compile(&rules)).unwrap();
    drop(prog);
    let cg =
        Cgroup::create(mount, &area.top.join("ctr"), &LinuxResources::default(), Some(&rules), Enable::Needed).unwrap();
    assert_eq!(bpf::query(cg.fd()).unwrap().len(), 1);
    // Replacing leaves one program attached.
    let deny_all_but_zero: Vec<oci_spec::runtime::LinuxDeviceCgroup> = serde_json::from_str(
        r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":5,"access":"r"}]"#,
    )
    .unwrap();
    let strict: Vec<DeviceRule> =
        deny_all_but_zero.iter().enumerate().map(|(i, d)| devices::rule_from_oci(i, d).unwrap()).collect();
    cg.set_devices(&strict).unwrap();
    let ids = bpf::query(cg.fd()).unwrap();
    assert_eq!(ids.len(), 1);
    // Enforcement: the program applies to tasks whose v2 cgroup is this one.
    // stdio is opened by us, outside the cgroup; only the opens inside count.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "head -c1 /dev/zero || exit 10; head -c1 /dev/full && exit 11; exit 0"]);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    cg.join_on_exec(&mut cmd);
    let status = cmd.status().unwrap();
    assert_eq!(status.code(), Some(0), "10: /dev/zero denied, 11: /dev/full allowed");
    cg.destroy().unwrap();
}

fn scenario_paths(mount: &Path) {
    let own = own_cgroup().unwrap();
    let p = resolve(mount, &own, None, "ctr").unwrap();
    assert!(p.starts_with(mount) && p.ends_with("ctr"));
    assert_eq!(resolve(mount, &own, Some("/a/b"), "x").unwrap(), mount.join("a/b"));
    let (m, d) = container_dir(Some("/k/ctr"), "id").unwrap();
    assert_eq!((m.as_path(), d), (mount, mount.join("k/ctr")));
}

fn run_all(mount: &Path) {
    scenario_paths(mount);
    scenario_create_and_destroy(mount);
    scenario_unavailable_controllers(mount);
    scenario_hugetlb(mount);
    scenario_rollback(mount);
    scenario_existing_ancestors(mount);
    scenario_processes(mount);
    scenario_frozen_process_is_killed(mount);
    scenario_devices(mount);
}

#[test]
fn host_hierarchy() {
    let Some(mount) = mount_or_skip() else { return };
    run_all(&mount);
}

const NS_ENV: &str = "NOOK_TEST_CGROUP2_ON_SYS_FS_CGROUP";

/// Runs `private_ns_inner` in a private mount namespace where cgroup2 is
/// mounted on /sys/fs/cgroup, i.e. the layout of a v2-only host.
#[test]
fn private_mount_namespace_v2_layout() {
    if mount_or_skip().is_none() {
        return;
    }
    if path::is_cgroup2(Path::new(path::UNIFIED_MOUNTPOINT)) {
        // A v2-only host (or the test VM): host_hierarchy already covers
        // this layout, and mounting cgroup2 over itself is EBUSY.
        eprintln!("skipped: /sys/fs/cgroup is already cgroup2");
        return;
    }
    // The child changes the same root subtree_control as host_hierarchy.
    let _g = ROOT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount -t cgroup2 none /sys/fs/cgroup && exec "$0" "$@""#)
        .arg(exe)
        .args(["--exact", "cgroups::tests::private_ns_inner", "--include-ignored", "--nocapture", "--test-threads=1"])
        .env(NS_ENV, "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
    assert!(text.contains("ran in v2 layout"), "{text}");
}

#[test]
#[ignore = "run by private_mount_namespace_v2_layout"]
fn private_ns_inner() {
    if std::env::var_os(NS_ENV).is_none() {
        return;
    }
    let mount = cgroup2_mount().unwrap();
    assert_eq!(mount, Path::new("/sys/fs/cgroup"));
    run_all(&mount);
    eprintln!("ran in v2 layout");
}

#[test]
fn features_report_v2_only() {
    let f = features();
    let v = serde_json::to_value(&f).unwrap();
    assert_eq!(v["v1"], false);
    assert_eq!(v["v2"], true);
    assert_eq!(v["rdma"], true);
}

/// The write executor on a plain directory standing in for a cgroup:
/// fallbacks, skips, and the memory check, without root.
#[test]
fn apply_on_a_plain_directory() {
    let dir = std::env::temp_dir().join(unique("apply"));
    fs::create_dir(&dir).unwrap();
    for f in ["io.weight", "memory.max", "memory.current", "pids.max"] {
        fs::write(dir.join(f), "").unwrap();
    }
    fs::write(dir.join("memory.current"), "1000\n").unwrap();
    let cg = Cgroup::open(&dir).unwrap();
    let plan = |json: &str| resources::plan(&res(json), &[]).unwrap();

    // io.bfq.weight is missing: io.weight gets the converted value.
    // memory.swap.max is missing and "max": skipped.
    cg.apply(&plan(r#"{"blockIO":{"weight":1000},"memory":{"limit":-1}}"#)).unwrap();
    assert_eq!(fs::read_to_string(dir.join("io.weight")).unwrap(), "10000");
    assert_eq!(fs::read_to_string(dir.join("memory.max")).unwrap(), "max");
    assert!(!dir.join("memory.swap.max").exists(), "files are never created");

    // A real swap limit needs the file.
    let e = cg.apply(&plan(r#"{"memory":{"limit":4096,"swap":8192}}"#)).unwrap_err().to_string();
    assert!(e.contains("memory.swap.max"), "{e}");

    // checkBeforeUpdate: a limit at or below usage is refused before any write.
    fs::write(dir.join("pids.max"), "7").unwrap();
    let p = plan(r#"{"pids":{"limit":3},"memory":{"limit":900,"checkBeforeUpdate":true}}"#);
    let e = cg.apply(&p).unwrap_err().to_string();
    assert_eq!(e, "rejecting memory limit 900: not above current usage 1000");
    assert_eq!(fs::read_to_string(dir.join("pids.max")).unwrap(), "7");
    cg.apply(&plan(r#"{"memory":{"limit":2000,"checkBeforeUpdate":true}}"#)).unwrap();
    assert_eq!(fs::read_to_string(dir.join("memory.max")).unwrap(), "2000");

    fs::remove_dir_all(&dir).unwrap();
}

/// A create that fails after enabling a controller in an ancestor it did
/// not make removes its own directory but leaves the controller enabled:
/// a sibling created meanwhile may use it, and disabling it would take
/// the controller's files away from every child (plain directories stand
/// in for the hierarchy here; the write to the missing limit file fails).
#[test]
fn a_failed_create_leaves_shared_ancestors_alone() {
    let mount = std::env::temp_dir().join(unique("undo"));
    let parent = mount.join("parent");
    fs::create_dir_all(&parent).unwrap();
    for d in [&mount, &parent] {
        fs::write(d.join("cgroup.controllers"), "hugetlb\n").unwrap();
        fs::write(d.join("cgroup.subtree_control"), "").unwrap();
    }
    let size = resources::hugepage_sizes().into_iter().next().expect("no hugepage size on this host");
    let r = res(&format!(r#"{{"hugepageLimits":[{{"pageSize":"{size}","limit":2097152}}]}}"#));
    let e = Cgroup::create(&mount, &parent.join("c"), &r, None, Enable::Needed).unwrap_err().to_string();
    assert!(e.contains(&format!("hugetlb.{size}.max")), "{e}");
    assert!(!parent.join("c").exists(), "the failed create's own directory is left behind");
    let control = fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap();
    assert_eq!(control, "+hugetlb", "the shared parent's controllers were changed back");
    fs::remove_dir_all(&mount).unwrap();
}
