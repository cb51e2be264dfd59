//! Resolves a containers-common (podman) seccomp.json into the
//! runtime-spec `linux.seccomp` for one arch and capability set, as podman
//! does: `archMap` picks the architectures; an entry is dropped if its
//! `excludes.arches` has the arch or `excludes.caps` has any granted cap,
//! or if `includes.arches` lacks the arch or `includes.caps` is not fully
//! granted. Shared by the tests and `examples/seccomp_bench.rs`.

use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Value};

/// Podman's default capability set.
pub const PODMAN_DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// `go_arch` is Go's name ("amd64"), `scmp_arch` the archMap key
/// ("SCMP_ARCH_X86_64").
pub fn resolve(profile: &str, go_arch: &str, scmp_arch: &str, caps: &[&str]) -> LinuxSeccomp {
    let v: Value = serde_json::from_str(profile).expect("profile JSON");
    let strs = |v: &Value| -> Vec<String> {
        v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect()).unwrap_or_default()
    };
    let mut arches = vec![];
    for m in v["archMap"].as_array().into_iter().flatten() {
        if m["architecture"] == scmp_arch {
            arches.push(scmp_arch.to_string());
            arches.extend(strs(&m["subArchitectures"]));
        }
    }
    let mut syscalls = vec![];
    for s in v["syscalls"].as_array().into_iter().flatten() {
        let (inc, exc) = (&s["includes"], &s["excludes"]);
        let has = |list: &Value, x: &str| strs(list).iter().any(|a| a == x);
        if has(&exc["arches"], go_arch) || caps.iter().any(|c| has(&exc["caps"], c)) {
            continue;
        }
        // includes.minKernel (Docker's ptrace): this host's kernel is newer.
        let inc_arches = strs(&inc["arches"]);
        if !inc_arches.is_empty() && !inc_arches.iter().any(|a| a == go_arch) {
            continue;
        }
        if !strs(&inc["caps"]).iter().all(|c| caps.contains(&c.as_str())) {
            continue;
        }
        let mut names = strs(&s["names"]);
        if let Some(n) = s["name"].as_str() {
            names.push(n.to_string());
        }
        let mut out = json!({"names": names, "action": s["action"]});
        if !s["errnoRet"].is_null() {
            out["errnoRet"] = s["errnoRet"].clone();
        }
        if s["args"].as_array().is_some_and(|a| !a.is_empty()) {
            out["args"] = s["args"].clone();
        }
        syscalls.push(out);
    }
    let mut spec = json!({"defaultAction": v["defaultAction"], "architectures": arches, "syscalls": syscalls});
    if !v["defaultErrnoRet"].is_null() {
        spec["defaultErrnoRet"] = v["defaultErrnoRet"].clone();
    }
    serde_json::from_value(spec).expect("resolved profile is a valid linux.seccomp")
}
