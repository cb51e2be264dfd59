//! /dev inside the container: the default device nodes every runtime
//! provides, the spec's `linux.devices`, and the standard symlinks.
//! In a user namespace mknod is not allowed: the host's nodes at the same
//! paths are bind-mounted instead (as runc does).

use super::path::{create_in_root, Kind};
use super::RootfsError;
use nix::sys::stat::{makedev, mknodat, Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

/// (path, major, minor): what runc creates in every container.
const DEFAULT_DEVICES: [(&str, u64, u64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

const SYMLINKS: [(&str, &str); 5] = [
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
    ("pts/ptmx", "/dev/ptmx"),
];

/// Creates the default devices (unless the spec lists the same path) and
/// the spec's devices.
pub fn create_devices(root: BorrowedFd, spec_devices: &[LinuxDevice], userns: bool) -> Result<(), RootfsError> {
    for (path, major, minor) in DEFAULT_DEVICES {
        if spec_devices.iter().any(|d| d.path() == Path::new(path)) {
            continue;
        }
        if userns {
            bind_in_root(root, Path::new(path))?;
            continue;
        }
        mknod_in_root(root, Path::new(path), SFlag::S_IFCHR, major, minor, 0o666, 0, 0, Existing::Replace)?;
    }
    for d in spec_devices {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(RootfsError::Device(d.path().to_owned(), "type \"a\" is not a device node".into()))
            }
        };
        if userns {
            bind_in_root(root, d.path())?;
            continue;
        }
        let mode = d.file_mode().unwrap_or(0o666) & 0o7777;
        mknod_in_root(
            root,
            d.path(),
            kind,
            d.major() as u64,
            d.minor() as u64,
            mode,
            d.uid().unwrap_or(0),
            d.gid().unwrap_or(0),
            Existing::MustMatch,
        )?;
    }
    Ok(())
}

/// What to do with a file the image already has at a device's path.
#[derive(Clone, Copy, PartialEq)]
enum Existing {
    /// A default device: the image's file is replaced (as runc).
    Replace,
    /// A `linux.devices` entry: the spec requires an error unless the file
    /// is the requested device (which is then made again, with the
    /// requested mode and owner).
    MustMatch,
}

#[allow(clippy::too_many_arguments)]
fn mknod_in_root(
    root: BorrowedFd,
    path: &Path,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    existing: Existing,
) -> Result<(), RootfsError> {
    let err = |e: std::io::Error| RootfsError::Device(path.to_owned(), e.to_string());
    let parent = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().ok_or_else(|| RootfsError::Device(path.to_owned(), "no file name".into()))?;
    let dir = create_in_root(root, parent, Kind::Dir).map_err(err)?;
    let make = || mknodat(dir.as_fd(), name, kind, Mode::from_bits_truncate(mode), makedev(major, minor));
    match make() {
        // A file already there (the image's own) is replaced.
        Err(nix::errno::Errno::EEXIST) => {
            if existing == Existing::MustMatch {
                let st = nix::sys::stat::fstatat(dir.as_fd(), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map_err(|e| err(e.into()))?;
                let same_kind = st.st_mode & SFlag::S_IFMT.bits() == kind.bits();
                if !same_kind || (kind != SFlag::S_IFIFO && st.st_rdev != makedev(major, minor)) {
                    return Err(RootfsError::Device(
                        path.to_owned(),
                        "a file that is not the requested device is already there".into(),
                    ));
                }
            }
            nix::unistd::unlinkat(dir.as_fd(), name, nix::unistd::UnlinkatFlags::NoRemoveDir)
                .map_err(|e| err(e.into()))?;
            make().map_err(|e| err(e.into()))?;
        }
        r => r.map_err(|e| err(e.into()))?,
    }
    // A node nook made is already owned by nook's ids.
    if uid == nix::unistd::geteuid().as_raw() && gid == nix::unistd::getegid().as_raw() {
        return Ok(());
    }
    nix::unistd::fchownat(
        dir.as_fd(),
        name,
        Some(uid.into()),
        Some(gid.into()),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| err(e.into()))?;
    Ok(())
}

/// Bind-mounts the host's node at `path` onto an empty file at the same
/// path inside the root.
fn bind_in_root(root: BorrowedFd, path: &Path) -> Result<(), RootfsError> {
    let err = |e: std::io::Error| RootfsError::Device(path.to_owned(), e.to_string());
    let parent = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().ok_or_else(|| RootfsError::Device(path.to_owned(), "no file name".into()))?;
    let dir = create_in_root(root, parent, Kind::Dir).map_err(err)?;
    let _ = nix::unistd::unlinkat(dir.as_fd(), name, nix::unistd::UnlinkatFlags::NoRemoveDir);
    let src = crate::sys::open_tree(nix::fcntl::AT_FDCWD, path, crate::sys::OPEN_TREE_CLONE)
        .map_err(|e| RootfsError::Device(path.to_owned(), format!("binding the host's node: {e}")))?;
    let target = create_in_root(root, path, Kind::File).map_err(err)?;
    crate::sys::move_mount(src.as_fd(), target.as_fd()).map_err(err)
}

/// /dev/fd, /dev/std{in,out,err} and /dev/ptmx, unless something is there.
pub fn create_symlinks(root: BorrowedFd) -> Result<(), RootfsError> {
    let dev = create_in_root(root, Path::new("/dev"), Kind::Dir)
        .map_err(|e| RootfsError::Device("/dev".into(), e.to_string()))?;
    for (target, link) in SYMLINKS {
        let name = Path::new(link).file_name().expect("link has a name");
        // symlinkat never follows the last component: whatever the image
        // has there (even a dangling symlink) is left alone.
        match nix::unistd::symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(RootfsError::Device(link.into(), e.to_string())),
        }
    }
    Ok(())
}
