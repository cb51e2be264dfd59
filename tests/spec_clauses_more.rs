//! More runtime-spec 1.3 clauses for Linux (see the clause table in
//! docs/conformance.md): features.md and features-linux.md, mount options,
//! and config values nook must refuse. tests/spec_clauses.rs has the rest.

mod common;
use common::*;
use serde_json::{json, Value};

fn features() -> Value {
    let out = std::process::Command::new(NOOK).arg("features").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// The number of a capability in the kernel's order (capabilities(7)).
fn caps_number(name: &str) -> u32 {
    const ORDER: &[&str] = &[
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ];
    let short = name.strip_prefix("CAP_").unwrap();
    ORDER.iter().position(|c| *c == short).unwrap_or_else(|| panic!("unknown capability {name}")) as u32
}

fn run_ok(b: &Bundle) -> String {
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    stdout(&out)
}

/// features.md: ociVersionMin and ociVersionMax are accepted as a
/// config's ociVersion, min <= max; only properties of this spec version
/// appear, none of them null; the hooks listed are the six nook runs.
#[test]
fn features_hold_only_spec_properties_and_their_versions_are_accepted() {
    let f = features();
    let version = |k: &str| -> Vec<u64> {
        f[k].as_str().unwrap().split(['.', '-', '+']).take(3).map(|n| n.parse().unwrap()).collect()
    };
    assert!(version("ociVersionMin") <= version("ociVersionMax"), "{f}");
    for k in ["ociVersionMin", "ociVersionMax"] {
        let b = Bundle::new("featver", &["true"]);
        b.edit(|c| c["ociVersion"] = f[k].clone());
        run_ok(&b);
        b.assert_clean();
    }
    let top = [
        "ociVersionMin",
        "ociVersionMax",
        "hooks",
        "mountOptions",
        "linux",
        "annotations",
        "potentiallyUnsafeConfigAnnotations",
    ];
    let linux = [
        "namespaces",
        "capabilities",
        "cgroup",
        "seccomp",
        "apparmor",
        "selinux",
        "intelRdt",
        "mountExtensions",
        "netDevices",
        "memoryPolicy",
    ];
    assert!(keys(&f).iter().all(|k| top.contains(&k.as_str())), "{:?}", keys(&f));
    assert!(keys(&f["linux"]).iter().all(|k| linux.contains(&k.as_str())), "{:?}", keys(&f["linux"]));
    assert!(!f.to_string().contains("null"), "a null in {f}");
    assert_eq!(
        strings(&f["hooks"]),
        ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
    );
    for (k, v) in f["annotations"].as_object().unwrap() {
        assert!(!k.is_empty() && v.is_string(), "annotation {k:?}: {v}");
    }
    assert_eq!(f["linux"]["mountExtensions"]["idmap"]["enabled"], true);
}

/// config.md "Linux mount options" (what nook must recognise) and
/// features.md mountOptions: every MUST option is listed, and nothing
/// listed is a filesystem-specific option.
#[test]
fn features_list_every_must_mount_option_and_no_filesystem_ones() {
    const MUST: &[&str] = &[
        "async",
        "atime",
        "bind",
        "defaults",
        "dev",
        "diratime",
        "dirsync",
        "exec",
        "iversion",
        "lazytime",
        "loud",
        "noatime",
        "nodev",
        "nodiratime",
        "noexec",
        "noiversion",
        "nolazytime",
        "norelatime",
        "nostrictatime",
        "nosuid",
        "private",
        "rbind",
        "relatime",
        "remount",
        "ro",
        "rprivate",
        "rshared",
        "rslave",
        "runbindable",
        "rw",
        "shared",
        "silent",
        "slave",
        "strictatime",
        "suid",
        "sync",
        "unbindable",
    ];
    const SHOULD_OR_MAY: &[&str] = &[
        "mand",
        "nomand",
        "nosymfollow",
        "symfollow",
        "ratime",
        "rdev",
        "rnodev",
        "rdiratime",
        "rexec",
        "rnoatime",
        "rnodiratime",
        "rnoexec",
        "rnorelatime",
        "rnostrictatime",
        "rnosuid",
        "rnosymfollow",
        "rrelatime",
        "rro",
        "rrw",
        "rstrictatime",
        "rsuid",
        "rsymfollow",
        "tmpcopyup",
        "idmap",
        "ridmap",
    ];
    let listed = strings(&features()["mountOptions"]);
    for o in MUST {
        assert!(listed.iter().any(|l| l == o), "MUST option {o} not listed");
    }
    for o in &listed {
        assert!(MUST.contains(&o.as_str()) || SHOULD_OR_MAY.contains(&o.as_str()), "{o} is not in the spec's table");
    }
}

/// features-linux.md: the runtime recognises (and for supportedFlags,
/// supports) every namespace, capability and seccomp name it lists: one
/// container uses them all.
#[test]
fn every_listed_capability_and_seccomp_name_is_accepted() {
    let f = features();
    let l = &f["linux"];
    assert_eq!(
        strings(&l["namespaces"]).iter().map(String::as_str).collect::<Vec<_>>(),
        ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]
    );
    // Rules on syscalls the container never makes, one per action (NOTIFY
    // needs an agent: tests/seccomp_containers.rs) and per operator.
    let unused = ["kexec_load", "init_module", "delete_module", "acct", "swapon", "reboot", "pivot_root", "vhangup"];
    let actions: Vec<String> =
        strings(&l["seccomp"]["actions"]).into_iter().filter(|a| a != "SCMP_ACT_NOTIFY").collect();
    assert!(actions.len() <= unused.len());
    let mut rules: Vec<Value> = actions.iter().zip(unused).map(|(a, s)| json!({"names": [s], "action": a})).collect();
    for op in strings(&l["seccomp"]["operators"]) {
        rules.push(json!({"names": ["setns"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 1, "value": 0x7fff_0000u64, "valueTwo": 0x7fff_0000u64, "op": op}]}));
    }
    // Only those nook itself holds: one it cannot grant fails create (a
    // deviation: the spec asks for a warning; see docs/conformance.md).
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let bnd = status.lines().find_map(|l| l.strip_prefix("CapBnd:\t")).unwrap();
    let bnd = u64::from_str_radix(bnd.trim(), 16).unwrap();
    let all = strings(&l["capabilities"]);
    let cap_no = |name: &str| caps_number(name);
    let caps: Vec<&String> = all.iter().filter(|c| bnd & (1 << cap_no(c)) != 0).collect();
    let want = caps.iter().fold(0u64, |m, c| m | 1 << cap_no(c));
    let b = Bundle::new("featnames", &["sh", "-c", "grep CapBnd /proc/self/status"]);
    b.edit(|c| {
        c["process"]["capabilities"] = json!({"bounding": caps, "permitted": caps, "effective": caps});
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": l["seccomp"]["archs"],
            "flags": l["seccomp"]["supportedFlags"],
            "syscalls": rules
        });
    });
    let out = run_ok(&b);
    assert_eq!(out.trim(), format!("CapBnd:\t{want:016x}"));
    b.assert_clean();
    // knownFlags are recognised: a config naming them is not refused as unknown.
    for flag in strings(&l["seccomp"]["knownFlags"]) {
        let b = Bundle::new("featflag", &["true"]);
        b.edit(|c| c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": [flag]}));
        run_ok(&b);
        b.assert_clean();
    }
}

/// config.md "Linux mount options": the filesystem-independent MUST
/// options reach the mount (mountinfo's per-mount and superblock fields).
#[test]
fn must_mount_options_are_applied() {
    let b = Bundle::new("mountopts", &["sh", "-c", "grep ' /t ' /proc/self/mountinfo"]);
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/t", "type": "tmpfs", "source": "tmpfs",
            "options": ["rw", "ro", "nosuid", "nodev", "noexec", "noatime", "sync", "dirsync", "lazytime", "silent", "mode=700"]
        }))
    });
    let out = run_ok(&b);
    let fields: Vec<&str> = out.split_whitespace().collect();
    let per_mount: Vec<&str> = fields[5].split(',').collect();
    for o in ["ro", "nosuid", "nodev", "noexec", "noatime"] {
        assert!(per_mount.contains(&o), "{o} missing from {out}");
    }
    let sb: Vec<&str> = fields.last().unwrap().split(',').collect();
    // `ro` is the mount's (MOUNT_ATTR_RDONLY), not the fresh superblock's.
    for o in ["sync", "dirsync", "lazytime", "mode=700"] {
        assert!(sb.contains(&o), "{o} missing from the superblock options of {out}");
    }
    b.assert_clean();
}

/// config.md "Valid values" for values only a config author can get wrong:
/// a relative namespace path (config-linux.md: MUST be absolute) and a
/// mount's uidMappings without gidMappings (config.md: MUST go together)
/// are errors naming the field.
#[test]
fn author_errors_the_runtime_must_refuse() {
    type Edit = Box<dyn Fn(&mut Value)>;
    let map = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    let cases: Vec<(&str, Edit)> = vec![
        (
            "linux.namespaces",
            Box::new(|c| {
                let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
                ns.retain(|n| n["type"] != "uts");
                ns.push(json!({"type": "uts", "path": "proc/self/ns/uts"}));
            }),
        ),
        (
            "mounts[7]",
            Box::new(move |c| {
                c["mounts"].as_array_mut().unwrap().push(json!({
                    "destination": "/mnt", "type": "bind", "source": "rootfs", "options": ["bind", "idmap"],
                    "uidMappings": map
                }))
            }),
        ),
    ];
    for (field, edit) in cases {
        let b = Bundle::new("authorerr", &["true"]);
        b.edit(|c| edit(c));
        assert_one_line_error(&b.with_bundle("run", &[]), field);
        b.assert_clean();
    }
}
