//! `start`: release a created container's init to exec its program.

use super::{load, ContainerError, Result};
use crate::state::{ContainerDir, Status};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub fn start(root: &Path, id: &str) -> Result<()> {
    let c = load(root, id)?;
    match c.status {
        Status::Created => {
            release(&c.dir)?;
            super::run_post_hooks(&c.state, crate::hooks::Kind::Poststart, "running");
            Ok(())
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

/// Writes to the exec fifo, on which init is blocked, then removes it:
/// from here on the container is running.
pub(super) fn release(dir: &ContainerDir) -> Result<()> {
    let fifo = dir.fifo();
    let mut f =
        std::fs::File::options().write(true).custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC).open(&fifo).map_err(
            |e| match e.raw_os_error() {
                Some(libc::ENXIO) => {
                    ContainerError::Other(format!("container {:?}: its init is no longer waiting to start", dir.id))
                }
                _ => ContainerError::Other(format!("{}: {e}", fifo.display())),
            },
        )?;
    f.write_all(b"0").map_err(|e| ContainerError::Other(format!("{}: {e}", fifo.display())))?;
    std::fs::remove_file(&fifo).map_err(|e| ContainerError::Other(format!("{}: {e}", fifo.display())))
}
