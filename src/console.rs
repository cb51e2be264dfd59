//! Handing file descriptors to the caller over a unix socket, as runc does
//! for `--console-socket` (the pty master) and `--pidfd-socket`.

use nix::sys::socket::{
    connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

/// Connects to the unix socket at `path` and sends `fd` with SCM_RIGHTS;
/// the message body is `name`, as runc's utils.SendFile writes it.
pub fn send_fd(path: &Path, fd: BorrowedFd, name: &str) -> std::io::Result<()> {
    let sock = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    let addr = UnixAddr::new(path)?;
    connect(sock.as_raw_fd(), &addr).map_err(|e| {
        std::io::Error::new(std::io::Error::from(e).kind(), format!("connecting to {}: {e}", path.display()))
    })?;
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)?;
    Ok(())
}
