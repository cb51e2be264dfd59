//! The `tmpcopyup` mount option (runc's and crun's): a tmpfs mounted over a
//! directory of the rootfs starts with a copy of what that directory held.
//!
//! The copy is made into the new tmpfs while it is still detached (so its
//! `ro` is applied after), from an fd of the original directory resolved
//! inside the root. Everything below is reached by name relative to a
//! directory fd with O_NOFOLLOW: a symlink is copied as a symlink and never
//! followed, so nothing outside the rootfs can be read through one.
//! Copied: directories, regular files, symlinks, fifos and device nodes
//! (sockets are skipped), with their mode, owner, and access and
//! modification times.

use nix::dir::Dir;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::UtimensatFlags;
use nix::sys::stat::{fchmodat, fstat, fstatat, mkdirat, mknodat, utimensat, FchmodatFlags, FileStat, Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, symlinkat, Gid, Uid};
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

/// Directories nested deeper than this are refused (ELOOP).
const MAX_DEPTH: u32 = 256;

/// Copies the contents of directory `src` into directory `dst`.
pub fn copy_dir(src: BorrowedFd, dst: BorrowedFd) -> io::Result<()> {
    copy_entries(src, dst, 0)
}

fn copy_entries(src: BorrowedFd, dst: BorrowedFd, depth: u32) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(io::Error::from_raw_os_error(libc::ELOOP));
    }
    let ro_dir = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut dir = Dir::openat(src, c".", ro_dir, Mode::empty())?;
    for entry in dir.iter() {
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        copy_one(src, dst, name, depth)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", name.to_string_lossy())))?;
    }
    Ok(())
}

fn copy_one(src: BorrowedFd, dst: BorrowedFd, name: &CStr, depth: u32) -> io::Result<()> {
    let st = fstatat(src, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    let perm = Mode::from_bits_truncate(0o700);
    match SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT) {
        SFlag::S_IFDIR => {
            mkdirat(dst, name, perm)?;
            let ro_dir = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            let from = openat(src, name, ro_dir, Mode::empty())?;
            let to = openat(dst, name, ro_dir, Mode::empty())?;
            copy_entries(from.as_fd(), to.as_fd(), depth + 1)?;
        }
        SFlag::S_IFREG => {
            // O_NONBLOCK: should the file have been swapped for a fifo
            // since the stat, opening it must not hang; it is checked again.
            let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NOCTTY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
            let from = openat(src, name, flags, Mode::empty())?;
            if fstat(&from)?.st_mode & libc::S_IFMT != libc::S_IFREG {
                return Err(io::Error::other("changed while being copied"));
            }
            let create = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            let to = openat(dst, name, create, Mode::from_bits_truncate(0o600))?;
            io::copy(&mut std::fs::File::from(from), &mut std::fs::File::from(to))?;
        }
        SFlag::S_IFLNK => {
            let target = readlinkat(src, name)?;
            symlinkat(target.as_os_str(), dst, name)?;
        }
        kind @ (SFlag::S_IFIFO | SFlag::S_IFCHR | SFlag::S_IFBLK) => {
            mknodat(dst, name, kind, perm, st.st_rdev)?;
        }
        _ => return Ok(()), // a socket: nothing to copy
    }
    set_metadata(dst, name, &st)
}

/// Owner, then mode (a chown clears set-id bits), then times (last, as
/// filling a directory changes its times). Symlinks have no mode of their own.
fn set_metadata(dst: BorrowedFd, name: &CStr, st: &FileStat) -> io::Result<()> {
    let nofollow = AtFlags::AT_SYMLINK_NOFOLLOW;
    fchownat(dst, name, Some(Uid::from_raw(st.st_uid)), Some(Gid::from_raw(st.st_gid)), nofollow)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        fchmodat(dst, name, mode, FchmodatFlags::NoFollowSymlink)
            .or_else(|_| fchmodat(dst, name, mode, FchmodatFlags::FollowSymlink))?;
    }
    let atime = TimeSpec::new(st.st_atime, st.st_atime_nsec);
    let mtime = TimeSpec::new(st.st_mtime, st.st_mtime_nsec);
    utimensat(dst, name, &atime, &mtime, UtimensatFlags::NoFollowSymlink)?;
    Ok(())
}
