//! Handing fds to a program that takes them by number (`criu swrk 3`,
//! CRIU's inherited fds at 4, 5, …).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes the child of `cmd` find each `(fd, number)` pair's fd at `number`
/// (not close-on-exec), whatever numbers the fds have here. Each fd is
/// first copied above every target, so that placing one never overwrites
/// another not yet placed. The fds stay open here as long as `cmd` lives.
pub fn place_on_exec(cmd: &mut Command, fds: Vec<(OwnedFd, i32)>) {
    let floor = fds.iter().map(|(_, n)| *n).max().unwrap_or(2) + 1;
    // Allocated here: the closure runs between fork and exec, where only
    // async-signal-safe calls are allowed (no allocation).
    let mut high = vec![-1; fds.len()];
    // SAFETY: the closure only calls fcntl(2) and dup2(2), which are
    // async-signal-safe, on fds it owns, and writes into a preallocated Vec.
    unsafe {
        cmd.pre_exec(move || {
            for (i, (fd, _)) in fds.iter().enumerate() {
                high[i] = libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, floor);
                if high[i] < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (i, (_, n)) in fds.iter().enumerate() {
                // dup2 clears close-on-exec on the new number.
                if libc::dup2(high[i], *n) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Takes ownership of fd number `fd`, which nook was started with (a
/// `--status-fd`), after checking that it is open for writing.
pub fn take_writable(fd: i32) -> io::Result<OwnedFd> {
    if fd < 3 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not one of nook's stdio"));
    }
    // SAFETY: F_GETFL only reads the flags of whatever this fd number is.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if fl < 0 {
        return Err(io::Error::last_os_error());
    }
    if fl & libc::O_ACCMODE == libc::O_RDONLY {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not open for writing"));
    }
    // SAFETY: the fd is open (above) and was handed to nook to use; nothing
    // else in nook owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use std::os::fd::OwnedFd;
    use std::process::Command;

    #[test]
    fn the_child_finds_each_fd_at_its_number_even_when_they_cross() {
        let a: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
        let b: OwnedFd = std::fs::File::open("/proc/self/stat").unwrap().into();
        // Wherever a and b are now, ask for them the other way round at 5 and 4.
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "readlink /proc/self/fd/4 /proc/self/fd/5"]);
        super::place_on_exec(&mut cmd, vec![(a, 5), (b, 4)]);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].ends_with("/stat"), "fd 4: {}", lines[0]);
        assert_eq!(lines[1], "/dev/null", "fd 5");
    }
}
