//! The new mount API: fsopen/fsconfig/fsmount, open_tree, move_mount and
//! mount_setattr. Mounts are built detached and attached to a target fd, so
//! a container-controlled path is never resolved a second time.

use super::{check, cstr, owned};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

pub const FSOPEN_CLOEXEC: u32 = 0x1;
pub const FSMOUNT_CLOEXEC: u32 = 0x1;
const FSCONFIG_SET_FLAG: u32 = 0;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;

pub const OPEN_TREE_CLONE: u32 = 1;
pub const OPEN_TREE_CLOEXEC: u32 = libc::O_CLOEXEC as u32;

const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_IDMAP: u64 = 0x100000;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x200000;

/// `struct mount_attr` for mount_setattr(2).
#[repr(C)]
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

/// A filesystem context from fsopen(2).
pub struct FsContext {
    fd: OwnedFd,
    fstype: String,
}

impl FsContext {
    pub fn open(fstype: &str) -> io::Result<Self> {
        let name = CString::new(fstype).map_err(|_| io::ErrorKind::InvalidInput)?;
        // SAFETY: valid C string.
        let fd = owned(unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), FSOPEN_CLOEXEC) })?;
        Ok(FsContext { fd, fstype: fstype.to_owned() })
    }

    fn config(&self, cmd: u32, key: Option<&str>, value: Option<&str>) -> io::Result<()> {
        let key = key.map(CString::new).transpose().map_err(|_| io::ErrorKind::InvalidInput)?;
        let value = value.map(CString::new).transpose().map_err(|_| io::ErrorKind::InvalidInput)?;
        let kp = key.as_ref().map_or(std::ptr::null(), |k| k.as_ptr());
        let vp = value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
        // SAFETY: pointers are valid C strings or NULL, as the command expects.
        check(unsafe { libc::syscall(libc::SYS_fsconfig, self.fd.as_raw_fd(), cmd, kp, vp, 0) }).map(|_| ())
    }

    /// Sets `key` (a flag) or `key=value` as the mount(8) data string would.
    pub fn set(&self, key: &str, value: Option<&str>) -> io::Result<()> {
        match value {
            None => self.config(FSCONFIG_SET_FLAG, Some(key), None),
            Some(v) => self.config(FSCONFIG_SET_STRING, Some(key), Some(v)),
        }
        .map_err(|e| io::Error::new(e.kind(), format!("{} option {key}: {e}", self.fstype)))
    }

    /// Creates the superblock and returns a detached mount of it.
    pub fn mount(self, attrs: u64) -> io::Result<OwnedFd> {
        self.config(FSCONFIG_CMD_CREATE, None, None)
            .map_err(|e| io::Error::new(e.kind(), format!("creating {} filesystem: {e}", self.fstype)))?;
        // SAFETY: plain integer arguments.
        owned(unsafe { libc::syscall(libc::SYS_fsmount, self.fd.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) })
    }
}

/// open_tree(2): with OPEN_TREE_CLONE, a detached copy of the mount (tree)
/// at `path` relative to `dir` (AT_EMPTY_PATH if `path` is empty).
pub fn open_tree(dir: BorrowedFd, path: &Path, flags: u32) -> io::Result<OwnedFd> {
    let p = cstr(path)?;
    let mut flags = flags | OPEN_TREE_CLOEXEC;
    if path.as_os_str().is_empty() {
        flags |= libc::AT_EMPTY_PATH as u32;
    }
    // SAFETY: valid C string and fd.
    owned(unsafe { libc::syscall(libc::SYS_open_tree, dir.as_raw_fd(), p.as_ptr(), flags) })
}

/// move_mount(2) from a detached mount fd onto a target fd.
pub fn move_mount(from: BorrowedFd, to: BorrowedFd) -> io::Result<()> {
    let empty = c"";
    // SAFETY: valid fds and C strings.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            empty.as_ptr(),
            to.as_raw_fd(),
            empty.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })
    .map(|_| ())
}

/// mount_setattr(2) on the mount an fd refers to (AT_EMPTY_PATH), optionally
/// recursively.
pub fn mount_setattr(fd: BorrowedFd, recursive: bool, attr: &MountAttr) -> io::Result<()> {
    let mut flags = libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    // SAFETY: `attr` is a valid repr(C) mount_attr for the call.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(|_| ())
}

/// The id of the mount `fd` is on (statx STATX_MNT_ID), as in the first
/// field of /proc/<pid>/mountinfo.
pub fn mount_id(fd: BorrowedFd) -> io::Result<u64> {
    // SAFETY: statx is plain old data; zeroed is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd, empty C string with AT_EMPTY_PATH, and a valid buffer.
    check(unsafe { libc::statx(fd.as_raw_fd(), c"".as_ptr(), libc::AT_EMPTY_PATH, libc::STATX_MNT_ID, &mut stx) }
        as libc::c_long)?;
    if stx.stx_mask & libc::STATX_MNT_ID == 0 {
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    }
    Ok(stx.stx_mnt_id)
}
