//! The channel between `nook` and the container's init while it is being
//! set up: a SOCK_SEQPACKET socketpair carrying small typed messages, one
//! datagram each, so a message is never split or merged. A message may
//! carry one fd (SCM_RIGHTS): the pty master that a foreground `run` or
//! `exec` relays itself.

use nix::errno::Errno;
use nix::sys::socket::{sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType};
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// A message on the setup channel.
#[derive(Debug, PartialEq, Eq)]
pub enum Msg {
    /// init → nook: everything is set up; init now waits for `start`.
    Ready,
    /// init → nook: setup failed; the text is the one-line reason.
    Error(String),
    /// nook → init: carry on (after the parent's part of a step).
    Continue,
    /// init → nook: the mounts are ready; run the prestart and
    /// createRuntime hooks, then answer `Continue`.
    Hooks,
    /// init → nook: the pty master, attached (no --console-socket: nook
    /// relays the terminal itself).
    Pty,
    /// init → nook: init forked into its new pid namespace and exits; the
    /// container's init is now this pid (nook's child), its pidfd attached.
    Reborn(i32),
    /// init → nook, with init's root attached: open the bind mounts'
    /// sources in init's mount namespace (init, in its user namespace, may
    /// not reach them), answer one `MountSource` each, then `Continue`.
    MountSources,
    /// nook → init: the source of `mounts[n]`, an O_PATH fd attached.
    MountSource(u32),
}

impl Msg {
    fn encode(&self) -> Vec<u8> {
        match self {
            Msg::Ready => b"R".to_vec(),
            Msg::Continue => b"C".to_vec(),
            Msg::Hooks => b"H".to_vec(),
            Msg::Pty => b"P".to_vec(),
            Msg::Error(s) => [b"E".as_slice(), s.as_bytes()].concat(),
            Msg::Reborn(pid) => [b"B".as_slice(), pid.to_string().as_bytes()].concat(),
            Msg::MountSources => b"M".to_vec(),
            Msg::MountSource(n) => [b"S".as_slice(), n.to_string().as_bytes()].concat(),
        }
    }

    fn decode(buf: &[u8]) -> io::Result<Self> {
        match buf.split_first() {
            Some((b'R', [])) => Ok(Msg::Ready),
            Some((b'C', [])) => Ok(Msg::Continue),
            Some((b'H', [])) => Ok(Msg::Hooks),
            Some((b'P', [])) => Ok(Msg::Pty),
            Some((b'E', rest)) => Ok(Msg::Error(String::from_utf8_lossy(rest).into_owned())),
            Some((b'B', rest)) => std::str::from_utf8(rest)
                .ok()
                .and_then(|s| s.parse().ok())
                .map(Msg::Reborn)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed pid from init")),
            Some((b'M', [])) => Ok(Msg::MountSources),
            Some((b'S', rest)) => std::str::from_utf8(rest)
                .ok()
                .and_then(|s| s.parse().ok())
                .map(Msg::MountSource)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed mount index")),
            _ => Err(io::Error::new(io::ErrorKind::InvalidData, "malformed message from init")),
        }
    }
}

/// One end of the channel.
pub struct Channel(OwnedFd);

/// Makes the two ends (close-on-exec): (nook's, init's).
pub fn pair() -> io::Result<(Channel, Channel)> {
    let (a, b) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)?;
    Ok((Channel(a), Channel(b)))
}

impl Channel {
    pub fn send(&self, msg: &Msg) -> io::Result<()> {
        self.send_with(msg, None)
    }

    /// Sends `msg` with `fd` attached.
    pub fn send_fd(&self, msg: &Msg, fd: BorrowedFd) -> io::Result<()> {
        self.send_with(msg, Some(fd))
    }

    fn send_with(&self, msg: &Msg, fd: Option<BorrowedFd>) -> io::Result<()> {
        let data = msg.encode();
        let iov = [IoSlice::new(&data)];
        let fds: Vec<RawFd> = fd.iter().map(|f| f.as_raw_fd()).collect();
        let cmsg: Vec<ControlMessage> = if fds.is_empty() { vec![] } else { vec![ControlMessage::ScmRights(&fds)] };
        loop {
            match sendmsg::<()>(self.0.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None) {
                Err(Errno::EINTR) => continue,
                r => return r.map(|_| ()).map_err(Into::into),
            }
        }
    }

    /// Receives one message; `Ok(None)` when the other end closed. An fd
    /// that came with it is closed.
    pub fn recv(&self) -> io::Result<Option<Msg>> {
        Ok(self.recv_fd()?.map(|(m, _)| m))
    }

    /// Receives one message and the fd attached to it, if any (received
    /// close-on-exec).
    pub fn recv_fd(&self) -> io::Result<Option<(Msg, Option<OwnedFd>)>> {
        let mut buf = vec![0u8; 8192];
        match crate::sys::recv_with_fd(self.0.as_fd(), &mut buf)? {
            (0, _) => Ok(None),
            (n, fd) => Msg::decode(&buf[..n]).map(|m| Some((m, fd))),
        }
    }
}

impl AsRawFd for Channel {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_eof_is_none() {
        let (a, b) = pair().unwrap();
        for m in [
            Msg::Ready,
            Msg::Continue,
            Msg::Hooks,
            Msg::Error("mount /proc: EPERM".into()),
            Msg::MountSources,
            Msg::MountSource(7),
        ] {
            a.send(&m).unwrap();
            assert_eq!(b.recv().unwrap(), Some(m));
        }
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }

    #[test]
    fn an_fd_travels_with_its_message() {
        let (a, b) = pair().unwrap();
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        a.send_fd(&Msg::Pty, std::os::fd::AsFd::as_fd(&file)).unwrap();
        let (m, fd) = b.recv_fd().unwrap().unwrap();
        assert_eq!(m, Msg::Pty);
        let fd = fd.expect("an fd");
        let flags = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(flags & libc::FD_CLOEXEC, 0, "received fds are close-on-exec");
        a.send(&Msg::Ready).unwrap();
        assert!(matches!(b.recv_fd().unwrap(), Some((Msg::Ready, None))));
    }
}
