//! The cgroup subcommands on the host: pause, resume, ps, update, events.
//! This host's cgroup v2 hierarchy has only hugetlb (freezing and killing
//! need no controller); real memory, pids and cpu limits are in
//! tests/vm_cgroups.rs, run in the test VM.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn wait_status(b: &Bundle, want: &str) {
    let t = Instant::now();
    while b.status() != want {
        assert!(t.elapsed() < Duration::from_secs(10), "status stayed {} (want {want})", b.status());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ok(o: &std::process::Output, what: &str) -> String {
    assert!(o.status.success(), "{what}: {}", stderr(o));
    stdout(o)
}

/// A detached container running `args`.
fn running(name: &str, args: &[&str]) -> Bundle {
    let b = Bundle::new(name, args);
    ok(&b.with_bundle("run", &["-d"]), "run -d");
    wait_status(&b, "running");
    b
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn controllers() -> String {
    std::fs::read_to_string(cgroup_mount().join("cgroup.controllers")).unwrap()
}

#[test]
fn pause_stops_every_process_and_resume_restarts_them() {
    let b = Bundle::new("pause", &["sh", "-c", "while true; do echo x >> /out/ticks; sleep 0.05; done"]);
    let out = b.dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/out", "type": "bind", "source": out.to_str().unwrap(), "options": ["rbind", "rw"]
        }))
    });
    ok(&b.with_bundle("run", &["-d"]), "run -d");
    let ticks = out.join("ticks");
    let t = Instant::now();
    while size(&ticks) < 4 {
        assert!(t.elapsed() < Duration::from_secs(10), "the container never wrote");
        std::thread::sleep(Duration::from_millis(20));
    }
    ok(&b.nook(&["pause", &b.id]), "pause");
    assert_eq!(b.status(), "paused");
    assert_eq!(std::fs::read_to_string(b.cgroup_dir().join("cgroup.freeze")).unwrap().trim(), "1");
    // Frozen once pause returns: not one more write.
    let frozen = size(&ticks);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(size(&ticks), frozen, "the file grew while paused");
    // Paused twice, resumed when running: runc's errors.
    assert_one_line_error(&b.nook(&["pause", &b.id]), "container not running");
    ok(&b.nook(&["resume", &b.id]), "resume");
    assert_eq!(b.status(), "running");
    assert_one_line_error(&b.nook(&["resume", &b.id]), "container not paused");
    let t = Instant::now();
    while size(&ticks) <= frozen {
        assert!(t.elapsed() < Duration::from_secs(5), "the file did not grow after resume");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A paused container can still be deleted with --force.
    ok(&b.nook(&["pause", &b.id]), "pause");
    ok(&b.nook(&["delete", "--force", &b.id]), "delete --force");
    b.assert_clean();
}

#[test]
fn ps_lists_the_containers_processes() {
    let b = running("ps", &["sh", "-c", "sleep 100 & exec sleep 101"]);
    let init = b.state()["pid"].as_i64().unwrap();
    let t = Instant::now();
    let pids = loop {
        let pids: Vec<i64> = serde_json::from_str(&ok(&b.nook(&["ps", "--format", "json", &b.id]), "ps json")).unwrap();
        if pids.len() == 2 || t.elapsed() > Duration::from_secs(5) {
            break pids;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(pids.contains(&init), "init {init} not in {pids:?}");
    assert_eq!(pids.len(), 2, "{pids:?}");
    // Table: the host's ps -ef header, then exactly the container's lines.
    let table = ok(&b.nook(&["ps", &b.id]), "ps");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].contains("PID") && lines[0].contains("CMD"), "{table}");
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[1..].iter().all(|l| l.contains("sleep 10")), "{table}");
    // ps arguments after the id (with or without --).
    let custom = ok(&b.nook(&["ps", &b.id, "--", "-o", "pid,comm"]), "ps -- -o");
    assert!(custom.lines().next().unwrap().split_whitespace().eq(["PID", "COMMAND"]), "{custom}");
    assert!(custom.contains(&format!("{init} sleep")), "{custom}");
    let custom = ok(&b.nook(&["ps", &b.id, "-o", "pid"]), "ps -o");
    assert_eq!(custom.lines().count(), 3, "{custom}");
    assert_one_line_error(&b.nook(&["ps", "--format", "json", &b.id, "-o", "pid"]), "--format json");
    assert_one_line_error(&b.nook(&["ps", &b.id, "-o", "comm"]), "couldn't find PID");
    assert_one_line_error(&b.nook(&["ps", "--format", "yaml", &b.id]), "yaml");
}

#[test]
fn update_changes_a_live_hugetlb_limit() {
    let b = running("upd", &["sleep", "100"]);
    let max = b.cgroup_dir().join("hugetlb.2MB.max");
    let file = b.dir.join("res.json");
    std::fs::write(&file, json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}).to_string()).unwrap();
    ok(&b.nook(&["update", "--resources", file.to_str().unwrap(), &b.id]), "update -r FILE");
    assert_eq!(std::fs::read_to_string(&max).unwrap().trim(), "4194304");
    // From stdin.
    let mut c = b.cmd(&["update", "-r", "-", &b.id]);
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(br#"{"hugepageLimits":[{"pageSize":"2MB","limit":8388608}]}"#).unwrap();
    ok(&child.wait_with_output().unwrap(), "update -r -");
    assert_eq!(std::fs::read_to_string(&max).unwrap().trim(), "8388608");
    // The stats show it.
    let ev: Value = serde_json::from_str(&ok(&b.nook(&["events", "--stats", &b.id]), "events --stats")).unwrap();
    assert_eq!(ev["data"]["hugetlb"]["2MB"]["max"], 8388608);
}

/// runc reads resources with Go's decoder, which matches keys ignoring
/// case; callers write `pagesize` and `hugePageLimits` and rely on it.
/// nook reads `linux.resources` and `update --resources` the same way.
#[test]
fn resource_keys_are_matched_ignoring_case_as_runc_does() {
    let b = Bundle::new("gokeys", &["sleep", "100"]);
    b.edit(|c| c["linux"]["resources"]["hugePageLimits"] = json!([{"pagesize": "2MB", "Limit": 4194304}]));
    ok(&b.with_bundle("run", &["-d"]), "run -d");
    let max = b.cgroup_dir().join("hugetlb.2MB.max");
    assert_eq!(std::fs::read_to_string(&max).unwrap().trim(), "4194304");
    let file = b.dir.join("res.json");
    std::fs::write(&file, r#"{"HugepageLimits": [{"PAGESIZE": "2MB", "limit": 8388608}]}"#).unwrap();
    ok(&b.nook(&["update", "--resources", file.to_str().unwrap(), &b.id]), "update -r FILE");
    assert_eq!(std::fs::read_to_string(&max).unwrap().trim(), "8388608");
    ok(&b.nook(&["delete", "--force", &b.id]), "delete --force");
    b.assert_clean();
}

#[test]
fn a_failed_update_names_the_problem_and_changes_nothing() {
    // Started with a hugetlb limit, so that its file exists (on a fresh
    // host nothing else has enabled the controller).
    let b = Bundle::new("updfail", &["sleep", "100"]);
    b.edit(|c| c["linux"]["resources"]["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": 8388608}]));
    ok(&b.with_bundle("run", &["-d"]), "run -d");
    let max = b.cgroup_dir().join("hugetlb.2MB.max");
    let before = std::fs::read_to_string(&max).unwrap();
    let both = json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}], "memory": {"limit": 33554432}});
    let file = b.dir.join("res.json");
    std::fs::write(&file, both.to_string()).unwrap();
    if !controllers().contains("memory") {
        assert_one_line_error(&b.nook(&["update", "--memory", "32m", &b.id]), "\"memory\" is not available");
        assert_one_line_error(&b.nook(&["update", "-r", file.to_str().unwrap(), &b.id]), "\"memory\" is not available");
        assert_eq!(std::fs::read_to_string(&max).unwrap(), before, "hugetlb changed by a failed update");
    }
    // Bad values name their field or flag, before anything is written.
    let cases: &[(&[&str], &str)] = &[
        (&["--memory", "lots"], "--memory"),
        (&["--memory-swap", "1q"], "--memory-swap"),
        (&["--pids-limit", "-5"], "pids.limit"),
        (&["--cpu-quota", "10"], "cpu.quota"),
        (&["--cpu-period", "5"], "cpu.period"),
        (&["--cpu-share", "x"], "--cpu-share"),
        (&["--cpuset-cpus", "a-b"], "cpuset.cpus"),
        (&["--blkio-weight", "5"], "blockIO.weight"),
        (&["--cpu-rt-runtime", "1000"], "realtime"),
        (&["--cpu-rt-period", "1000"], "realtime"),
        (&[], "nothing to update"),
        (&["-r", "/nonexistent.json"], "/nonexistent.json"),
        (&["-r", file.to_str().unwrap(), "--pids-limit", "3"], "cannot be combined"),
    ];
    for (args, needle) in cases {
        let mut a = vec!["update"];
        a.extend_from_slice(args);
        a.push(&b.id);
        assert_one_line_error(&b.nook(&a), needle);
    }
    std::fs::write(&file, r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": "big"}]}"#).unwrap();
    assert_one_line_error(&b.nook(&["update", "-r", file.to_str().unwrap(), &b.id]), "hugepageLimits[0].limit");
    std::fs::write(&file, r#"{"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]}"#).unwrap();
    assert_one_line_error(&b.nook(&["update", "-r", file.to_str().unwrap(), &b.id]), "hugepageLimits[0]");
    assert_eq!(std::fs::read_to_string(&max).unwrap(), before, "hugetlb changed by a failed update");
}

#[test]
fn events_stats_prints_one_event_in_runcs_shape() {
    let b = running("evstats", &["sleep", "100"]);
    let out = ok(&b.nook(&["events", "--stats", &b.id]), "events --stats");
    assert_eq!(out.lines().count(), 1, "{out}");
    let ev: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], b.id.as_str());
    for key in ["cpu", "memory", "pids", "blkio", "hugetlb"] {
        assert!(ev["data"][key].is_object(), "no data.{key}: {out}");
    }
    assert_eq!(ev["data"]["pids"]["current"], 1, "{out}");
}

#[test]
fn the_event_stream_ends_when_the_container_stops() {
    let b = running("evstream", &["sleep", "1"]);
    let t = Instant::now();
    let out = b.nook(&["events", "--interval", "200ms", &b.id]);
    let s = ok(&out, "events");
    assert!(t.elapsed() < Duration::from_secs(5), "events outlived the container");
    let events: Vec<Value> = s.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!events.is_empty(), "no events in a second at 200ms");
    assert!(events.iter().all(|e| e["type"] == "stats" && e["id"] == b.id.as_str()), "{s}");
    assert_one_line_error(&b.nook(&["events", "--interval", "soon", &b.id]), "--interval");
}

#[test]
fn kill_all_ends_every_process() {
    let b = running("killall", &["sh", "-c", "sleep 100 & sleep 100 & exec sleep 100"]);
    ok(&b.nook(&["kill", "--all", &b.id, "KILL"]), "kill --all");
    wait_status(&b, "stopped");
    let t = Instant::now();
    while std::fs::read_to_string(b.cgroup_dir().join("cgroup.procs")).unwrap_or_default() != "" {
        assert!(t.elapsed() < Duration::from_secs(5), "processes left in the cgroup");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A container without its own pid namespace leaves its init's children
/// behind in its cgroup when init exits: stopped, yet not empty. As runc,
/// `ps` lists them and `kill --all` signals them (containerd's shim calls
/// exactly `kill --all ID KILL` then); `kill` without --all is refused.
#[test]
fn a_stopped_container_with_processes_left_is_listed_and_killed_with_all() {
    let b = Bundle::new("leftover", &["sh", "-c", "sleep 100 & exit 0"]);
    b.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
    });
    ok(&b.with_bundle("run", &["-d"]), "run -d");
    wait_status(&b, "stopped");
    let procs = b.cgroup_dir().join("cgroup.procs");
    let left: Vec<i64> = std::fs::read_to_string(&procs).unwrap().lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(left.len(), 1, "the sleep should be left in the cgroup: {left:?}");
    let listed: Vec<i64> = serde_json::from_str(&ok(&b.nook(&["ps", "--format", "json", &b.id]), "ps")).unwrap();
    assert_eq!(listed, left);
    assert_one_line_error(&b.nook(&["kill", &b.id, "KILL"]), "container not running");
    ok(&b.nook(&["kill", "--all", &b.id, "KILL"]), "kill --all of a stopped container");
    let t = Instant::now();
    while !std::fs::read_to_string(&procs).unwrap_or_default().is_empty() {
        assert!(t.elapsed() < Duration::from_secs(5), "the left process was not killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Nothing left: still fine, as runc.
    ok(&b.nook(&["kill", "--all", &b.id, "KILL"]), "kill --all of an empty stopped container");
    ok(&b.nook(&["delete", &b.id]), "delete");
    b.assert_clean();
    assert_one_line_error(&b.nook(&["kill", "--all", &b.id, "KILL"]), "does not exist");
}

#[test]
fn the_commands_refuse_unknown_and_stopped_containers() {
    let b = Bundle::new("refuse", &["true"]);
    for cmd in
        [&["pause"][..], &["resume"], &["ps"], &["update", "--pids-limit", "5"], &["events", "--stats"], &["events"]]
    {
        let mut a = cmd.to_vec();
        a.push("no-such-container");
        assert_one_line_error(&b.nook(&a), "does not exist");
        let mut a = cmd.to_vec();
        a.push("../x");
        assert_one_line_error(&b.nook(&a), "invalid");
    }
    // Created: not running yet, so neither paused nor pausable.
    ok(&b.with_bundle("create", &[]), "create");
    assert_one_line_error(&b.nook(&["pause", &b.id]), "container not running");
    assert_one_line_error(&b.nook(&["resume", &b.id]), "container not paused");
    // Stopped.
    ok(&b.nook(&["start", &b.id]), "start");
    wait_status(&b, "stopped");
    for cmd in [&["pause"][..], &["update", "--pids-limit", "5"], &["events", "--stats"], &["events"]] {
        let mut a = cmd.to_vec();
        a.push(&b.id);
        assert_one_line_error(&b.nook(&a), "container not running");
    }
    // ps of a stopped container lists nothing and succeeds, as runc's
    // (whose json is its nil slice: null).
    assert_eq!(ok(&b.nook(&["ps", "--format", "json", &b.id]), "ps json").trim(), "null");
    let table = ok(&b.nook(&["ps", &b.id]), "ps");
    assert!(table.lines().count() == 1 && table.contains("PID"), "only the header: {table}");
    assert_one_line_error(&b.nook(&["resume", &b.id]), "container not paused");
    ok(&b.nook(&["delete", &b.id]), "delete");
    b.assert_clean();
}

/// A cgroup the test made itself, and a process it put there: on drop
/// (also when an assertion fails) thawed, emptied and removed.
struct OwnCgroup {
    dir: std::path::PathBuf,
    squatter: Option<std::process::Child>,
}

impl Drop for OwnCgroup {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join("cgroup.freeze"), "0");
        if let Some(c) = self.squatter.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A cgroup that already holds processes gets runc 1.1's warning, and the
/// container still runs in it.
#[test]
fn a_cgroup_that_holds_processes_is_a_warning() {
    let b = Bundle::new("nonempty", &["sleep", "100"]);
    std::fs::create_dir(b.cgroup_dir()).unwrap();
    let squatter = std::process::Command::new("sleep").arg("100").spawn().unwrap();
    std::fs::write(b.cgroup_dir().join("cgroup.procs"), squatter.id().to_string()).unwrap();
    let mut own = OwnCgroup { dir: b.cgroup_dir(), squatter: Some(squatter) };
    let out = b.with_bundle("run", &["-d"]);
    assert!(out.status.success(), "run -d: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(r#"level=warning msg="container's cgroup is not empty: 1 process(es) found""#),
        "no warning in {err:?}"
    );
    assert_eq!(b.status(), "running");
    // delete --force kills everything in the cgroup, the squatter too.
    ok(&b.nook(&["delete", "--force", &b.id]), "delete --force");
    assert!(!own.squatter.take().unwrap().wait().unwrap().success());
    b.assert_clean();
}

/// A cgroup frozen before create would hold init frozen before it could
/// report ready: create fails at once, in runc's words, and leaves nothing
/// of its own (the frozen cgroup is the caller's).
#[test]
fn a_frozen_cgroup_fails_create_at_once() {
    let b = Bundle::new("frozen", &["true"]);
    let own = OwnCgroup { dir: b.cgroup_dir(), squatter: None };
    std::fs::create_dir(&own.dir).unwrap();
    std::fs::write(own.dir.join("cgroup.freeze"), "1").unwrap();
    let mut c = b.cmd(&["create", "--bundle", b.dir.to_str().unwrap(), &b.id]);
    let mut child = c.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > Duration::from_secs(10) {
            let _ = std::fs::write(own.dir.join("cgroup.freeze"), "0");
            let _ = child.kill();
            let _ = child.wait();
            panic!("create hung on a frozen cgroup");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success());
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("container's cgroup unexpectedly frozen"), "{err}");
    assert!(err.contains(own.dir.to_str().unwrap()), "{err}");
    assert!(!b.root.join(&b.id).exists(), "state dir left behind");
    assert_eq!(std::fs::read_to_string(own.dir.join("cgroup.procs")).unwrap(), "");
    drop(own);
    b.assert_clean();
}

/// As with runc's cgroupfs driver, every controller the hierarchy offers
/// reaches a container created without limits: a later `update` of one of
/// them works, and a nested runtime in the container can use them.
#[test]
fn a_container_is_offered_every_controller_of_the_hierarchy() {
    let b = running("allctl", &["sleep", "100"]);
    let words = |s: String| s.split_whitespace().map(str::to_owned).collect::<std::collections::BTreeSet<_>>();
    let offered = words(controllers());
    let got = words(std::fs::read_to_string(b.cgroup_dir().join("cgroup.controllers")).unwrap());
    assert_eq!(got, offered);
    if offered.contains("hugetlb") {
        let file = b.dir.join("res.json");
        std::fs::write(&file, json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}).to_string()).unwrap();
        ok(&b.nook(&["update", "-r", file.to_str().unwrap(), &b.id]), "update");
        assert_eq!(std::fs::read_to_string(b.cgroup_dir().join("hugetlb.2MB.max")).unwrap().trim(), "4194304");
    }
    ok(&b.nook(&["delete", "--force", &b.id]), "delete");
    b.assert_clean();
}
