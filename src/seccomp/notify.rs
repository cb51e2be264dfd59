//! Handing the notification listener fd to the seccomp agent at
//! `linux.seccomp.listenerPath` (runtime-spec "containerProcessState").

use super::SeccompError;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use oci_spec::runtime::{ContainerProcessState, LinuxSeccomp, State, SECCOMP_FD_NAME};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// The `containerProcessState` sent with the listener fd: `ociVersion` of
/// the container state, `fds: ["seccompFd"]`, `pid` of the container
/// process, `metadata` = `listenerMetadata` and the container state.
pub fn container_process_state(seccomp: &LinuxSeccomp, pid: i32, state: State) -> ContainerProcessState {
    let mut cps = ContainerProcessState::default();
    cps.set_version(state.version().clone());
    cps.set_fds(vec![SECCOMP_FD_NAME.to_string()]);
    cps.set_pid(pid);
    cps.set_metadata(seccomp.listener_metadata().clone());
    cps.set_state(state);
    cps
}

/// Connects to the unix socket `listener_path` and sends `state` as JSON
/// with `listener` attached as SCM_RIGHTS, in a single message.
pub fn send_listener_fd(
    listener_path: &Path,
    listener: BorrowedFd<'_>,
    state: &ContainerProcessState,
) -> Result<(), SeccompError> {
    let err = |source| SeccompError::Listener { path: listener_path.display().to_string(), source };
    let stream = UnixStream::connect(listener_path).map_err(err)?;
    send_listener_fd_on(&stream, listener_path, listener, state)
}

/// Like [`send_listener_fd`], over a socket connected earlier (init
/// connects before it pivots away from the host's paths).
pub fn send_listener_fd_on(
    stream: &UnixStream,
    listener_path: &Path,
    listener: BorrowedFd<'_>,
    state: &ContainerProcessState,
) -> Result<(), SeccompError> {
    let err = |source| SeccompError::Listener { path: listener_path.display().to_string(), source };
    let payload = serde_json::to_vec(state).map_err(|e| err(e.into()))?;
    let fds = [listener.as_raw_fd()];
    let sent = sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(&payload)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(|e| err(e.into()))?;
    if sent != payload.len() {
        return Err(err(std::io::Error::other(format!("short write: {sent} of {} bytes", payload.len()))));
    }
    Ok(())
}
