//! nook's cgroup subcommands against real limits: only a pure cgroup v2
//! machine with every controller shows them, so these run in the test VM
//! (`integration/vm/cargo-test-in-vm --test vm_cgroups -- --include-ignored`,
//! part of `make test-vm`) and are ignored on the host.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Under TCG everything is slow: wait generously.
const PATIENCE: Duration = Duration::from_secs(120);

fn wait_for(what: &str, f: impl FnMut() -> bool) {
    wait_until(what, PATIENCE, f)
}

fn ok(o: &std::process::Output, what: &str) -> String {
    assert!(o.status.success(), "{what}: {}", stderr(o));
    stdout(o)
}

/// A bundle with extra busybox applets and `resources`.
fn bundle(name: &str, args: &[&str], resources: Value) -> Bundle {
    let b = Bundle::new(name, args);
    let bin = b.dir.join("rootfs/bin");
    for a in ["dd", "seq"] {
        std::fs::hard_link(bin.join("busybox"), bin.join(a)).unwrap();
    }
    b.edit(|c| c["linux"]["resources"] = resources);
    b
}

fn run_detached(b: &Bundle) {
    ok(&b.with_bundle("run", &["-d"]), "run -d");
}

fn file(b: &Bundle, name: &str) -> String {
    std::fs::read_to_string(b.cgroup_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}")).trim().to_owned()
}

fn keyed(b: &Bundle, name: &str, key: &str) -> u64 {
    let text = file(b, name);
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{key} not in {name}: {text}"))
}

fn pids(b: &Bundle) -> Vec<i64> {
    serde_json::from_str(&ok(&b.nook(&["ps", "--format", "json", &b.id]), "ps")).unwrap()
}

fn stats(b: &Bundle) -> Value {
    let ev: Value = serde_json::from_str(&ok(&b.nook(&["events", "--stats", &b.id]), "events --stats")).unwrap();
    assert_eq!(ev["type"], "stats");
    ev["data"].clone()
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

#[test]
#[ignore = "needs a pure cgroup v2 machine: runs in the test VM (make test-vm)"]
fn over_memory_max_is_oom_killed_and_events_report_it() {
    let mem = json!({"memory": {"limit": 33554432, "swap": 33554432}});
    // The init itself over the limit: `nook run` exits 128+SIGKILL.
    let b = bundle("oomrun", &["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"], mem.clone());
    let out = b.with_bundle("run", &[]);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    b.assert_clean();

    // A child over the limit while `events` watches: an oom event, and the
    // count in the stats.
    let script = "sleep 3; dd if=/dev/zero of=/dev/null bs=64M count=1; exec sleep 1000";
    let b = bundle("oomev", &["sh", "-c", script], mem);
    run_detached(&b);
    let log = b.dir.join("events.log");
    let mut events = b.cmd(&["events", "--interval", "1s", &b.id]);
    events.stdout(std::fs::File::create(&log).unwrap()).stderr(Stdio::inherit());
    let mut events = events.spawn().unwrap();
    wait_for("an oom event", || std::fs::read_to_string(&log).unwrap().contains(r#"{"type":"oom","id":""#));
    let line = std::fs::read_to_string(&log).unwrap();
    let oom: Value = serde_json::from_str(line.lines().find(|l| l.starts_with(r#"{"type":"oom""#)).unwrap()).unwrap();
    assert_eq!(oom, json!({"type": "oom", "id": b.id}));
    assert!(stats(&b)["memory"]["event_count"]["oom_kill"].as_u64().unwrap() >= 1);
    assert!(keyed(&b, "memory.events", "oom_kill") >= 1);
    // The stream ends with the container.
    ok(&b.nook(&["kill", &b.id, "KILL"]), "kill");
    let t = Instant::now();
    let status = loop {
        if let Some(s) = events.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < PATIENCE, "events did not end with the container");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "events: {status}");
    for l in std::fs::read_to_string(&log).unwrap().lines() {
        let e: Value = serde_json::from_str(l).unwrap();
        assert!(
            e["type"] == "oom" || (e["type"] == "stats" && e["data"]["memory"]["usage"]["usage"].as_u64() > Some(0)),
            "{l}"
        );
    }
}

#[test]
#[ignore = "needs a pure cgroup v2 machine: runs in the test VM (make test-vm)"]
fn pids_max_stops_a_fork_bomb() {
    // The bomb in a subshell, which dies of its failed fork; init lives on.
    let script = "(for i in $(seq 30); do sleep 1000 & done) 2>/dev/null; exec sleep 1000";
    let b = bundle("forkbomb", &["sh", "-c", script], json!({"pids": {"limit": 8}}));
    run_detached(&b);
    assert_eq!(file(&b, "pids.max"), "8");
    wait_for("pids.events max > 0", || keyed(&b, "pids.events", "max") > 0);
    assert!(file(&b, "pids.current").parse::<u64>().unwrap() <= 8);
    let data = stats(&b);
    assert_eq!(data["pids"]["limit"], 8);
    assert!(data["pids"]["current"].as_u64().unwrap() <= 8);
    assert!(pids(&b).len() <= 8);
    // A higher limit applies live: the next fork succeeds.
    ok(&b.nook(&["update", "--pids-limit", "100", &b.id]), "update --pids-limit");
    assert_eq!(file(&b, "pids.max"), "100");
    ok(&b.nook(&["update", "--pids-limit", "-1", &b.id]), "update --pids-limit -1");
    assert_eq!(file(&b, "pids.max"), "max");
}

#[test]
#[ignore = "needs a pure cgroup v2 machine: runs in the test VM (make test-vm)"]
fn cpu_max_and_weight_follow_quota_period_and_shares() {
    let b = bundle("cpu", &["sleep", "1000"], json!({"cpu": {"quota": 50000, "period": 100000, "shares": 512}}));
    run_detached(&b);
    assert_eq!(file(&b, "cpu.max"), "50000 100000");
    assert_eq!(file(&b, "cpu.weight"), nook::cgroups::cpu_shares_to_weight(512).to_string());
    // runc: a quota or a period alone keeps the other.
    ok(&b.nook(&["update", "--cpu-quota", "20000", &b.id]), "update --cpu-quota");
    assert_eq!(file(&b, "cpu.max"), "20000 100000");
    ok(&b.nook(&["update", "--cpu-period", "200000", &b.id]), "update --cpu-period");
    assert_eq!(file(&b, "cpu.max"), "20000 200000");
    ok(&b.nook(&["update", "--cpu-quota", "-1", &b.id]), "update --cpu-quota -1");
    assert_eq!(file(&b, "cpu.max"), "max 200000");
    ok(&b.nook(&["update", "--cpu-shares", "2048", &b.id]), "update --cpu-shares");
    assert_eq!(file(&b, "cpu.weight"), nook::cgroups::cpu_shares_to_weight(2048).to_string());
    assert_one_line_error(&b.nook(&["update", "--cpu-rt-runtime", "950000", &b.id]), "realtime");
    // A controller the container was created without (cpuset) is enabled
    // for the update, as runc's cgroups have every controller.
    ok(&b.nook(&["update", "--cpuset-cpus", "0", &b.id]), "update --cpuset-cpus");
    assert_eq!(file(&b, "cpuset.cpus"), "0");
    assert_eq!(stats(&b)["cpuset"]["cpus"], json!([0]));
}

#[test]
#[ignore = "needs a pure cgroup v2 machine: runs in the test VM (make test-vm)"]
fn pause_freezes_every_process_and_resume_thaws_them() {
    let tick = |f: &str| format!("while true; do echo x >> /out/{f}; sleep 0.1; done");
    let script = format!("{} & {} & {}", tick("a"), tick("b"), tick("c"));
    let b = bundle("pause", &["sh", "-c", &script], json!({}));
    let out = b.dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/out", "type": "bind", "source": out.to_str().unwrap(), "options": ["rbind", "rw"]
        }))
    });
    run_detached(&b);
    let files = ["a", "b", "c"].map(|f| out.join(f));
    wait_for("every writer to write", || files.iter().all(|f| size(f) > 0));
    let all = pids(&b);
    ok(&b.nook(&["pause", &b.id]), "pause");
    assert_eq!(b.status(), "paused");
    assert_eq!(keyed(&b, "cgroup.events", "frozen"), 1);
    let frozen = files.clone().map(|f| size(&f));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(files.clone().map(|f| size(&f)), frozen, "a file grew while paused");
    // Every process, not only the writers, is frozen (the kernel's own count).
    for p in &all {
        let status = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
        assert!(status.is_empty() || !status.contains("State:\tR"), "pid {p} running while paused");
    }
    ok(&b.nook(&["resume", &b.id]), "resume");
    assert_eq!(b.status(), "running");
    assert_eq!(keyed(&b, "cgroup.events", "frozen"), 0);
    wait_for("every file to grow again", || files.iter().zip(frozen).all(|(f, s)| size(f) > s));
}

#[test]
#[ignore = "needs a pure cgroup v2 machine: runs in the test VM (make test-vm)"]
fn kill_all_ends_every_process() {
    let b = bundle("killall", &["sh", "-c", "sleep 1000 & sleep 1000 & sleep 1000 & exec sleep 1000"], json!({}));
    run_detached(&b);
    wait_for("four processes", || pids(&b).len() == 4);
    let before = pids(&b);
    ok(&b.nook(&["kill", "--all", &b.id, "KILL"]), "kill --all");
    wait_for("an empty cgroup", || file(&b, "cgroup.procs").is_empty());
    wait_for("status stopped", || b.status() == "stopped");
    for p in before {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.rsplit(')').next().unwrap().trim_start().starts_with('Z'),
            "pid {p} survived: {stat}"
        );
    }
    ok(&b.nook(&["delete", &b.id]), "delete");
    b.assert_clean();
}

#[test]
#[ignore = "needs a pure cgroup v2 machine: runs in the test VM (make test-vm)"]
fn update_changes_a_live_memory_limit_and_a_failure_changes_nothing() {
    let b = bundle("memupd", &["sleep", "1000"], json!({"memory": {"limit": 67108864}}));
    run_detached(&b);
    assert_eq!(file(&b, "memory.max"), "67108864");
    ok(&b.nook(&["update", "--memory", "128m", "--memory-reservation", "16m", &b.id]), "update --memory");
    assert_eq!(file(&b, "memory.max"), "134217728");
    assert_eq!(file(&b, "memory.low"), "16777216");
    // memory+swap alone adds to the current memory limit.
    if b.cgroup_dir().join("memory.swap.max").exists() {
        ok(&b.nook(&["update", "--memory-swap", "192m", &b.id]), "update --memory-swap");
        assert_eq!(file(&b, "memory.swap.max"), "67108864");
    }
    let data = stats(&b);
    assert_eq!(data["memory"]["usage"]["limit"], 134217728);
    assert!(data["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "no memory usage: {data}");
    assert!(data["cpu"]["usage"]["total"].as_u64().unwrap() > 0, "no cpu usage: {data}");
    // Invalid: refused before any write.
    assert_one_line_error(&b.nook(&["update", "--memory", "96m", "--pids-limit", "-7", &b.id]), "pids.limit");
    assert_eq!(file(&b, "memory.max"), "134217728");
    // Refused by the kernel after memory.max was written (no such CPU):
    // memory.max is put back.
    let out = b.nook(&["update", "--memory", "96m", "--cpuset-cpus", "63", &b.id]);
    assert_one_line_error(&out, "cpuset.cpus");
    assert_eq!(file(&b, "memory.max"), "134217728");
    // Below current usage, with checkBeforeUpdate: refused.
    let res = b.dir.join("res.json");
    std::fs::write(&res, json!({"memory": {"limit": 4096, "checkBeforeUpdate": true}}).to_string()).unwrap();
    assert_one_line_error(&b.nook(&["update", "-r", res.to_str().unwrap(), &b.id]), "not above current usage");
    assert_eq!(file(&b, "memory.max"), "134217728");
    // Unlimited.
    ok(&b.nook(&["update", "--memory", "-1", &b.id]), "update --memory -1");
    assert_eq!(file(&b, "memory.max"), "max");
    // Stopped: refused.
    ok(&b.nook(&["kill", &b.id, "KILL"]), "kill");
    wait_for("status stopped", || b.status() == "stopped");
    assert_one_line_error(&b.nook(&["update", "--memory", "64m", &b.id]), "container not running");
}
