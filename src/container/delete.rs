//! `delete`: remove a stopped (or, with --force, any) container: its
//! processes, cgroup and state. Nothing that is not the container's is
//! touched.

use super::{cgroup, kill::signal_init, ContainerError, Result};
use crate::state::{self, ContainerDir, Status};
use std::os::fd::AsFd;
use std::path::Path;
use std::time::Duration;

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let dir = match ContainerDir::open(root, id) {
        Ok(d) => d,
        Err(state::StateError::NotFound(_)) if force => {
            // A create that died before writing state leaves a bare
            // directory: --force clears it, as runc does (under the lock,
            // so a create that has meanwhile written its state is kept).
            return match ContainerDir::remove_stateless(root, id) {
                Ok(true) | Err(state::StateError::NotFound(_)) => Ok(()),
                Ok(false) => delete(root, id, force),
                Err(e) => Err(e.into()),
            };
        }
        Err(e) => return Err(e.into()),
    };
    let st = match dir.load() {
        Ok(st) => st,
        // Unreadable state names no process or cgroup to remove: --force
        // still clears the directory, so the id can be used again.
        Err(e @ state::StateError::Corrupt { .. }) if force => {
            crate::logger::warn(&format!("{e}; removing the state directory only"));
            dir.remove()?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let status = state::status(&dir.path, &st);
    match status {
        Status::Stopped | Status::Created => {}
        s if !force => {
            return Err(ContainerError::WrongState {
                id: id.into(),
                status: s,
                msg: "cannot delete a container that is not stopped (use --force)",
            })
        }
        _ => {}
    }
    destroy(dir, &st)
}

/// Kills whatever is left of the container and removes its cgroup and
/// state directory. Also used by `run` once its container has exited.
pub(super) fn destroy(dir: ContainerDir, st: &state::State) -> Result<()> {
    if state::init_alive(st) {
        if let Some(cg) = st.cgroup.as_ref().and_then(|p| crate::cgroups::Cgroup::open(p).ok()) {
            let _ = cg.thaw();
        }
        kill_init(st)?;
    }
    if let Some(below) = st.host_rootfs_mount {
        crate::rootfs::detach_host_mounts(&st.rootfs, below)
            .map_err(|e| ContainerError::Other(format!("detaching the container's mounts: {e}")))?;
    }
    if let Some(unit) = &st.systemd_unit {
        // As runc: everything in the unit is killed first (systemd would
        // send SIGTERM and wait), then the unit is stopped.
        if let Some(cg) = &st.cgroup {
            cgroup::signal_all(cg, libc::SIGKILL)?;
        }
        cgroup::stop_unit(unit)?;
    }
    if let Some(cg) = &st.cgroup {
        // Anything still in the cgroup (init's descendants, or an init
        // whose create never finished) goes too.
        cgroup::remove(cg)?;
    }
    super::run_poststop_hooks(st);
    dir.remove()?;
    Ok(())
}

/// SIGKILLs the container's init and waits (up to 10 s) until it is gone.
pub(super) fn kill_init(st: &state::State) -> Result<()> {
    // The pidfd first: it keeps naming init even once the pid is reaped.
    let pidfd = crate::sys::pidfd_open(st.pid).ok();
    match signal_init(st, libc::SIGKILL) {
        // Init died between the caller's check and this one (a kill just
        // before takes effect asynchronously): that is what we want.
        Err(ContainerError::WrongState { .. }) => {}
        r => r?,
    }
    if let Some(fd) = pidfd {
        wait_exit(fd.as_fd(), Duration::from_secs(10));
    }
    Ok(())
}

/// Waits until the process behind `pidfd` has exited (a pidfd becomes
/// readable then, even for a process that is not our child).
fn wait_exit(pidfd: std::os::fd::BorrowedFd, timeout: Duration) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(pidfd, PollFlags::POLLIN)];
    let ms = PollTimeout::try_from(timeout.as_millis() as i32).unwrap_or(PollTimeout::MAX);
    let _ = poll(&mut fds, ms);
}
