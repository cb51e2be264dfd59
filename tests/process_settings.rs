//! linux.personality, process.ioPriority and process.scheduler.

mod common;
use common::*;
use serde_json::json;

#[test]
fn personality_linux32_applies_to_init_and_exec() {
    let b = Bundle::new("persona", &["sleep", "100"]);
    b.edit(|c| c["linux"]["personality"] = json!({"domain": "LINUX32"}));
    let out = b.with_bundle("run", &["--detach"]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let pid = b.state()["pid"].as_i64().unwrap();
    assert_eq!(std::fs::read_to_string(format!("/proc/{pid}/personality")).unwrap().trim(), "00000008");
    let out = b.nook(&["exec", &b.id, "cat", "/proc/self/personality"]);
    assert!(out.status.success(), "exec: {}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "00000008");
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

#[test]
fn io_priority_and_scheduler_are_the_processs() {
    let b = Bundle::new("sched", &["sleep", "100"]);
    b.edit(|c| {
        c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
        c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    });
    let out = b.with_bundle("run", &["--detach"]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let pid = b.state()["pid"].as_i64().unwrap().to_string();
    let ionice = std::process::Command::new("ionice").args(["-p", &pid]).output().unwrap();
    assert_eq!(stdout(&ionice).trim(), "best-effort: prio 6");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    // Fields 19 (nice) and 41 (policy), counted from 1 with pid and comm first.
    assert_eq!(fields[19 - 3], "7", "{stat}");
    assert_eq!(fields[41 - 3], "3", "{stat}");
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();

    // A real-time class, set while init still has its capabilities.
    let r = Bundle::new("sched-rr", &["sleep", "100"]);
    r.edit(|c| c["process"]["scheduler"] = json!({"policy": "SCHED_RR", "priority": 10}));
    let out = r.with_bundle("run", &["--detach"]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let pid = r.state()["pid"].as_i64().unwrap().to_string();
    let chrt = std::process::Command::new("chrt").args(["-p", &pid]).output().unwrap();
    let s = stdout(&chrt);
    assert!(s.contains("SCHED_RR") && s.contains(": 10"), "{s}");
    assert!(r.nook(&["delete", "--force", &r.id]).status.success());
    r.assert_clean();
}

#[test]
fn bad_process_settings_are_refused_by_field() {
    let b = Bundle::new("sched-bad", &["true"]);
    b.edit(|c| c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 9}));
    assert_one_line_error(&b.with_bundle("run", &[]), "process.ioPriority.priority");
    b.edit(|c| {
        c["process"].as_object_mut().unwrap().remove("ioPriority");
        c["process"]["scheduler"] = json!({"policy": "SCHED_FIFO"});
    });
    assert_one_line_error(&b.with_bundle("run", &[]), "process.scheduler.priority");
    b.edit(|c| c["process"]["scheduler"] = json!({"policy": "SCHED_OTHER", "nice": 30}));
    assert_one_line_error(&b.with_bundle("run", &[]), "process.scheduler.nice");
    b.edit(|c| {
        c["process"].as_object_mut().unwrap().remove("scheduler");
        c["linux"]["personality"] = json!({"domain": "LINUX", "flags": ["SHORT_INODE"]});
    });
    assert_one_line_error(&b.with_bundle("run", &[]), "linux.personality.flags");
    b.assert_clean();
}

/// The task's NUMA policy as /proc/self/numa_maps shows it for a mapping
/// with no policy of its own (the first line).
fn numa_policy(maps: &str) -> String {
    maps.lines().next().and_then(|l| l.split_whitespace().nth(1)).unwrap_or_default().to_owned()
}

#[test]
fn memory_policy_applies_to_init_and_exec() {
    let cases = [
        (json!({"mode": "MPOL_BIND", "nodes": "0"}), "bind:0"),
        (json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"}), "interleave:0"),
        (json!({"mode": "MPOL_PREFERRED", "nodes": "0"}), "prefer:0"),
        (json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}), "bind=static:0"),
        (json!({"mode": "MPOL_LOCAL"}), "local"),
    ];
    for (policy, want) in cases {
        let b = Bundle::new("mempolicy", &["cat", "/proc/self/numa_maps"]);
        b.edit(|c| c["linux"]["memoryPolicy"] = policy.clone());
        let out = b.with_bundle("run", &[]);
        assert!(out.status.success(), "run {policy}: {}", stderr(&out));
        assert_eq!(numa_policy(&stdout(&out)), want, "{policy}");
        b.assert_clean();
    }
    // Without one, the policy is the default; with one, exec'd processes get it too.
    let b = Bundle::new("mempolicy-exec", &["sleep", "100"]);
    let out = b.with_bundle("run", &["--detach"]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    assert_eq!(numa_policy(&stdout(&b.nook(&["exec", &b.id, "cat", "/proc/self/numa_maps"]))), "default");
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.edit(|c| c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"}));
    let out = b.with_bundle("run", &["--detach"]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let out = b.nook(&["exec", &b.id, "cat", "/proc/self/numa_maps"]);
    assert!(out.status.success(), "exec: {}", stderr(&out));
    assert_eq!(numa_policy(&stdout(&out)), "interleave:0");
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

#[test]
fn bad_memory_policies_are_refused_by_field() {
    let b = Bundle::new("mempolicy-bad", &["true"]);
    let cases = [
        (json!({"mode": "MPOL_BIND"}), "linux.memoryPolicy.nodes: MPOL_BIND needs at least one node"),
        (json!({"mode": "MPOL_DEFAULT", "nodes": "0"}), "linux.memoryPolicy.nodes: must be empty for MPOL_DEFAULT"),
        (json!({"mode": "MPOL_LOCAL", "nodes": "0"}), "linux.memoryPolicy.nodes: must be empty for MPOL_LOCAL"),
        (json!({"mode": "MPOL_INTERLEAVE", "nodes": "1-0"}), "linux.memoryPolicy.nodes: \"1-0\""),
        (json!({"mode": "MPOL_BIND", "nodes": "x"}), "linux.memoryPolicy.nodes: \"x\""),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}),
            "linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other",
        ),
        (json!({"mode": "MPOL_FASTEST"}), "linux.memoryPolicy.mode: unknown variant `MPOL_FASTEST`"),
        (json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_WHATEVER"]}), "`MPOL_F_WHATEVER`"),
        // A node the host lacks: the kernel's EINVAL, named.
        (json!({"mode": "MPOL_BIND", "nodes": "63"}), "linux.memoryPolicy.nodes: 63: no such NUMA node on this host"),
    ];
    for (policy, want) in cases {
        b.edit(|c| c["linux"]["memoryPolicy"] = policy.clone());
        assert_one_line_error(&b.with_bundle("run", &[]), want);
        b.assert_clean();
    }
}

fn cpus_allowed(status: &str) -> String {
    status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).unwrap_or_default().trim().to_owned()
}

/// The CPUs this test may use (the host has at least two: 0 and 1).
fn own_cpus() -> String {
    cpus_allowed(&std::fs::read_to_string("/proc/self/status").unwrap())
}

fn process_json(b: &Bundle, affinity: serde_json::Value) -> String {
    let p = b.dir.join("process.json");
    let pj = json!({
        "args": ["grep", "Cpus_allowed_list", "/proc/self/status"],
        "cwd": "/",
        "user": {"uid": 0, "gid": 0},
        "execCPUAffinity": affinity,
    });
    std::fs::write(&p, pj.to_string()).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn exec_cpu_affinity_applies_to_exec_not_init() {
    assert_eq!(own_cpus(), "0-1", "this test wants CPUs 0 and 1");
    let b = Bundle::new("affinity", &["sleep", "100"]);
    // In config.json: not for init, but for `exec` without --process (the
    // process is then config.json's, as with runc).
    b.edit(|c| c["process"]["execCPUAffinity"] = json!({"initial": "0", "final": "1"}));
    let out = b.with_bundle("run", &["--detach"]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let pid = b.state()["pid"].as_i64().unwrap();
    assert_eq!(cpus_allowed(&std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap()), "0-1");
    let out = b.nook(&["exec", &b.id, "grep", "Cpus_allowed_list", "/proc/self/status"]);
    assert!(out.status.success(), "exec: {}", stderr(&out));
    assert_eq!(cpus_allowed(&stdout(&out)), "1");

    // A process.json's own: final wins; initial alone is kept (no cpuset
    // here to override it); none leaves nook's.
    for (affinity, want) in [
        (json!({"final": "1"}), "1"),
        (json!({"initial": "0"}), "0"),
        (json!({"initial": "0", "final": "0-1"}), "0-1"),
        (json!({}), "0-1"),
    ] {
        let p = process_json(&b, affinity.clone());
        let out = b.nook(&["exec", "--process", &p, &b.id]);
        assert!(out.status.success(), "exec {affinity}: {}", stderr(&out));
        assert_eq!(cpus_allowed(&stdout(&out)), want, "{affinity}");
    }
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

#[test]
fn bad_exec_cpu_affinity_is_refused_by_field() {
    let b = Bundle::new("affinity-bad", &["sleep", "100"]);
    // In config.json: refused by create, whatever the process.
    for (affinity, want) in [
        (json!({"final": "2-1"}), "process.execCPUAffinity.final: \"2-1\": the range \"2-1\" ends before it starts"),
        (json!({"initial": "x"}), "process.execCPUAffinity.initial: Invalid execCPUAffinity format: x"),
    ] {
        b.edit(|c| c["process"]["execCPUAffinity"] = affinity.clone());
        assert_one_line_error(&b.with_bundle("run", &["--detach"]), want);
        b.assert_clean();
    }
    b.edit(|c| {
        c["process"].as_object_mut().unwrap().remove("execCPUAffinity");
    });
    let out = b.with_bundle("run", &["--detach"]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    for (affinity, want) in [
        (json!({"final": "2-1"}), "process.execCPUAffinity.final: \"2-1\": the range \"2-1\" ends before it starts"),
        (json!({"final": "x"}), "process.execCPUAffinity.final: Invalid execCPUAffinity format: x"),
        (json!({"final": "63"}), "process.execCPUAffinity.final: CPU 63 is not online on this host"),
        (json!({"initial": "63"}), "process.execCPUAffinity.initial: CPU 63 is not online on this host"),
    ] {
        let p = process_json(&b, affinity.clone());
        assert_one_line_error(&b.nook(&["exec", "--process", &p, &b.id]), want);
        // Nothing of the refused process is left: only init in the cgroup.
        let procs = std::fs::read_to_string(b.cgroup_dir().join("cgroup.procs")).unwrap();
        assert_eq!(procs.lines().count(), 1, "{affinity}: {procs}");
    }
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}
