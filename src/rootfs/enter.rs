//! Entering the root: pivot_root, or for `--no-pivot` a move onto `/` and
//! chroot, with the host's procfs and sysfs taken out of the mount
//! namespace first (runc's msMoveRoot).

use super::{mountinfo, step, RootfsError};
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::os::fd::{BorrowedFd, OwnedFd};

pub fn pivot_into(root: BorrowedFd) -> Result<(), RootfsError> {
    let old_root: OwnedFd = std::fs::File::open("/").map_err(step("opening /"))?.into();
    nix::unistd::fchdir(root).map_err(step("entering the rootfs"))?;
    nix::unistd::pivot_root(".", ".").map_err(step("pivot_root"))?;
    // The old root is stacked on the new one at "/". The cwd is still the
    // new root (below it): go to the old root itself (as runc does), make
    // its tree a slave, so that the unmount propagates nowhere, and
    // detach it. "." would otherwise name the new root, and the slave
    // would cut the container's own mounts from their peer groups.
    nix::unistd::fchdir(&old_root).map_err(step("entering the old root"))?;
    mount(None::<&str>, ".", None::<&str>, MsFlags::MS_SLAVE | MsFlags::MS_REC, None::<&str>)
        .map_err(step("making the old root a slave"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(step("detaching the old root"))?;
    nix::unistd::chdir("/").map_err(step("chdir /"))
}

/// `hide`: take the host's procfs and sysfs out first; not in a mount
/// namespace joined by path, whose mounts are others' too.
pub fn chroot_into(root: BorrowedFd, hide: bool) -> Result<(), RootfsError> {
    if hide {
        hide_host_proc_and_sys(root)
            .map_err(|e| RootfsError::Step("--no-pivot: hiding the host's /proc and /sys", e))?;
    }
    nix::unistd::fchdir(root).map_err(step("entering the rootfs"))?;
    // A shared / (rootfsPropagation "shared") would carry the move to its
    // peers on the host; the old / ends up hidden below the rootfs anyway.
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_PRIVATE, None::<&str>).map_err(step("making / private"))?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>).map_err(step("moving the rootfs to /"))?;
    nix::unistd::chroot(".").map_err(step("chroot"))?;
    nix::unistd::chdir("/").map_err(step("chdir /"))
}

/// A chroot leaves the host's mounts in the container's mount namespace.
/// The kernel lets a process mount a new procfs or sysfs (in a user
/// namespace of its own, say) only where one is already fully visible in
/// its mount namespace: the host's /proc, with nothing over it, would be
/// one, and the new mount would show what maskedPaths hides. So every full
/// procfs and sysfs mount outside the rootfs is detached (made a slave
/// first, so the unmount reaches no peer), or covered with a tmpfs where
/// it cannot be (locked in a user namespace).
fn hide_host_proc_and_sys(root: BorrowedFd) -> Result<(), String> {
    // A mount namespace init made: /proc is the host's.
    let mounts = mountinfo::read(None).map_err(|e| e.to_string())?;
    let ours = mountinfo::subtree(&mounts, crate::sys::mount_id(root).map_err(|e| e.to_string())?);
    let full =
        |m: &&mountinfo::Mount| m.root == std::path::Path::new("/") && (m.fs_type == "proc" || m.fs_type == "sysfs");
    for m in mounts.iter().filter(full).filter(|m| !ours.contains(&m.id)) {
        let p = &m.mount_point;
        let err = |e: Errno| format!("{}: {e}", p.display());
        match mount(None::<&str>, p, None::<&str>, MsFlags::MS_SLAVE | MsFlags::MS_REC, None::<&str>) {
            // Gone with a mount detached before it.
            Err(Errno::ENOENT) => continue,
            r => r.map_err(err)?,
        }
        match umount2(p, MntFlags::MNT_DETACH) {
            Err(Errno::EINVAL | Errno::EPERM) => {
                mount(Some("tmpfs"), p, Some("tmpfs"), MsFlags::empty(), None::<&str>).map_err(err)?
            }
            r => r.map_err(err)?,
        }
    }
    Ok(())
}
