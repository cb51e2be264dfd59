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

fn wait_for(what: &str, f: impl FnMut() -> bool) {
    wait_until(what, PATIENCE, f)
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

/// The cgroup files systemd re-applies from the unit's properties.
const LIMIT_FILES: [&str; 7] =
    ["memory.max", "memory.low", "memory.high", "pids.max", "cpu.max", "cpu.weight", "cpuset.cpus"];

#[test]
#[ignore = "needs systemd: runs in the test VM (run-in-vm --systemd)"]
fn limits_are_unit_properties_and_survive_a_daemon_reload() {
    in_systemd();
    let resources = json!({
        "memory": {"limit": 64 << 20, "reservation": 32 << 20},
        "pids": {"limit": 20},
        "cpu": {"shares": 2048, "quota": 50000, "period": 100000, "cpus": "1"},
        "blockIO": {"weight": 500},
        // page-aligned: the kernel rounds memory.high down to pages.
        "unified": {"memory.high": "62914560"},
    });
    let b = bundle("sdprops", &["sleep", "1000"], None, resources);
    ok(&sd_bundle(&b, "create", &[]), "create");
    let unit = format!("nook-{}.scope", b.id);
    let dir = cg(&format!("/system.slice/{unit}"));
    // systemd's own view: the container's limits.
    let want_props = [
        ("MemoryMax", "67108864"),
        ("MemoryLow", "33554432"),
        ("MemoryHigh", "62914560"),
        ("TasksMax", "20"),
        ("CPUWeight", "174"),
        ("CPUQuotaPerSecUSec", "500ms"),
        ("CPUQuotaPeriodUSec", "100ms"),
        ("AllowedCPUs", "1"),
        ("IOWeight", "4950"),
    ];
    let p = show(&unit, &want_props.map(|(k, _)| k).join(","));
    for (k, v) in want_props {
        assert_eq!(p[k], v, "systemctl show -p {k} {unit}: {p:?}");
    }
    let files = || LIMIT_FILES.map(|f| read(&dir, f));
    let want = ["67108864", "33554432", "62914560", "20", "50000 100000", "174", "1"];
    assert_eq!(files(), want);
    // A reload re-applies every unit's properties to its cgroup: the
    // limits stay (without the properties, memory.max would go back to
    // "max", pids.max to systemd's default, cpu.max to "max 100000").
    ok(&systemctl(&["daemon-reload"]), "daemon-reload");
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(2) {
        assert_eq!(files(), want, "after daemon-reload ({:?})", t.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    // update sets the unit's properties too.
    ok(&sd(&b, &["update", "--memory", "134217728", "--pids-limit", "30", &b.id]), "update");
    let p = show(&unit, "MemoryMax,TasksMax");
    assert_eq!((p["MemoryMax"].as_str(), p["TasksMax"].as_str()), ("134217728", "30"));
    ok(&systemctl(&["daemon-reload"]), "daemon-reload");
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(2) {
        assert_eq!([read(&dir, "memory.max"), read(&dir, "pids.max")], ["134217728", "30"], "after update + reload");
        std::thread::sleep(Duration::from_millis(100));
    }
    // checkBeforeUpdate is checked before systemd gets the new limit (a
    // MemoryMax below the usage would have the container OOM-killed).
    let file = b.dir.join("below-usage.json");
    std::fs::write(&file, r#"{"memory": {"limit": 4096, "checkBeforeUpdate": true}}"#).unwrap();
    let out = sd(&b, &["update", "--resources", file.to_str().unwrap(), &b.id]);
    assert_one_line_error(&out, "not above current usage");
    assert_eq!(show(&unit, "MemoryMax")["MemoryMax"], "134217728");
    assert_eq!(b.status(), "created");
    ok(&sd(&b, &["delete", "--force", &b.id]), "delete --force");
    assert_gone(&b, &unit, &dir);
}

#[test]
#[ignore = "needs systemd: runs in the test VM (run-in-vm --systemd)"]
fn systemd_property_annotations_reach_the_unit() {
    in_systemd();
    let annotate = |b: &Bundle, a: Value| b.edit(|c| c["annotations"] = a);
    let b = bundle("sdann", &["sleep", "1000"], None, json!({}));
    annotate(
        &b,
        json!({
            "org.systemd.property.TimeoutStopUSec": "uint64 123456789",
            "org.systemd.property.CollectMode": "'inactive-or-failed'",
        }),
    );
    ok(&sd_bundle(&b, "create", &[]), "create");
    let unit = format!("nook-{}.scope", b.id);
    let p = show(&unit, "TimeoutStopUSec,CollectMode");
    assert_eq!(p["TimeoutStopUSec"], "2min 3.456789s");
    assert_eq!(p["CollectMode"], "inactive-or-failed");
    ok(&sd(&b, &["delete", "--force", &b.id]), "delete --force");
    assert_gone(&b, &unit, &cg(&format!("/system.slice/{unit}")));

    // Not GVariant text nook can read: one line naming the annotation,
    // before any unit exists.
    let b = bundle("sdbadann", &["true"], None, json!({}));
    annotate(&b, json!({"org.systemd.property.TimeoutStopUSec": "uint64 soon"}));
    assert_one_line_error(
        &sd_bundle(&b, "create", &[]),
        "annotation org.systemd.property.TimeoutStopUSec: cannot parse \"uint64 soon\"",
    );
    let unit = format!("nook-{}.scope", b.id);
    assert_gone(&b, &unit, &cg(&format!("/system.slice/{unit}")));
    // A property systemd does not have: systemd's error, naming the unit.
    let b = bundle("sdunkann", &["true"], None, json!({}));
    annotate(&b, json!({"org.systemd.property.NoSuchProperty": "true"}));
    let unit = format!("nook-{}.scope", b.id);
    let out = sd_bundle(&b, "create", &[]);
    assert_one_line_error(&out, &format!("linux.cgroupsPath: systemd: {unit}: "));
    assert!(stderr(&out).contains("NoSuchProperty"), "{}", stderr(&out));
    assert_gone(&b, &unit, &cg(&format!("/system.slice/{unit}")));
}

#[test]
#[ignore = "needs systemd: runs in the test VM (run-in-vm --systemd)"]
fn the_device_filter_is_nooks_alone_and_survives_a_daemon_reload() {
    in_systemd();
    // As tests/limits.rs: /dev/port (1:4) is outside runc's default
    // allowed devices, /dev/null (1:3) inside; the capabilities to make
    // and read both, so only the device filter decides.
    let script = "mknod /tmp/port c 1 4; head -c 1 /tmp/port >/dev/null 2>&1 && echo read-port >>/result; \
                  mknod /tmp/null2 c 1 3 && head -c 1 /tmp/null2 && echo read-null >>/result";
    let b = bundle("sddev", &["sh", "-c", script], None, json!({}));
    b.edit(|c| {
        let caps = json!(["CAP_MKNOD", "CAP_SYS_RAWIO"]);
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set] = caps.clone();
        }
        c["root"]["readonly"] = false.into();
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    });
    ok(&sd_bundle(&b, "create", &[]), "create");
    let unit = format!("nook-{}.scope", b.id);
    // systemd has no device policy of its own for the unit (nook's eBPF
    // program is the filter), and a reload leaves nook's program alone.
    let p = show(&unit, "DevicePolicy,DeviceAllow");
    // (systemctl show leaves an empty list out.)
    assert_eq!((p["DevicePolicy"].as_str(), p.get("DeviceAllow").map_or("", |s| s.as_str())), ("auto", ""));
    ok(&systemctl(&["daemon-reload"]), "daemon-reload");
    ok(&sd(&b, &["start", &b.id]), "start");
    wait_for("the script to finish", || b.status() == "stopped");
    let result = std::fs::read_to_string(b.dir.join("rootfs/result")).unwrap_or_default();
    assert_eq!(result, "read-null\n", "a denied device was readable, or an allowed one not");
    ok(&sd(&b, &["delete", &b.id]), "delete");
    assert_gone(&b, &unit, &cg(&format!("/system.slice/{unit}")));
}
