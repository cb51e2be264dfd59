//! `nook features`: the runtime-spec features document, listing only what
//! this build really does.

use serde_json::json;

pub fn features_json() -> serde_json::Value {
    use crate::seccomp::features as sc;
    let mut caps: Vec<String> = caps::all().into_iter().map(|c| c.to_string()).collect();
    caps.sort();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::spec::OCI_VERSION,
        // runtime-spec: the runtime MUST support every hook listed here.
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": crate::rootfs::options::known_options(),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": crate::cgroups::features(),
            "seccomp": {
                "enabled": true,
                "actions": sc::ACTIONS,
                "operators": sc::OPERATORS,
                "archs": sc::ARCHS,
                "knownFlags": sc::KNOWN_FLAGS,
                "supportedFlags": sc::SUPPORTED_FLAGS
            },
            // Supported by nook (runtime-spec: unrelated to the host's LSMs).
            "apparmor": {"enabled": true},
            "selinux": {"enabled": true},
            "intelRdt": {"enabled": false},
            "netDevices": {"enabled": true},
            "memoryPolicy": {
                "modes": ["MPOL_BIND", "MPOL_DEFAULT", "MPOL_INTERLEAVE", "MPOL_LOCAL", "MPOL_PREFERRED",
                          "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE"],
                "flags": ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"]
            },
            "mountExtensions": {"idmap": {"enabled": true}}
        },
        "annotations": annotations()
    })
}

/// nook's version and commit, and whether checkpoint/restore works here:
/// `org.opencontainers.runc.checkpoint.enabled` (runc's key, which crun
/// also sets) is "true" only when a CRIU nook can drive answers, and
/// `io.github.nook.criu.version` then names it.
fn annotations() -> serde_json::Value {
    let mut a = json!({
        "io.github.nook.version": env!("CARGO_PKG_VERSION"),
        "io.github.nook.commit": env!("NOOK_COMMIT"),
    });
    let criu = crate::criu::find(None).and_then(|c| c.check_version());
    a["org.opencontainers.runc.checkpoint.enabled"] = criu.is_ok().to_string().into();
    match criu {
        Ok(v) => a["io.github.nook.criu.version"] = crate::criu::version_string(v).into(),
        Err(e) => crate::logger::debug(|| format!("checkpoint/restore: {e}")),
    }
    a
}

pub fn features() -> anyhow::Result<i32> {
    println!("{}", serde_json::to_string_pretty(&features_json())?);
    Ok(0)
}
