//! The one unsafe system call of this module: seccomp(2).

use super::bpf::SockFilter;
use super::{flags, SeccompError};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`; returns the listener fd
/// when `flags` has NEW_LISTENER.
pub(super) fn set_mode_filter(program: &[SockFilter], bits: u32) -> Result<Option<OwnedFd>, SeccompError> {
    let len = u16::try_from(program.len()).map_err(|_| SeccompError::TooLarge(program.len()))?;
    let prog = libc::sock_fprog {
        len,
        // The kernel only reads the program; SockFilter is repr(C) with the
        // layout of struct sock_filter.
        filter: program.as_ptr().cast::<libc::sock_filter>().cast_mut(),
    };
    // SAFETY: `prog` points to `len` valid instructions that outlive the
    // call; seccomp(2) copies the program and does not keep the pointer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(bits),
            &prog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        return Err(SeccompError::Install { flags: bits, source: std::io::Error::last_os_error() });
    }
    if bits & flags::NEW_LISTENER == 0 {
        return Ok(None);
    }
    // SAFETY: with NEW_LISTENER a successful seccomp(2) returns a new fd
    // that nothing else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as RawFd) }))
}
