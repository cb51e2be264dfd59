//! `run`: create, start, and (unless detached) wait for the container's
//! init, forwarding signals to it, then delete it (unless --keep). The exit
//! code is the program's, or 128+signal if a signal ended it.

use super::create::{create, CreateOptions};
use super::delete::destroy;
use super::start::release;
use super::{other, Result};
use crate::state::ContainerDir;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitStatus};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    pub create: CreateOptions,
    pub detach: bool,
    pub keep: bool,
}

/// The signals `run` passes on to the container instead of dying of them.
pub(super) const FORWARDED: [Signal; 8] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

pub fn run(root: &Path, opts: &RunOptions) -> Result<i32> {
    // Block the forwarded signals before the clone: a signal that arrives
    // while the container starts is queued, then forwarded. Init unblocks
    // them for itself.
    let mut set = SigSet::empty();
    if !opts.detach {
        FORWARDED.iter().for_each(|s| set.add(*s));
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).map_err(other("blocking signals"))?;
    }
    let c = create(root, &opts.create)?;
    if let Err(e) = release(&c.dir) {
        let _ = destroy(c.dir, &c.state);
        return Err(e);
    }
    if let Err(e) = super::run_poststart_hooks(&c.state) {
        let _ = destroy(c.dir, &c.state);
        return Err(e);
    }
    if opts.detach {
        return Ok(0);
    }
    // Other commands (kill, state, delete) may act on the container while
    // it runs: let go of its lock until it has exited.
    let super::Created { dir, state, pidfd, pty } = c;
    drop(dir);
    crate::logger::debug(|| "started".into());
    let code = wait_forwarding(state.pid, pidfd, &set, pty)?;
    if !opts.keep {
        match ContainerDir::open(root, &state.id) {
            Ok(dir) => {
                destroy(dir, &state)?;
                crate::logger::debug(|| "deleted".into());
            }
            // Deleted by someone else meanwhile: nothing left to do.
            Err(crate::state::StateError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(code)
}

/// Waits for the process to exit, forwarding every blocked signal to it.
/// With `pty` (a terminal and no --console-socket), also relays between
/// nook's stdio and the pty master; SIGWINCH then resizes the pty instead
/// of being forwarded (the kernel signals the terminal's foreground group).
pub(super) fn wait_forwarding(pid: i32, pidfd: OwnedFd, set: &SigSet, pty: Option<OwnedFd>) -> Result<i32> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let sfd = SignalFd::with_flags(set, SfdFlags::SFD_CLOEXEC).map_err(other("signalfd"))?;
    // Restores the terminal when dropped, on every way out of here.
    let mut relay = pty.map(crate::console::Relay::new).transpose().map_err(other("terminal"))?;
    loop {
        let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN), PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(r) = &relay {
            fds.extend(r.poll_fds());
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.map_err(other("waiting for the container"))?,
        };
        let revents: Vec<PollFlags> = fds.iter().map(|f| f.revents().unwrap_or(PollFlags::empty())).collect();
        drop(fds);
        if revents[1].contains(PollFlags::POLLIN) {
            if let Ok(Some(info)) = sfd.read_signal() {
                match &relay {
                    Some(r) if info.ssi_signo == Signal::SIGWINCH as u32 => r.resize(),
                    _ => {
                        let _ = crate::sys::pidfd_send_signal(pidfd.as_fd(), info.ssi_signo as i32);
                    }
                }
            }
        }
        if let Some(r) = &mut relay {
            r.handle(&revents[2..]);
        }
        if !revents[0].is_empty() {
            break;
        }
    }
    if let Some(r) = &mut relay {
        r.drain();
    }
    drop(relay);
    let code = loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Err(nix::errno::Errno::EINTR) => continue,
            Ok(WaitStatus::Exited(_, code)) => break code,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
            Ok(_) => continue,
            Err(e) => return Err(other("waiting for the container")(e)),
        }
    };
    // runc's line (and fields) for it.
    crate::logger::debug_fields(|| "process exited".into(), &[("pid", pid.to_string()), ("status", code.to_string())]);
    Ok(code)
}
