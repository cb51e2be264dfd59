//! `pause` and `resume`: freeze and thaw every process of a running
//! container through its cgroup's `cgroup.freeze` (waiting until the kernel
//! reports it done). The status then derives "paused" from cgroup.freeze.

use super::{load, ContainerError, Loaded, Result};
use crate::cgroups::Cgroup;
use crate::state::Status;
use std::path::Path;

/// The container's cgroup, opened.
pub(super) fn cgroup_of(c: &Loaded) -> Result<Cgroup> {
    let path = c
        .state
        .cgroup
        .as_ref()
        .ok_or_else(|| ContainerError::Other(format!("container {:?} has no cgroup", c.state.id)))?;
    Ok(Cgroup::open(path)?)
}

pub fn pause(root: &Path, id: &str) -> Result<()> {
    let c = load(root, id)?;
    if c.status != Status::Running {
        return Err(ContainerError::WrongState { id: id.into(), status: c.status, msg: "container not running" });
    }
    Ok(cgroup_of(&c)?.freeze()?)
}

pub fn resume(root: &Path, id: &str) -> Result<()> {
    let c = load(root, id)?;
    if c.status != Status::Paused {
        return Err(ContainerError::WrongState { id: id.into(), status: c.status, msg: "container not paused" });
    }
    Ok(cgroup_of(&c)?.thaw()?)
}

/// `ps`: the pids of every process in the container's cgroup (sorted). As
/// runc, a stopped container has whatever its cgroup still holds, and none
/// once the cgroup is gone.
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let c = load(root, id)?;
    if c.status == Status::Creating {
        return Err(ContainerError::WrongState { id: id.into(), status: c.status, msg: "container not running" });
    }
    let stopped = c.status == Status::Stopped;
    if stopped && !c.state.cgroup.as_ref().is_some_and(|p| p.exists()) {
        return Ok(Vec::new());
    }
    let mut pids = match cgroup_of(&c).and_then(|cg| Ok(cg.pids()?)) {
        // Removed meanwhile (systemd removes an emptied unit's cgroup).
        Err(ContainerError::Cgroup(e)) if stopped && e.is_not_found() => Vec::new(),
        p => p?,
    };
    pids.sort_unstable();
    Ok(pids)
}
