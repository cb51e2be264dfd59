//! Thin, safe wrappers around the Linux syscalls that nix and libc do not
//! wrap (clone3, openat2, the new mount API, close_range).
//!
//! This module and a handful of others (`seccomp`, `cgroups::bpf`) are the
//! only places that contain `unsafe`. Every wrapper returns an owned fd with
//! O_CLOEXEC set, so nothing leaks into the container by construction.

pub mod dbus;
pub mod fds;
pub mod mount_api;
pub mod netlink;
pub mod procfs;
pub mod tty;

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

pub use mount_api::*;

const CLONE_INTO_CGROUP: u64 = 0x200000000;

/// Converts a raw syscall return value into an `io::Result`.
pub(crate) fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

pub(crate) fn cstr(path: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// Takes ownership of an fd returned by a syscall.
pub(crate) fn owned(ret: libc::c_long) -> io::Result<OwnedFd> {
    let fd = check(ret)? as RawFd;
    // SAFETY: the kernel just returned this fd to us and nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// What a clone3 call returned.
pub enum Forked {
    /// In the parent: the child's pid and its pidfd.
    Parent { pid: i32, pidfd: OwnedFd },
    /// In the child.
    Child,
}

/// clone3(2) with the given namespace flags and, if `cgroup` is given,
/// CLONE_INTO_CGROUP so the child is born in its cgroup. The child gets a
/// copy of the caller's stack, like fork(2); the caller must be
/// single-threaded.
pub fn clone3(flags: u64, cgroup: Option<BorrowedFd>) -> io::Result<Forked> {
    let mut pidfd: RawFd = -1;
    // SAFETY: clone_args is plain old data; zeroed is a valid value.
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = flags | libc::CLONE_PIDFD as u64;
    args.pidfd = &mut pidfd as *mut RawFd as u64;
    // With CLONE_PARENT the child signals our parent as we would, and
    // clone3 insists on no exit signal of its own.
    if flags & libc::CLONE_PARENT as u64 == 0 {
        args.exit_signal = libc::SIGCHLD as u64;
    }
    if let Some(cg) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = cg.as_raw_fd() as u64;
    }
    // SAFETY: nook is single-threaded when it calls this, so the child's copy
    // of the address space is consistent (no lock is held by another thread).
    let ret = unsafe {
        libc::syscall(libc::SYS_clone3, &mut args as *mut libc::clone_args, std::mem::size_of::<libc::clone_args>())
    };
    match check(ret)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent {
            pid: pid as i32,
            // SAFETY: CLONE_PIDFD stored a fresh fd in `pidfd`.
            pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
        }),
    }
}

/// openat2(2) with RESOLVE_* flags.
pub fn openat2(dir: BorrowedFd, path: &Path, flags: i32, mode: u32, resolve: u64) -> io::Result<OwnedFd> {
    let p = cstr(path)?;
    // SAFETY: open_how is plain old data.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = if flags & (libc::O_CREAT | libc::O_TMPFILE) != 0 { mode as u64 } else { 0 };
    how.resolve = resolve;
    loop {
        // SAFETY: valid pointers for the duration of the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                p.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        match owned(ret) {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            r => return r,
        }
    }
}

/// Receives one datagram or message into `buf` and the first fd passed
/// with it (SCM_RIGHTS, close-on-exec; any further ones are closed).
/// Returns the length (0 when the peer has closed) and the fd.
pub fn recv_with_fd(sock: BorrowedFd, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    loop {
        let mut iov = [io::IoSliceMut::new(buf)];
        let mut space = nix::cmsg_space!([RawFd; 4]);
        match recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(r) => {
                let mut fds = Vec::new();
                for c in r.cmsgs()? {
                    if let ControlMessageOwned::ScmRights(f) = c {
                        fds.extend(f);
                    }
                }
                // SCM_RIGHTS just installed these fds in our table: ours to own.
                let mut fds = fds.into_iter().filter_map(|f| owned(f as libc::c_long).ok());
                return Ok((r.bytes, fds.next()));
            }
        }
    }
}

/// The type of the namespace an nsfs fd names (ioctl NS_GET_NSTYPE): its
/// CLONE_NEW* flag.
pub fn ns_type(fd: BorrowedFd) -> io::Result<i32> {
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
    // SAFETY: the ioctl takes no argument and returns an int.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE) } as libc::c_long).map(|t| t as i32)
}

/// Marks every fd from `first` up close-on-exec.
pub fn cloexec_range_from(first: u32) -> io::Result<()> {
    // SAFETY: only changes fd flags.
    match check(unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) }) {
        Ok(_) => Ok(()),
        // Older kernels (before 5.11), or a filter inherited from whoever
        // started nook, that does not allow it: mark them one by one, as
        // runc does.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => cloexec_each_from(first as i32),
        Err(e) => Err(e),
    }
}

/// The fallback of [`cloexec_range_from`]: every fd listed in
/// /proc/self/fd from `first` on gets FD_CLOEXEC.
pub fn cloexec_each_from(first: i32) -> io::Result<()> {
    let fds: Vec<i32> =
        std::fs::read_dir("/proc/self/fd")?.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    for fd in fds.into_iter().filter(|&fd| fd >= first) {
        // SAFETY: fcntl on an integer fd changes only its flags; an fd
        // closed since the listing (the directory's own) gives EBADF.
        let flags = match check(unsafe { libc::fcntl(fd, libc::F_GETFD) } as libc::c_long) {
            Ok(f) => f as i32,
            Err(e) if e.raw_os_error() == Some(libc::EBADF) => continue,
            Err(e) => return Err(e),
        };
        // SAFETY: as above.
        check(unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } as libc::c_long)?;
    }
    Ok(())
}

/// pidfd_send_signal(2).
pub fn pidfd_send_signal(pidfd: BorrowedFd, sig: i32) -> io::Result<()> {
    // SAFETY: no pointers passed besides NULL siginfo.
    check(unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), sig, std::ptr::null::<u8>(), 0) })
        .map(|_| ())
}

/// kill(2) with any signal number: 0 and the real-time signals included,
/// which nix's `Signal` cannot name.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: plain integer arguments.
    check(unsafe { libc::kill(pid, sig) } as _).map(|_| ())
}

/// pidfd_open(2).
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain integer arguments.
    owned(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })
}

/// The current thread's errno-free `getpid`, usable after clone.
pub fn getpid() -> i32 {
    // SAFETY: always safe.
    unsafe { libc::getpid() }
}

/// setdomainname(2), which nix does not wrap.
pub fn setdomainname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length describe a valid buffer.
    check(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } as libc::c_long).map(|_| ())
}

/// Joins a new, anonymous session keyring named `name` (keyctl(2)
/// KEYCTL_JOIN_SESSION_KEYRING), so the container does not share nook's.
pub fn join_session_keyring(name: &str) -> io::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let n = CString::new(name).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: valid C string.
    check(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, n.as_ptr()) }).map(|_| ())
}

/// execveat(2) of an fd (AT_EMPTY_PATH). Returns only on failure.
pub fn execveat_fd(fd: BorrowedFd, argv: &[CString], envp: &[CString]) -> io::Error {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(std::ptr::null());
    // SAFETY: NULL-terminated arrays of valid C strings that outlive the call.
    unsafe {
        libc::syscall(libc::SYS_execveat, fd.as_raw_fd(), c"".as_ptr(), a.as_ptr(), e.as_ptr(), libc::AT_EMPTY_PATH);
    }
    io::Error::last_os_error()
}

/// personality(2): sets the execution domain (PER_LINUX, PER_LINUX32).
pub fn personality(persona: u64) -> io::Result<()> {
    // SAFETY: plain integer argument.
    check(unsafe { libc::personality(persona as libc::c_ulong) } as libc::c_long).map(|_| ())
}

/// ioprio_set(2) for the calling process (IOPRIO_WHO_PROCESS, who 0).
pub fn ioprio_set_self(class: u32, level: u32) -> io::Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    const IOPRIO_CLASS_SHIFT: u32 = 13;
    let prio = (class << IOPRIO_CLASS_SHIFT) | level;
    // SAFETY: plain integer arguments.
    check(unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio as libc::c_long) }).map(|_| ())
}

/// `struct sched_attr` for sched_setattr(2) (with the utilization clamps).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct SchedAttr {
    pub size: u32,
    pub sched_policy: u32,
    pub sched_flags: u64,
    pub sched_nice: i32,
    pub sched_priority: u32,
    pub sched_runtime: u64,
    pub sched_deadline: u64,
    pub sched_period: u64,
    pub sched_util_min: u32,
    pub sched_util_max: u32,
}

/// sched_setattr(2) for the calling thread.
pub fn sched_setattr_self(attr: &SchedAttr) -> io::Result<()> {
    let mut a = *attr;
    a.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: `a` is a valid repr(C) sched_attr of the size given in it.
    check(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &a as *const SchedAttr, 0) }).map(|_| ())
}

/// CLOCK_MONOTONIC in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let t =
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).unwrap_or(nix::sys::time::TimeSpec::new(0, 0));
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}

/// set_mempolicy(2) for the calling thread (inherited by its children):
/// `mode` with its MPOL_F_* flags, and the node mask (empty: no nodes).
pub fn set_mempolicy(mode: i32, nodes: &[u64]) -> io::Result<()> {
    let (ptr, maxnode) = if nodes.is_empty() {
        (std::ptr::null(), 0)
    } else {
        // The kernel reads maxnode - 1 bits (the historic off-by-one).
        (nodes.as_ptr(), nodes.len() as libc::c_ulong * 64 + 1)
    };
    // SAFETY: `ptr` is null or points to `nodes`, which holds maxnode - 1 bits.
    check(unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) }).map(|_| ())
}

/// sched_setaffinity(2) for the calling thread (nook is single-threaded
/// where it calls this), with a CPU bit mask in 64-bit words.
pub fn sched_setaffinity_self(cpus: &[u64]) -> io::Result<()> {
    // SAFETY: the pointer and byte length describe `cpus`.
    check(unsafe { libc::syscall(libc::SYS_sched_setaffinity, 0, std::mem::size_of_val(cpus), cpus.as_ptr()) })
        .map(|_| ())
}

#[cfg(test)]
mod cloexec_tests {
    use std::os::fd::AsRawFd;

    fn cloexec(fd: i32) -> bool {
        // SAFETY: F_GETFD reads flags only.
        unsafe { libc::fcntl(fd, libc::F_GETFD) & libc::FD_CLOEXEC != 0 }
    }

    #[test]
    fn the_fallback_marks_every_fd_from_the_first_on() {
        // Two fds without FD_CLOEXEC (F_DUPFD sets none), high enough to
        // be out of the way of other tests' fds.
        let f = std::fs::File::open("/dev/null").unwrap();
        // SAFETY: dups of an open fd; both are closed below.
        let a = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_DUPFD, 900) };
        // SAFETY: as above.
        let b = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_DUPFD, a + 1) };
        assert!(a > 0 && b > a && !cloexec(a) && !cloexec(b));
        super::cloexec_each_from(b).unwrap();
        assert!(!cloexec(a), "below the first: left alone");
        assert!(cloexec(b));
        // SAFETY: our own dups.
        unsafe {
            libc::close(a);
            libc::close(b)
        };
    }
}
