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
        return Err(inv("linux.namespaces", "a mount namespace is required"));
    }
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !has_new(LinuxNamespaceType::Uts) {
        return Err(inv("hostname", "setting the hostname needs a uts namespace"));
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty()) && !has_new(LinuxNamespaceType::Uts) {
        return Err(inv("domainname", "setting the domainname needs a uts namespace"));
    }
    not_yet_supported(spec)?;
    Ok(rootfs)
}

/// Fields that later work will implement. Until then they are refused with
/// a clear error rather than silently ignored.
fn not_yet_supported(spec: &Spec) -> Result<(), SpecError> {
    let linux = spec.linux().as_ref();
    let process = spec.process().as_ref();
    let mut unsupported: Vec<&str> = Vec::new();
    if linux
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| n.iter().any(|ns| ns.typ() == LinuxNamespaceType::User))
    {
        unsupported.push("linux.namespaces: user");
    }
    if linux
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| n.iter().any(|ns| ns.typ() == LinuxNamespaceType::Time))
    {
        unsupported.push("linux.namespaces: time");
    }
    if linux.is_some_and(|l| l.uid_mappings().is_some() || l.gid_mappings().is_some()) {
        unsupported.push("linux.uidMappings/gidMappings");
    }
    if linux.is_some_and(|l| l.sysctl().as_ref().is_some_and(|s| !s.is_empty())) {
        unsupported.push("linux.sysctl");
    }
    if linux.is_some_and(|l| l.time_offsets().is_some()) {
        unsupported.push("linux.timeOffsets");
    }
    if linux.is_some_and(|l| l.personality().is_some()) {
        unsupported.push("linux.personality");
    }
    if linux.is_some_and(|l| l.intel_rdt().is_some()) {
        unsupported.push("linux.intelRdt");
    }
    if linux.is_some_and(|l| l.net_devices().as_ref().is_some_and(|d| !d.is_empty())) {
        unsupported.push("linux.netDevices");
    }
    if linux.is_some_and(|l| l.memory_policy().is_some()) {
        unsupported.push("linux.memoryPolicy");
    }
    if linux.is_some_and(|l| l.mount_label().as_deref().is_some_and(|s| !s.is_empty())) {
        unsupported.push("linux.mountLabel");
    }
    if process.is_some_and(|p| p.apparmor_profile().as_deref().is_some_and(|s| !s.is_empty())) {
        unsupported.push("process.apparmorProfile");
    }
    if process.is_some_and(|p| p.selinux_label().as_deref().is_some_and(|s| !s.is_empty())) {
        unsupported.push("process.selinuxLabel");
    }
    if process.is_some_and(|p| p.io_priority().is_some()) {
        unsupported.push("process.ioPriority");
    }
    if process.is_some_and(|p| p.scheduler().is_some()) {
        unsupported.push("process.scheduler");
    }
    if process.is_some_and(|p| p.exec_cpu_affinity().is_some()) {
        unsupported.push("process.execCPUAffinity");
    }
    match unsupported.first() {
        Some(field) => Err(SpecError::invalid(*field, "not supported by this version of nook yet")),
        None => Ok(()),
    }
}
