//! Checks of a parsed config.json that serde cannot express. Everything here
//! runs before the state directory, cgroup or process exists, so a bad
//! config leaves nothing behind.

use super::{Spec, SpecError};
use oci_spec::runtime::LinuxNamespaceType;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// More mounts than this in config.json are refused.
pub const MAX_MOUNTS: usize = 4096;

/// Validates `spec` and returns the absolute rootfs path.
pub fn validate(spec: &Spec, bundle: &Path) -> Result<PathBuf, SpecError> {
    fn inv(field: impl Into<String>, msg: impl Into<String>) -> SpecError {
        SpecError::invalid(field, msg)
    }
    if !spec.version().starts_with("1.") {
        return Err(inv(
            "ociVersion",
            format!("unsupported version {:?} (nook implements {})", spec.version(), super::OCI_VERSION),
        ));
    }
    let root = spec.root().as_ref().ok_or_else(|| inv("root", "missing"))?;
    if root.path().as_os_str().is_empty() {
        return Err(inv("root.path", "missing"));
    }
    let rootfs = bundle.join(root.path());
    match std::fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(inv("root.path", format!("{} is not a directory", rootfs.display()))),
        Err(e) => return Err(inv("root.path", format!("{}: {e}", rootfs.display()))),
    }

    let process = spec.process().as_ref().ok_or_else(|| inv("process", "missing"))?;
    match process.args() {
        Some(args) if !args.is_empty() && !args[0].is_empty() => {}
        _ => return Err(inv("process.args", "must name the program to run")),
    }
    if !process.cwd().is_absolute() {
        return Err(inv("process.cwd", format!("{:?} is not an absolute path", process.cwd())));
    }
    for (i, env) in process.env().iter().flatten().enumerate() {
        if !env.contains('=') || env.starts_with('=') {
            return Err(inv(format!("process.env[{i}]"), format!("{env:?} is not of the form KEY=value")));
        }
    }

    let mounts = spec.mounts().as_ref().map_or(0, |m| m.len());
    if mounts > MAX_MOUNTS {
        // The kernel's own limit is fs.mount-max (100000 per namespace),
        // but mounts stacked on one destination slow down quadratically
        // long before it: 100k of them kept init busy for many minutes.
        return Err(inv("mounts", format!("{mounts} entries, more than the {MAX_MOUNTS} nook accepts")));
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if m.destination().as_os_str().is_empty() {
            return Err(inv(format!("mounts[{i}].destination"), "missing"));
        }
    }

    let linux = spec.linux().as_ref().ok_or_else(|| inv("linux", "missing"))?;
    let mut seen = HashSet::new();
    for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
        if !seen.insert(ns.typ()) {
            return Err(inv(format!("linux.namespaces[{i}]"), format!("namespace {} given twice", ns.typ())));
        }
        if let Some(p) = ns.path() {
            if !p.exists() {
                return Err(inv(format!("linux.namespaces[{i}].path"), format!("{}: does not exist", p.display())));
            }
        }
    }
    let has_new = |t: LinuxNamespaceType| seen.contains(&t);
    if !has_new(LinuxNamespaceType::Mount) {
        // As runc: the container may share the host's mount namespace (its
        // mounts are made there, and detached by delete), but nothing can
        // be masked or made read-only there for it alone.
        let needs_mntns = [
            ("linux.maskedPaths", linux.masked_paths().as_ref().is_some_and(|p| !p.is_empty())),
            ("linux.readonlyPaths", linux.readonly_paths().as_ref().is_some_and(|p| !p.is_empty())),
            ("linux.rootfsPropagation", linux.rootfs_propagation().as_ref().is_some_and(|p| !p.is_empty())),
        ];
        if let Some((field, _)) = needs_mntns.iter().find(|(_, set)| *set) {
            return Err(inv(*field, "needs a mount namespace (linux.namespaces has none)"));
        }
    }
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !has_new(LinuxNamespaceType::Uts) {
        return Err(inv("hostname", "setting the hostname needs a uts namespace"));
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty()) && !has_new(LinuxNamespaceType::Uts) {
        return Err(inv("domainname", "setting the domainname needs a uts namespace"));
    }
    validate_user_ns(linux)?;
    if let Some((name, _)) = linux.net_devices().iter().flatten().next() {
        let own_net =
            linux.namespaces().iter().flatten().any(|n| n.typ() == LinuxNamespaceType::Network && n.path().is_none());
        if !own_net {
            return Err(inv(format!("linux.netDevices.{name}"), "needs a new network namespace"));
        }
    }

    validate_sysctl(linux)?;
    if linux.time_offsets().is_some()
        && !linux.namespaces().iter().flatten().any(|n| n.typ() == LinuxNamespaceType::Time && n.path().is_none())
    {
        return Err(inv("linux.timeOffsets", "needs a new time namespace"));
    }
    not_yet_supported(spec)?;
    Ok(rootfs)
}

/// Fields that later work will implement. Until then they are refused with
/// a clear error rather than silently ignored.
fn not_yet_supported(spec: &Spec) -> Result<(), SpecError> {
    let linux = spec.linux().as_ref();
    let process = spec.process().as_ref();
    // An LSM setting the host cannot honour is named as such first.
    if let Some(p) = process {
        let mount_label = linux.and_then(|l| l.mount_label().clone());
        crate::process::lsm::check(p, &mount_label).map_err(|e| SpecError::invalid(e.field, e.msg))?;
    }
    if linux.is_some_and(|l| l.intel_rdt().is_some()) {
        let why = match resctrl_mounted() {
            false => "resctrl is not mounted on this host (Intel RDT / AMD QoS unavailable)",
            true => "not supported by this version of nook yet",
        };
        return Err(SpecError::invalid("linux.intelRdt", why));
    }
    Ok(())
}

/// Whether a resctrl filesystem (Intel RDT, AMD QoS) is mounted, as runc
/// finds it: any mount of type resctrl in our mountinfo.
fn resctrl_mounted() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|m| {
        m.lines().any(|l| l.split_once(" - ").is_some_and(|(_, fs)| fs.split(' ').next() == Some("resctrl")))
    })
}

/// runc's rules (libcontainer/configs/validate): a new user namespace needs
/// both maps; maps need a user namespace; a user namespace joined by path
/// brings its own maps.
fn validate_user_ns(linux: &oci_spec::runtime::Linux) -> Result<(), SpecError> {
    let user = linux.namespaces().iter().flatten().find(|n| n.typ() == LinuxNamespaceType::User);
    let uid = linux.uid_mappings().as_deref().unwrap_or_default();
    let gid = linux.gid_mappings().as_deref().unwrap_or_default();
    for (field, maps) in [("linux.uidMappings", uid), ("linux.gidMappings", gid)] {
        if let Some(m) = maps.iter().find(|m| m.size() == 0) {
            return Err(SpecError::invalid(field, format!("mapping of container id {} has size 0", m.container_id())));
        }
    }
    match user {
        None if !uid.is_empty() || !gid.is_empty() => {
            Err(SpecError::invalid("linux.uidMappings", "id mappings need a user namespace in linux.namespaces"))
        }
        None => Ok(()),
        Some(n) if n.path().is_none() => {
            if uid.is_empty() {
                return Err(SpecError::invalid("linux.uidMappings", "a new user namespace needs uid mappings"));
            }
            if gid.is_empty() {
                return Err(SpecError::invalid("linux.gidMappings", "a new user namespace needs gid mappings"));
            }
            Ok(())
        }
        Some(_) => {
            if !uid.is_empty() || !gid.is_empty() {
                return Err(SpecError::invalid(
                    "linux.uidMappings",
                    "a user namespace joined by path has its own mappings; give none",
                ));
            }
            Ok(())
        }
    }
}

/// The kernel namespace a sysctl key belongs to, as runc decides it;
/// `None` for keys that would change the host.
fn sysctl_namespace(key: &str) -> Option<LinuxNamespaceType> {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        Some(LinuxNamespaceType::Ipc)
    } else if key.starts_with("net.") {
        Some(LinuxNamespaceType::Network)
    } else if key == "kernel.domainname" || key == "kernel.hostname" {
        Some(LinuxNamespaceType::Uts)
    } else {
        None
    }
}

/// Only sysctls of a namespace the container does not share with the host
/// are allowed (runc's rules); anything else is refused naming the key.
fn validate_sysctl(linux: &oci_spec::runtime::Linux) -> Result<(), SpecError> {
    let Some(sysctl) = linux.sysctl() else { return Ok(()) };
    let mut keys: Vec<&String> = sysctl.keys().collect();
    keys.sort();
    for key in keys {
        let field = format!("linux.sysctl.{key}");
        if key.is_empty() || key.contains('/') || key.split('.').any(|p| p.is_empty() || p == "..") {
            return Err(SpecError::invalid(field, "not a sysctl name (dot-separated, like net.ipv4.ip_forward)"));
        }
        let Some(t) = sysctl_namespace(key) else {
            return Err(SpecError::invalid(
                field,
                "not in a namespace of the container's own: it would change the host",
            ));
        };
        if key == "kernel.hostname" {
            return Err(SpecError::invalid(field, "conflicts with the hostname field; use that"));
        }
        let ns = linux.namespaces().iter().flatten().find(|n| n.typ() == t);
        let name = match t {
            LinuxNamespaceType::Ipc => "ipc",
            LinuxNamespaceType::Network => "network",
            _ => "uts",
        };
        match ns {
            None => return Err(SpecError::invalid(field, format!("needs a {name} namespace of the container's own"))),
            Some(n) => {
                if let Some(p) = n.path() {
                    if t == LinuxNamespaceType::Network && same_file(p, Path::new("/proc/self/ns/net")) {
                        return Err(SpecError::invalid(field, "the network namespace given is the host's"));
                    }
                }
            }
        }
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}
