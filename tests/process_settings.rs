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
