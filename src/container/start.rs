//! `start`: release a created container's init to exec its program.

use super::{load, ContainerError, Result};
use crate::state::{ContainerDir, Status};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub fn start(root: &Path, id: &str) -> Result<()> {
    let c = load(root, id)?;
    match c.status {
        Status::Created => {
            release(&c.dir)?;
            // A failing poststart hook stops the container; as with a
            // failing startContainer hook, `delete` then removes it.
            super::run_poststart_hooks(&c.state)
        }
        Status::Stopped => Err(ContainerError::WrongState {
            id: id.into(),
            status: c.status,
            msg: "cannot start a container that has stopped",
        }),
        s => Err(ContainerError::WrongState {
            id: id.into(),
            status: s,
            msg: "cannot start a container that is not created",
        }),
    }
}

/// Writes to the exec fifo, on which init is blocked, removes it, and
/// waits until init has exec'd the program (or failed to): from there on
/// the container is running. A startContainer hook or an exec that fails
/// makes `start` fail with init's message (runtime-spec lifecycle step 7);
/// init has then exited, so the container is stopped.
///
/// How: init holds the fifo open (close-on-exec) until it execs or exits,
/// and writes its error into it first if it fails. A read end opened here
/// sees EOF once init has let go; it is read only then, so it can never
/// take the byte meant for init.
pub(super) fn release(dir: &ContainerDir) -> Result<()> {
    let fifo = dir.fifo();
    let fail = |e: std::io::Error| ContainerError::Other(format!("{}: {e}", fifo.display()));
    let open = |write: bool| {
        std::fs::File::options().write(write).read(!write).custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC).open(&fifo)
    };
    // Init gone before it took the byte: found here (no reader, ENXIO),
    // or below (the byte still in the fifo when it let go).
    let gone = || ContainerError::Other(format!("container {:?}: its init is no longer waiting to start", dir.id));
    let mut w = open(true).map_err(|e| match e.raw_os_error() {
        Some(libc::ENXIO) => gone(),
        _ => fail(e),
    })?;
    let mut r = open(false).map_err(fail)?;
    w.write_all(b"0").map_err(fail)?;
    drop(w);
    std::fs::remove_file(&fifo).map_err(fail)?;
    // No events asked for: poll reports only the hang-up (init has exec'd
    // or exited), never the byte still waiting for init.
    let mut pfd = [nix::poll::PollFd::new(r.as_fd(), nix::poll::PollFlags::empty())];
    loop {
        match nix::poll::poll(&mut pfd, nix::poll::PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(fail(e.into())),
            Ok(_) => break,
        }
    }
    let mut said = Vec::new();
    let _ = r.read_to_end(&mut said);
    match said.as_slice() {
        [] => Ok(()),
        b"0" => Err(gone()),
        msg => Err(ContainerError::Init(String::from_utf8_lossy(msg).trim_end().to_owned())),
    }
}
