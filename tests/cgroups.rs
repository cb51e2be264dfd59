//! cgroup v2 limits that only a pure-v2 machine can prove: run in the test
//! VM (`integration/vm/cargo-test-in-vm --test cgroups -- --nocapture`).
//! On the host they are ignored (`make test-vm` runs them with --ignored);
//! the host parts of the module are covered by the unit tests in
//! `src/cgroups` and by tests/limits.rs.

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use nook::cgroups::{self, Cgroup, CgroupError};
use oci_spec::runtime::LinuxResources;

/// A fresh cgroup under the VM's root with `json` resources; removed on drop.
struct Ctr {
    cg: Option<Cgroup>,
}

impl Ctr {
    fn new(name: &str, json: &str) -> Ctr {
        let (mount, dir) = cgroups::container_dir(Some(&format!("/nook-vm-test/{name}")), name).unwrap();
        let r: LinuxResources = serde_json::from_str(json).unwrap();
        Ctr { cg: Some(Cgroup::create(&mount, &dir, &r, None, cgroups::Enable::Needed).unwrap()) }
    }
    fn cg(&self) -> &Cgroup {
        self.cg.as_ref().unwrap()
    }
    fn file(&self, name: &str) -> String {
        fs::read_to_string(self.cg().path().join(name)).unwrap().trim().to_string()
    }
    /// Run `sh -c script` inside the cgroup, quietly.
    fn run(&self, script: &str) -> ExitStatus {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        self.cg().join_on_exec(&mut cmd);
        cmd.status().unwrap()
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        let cg = self.cg.take().unwrap();
        let _ = cg.kill_all(libc::SIGKILL);
        cg.destroy().unwrap();
    }
}

#[test]
#[ignore = "needs a pure cgroup v2 machine: runs in the test VM (make test-vm)"]
fn every_resource_lands_in_its_file() {
    let c = Ctr::new(
        "files",
        r#"{"memory":{"limit":67108864,"reservation":33554432,"swap":134217728},
            "cpu":{"shares":1024,"quota":50000,"period":100000,"burst":1000,"cpus":"0","mems":"0"},
            "pids":{"limit":64},
            "blockIO":{"weight":1000},
            "unified":{"memory.high":"60000000"}}"#,
    );
    assert_eq!(c.file("memory.max"), "67108864");
    assert_eq!(c.file("memory.low"), "33554432");
    assert_eq!(c.file("memory.swap.max"), "67108864");
    assert_eq!(c.file("memory.high"), "59998208"); // rounded down to pages
    assert_eq!(c.file("cpu.weight"), "100");
    assert_eq!(c.file("cpu.max"), "50000 100000");
    assert_eq!(c.file("cpu.max.burst"), "1000");
    assert_eq!(c.file("cpuset.cpus"), "0");
    assert_eq!(c.file("cpuset.mems"), "0");
    assert_eq!(c.file("pids.max"), "64");
    // bfq is not loaded in the guest: io.weight gets the converted value.
    let io = fs::read_to_string(c.cg().path().join("io.bfq.weight"))
        .unwrap_or_else(|_| fs::read_to_string(c.cg().path().join("io.weight")).unwrap());
    assert!(io.contains("1000") || io.contains("10000"), "{io}");
    // A live update, and one refused because it is below current usage.
    let r: LinuxResources = serde_json::from_str(r#"{"memory":{"limit":50331648},"pids":{"limit":-1}}"#).unwrap();
    c.cg().update(&r).unwrap();
    assert_eq!(c.file("memory.max"), "50331648");
    assert_eq!(c.file("pids.max"), "max");
    let mut sleeper = Command::new("sleep");
    sleeper.arg("30").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    c.cg().join_on_exec(&mut sleeper);
    let mut child = sleeper.spawn().unwrap();
    let r: LinuxResources = serde_json::from_str(r#"{"memory":{"limit":4096,"checkBeforeUpdate":true}}"#).unwrap();
    let e = c.cg().update(&r).unwrap_err();
    assert!(matches!(e, CgroupError::BelowUsage { .. }), "{e}");
    assert_eq!(c.file("memory.max"), "50331648");
    let st = c.cg().stats();
    assert!(st.memory.usage.usage > 0);
    assert_eq!(st.memory.usage.limit, 50331648);
    assert_eq!(st.pids.current, 1);
    c.cg().kill_all(libc::SIGKILL).unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
}

#[test]
#[ignore = "needs a pure cgroup v2 machine: runs in the test VM (make test-vm)"]
fn memory_limit_oom_kills() {
    let c = Ctr::new("mem", r#"{"memory":{"limit":33554432,"swap":33554432}}"#);
    assert!(c.run("exec dd if=/dev/zero of=/dev/null bs=16M count=1").success());
    let big = c.run("exec dd if=/dev/zero of=/dev/null bs=64M count=1");
    assert_eq!(big.signal(), Some(libc::SIGKILL), "{big:?}");
    assert!(c.cg().oom_events().oom_kill >= 1);
    assert!(c.cg().stats().memory.event_count.oom_kill >= 1);
}

#[test]
#[ignore = "needs a pure cgroup v2 machine: runs in the test VM (make test-vm)"]
fn pids_limit_stops_forks() {
    let c = Ctr::new("pids", r#"{"pids":{"limit":4}}"#);
    c.run("for i in 1 2 3 4 5 6; do sleep 1 & done; wait");
    let events = c.file("pids.events");
    assert!(!events.contains("max 0"), "{events}");
    assert_eq!(c.cg().stats().pids.limit, 4);
}

#[test]
#[ignore = "needs a pure cgroup v2 machine: runs in the test VM (make test-vm)"]
fn cpu_quota_throttles() {
    let c = Ctr::new("cpu", r#"{"cpu":{"quota":10000,"period":100000}}"#);
    c.run("timeout 2 sh -c 'while :; do :; done'");
    let st = c.cg().stats();
    assert!(st.cpu.throttling.throttled_periods > 0, "{:?}", st.cpu);
    assert!(st.cpu.usage.total > 0);
}

#[test]
#[ignore = "needs a pure cgroup v2 machine: runs in the test VM (make test-vm)"]
fn device_filter_enforced() {
    let c = Ctr::new("dev", "{}");
    let spec: Vec<oci_spec::runtime::LinuxDeviceCgroup> =
        serde_json::from_str(r#"[{"allow":false,"access":"rwm"}]"#).unwrap();
    // Deny everything, then runc's defaults: /dev/zero and /dev/null yes, /dev/mem no.
    c.cg().set_devices(&cgroups::container_rules(&spec, &[]).unwrap()).unwrap();
    let st = c.run("head -c1 /dev/zero >/dev/null || exit 10; head -c1 /dev/mem && exit 11; exit 0");
    assert_eq!(st.code(), Some(0), "10: /dev/zero denied, 11: /dev/mem allowed");
    assert_eq!(cgroups::bpf::query(c.cg().fd()).unwrap().len(), 1);
}

#[test]
#[ignore = "needs a pure cgroup v2 machine: runs in the test VM (make test-vm)"]
fn freeze_thaw_kill() {
    let c = Ctr::new("freeze", "{}");
    let mut cmd = Command::new("sleep");
    cmd.arg("60").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    c.cg().join_on_exec(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    c.cg().freeze().unwrap();
    assert!(c.cg().paused().unwrap());
    c.cg().thaw().unwrap();
    assert!(!c.cg().paused().unwrap());
    assert_eq!(c.cg().pids().unwrap(), vec![child.id() as i32]);
    c.cg().freeze().unwrap();
    c.cg().kill_all(libc::SIGKILL).unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
}

#[test]
#[ignore = "needs a pure cgroup v2 machine: runs in the test VM (make test-vm)"]
fn default_path_is_under_the_parent_of_our_cgroup() {
    let (mount, dir) = cgroups::container_dir(None, "ctr-id").unwrap();
    assert_eq!(mount, Path::new("/sys/fs/cgroup"));
    // Our own cgroup in the guest is the root: runc's rule puts the
    // container under its parent, i.e. the root as well.
    assert_eq!(dir, PathBuf::from("/sys/fs/cgroup/ctr-id"));
}
