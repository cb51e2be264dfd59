//! The init's stdio on the null device is the container's own /dev/null,
//! as runc does it (reOpenDevNull): a process started with the host's
//! /dev/null (a detached `run`, containerd's `--null-io`) holds no file of
//! a mount outside the container, which CRIU could not checkpoint.

use nix::sys::stat::{fstat, SFlag};
use std::os::fd::AsFd;

/// Replaces each of fds 0, 1 and 2 that is the null device (1:3, wherever
/// it was opened) with the container's /dev/null. Runs in the container's
/// root; a container without /dev/null keeps its stdio as it is.
pub fn reopen_dev_null() -> Result<(), String> {
    let null = match std::fs::File::options().read(true).write(true).open("/dev/null") {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("reopening /dev/null: {e}")),
    };
    let want = fstat(null.as_fd()).map_err(|e| format!("reopening /dev/null: {e}"))?.st_rdev;
    let is_null =
        |st: nix::sys::stat::FileStat| st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFCHR.bits() && st.st_rdev == want;
    let err = |e: nix::Error| format!("reopening /dev/null: {e}");
    if fstat(std::io::stdin().as_fd()).is_ok_and(is_null) {
        nix::unistd::dup2_stdin(&null).map_err(err)?;
    }
    if fstat(std::io::stdout().as_fd()).is_ok_and(is_null) {
        nix::unistd::dup2_stdout(&null).map_err(err)?;
    }
    if fstat(std::io::stderr().as_fd()).is_ok_and(is_null) {
        nix::unistd::dup2_stderr(&null).map_err(err)?;
    }
    Ok(())
}
