//! The channel between `nook` and the container's init while it is being
//! set up: a SOCK_SEQPACKET socketpair carrying small typed messages, one
//! datagram each, so a message is never split or merged.

use nix::errno::Errno;
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

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
}

impl Msg {
    fn encode(&self) -> Vec<u8> {
        match self {
            Msg::Ready => b"R".to_vec(),
            Msg::Continue => b"C".to_vec(),
            Msg::Hooks => b"H".to_vec(),
            Msg::Error(s) => [b"E".as_slice(), s.as_bytes()].concat(),
        }
    }

    fn decode(buf: &[u8]) -> io::Result<Self> {
        match buf.split_first() {
            Some((b'R', [])) => Ok(Msg::Ready),
            Some((b'C', [])) => Ok(Msg::Continue),
            Some((b'H', [])) => Ok(Msg::Hooks),
            Some((b'E', rest)) => Ok(Msg::Error(String::from_utf8_lossy(rest).into_owned())),
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
        let data = msg.encode();
        loop {
            match send(self.0.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL) {
                Err(Errno::EINTR) => continue,
                r => return r.map(|_| ()).map_err(Into::into),
            }
        }
    }

    /// Receives one message; `Ok(None)` when the other end closed.
    pub fn recv(&self) -> io::Result<Option<Msg>> {
        let mut buf = vec![0u8; 8192];
        loop {
            match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(0) => return Ok(None),
                Ok(n) => return Msg::decode(&buf[..n]).map(Some),
            }
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
        for m in [Msg::Ready, Msg::Continue, Msg::Hooks, Msg::Error("mount /proc: EPERM".into())] {
            a.send(&m).unwrap();
            assert_eq!(b.recv().unwrap(), Some(m));
        }
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }
}
