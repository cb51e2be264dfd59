//! `kill`: send a signal to the container's init, or to all its processes.

use super::{cgroup, load, ContainerError, Result};
use crate::state::{self, Status};
use nix::sys::signal::Signal;
use std::os::fd::AsFd;
use std::path::Path;

/// Parses a signal as runc does: a name with or without `SIG`, any case,
/// or a number; 0 (runc passes it on: the kernel only checks that the
/// process exists and may be signalled) up to SIGRTMAX.
pub fn parse_signal(s: &str) -> std::result::Result<i32, String> {
    if let Ok(n) = s.parse::<i32>() {
        return if (0..=libc::SIGRTMAX()).contains(&n) { Ok(n) } else { Err(format!("invalid signal {s:?}")) };
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    if let Some(rt) = name.strip_prefix("SIGRTMIN") {
        let off = if rt.is_empty() { Some(0) } else { rt.strip_prefix('+').and_then(|n| n.parse::<i32>().ok()) };
        let n = off.map(|o| libc::SIGRTMIN() + o).filter(|n| *n <= libc::SIGRTMAX());
        return n.ok_or_else(|| format!("invalid signal {s:?}"));
    }
    name.parse::<Signal>().map(|s| s as i32).map_err(|_| format!("invalid signal {s:?}"))
}

/// Signals init, or with `all` every process in the container's cgroup.
/// As runc, `--all` works on a stopped container too: whatever is still in
/// its cgroup is signalled (a container without its own pid namespace can
/// leave processes behind when its init exits, and containerd cleans up
/// with exactly `kill --all ID KILL`); a cgroup that is gone is fine.
pub fn kill(root: &Path, id: &str, sig: i32, all: bool) -> Result<()> {
    let c = load(root, id)?;
    let stopped = c.status == Status::Stopped;
    if c.status == Status::Creating || (stopped && !all) {
        return Err(ContainerError::WrongState { id: id.into(), status: c.status, msg: "container not running" });
    }
    if all {
        return match c.state.cgroup.as_ref() {
            Some(cg) => Ok(cgroup::signal_all(cg, sig)?),
            None if stopped => Ok(()),
            None => Err(ContainerError::Other("the container has no cgroup".into())),
        };
    }
    signal_init(&c.state, sig)
}

/// Signals init through a pidfd, after checking that the pid still
/// belongs to it (so a recycled pid is never hit).
pub(super) fn signal_init(st: &state::State, sig: i32) -> Result<()> {
    let pidfd =
        crate::sys::pidfd_open(st.pid).map_err(|e| ContainerError::Other(format!("container init {}: {e}", st.pid)))?;
    if !state::init_alive(st) {
        return Err(ContainerError::WrongState {
            id: st.id.clone(),
            status: Status::Stopped,
            msg: "container not running",
        });
    }
    crate::sys::pidfd_send_signal(pidfd.as_fd(), sig)
        .map_err(|e| ContainerError::Other(format!("signalling init {}: {e}", st.pid)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_like_runc() {
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("term").unwrap(), 15);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("0").unwrap(), 0);
        assert_eq!(parse_signal("SIGRTMIN+1").unwrap(), libc::SIGRTMIN() + 1);
        for bad in ["SIGFOO", "65", "-1", "", "RTMIN+99"] {
            assert!(parse_signal(bad).is_err(), "{bad:?} accepted");
        }
    }
}
