//! Terminals and handing fds to the caller over a unix socket.
//!
//! - [`send_fd`]/[`send_fd_on`]: SCM_RIGHTS as runc's utils.SendFile does
//!   it, for `--console-socket` (the pty master) and `--pidfd-socket`.
//! - [`open_pty`] and [`attach`]: the container's terminal, allocated
//!   inside the container from its own devpts instance.
//! - [`Relay`]: a foreground `run`/`exec` without `--console-socket`
//!   copies between its own stdio and the pty master.

use crate::sys::tty::{self as ttyio, Winsize};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    connect as connect_fd, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};
use nix::sys::termios::{self, SetArg, Termios};
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// The name sent with the pty master: what runc's receivers (containerd,
/// conmon, go-runc) get from runc.
pub const MASTER_NAME: &str = "/dev/ptmx";

/// Connects to the unix socket at `path` (a stream socket, close-on-exec).
pub fn connect(path: &Path) -> io::Result<OwnedFd> {
    let sock = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    let addr = UnixAddr::new(path)?;
    connect_fd(sock.as_raw_fd(), &addr)
        .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("connecting to {}: {e}", path.display())))?;
    Ok(sock)
}

/// Sends `fd` with SCM_RIGHTS on a connected socket; the message body is
/// `name`, as runc's utils.SendFile writes it.
pub fn send_fd_on(sock: BorrowedFd, fd: BorrowedFd, name: &str) -> io::Result<()> {
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(name.as_bytes())];
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None) {
            Err(Errno::EINTR) => continue,
            r => return r.map(|_| ()).map_err(Into::into),
        }
    }
}

/// Connects to the unix socket at `path` and sends `fd` with SCM_RIGHTS.
pub fn send_fd(path: &Path, fd: BorrowedFd, name: &str) -> io::Result<()> {
    let sock = connect(path)?;
    send_fd_on(sock.as_fd(), fd, name)
}

/// A pseudo-terminal: the master (for the caller) and its peer (the
/// process's terminal).
pub struct Pty {
    pub master: OwnedFd,
    pub peer: OwnedFd,
}

/// Allocates a pty from the devpts instance mounted at /dev/pts of the
/// current root (run inside the container, after it entered its root).
///
/// /dev/pts/ptmx is opened without following any symlink and checked to be
/// the ptmx node (5:2) of a devpts filesystem; the peer comes from the
/// master with TIOCGPTPEER, never from a /dev/pts/N path the container
/// could have replaced (CVE-2025-52565).
pub fn open_pty() -> Result<Pty, String> {
    let err = |what: &str, e: &dyn std::fmt::Display| format!("terminal: {what}: {e}");
    let root = std::fs::File::open("/").map_err(|e| err("opening /", &e))?;
    let resolve = libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    let master = crate::sys::openat2(
        root.as_fd(),
        Path::new("dev/pts/ptmx"),
        libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        0,
        resolve,
    )
    .map_err(|e| err("opening /dev/pts/ptmx (is a devpts mounted on /dev/pts?)", &e))?;
    let fs = nix::sys::statfs::fstatfs(&master).map_err(|e| err("checking /dev/pts/ptmx", &e))?;
    let st = nix::sys::stat::fstat(&master).map_err(|e| err("checking /dev/pts/ptmx", &e))?;
    if fs.filesystem_type() != nix::sys::statfs::DEVPTS_SUPER_MAGIC
        || st.st_mode & libc::S_IFMT != libc::S_IFCHR
        || st.st_rdev != nix::sys::stat::makedev(5, 2)
    {
        return Err("terminal: /dev/pts/ptmx is not the ptmx of a devpts filesystem".into());
    }
    ttyio::unlockpt(master.as_fd()).map_err(|e| err("unlockpt", &e))?;
    let peer = ttyio::pty_peer(master.as_fd()).map_err(|e| err("TIOCGPTPEER", &e))?;
    Ok(Pty { master, peer })
}

/// Turns off ONLCR (a new pty's default: "\n" written by the process
/// comes out as "\r\n") on the terminal `fd` belongs to, as runc does for
/// the pty it relays itself: the relay hands the bytes on unchanged, and
/// the terminal they end up on (kept OPOST by [`Relay`]) does the "\r".
/// A pty sent to `--console-socket` keeps it, as with runc.
pub fn clear_onlcr(fd: BorrowedFd) -> Result<(), String> {
    let err = |e: nix::Error| format!("terminal: clearing ONLCR: {e}");
    let mut t = termios::tcgetattr(fd).map_err(err)?;
    t.output_flags.remove(termios::OutputFlags::ONLCR);
    termios::tcsetattr(fd, SetArg::TCSANOW, &t).map_err(err)
}

/// A window size of `rows` × `cols`.
pub fn winsize(rows: u16, cols: u16) -> Winsize {
    Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 }
}

/// Makes `peer` the calling process's terminal: a new session with it as
/// the controlling terminal, the window size (if given), owned by `uid`
/// (its group stays the devpts `gid=` option's, as runc leaves it), and
/// duplicated onto stdin, stdout and stderr.
pub fn attach(peer: BorrowedFd, size: Option<Winsize>, uid: u32) -> Result<(), String> {
    let err = |what: &str, e: nix::Error| format!("terminal: {what}: {e}");
    nix::unistd::setsid().map_err(|e| err("setsid", e))?;
    if let Some(ws) = size {
        ttyio::set_window_size(peer, &ws).map_err(|e| format!("process.consoleSize: {e}"))?;
    }
    // Only this pty's peer, which we just made, is ever chowned.
    nix::unistd::fchown(peer, Some(nix::unistd::Uid::from_raw(uid)), None).map_err(|e| err("fchown", e))?;
    ttyio::set_controlling_tty(peer).map_err(|e| format!("terminal: TIOCSCTTY: {e}"))?;
    nix::unistd::dup2_stdin(peer).map_err(|e| err("dup2", e))?;
    nix::unistd::dup2_stdout(peer).map_err(|e| err("dup2", e))?;
    nix::unistd::dup2_stderr(peer).map_err(|e| err("dup2", e))?;
    Ok(())
}

/// Copies between nook's own stdio and a pty master, for a foreground
/// `run` or `exec` without `--console-socket`: stdin → master, master →
/// stdout, window size changes of stdin's terminal → master. While it
/// lives, stdin's terminal (if it is one) is in raw mode (with output
/// processing kept, as runc's); dropping it restores the terminal.
pub struct Relay {
    master: OwnedFd,
    /// stdin's terminal settings before raw mode, if stdin is a terminal.
    saved: Option<Termios>,
    stdin_open: bool,
    master_open: bool,
    stdout_ok: bool,
    /// stdin bytes not yet written to the master.
    pending: Vec<u8>,
    stdin: io::Stdin,
    stdout: io::Stdout,
}

impl Relay {
    /// Starts relaying `master`: it becomes non-blocking, takes stdin's
    /// window size, and stdin's terminal goes into raw mode.
    pub fn new(master: OwnedFd) -> io::Result<Relay> {
        let fl = nix::fcntl::fcntl(&master, nix::fcntl::FcntlArg::F_GETFL)?;
        let fl = nix::fcntl::OFlag::from_bits_retain(fl) | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(&master, nix::fcntl::FcntlArg::F_SETFL(fl))?;
        let mut relay = Relay {
            master,
            saved: None,
            stdin_open: true,
            master_open: true,
            stdout_ok: true,
            pending: Vec::new(),
            stdin: io::stdin(),
            stdout: io::stdout(),
        };
        let stdin = relay.stdin.as_fd();
        if nix::unistd::isatty(stdin).unwrap_or(false) {
            // A terminal that refuses raw mode still gets relayed (cooked).
            if let Ok(saved) = termios::tcgetattr(stdin) {
                let mut raw = saved.clone();
                termios::cfmakeraw(&mut raw);
                // Output processing stays, as in runc's raw mode: the
                // container's pty (ONLCR off) sends "\n", this terminal
                // makes it "\r\n".
                raw.output_flags.insert(termios::OutputFlags::OPOST);
                if termios::tcsetattr(stdin, SetArg::TCSANOW, &raw).is_ok() {
                    relay.saved = Some(saved);
                }
            }
            relay.resize();
        }
        Ok(relay)
    }

    /// Gives the master stdin's window size (on SIGWINCH).
    pub fn resize(&self) {
        if let Ok(ws) = ttyio::window_size(self.stdin.as_fd()) {
            let _ = ttyio::set_window_size(self.master.as_fd(), &ws);
        }
    }

    /// The fds to poll, in the order [`Relay::handle`] expects their events.
    pub fn poll_fds(&self) -> Vec<PollFd<'_>> {
        let mut fds = Vec::with_capacity(2);
        if self.stdin_open && self.pending.is_empty() {
            fds.push(PollFd::new(self.stdin.as_fd(), PollFlags::POLLIN));
        }
        if self.master_open {
            let mut ev = PollFlags::POLLIN;
            if !self.pending.is_empty() {
                ev |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(self.master.as_fd(), ev));
        }
        fds
    }

    /// Acts on the events of the fds from [`Relay::poll_fds`] (same order;
    /// nothing may have changed the relay in between).
    pub fn handle(&mut self, revents: &[PollFlags]) {
        let mut ev = revents.iter().copied();
        if self.stdin_open && self.pending.is_empty() {
            let r = ev.next().unwrap_or(PollFlags::empty());
            if !r.is_empty() {
                self.read_stdin();
            }
        }
        if self.master_open {
            let r = ev.next().unwrap_or(PollFlags::empty());
            if r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                self.read_master();
            }
            if !self.pending.is_empty() && r.contains(PollFlags::POLLOUT) {
                self.write_master();
            }
        }
    }

    fn read_stdin(&mut self) {
        let mut buf = [0u8; 4096];
        match nix::unistd::read(self.stdin.as_fd(), &mut buf) {
            Ok(0) => self.stdin_open = false,
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                self.write_master();
            }
            Err(Errno::EINTR) | Err(Errno::EAGAIN) => {}
            Err(_) => self.stdin_open = false,
        }
    }

    fn write_master(&mut self) {
        while !self.pending.is_empty() {
            match nix::unistd::write(&self.master, &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return,
                Err(_) => {
                    self.pending.clear();
                    return;
                }
            }
        }
    }

    /// Reads what the master has (up to a bound, so stdin gets its turn);
    /// false once nothing more is readable right now.
    fn read_master(&mut self) -> bool {
        let mut buf = [0u8; 16384];
        for _ in 0..16 {
            match nix::unistd::read(&self.master, &mut buf) {
                Ok(0) | Err(Errno::EIO) => {
                    // Every holder of the peer has closed it.
                    self.master_open = false;
                    return false;
                }
                Ok(n) => self.write_stdout(&buf[..n]),
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return false,
                Err(_) => {
                    self.master_open = false;
                    return false;
                }
            }
        }
        true
    }

    fn write_stdout(&mut self, mut data: &[u8]) {
        while self.stdout_ok && !data.is_empty() {
            match nix::unistd::write(self.stdout.as_fd(), data) {
                Ok(n) => data = &data[n..],
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => {
                    let mut fds = [PollFd::new(self.stdout.as_fd(), PollFlags::POLLOUT)];
                    let _ = nix::poll::poll(&mut fds, PollTimeout::NONE);
                }
                // The reader went away: keep draining the master, so the
                // process never blocks on its terminal, but drop the output.
                Err(_) => self.stdout_ok = false,
            }
        }
    }

    /// After the process exited: copies what is left on the master, until
    /// every holder of the peer has closed it or nothing came for a moment
    /// (a process the exited one left behind may still hold it).
    pub fn drain(&mut self) {
        while self.master_open {
            let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(&mut fds, PollTimeout::from(100u16)) {
                Err(Errno::EINTR) => continue,
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            while self.read_master() {}
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = termios::tcsetattr(self.stdin.as_fd(), SetArg::TCSANOW, saved);
        }
    }
}
