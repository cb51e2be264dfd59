//! Bind-mount sources for a container with a user namespace.
//!
//! Init is root only in its own user namespace: a host directory it may not
//! search (a parent of mode 0700 owned by the host's root, say) cannot be
//! bound by path from there. runc opens every bind source in its parent
//! process, joined to the container's mount namespace, and init mounts from
//! those fds. nook does the same: init sends its root (which is in its new
//! mount namespace) and nook, with the host's credentials, opens each source
//! beneath it; init binds from the fds. The fds name mounts of init's own
//! mount namespace, so binding from them clones init's copies (with their
//! locks and the propagation init set), never the host's mounts themselves.

use super::mount::{is_bind, is_idmapped};
use super::options::MountOptions;
use super::RootfsError;
use oci_spec::runtime::Spec;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// The bind mounts whose sources init asks nook for: every bind mount but
/// the idmapped ones (nook makes those whole before the clone).
fn wanted(spec: &Spec) -> impl Iterator<Item = (usize, &oci_spec::runtime::Mount)> {
    spec.mounts().iter().flatten().enumerate().filter(|(_, m)| {
        let opts = MountOptions::parse(m.options().as_deref().unwrap_or_default()).unwrap_or_default();
        is_bind(m) && !is_idmapped(m, &opts)
    })
}

/// Whether the spec has bind mounts whose sources init should ask for.
pub fn wanted_any(spec: &Spec) -> bool {
    wanted(spec).next().is_some()
}

/// In nook: opens each wanted bind source (O_PATH, following symlinks as
/// the kernel would for a bind) inside init's mount namespace. For the
/// time of the opens nook's root is init's root (nook is single-threaded
/// here), so absolute symlinks and mount crossings resolve in init's mount
/// namespace, as after runc's setns; nook's root and cwd are put back
/// before it returns.
pub fn open_bind_sources(
    spec: &Spec,
    bundle: &Path,
    init_root: BorrowedFd,
) -> Result<Vec<(usize, OwnedFd)>, RootfsError> {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    let step = |what: &'static str| move |e: nix::Error| RootfsError::Step(what, e.to_string());
    let dir = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let old_root = open("/", dir, Mode::empty()).map_err(step("opening /"))?;
    let old_cwd = open(".", dir, Mode::empty()).map_err(step("opening the working directory"))?;
    nix::unistd::fchdir(init_root).map_err(step("entering init's root"))?;
    nix::unistd::chroot(".").map_err(step("entering init's root"))?;
    let opened: Result<Vec<_>, RootfsError> = wanted(spec)
        .map(|(index, m)| {
            let src = m.source().as_deref().unwrap_or(Path::new(""));
            let src = if src.is_absolute() { src.to_path_buf() } else { bundle.join(src) };
            open(&src, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).map(|fd| (index, fd)).map_err(|e| {
                let msg = format!("source {}: {}", src.display(), std::io::Error::from(e));
                RootfsError::Mount { index, dest: m.destination().to_owned(), msg }
            })
        })
        .collect();
    nix::unistd::fchdir(&old_root).map_err(step("going back to nook's root"))?;
    nix::unistd::chroot(".").map_err(step("going back to nook's root"))?;
    nix::unistd::fchdir(&old_cwd).map_err(step("going back to nook's working directory"))?;
    opened
}

/// In init: a detached clone of the source nook opened, with its submounts
/// for an rbind, and whether the destination should be a directory.
pub fn bind_from(source: BorrowedFd, recursive: bool) -> std::io::Result<(OwnedFd, super::path::Kind)> {
    let st = nix::sys::stat::fstat(source)?;
    let kind =
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR { super::path::Kind::Dir } else { super::path::Kind::File };
    let mut flags = crate::sys::OPEN_TREE_CLONE;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    Ok((crate::sys::open_tree(source.as_fd(), Path::new(""), flags)?, kind))
}
