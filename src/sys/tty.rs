//! The terminal ioctls nix does not wrap: unlocking a pty, getting its
//! peer by fd (TIOCGPTPEER, never by path), the controlling terminal, and
//! window sizes.

use super::{check, owned};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

pub use libc::winsize as Winsize;

/// ioctl(TIOCSPTLCK, 0): lets the pty's peer be opened.
pub fn unlockpt(master: BorrowedFd) -> io::Result<()> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int from a valid pointer.
    check(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock as *const libc::c_int) } as libc::c_long)
        .map(|_| ())
}

/// ioctl(TIOCGPTPEER): opens the peer (slave) of `master` through the
/// master itself, so no path (which the container could swap) is involved.
/// The fd is O_RDWR | O_NOCTTY | O_CLOEXEC.
pub fn pty_peer(master: BorrowedFd) -> io::Result<OwnedFd> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes its flags by value and returns a new fd.
    owned(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) } as libc::c_long)
}

/// ioctl(TIOCSCTTY, 0): makes `tty` the caller's controlling terminal
/// (the caller must be a session leader without one).
pub fn set_controlling_tty(tty: BorrowedFd) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an int by value.
    check(unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSCTTY, 0) } as libc::c_long).map(|_| ())
}

/// ioctl(TIOCGWINSZ).
pub fn window_size(tty: BorrowedFd) -> io::Result<Winsize> {
    // SAFETY: winsize is plain old data; zeroed is a valid value.
    let mut ws: Winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize to a valid pointer.
    check(unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCGWINSZ, &mut ws as *mut Winsize) } as libc::c_long)?;
    Ok(ws)
}

/// ioctl(TIOCSWINSZ).
pub fn set_window_size(tty: BorrowedFd, ws: &Winsize) -> io::Result<()> {
    // SAFETY: TIOCSWINSZ reads one winsize from a valid pointer.
    check(unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSWINSZ, ws as *const Winsize) } as libc::c_long).map(|_| ())
}
