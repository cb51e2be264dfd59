//! The systemd cgroup driver (`nook --systemd-cgroup`) against a real
//! systemd: only the test VM booted with systemd as PID 1 has one
//! (`integration/vm/cargo-test-in-vm --systemd --test vm_systemd --
//! --include-ignored`, part of `make test-vm`), so these are ignored on
//! the host, which has no systemd running.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(120);

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ok(o: &Output, what: &str) -> String {
    assert!(o.status.success(), "{what}: {}", stderr(o));
    stdout(o)
}

/// `nook --systemd-cgroup ...`.
fn sd(b: &Bundle, args: &[&str]) -> Output {
    let mut a = vec!["--systemd-cgroup"];
    a.extend_from_slice(args);
    b.nook(&a)
}

/// `nook --systemd-cgroup <verb> --bundle <dir> <extra> <id>`.
fn sd_bundle(b: &Bundle, verb: &str, extra: &[&str]) -> Output {
    let dir = b.dir.to_str().unwrap().to_owned();
    let mut a = vec![verb, "--bundle", &dir];
    a.extend_from_slice(extra);
    a.push(&b.id);
    sd(b, &a)
}

fn systemctl(args: &[&str]) -> Output {
    Command::new("systemctl").args(args).output().expect("systemctl")
}

/// `systemctl show -p P1,P2 unit` as a map.
fn show(unit: &str, props: &str) -> std::collections::BTreeMap<String, String> {
    let out = ok(&systemctl(&["show", "-p", props, unit]), "systemctl show");
    out.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// Whether systemd still has the unit (in any state).
fn unit_known(unit: &str) -> bool {
    show(unit, "LoadState")["LoadState"] != "not-found"
}

fn proc_cgroup(pid: i64) -> String {
    let c = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    c.lines().find_map(|l| l.strip_prefix("0::")).unwrap().to_owned()
}

fn cg(rel: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/'))
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}")).trim().to_owned()
}

fn pids(b: &Bundle) -> Vec<i64> {
    serde_json::from_str(&ok(&b.nook(&["ps", "--format", "json", &b.id]), "ps")).unwrap()
}

fn bundle(name: &str, args: &[&str], cgroups_path: Option<&str>, resources: Value) -> Bundle {
    let b = Bundle::new(name, args);
    b.edit(|c| {
        if let Some(p) = cgroups_path {
            c["linux"]["cgroupsPath"] = p.into();
        }
        c["linux"]["resources"] = resources;
    });
    b
}

fn in_systemd() {
    assert!(Path::new("/run/systemd/system").is_dir(), "needs systemd as PID 1 (run-in-vm --systemd)");
}

/// Nothing of the container remains: state, unit, cgroup, process.
fn assert_gone(b: &Bundle, unit: &str, dir: &Path) {
    b.assert_clean();
    assert!(!dir.exists(), "cgroup {} left behind", dir.display());
    // systemd unloads a stopped transient unit on its next loop iteration.
    wait_for(&format!("{unit} to be unloaded ({:?})", show(unit, "LoadState,ActiveState")), || !unit_known(unit));
    assert!(!systemctl(&["status", unit]).status.success(), "systemctl status {unit} still succeeds");
}

#[test]
#[ignore = "needs systemd: runs in the test VM (run-in-vm --systemd)"]
fn a_container_lives_in_its_delegated_scope_until_delete() {
    in_systemd();
    let b = bundle("sdscope", &["sleep", "1000"], None, json!({"memory": {"limit": 64 << 20}}));
    ok(&sd_bundle(&b, "create", &[]), "create");
    let unit = format!("nook-{}.scope", b.id);
    let rel = format!("/system.slice/{unit}");
    let dir = cg(&rel);
    let st = b.state();
    let pid = st["pid"].as_i64().unwrap();
    assert_eq!(proc_cgroup(pid), rel, "init is in the unit's cgroup");
    let props = show(&unit, "Delegate,ControlGroup,ActiveState,Slice");
    assert_eq!(props["Delegate"], "yes");
    assert_eq!(props["ControlGroup"], rel);
    assert_eq!(props["ActiveState"], "active");
    assert_eq!(props["Slice"], "system.slice");
    assert_eq!(read(&dir, "memory.max"), (64u64 << 20).to_string());
    let saved: Value = serde_json::from_slice(&std::fs::read(b.root.join(&b.id).join("state.json")).unwrap()).unwrap();
    assert_eq!(saved["systemdUnit"], unit.as_str(), "state.json: {saved}");

    ok(&sd(&b, &["start", &b.id]), "start");
    // exec joins the same cgroup.
    let mut exec = b.cmd(&["--systemd-cgroup", "exec", &b.id, "sleep", "1000"]).spawn().unwrap();
    wait_for("the exec'd process", || pids(&b).len() == 2);
    for p in pids(&b) {
        assert_eq!(proc_cgroup(p), rel, "pid {p}");
    }
    // pause / resume on the unit's cgroup.
    ok(&sd(&b, &["pause", &b.id]), "pause");
    assert_eq!(b.status(), "paused");
    assert_eq!(read(&dir, "cgroup.freeze"), "1");
    ok(&sd(&b, &["resume", &b.id]), "resume");
    assert_eq!(b.status(), "running");
    // kill --all ends both.
    ok(&sd(&b, &["kill", "--all", &b.id, "KILL"]), "kill --all");
    let _ = exec.wait();
    wait_for("stopped", || b.status() == "stopped");
    ok(&sd(&b, &["delete", &b.id]), "delete");
    assert_gone(&b, &unit, &dir);
}

#[test]
#[ignore = "needs systemd: runs in the test VM (run-in-vm --systemd)"]
fn a_nested_slice_holds_the_scope_with_its_limits() {
    in_systemd();
    let b = bundle("sdslice", &["sleep", "1000"], None, json!({"pids": {"limit": 20}}));
    let path = format!("nook-test.slice:ctr:{}", b.id);
    b.edit(|c| c["linux"]["cgroupsPath"] = path.as_str().into());
    ok(&sd_bundle(&b, "run", &["-d"]), "run -d");
    let unit = format!("ctr-{}.scope", b.id);
    let rel = format!("/nook.slice/nook-test.slice/{unit}");
    let dir = cg(&rel);
    let pid = b.state()["pid"].as_i64().unwrap();
    assert_eq!(proc_cgroup(pid), rel);
    assert_eq!(show(&unit, "Slice")["Slice"], "nook-test.slice");
    assert_eq!(read(&dir, "pids.max"), "20");
    // delete --force of a running container.
    ok(&sd(&b, &["delete", "--force", &b.id]), "delete --force");
    assert_gone(&b, &unit, &dir);
}

#[test]
#[ignore = "needs systemd: runs in the test VM (run-in-vm --systemd)"]
fn a_slice_unit_holds_the_container_when_the_name_says_slice() {
    in_systemd();
    let b = bundle("sdunit", &["sleep", "1000"], Some("system.slice::nook-sdpod.slice"), json!({}));
    ok(&sd_bundle(&b, "create", &[]), "create");
    let rel = "/nook.slice/nook-sdpod.slice";
    let pid = b.state()["pid"].as_i64().unwrap();
    assert_eq!(proc_cgroup(pid), rel);
    assert_eq!(show("nook-sdpod.slice", "ActiveState")["ActiveState"], "active");
    ok(&sd(&b, &["delete", "--force", &b.id]), "delete --force");
    // systemd keeps a stopped slice loaded (inactive) where it unloads a
    // stopped scope: stopped is what delete asks for.
    b.assert_clean();
    assert!(!cg(rel).exists(), "cgroup {rel} left behind");
    assert_eq!(show("nook-sdpod.slice", "ActiveState")["ActiveState"], "inactive");
    assert!(!systemctl(&["status", "nook-sdpod.slice"]).status.success());
}

#[test]
#[ignore = "needs systemd: runs in the test VM (run-in-vm --systemd)"]
fn a_failed_create_leaves_no_unit_and_no_cgroup() {
    in_systemd();
    // Refused before any unit exists.
    let b = bundle("sdbadmem", &["true"], None, json!({"memory": {"limit": -5}}));
    assert_one_line_error(&sd_bundle(&b, "create", &[]), "memory.limit");
    let unit = format!("nook-{}.scope", b.id);
    assert_gone(&b, &unit, &cg(&format!("/system.slice/{unit}")));
    // Fails once the unit exists: a limit the kernel refuses (the guest
    // has 2 CPUs), and a program that is not there.
    let b = bundle("sdbadcpus", &["true"], None, json!({"cpu": {"cpus": "0-63"}}));
    let out = sd_bundle(&b, "create", &[]);
    assert_one_line_error(&out, "cpuset.cpus");
    let unit = format!("nook-{}.scope", b.id);
    assert_gone(&b, &unit, &cg(&format!("/system.slice/{unit}")));
    let b = bundle("sdnoprog", &["/no/such/program"], None, json!({}));
    assert!(!sd_bundle(&b, "create", &[]).status.success());
    let unit = format!("nook-{}.scope", b.id);
    assert_gone(&b, &unit, &cg(&format!("/system.slice/{unit}")));
}

#[test]
#[ignore = "needs systemd: runs in the test VM (run-in-vm --systemd)"]
fn bad_slice_and_unit_names_are_one_clear_line() {
    in_systemd();
    let b = bundle("sdbadslice", &["true"], Some("notaslice:nook:x"), json!({}));
    assert_one_line_error(
        &sd_bundle(&b, "run", &[]),
        "linux.cgroupsPath \"notaslice\": a slice name must end in \".slice\"",
    );
    b.assert_clean();
    let b = bundle("sdbadslice2", &["true"], Some("a--b.slice:nook:x"), json!({}));
    assert_one_line_error(&sd_bundle(&b, "run", &[]), "linux.cgroupsPath \"a--b.slice\": invalid slice name");
    b.assert_clean();
    // A unit name systemd refuses: its D-Bus error, naming the unit.
    let b = bundle("sdbadunit", &["true"], Some("system.slice:bad%prefix:x"), json!({}));
    let out = sd_bundle(&b, "run", &[]);
    assert_one_line_error(&out, "linux.cgroupsPath: systemd: bad%prefix-x.scope: org.freedesktop.");
    b.assert_clean();
}
