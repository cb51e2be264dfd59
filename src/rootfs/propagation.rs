//! `linux.rootfsPropagation`, applied as runc applies it.
//!
//! Before the mounts, `/` of the container's new mount namespace gets the
//! asked propagation (default `rslave`), recursively for the `r` forms:
//! what stays shared (`rshared`, or the non-recursive forms, which touch
//! `/` alone) keeps the host's peer groups, so a bind of a shared volume
//! with `rshared` is one peer group with the host's, both ways (Kubernetes'
//! Bidirectional mount propagation). Then the mount that holds the rootfs
//! is made private if it is shared (runc's rootfsParentMountPrivate):
//! binding the rootfs onto itself must not propagate to the host, and
//! pivot_root refuses a shared parent.
//!
//! After the pivot, `shared` and `unbindable` are applied once more, to
//! the container's root itself (runc ≥ 1.2 does too; 1.1 left the root
//! private, and the runtime-tools suite checks it). An unbindable `/`
//! cannot be bound onto the rootfs, where runc 1.1 fails: nook makes it
//! private (with the same recursion) until the pivot instead.

use super::RootfsError;
use crate::sys::procfs::ProcFs;
use nix::mount::{mount, MsFlags};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// The flags of `linux.rootfsPropagation` (with MS_REC for the `r` forms),
/// None when it is not set.
pub fn parse(p: Option<&str>) -> Result<Option<MsFlags>, RootfsError> {
    let Some(p) = p.filter(|p| !p.is_empty()) else { return Ok(None) };
    let (rec, base) = match p.strip_prefix('r') {
        Some(b) if !b.is_empty() => (MsFlags::MS_REC, b),
        _ => (MsFlags::empty(), p),
    };
    let flag = match base {
        "shared" => MsFlags::MS_SHARED,
        "slave" => MsFlags::MS_SLAVE,
        "private" => MsFlags::MS_PRIVATE,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        _ => {
            return Err(RootfsError::Field {
                field: "linux.rootfsPropagation".into(),
                msg: format!("unknown propagation {p:?}"),
            })
        }
    };
    Ok(Some(flag | rec))
}

/// Before the mounts: `/` gets the asked propagation, and the mount that
/// holds `rootfs` is made private if it is shared.
pub fn before_mounts(asked: Option<MsFlags>, rootfs: &Path, procfs: Option<&ProcFs>) -> Result<(), RootfsError> {
    let first = match asked {
        None => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        Some(f) if f.contains(MsFlags::MS_UNBINDABLE) => (f - MsFlags::MS_UNBINDABLE) | MsFlags::MS_PRIVATE,
        Some(f) => f,
    };
    mount(None::<&str>, "/", None::<&str>, first, None::<&str>)
        .map_err(|e| RootfsError::Step("setting the propagation of /", e.to_string()))?;
    // After a recursive slave or private (the default) no mount is shared:
    // no need to look.
    if first.contains(MsFlags::MS_REC) && first.intersects(MsFlags::MS_SLAVE | MsFlags::MS_PRIVATE) {
        return Ok(());
    }
    parent_private(rootfs, procfs).map_err(|e| RootfsError::Step("making the rootfs's mount private", e.to_string()))
}

/// After the pivot (or chroot): `shared` and `unbindable` on the
/// container's root.
pub fn after_pivot(asked: Option<MsFlags>) -> Result<(), RootfsError> {
    let Some(flags) = asked.filter(|f| f.intersects(MsFlags::MS_SHARED | MsFlags::MS_UNBINDABLE)) else {
        return Ok(());
    };
    mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
        .map_err(|e| RootfsError::Step("linux.rootfsPropagation", e.to_string()))
}

/// Makes the mount that `path` is on private if it is shared. The mount is
/// found from an fd (the topmost directory above `path` still on the same
/// mount), not by matching mount points against the path.
fn parent_private(path: &Path, procfs: Option<&ProcFs>) -> std::io::Result<()> {
    let top = mount_root(path)?;
    let id = crate::sys::mount_id(top.as_fd())?;
    let shared = super::mountinfo::read(procfs)?.iter().any(|m| m.id == id && m.is_shared());
    if !shared {
        return Ok(());
    }
    let attr = crate::sys::MountAttr { propagation: libc::MS_PRIVATE, ..Default::default() };
    crate::sys::mount_setattr(top.as_fd(), false, &attr)
}

/// An O_PATH fd of the root of the mount `path` is on.
fn mount_root(path: &Path) -> std::io::Result<OwnedFd> {
    use nix::fcntl::{openat, OFlag, AT_FDCWD};
    use nix::sys::stat::{fstat, Mode};
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut cur = openat(AT_FDCWD, path, flags, Mode::empty())?;
    let id = crate::sys::mount_id(cur.as_fd())?;
    loop {
        let up = openat(&cur, "..", flags, Mode::empty())?;
        let (a, b) = (fstat(&cur)?, fstat(&up)?);
        let at_root = (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino);
        if at_root || crate::sys::mount_id(up.as_fd())? != id {
            return Ok(cur);
        }
        cur = up;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recursive_forms_and_unknown_values() {
        assert_eq!(parse(None).unwrap(), None);
        assert_eq!(parse(Some("")).unwrap(), None);
        assert_eq!(parse(Some("rshared")).unwrap(), Some(MsFlags::MS_SHARED | MsFlags::MS_REC));
        assert_eq!(parse(Some("slave")).unwrap(), Some(MsFlags::MS_SLAVE));
        assert_eq!(parse(Some("runbindable")).unwrap(), Some(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC));
        assert_eq!(parse(Some("private")).unwrap(), Some(MsFlags::MS_PRIVATE));
        assert!(parse(Some("r")).is_err());
        assert!(parse(Some("rprivatex")).is_err());
    }

    #[test]
    fn the_mount_root_of_a_directory_is_found() {
        let top = mount_root(Path::new("/proc/self")).unwrap();
        let st = nix::sys::stat::fstat(&top).unwrap();
        assert_eq!(st.st_ino, 1, "procfs's root");
        // "/" is its own mount's root, and /proc's mount is another one.
        let root = mount_root(Path::new("/")).unwrap();
        let slash = std::fs::File::open("/").unwrap();
        assert_eq!(crate::sys::mount_id(root.as_fd()).unwrap(), crate::sys::mount_id(slash.as_fd()).unwrap());
        assert_ne!(crate::sys::mount_id(root.as_fd()).unwrap(), crate::sys::mount_id(top.as_fd()).unwrap());
    }
}
