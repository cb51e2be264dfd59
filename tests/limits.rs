//! cgroup limits, device rules and seccomp, as far as this host shows them
//! (only hugetlb is enabled in its unified hierarchy; real memory, pids and
//! cpu limits are proven in the test VM).

mod common;
use common::*;
use serde_json::json;

#[test]
fn an_unavailable_controller_is_named_and_nothing_is_left_behind() {
    let b = Bundle::new("nomem", &["true"]);
    b.edit(|c| c["linux"]["resources"]["memory"] = json!({"limit": 33554432}));
    let out = b.with_bundle("run", &[]);
    if std::fs::read_to_string(cgroup_mount().join("cgroup.controllers")).unwrap().contains("memory") {
        // A pure v2 host (the VM): the limit applies.
        assert!(out.status.success(), "{}", stderr(&out));
    } else {
        assert_one_line_error(&out, "\"memory\" is not available");
    }
    b.assert_clean();
}

#[test]
fn a_bad_limit_names_the_field() {
    let b = Bundle::new("badlimit", &["true"]);
    b.edit(|c| c["linux"]["resources"]["pids"] = json!({"limit": "many"}));
    assert_one_line_error(&b.with_bundle("create", &[]), "linux.resources.pids.limit");
    b.assert_clean();
}

#[test]
fn a_hugetlb_limit_is_written_to_the_containers_cgroup() {
    let sizes = std::fs::read_dir("/sys/kernel/mm/hugepages").map(|d| d.count()).unwrap_or(0);
    assert!(sizes > 0, "this kernel has no huge page sizes");
    let b = Bundle::new("hugetlb", &["sleep", "100"]);
    b.edit(|c| c["linux"]["resources"]["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": 4194304}]));
    let out = b.with_bundle("create", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = std::fs::read_to_string(b.cgroup_dir().join("hugetlb.2MB.max")).unwrap();
    assert_eq!(v.trim(), "4194304");
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

#[test]
fn devices_outside_the_allowed_list_cannot_be_opened() {
    // runc's default spec denies all devices, then allows the standard ones
    // and mknod of any. /dev/port (1:4) is not among them: with the
    // capabilities to make and read it, only the device filter stands in
    // the way.
    let script = "mknod /tmp/port c 1 4 && echo made; head -c 1 /tmp/port >/dev/null && echo read-port; \
                  mknod /tmp/null2 c 1 3 && head -c 1 /tmp/null2 && echo read-null";
    let b = Bundle::new("devices", &["sh", "-c", script]);
    b.edit(|c| {
        let caps = json!(["CAP_MKNOD", "CAP_SYS_RAWIO"]);
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set] = caps.clone();
        }
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    });
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (s, e) = (stdout(&out), stderr(&out));
    assert!(s.contains("made") && s.contains("read-null"), "{s} {e}");
    assert!(!s.contains("read-port") && e.contains("Operation not permitted"), "a denied device was readable: {s} {e}");
}

#[test]
fn seccomp_errno_rule_denies_the_syscall_with_and_without_no_new_privs() {
    for nnp in [true, false] {
        let b = Bundle::new("seccomp", &["sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?"]);
        b.edit(|c| {
            c["process"]["noNewPrivileges"] = nnp.into();
            c["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
            });
        });
        let out = b.with_bundle("run", &[]);
        assert!(out.status.success(), "nnp={nnp}: {}", stderr(&out));
        let s = stdout(&out);
        assert!(s.contains("Permission denied") && s.contains("rc=1"), "nnp={nnp}: {s}");
        b.assert_clean();
    }
}

#[test]
fn a_bad_seccomp_profile_names_the_field() {
    let b = Bundle::new("badseccomp", &["true"]);
    b.edit(|c| {
        c["linux"]["seccomp"] =
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}]})
    });
    assert_one_line_error(&b.with_bundle("run", &[]), "linux.seccomp.syscalls[0].action");
    b.assert_clean();
}
