//! The container's cgroup as the lifecycle uses it: made (with its limits
//! and device filter) before the clone, so init is born in it; signalled
//! and removed on delete. Only the cgroup v2 hierarchy is ever touched.

use crate::cgroups::{self, Cgroup, CgroupError};
use oci_spec::runtime::{Linux, LinuxResources};
use std::path::{Path, PathBuf};

/// Where the container's cgroup goes, as runc's cgroupfs driver names it:
/// (the cgroup2 mount, the directory). Known before anything is made, so
/// that `create` records it in state.json first: a create killed at any
/// later point leaves a cgroup that `delete --force` finds.
pub fn path(linux: &Linux, id: &str, systemd: bool) -> Result<(PathBuf, PathBuf), CgroupError> {
    let path = linux.cgroups_path().as_ref().map(|p| p.to_string_lossy().into_owned());
    if systemd {
        cgroups::parse_systemd(path.as_deref(), id)?;
        return Err(CgroupError::InvalidValue {
            field: "--systemd-cgroup".into(),
            reason: "the systemd cgroup driver is not supported by this version of nook yet".into(),
        });
    }
    cgroups::container_dir(path.as_deref(), id)
}

/// Creates the container's cgroup at `dir` (from [`path`]) from the spec's
/// `linux` section: every limit, and the device filter (the spec's rules,
/// then runc's default allowed devices).
/// The device rules come back unattached: nook attaches their program
/// while init sets itself up (see `create`), before anything of the
/// container's runs.
pub fn create(linux: &Linux, mount: &Path, dir: &Path) -> Result<(Cgroup, Vec<cgroups::DeviceRule>), CgroupError> {
    let empty = LinuxResources::default();
    let resources = linux.resources().as_ref().unwrap_or(&empty);
    let spec_rules = resources.devices().as_deref().unwrap_or_default();
    let rules = cgroups::container_rules(spec_rules, linux.devices().as_deref().unwrap_or_default())?;
    Ok((Cgroup::create(mount, dir, resources, None)?, rules))
}

/// Signals every process in the cgroup at `path` (SIGKILL through
/// cgroup.kill). A cgroup that is already gone has nobody to signal.
pub fn signal_all(path: &Path, sig: i32) -> Result<(), CgroupError> {
    if !path.exists() {
        return Ok(());
    }
    let sig = nix::sys::signal::Signal::try_from(sig).map_err(|e| CgroupError::io("signal", path, e.into()))?;
    Cgroup::open(path)?.kill_all(sig)
}

/// Kills what is left in the cgroup at `path` and removes it.
pub fn remove(path: &Path) -> Result<(), CgroupError> {
    if !path.exists() {
        return Ok(());
    }
    let cg = Cgroup::open(path)?;
    if cg.paused().unwrap_or(false) {
        let _ = cg.thaw();
    }
    let _ = cg.kill_all(nix::sys::signal::Signal::SIGKILL);
    cg.destroy()
}
