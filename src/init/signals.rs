//! Signals in init before exec. Init is pid 1 of its pid namespace, and the
//! kernel drops signals to such a process unless it handles them, so while
//! init waits for `start` it handles the usual termination signals by
//! exiting (as runc's init does). exec resets handled signals to default.

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};

const TERMINATING: [Signal; 6] =
    [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2];

extern "C" fn exit_on_signal(sig: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(128 + sig) }
}

/// Unblocks every signal and makes the terminating ones end init.
pub fn prepare() -> nix::Result<()> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
    let act = SigAction::new(SigHandler::Handler(exit_on_signal), SaFlags::empty(), SigSet::empty());
    for s in TERMINATING {
        // SAFETY: the handler only calls _exit.
        unsafe { sigaction(s, &act) }?;
    }
    Ok(())
}

/// Restores default dispositions (exec would too; this also covers the
/// window between here and exec).
pub fn reset() -> nix::Result<()> {
    let act = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for s in TERMINATING {
        // SAFETY: installing the default disposition.
        unsafe { sigaction(s, &act) }?;
    }
    Ok(())
}
