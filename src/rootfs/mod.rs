//! The container's root filesystem, set up inside its new mount namespace:
//! propagation, the spec's mounts, /dev, pivot_root (or chroot), masked and
//! read-only paths, and a read-only root.

mod copyup;
mod devices;
mod enter;
mod mount;
mod mountinfo;
pub mod options;
pub mod path;
mod propagation;
mod sources;

use crate::sys::{self, MountAttr};
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::Spec;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

pub use mount::{prepare_idmapped, MountContext};
pub use sources::{open_bind_sources, wanted_any as bind_sources_wanted};

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("mounts[{index}] ({dest}): {msg}", dest = .dest.display())]
    Mount { index: usize, dest: PathBuf, msg: String },
    #[error("device {path}: {1}", path = .0.display())]
    Device(PathBuf, String),
    #[error("{}", if *.0 == "hooks" { .1.clone() } else { format!("{}: {}", .0, .1) })]
    Step(&'static str, String),
    #[error("{field}: {msg}")]
    Field { field: String, msg: String },
}

fn step<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> RootfsError {
    move |e| RootfsError::Step(what, e.to_string())
}

/// Everything `prepare` needs.
pub struct Plan<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub no_pivot: bool,
    pub cgroup: Option<&'a Path>,
    pub cgroupns: bool,
    /// The container has a user namespace (devices are bound, not made).
    pub userns: bool,
    /// Idmapped binds nook made before the clone (see `prepare_idmapped`).
    pub idmapped: &'a [(usize, OwnedFd)],
    /// Bind sources nook opened in init's mount namespace (see `sources`).
    pub sources: &'a [(usize, OwnedFd)],
    /// The mount namespace was joined by path: its mounts are not only the
    /// container's, and `--no-pivot` leaves them as they are.
    pub joined_mount_ns: bool,
    /// nook's private procfs, if init has one: mountinfo is read through
    /// it (see `mountinfo::read`).
    pub procfs: Option<&'a crate::sys::procfs::ProcFs>,
    /// `linux.mountLabel`: the SELinux context of the new filesystems.
    pub mount_label: Option<&'a str>,
    /// Runs once the mounts are in place, before the process enters the
    /// root (the prestart, createRuntime and createContainer hooks).
    pub before_pivot: &'a dyn Fn() -> Result<(), String>,
}

/// The mounts that asked for `ro` but stay writable until [`ReadOnly::apply`]:
/// tmpfs mounts and /dev (runc's finalizeRootfs), made read-only once the
/// container's terminal is bound onto /dev/console.
#[must_use]
pub struct ReadOnly(Vec<mount::ReadOnlyLater>);

impl ReadOnly {
    pub fn apply(self) -> Result<(), RootfsError> {
        let attr = MountAttr { attr_set: sys::MOUNT_ATTR_RDONLY, ..Default::default() };
        for (mnt, recursive) in self.0 {
            sys::mount_setattr(mnt.as_fd(), recursive, &attr).map_err(step("making a tmpfs or /dev read-only"))?;
        }
        Ok(())
    }
}

/// Builds the container's filesystem view and makes it the process's root.
/// Runs in the container's init, inside its new mount namespace.
pub fn prepare(plan: &Plan) -> Result<ReadOnly, RootfsError> {
    let linux = plan.spec.linux().as_ref();
    // 1. Propagation of / (see propagation.rs): what the host shares with
    // the container stays shared only where the spec asks for it.
    let asked = propagation::parse(linux.and_then(|l| l.rootfs_propagation().as_deref()))?;
    propagation::before_mounts(asked, plan.rootfs, plan.procfs)?;
    // 2. The rootfs becomes a mount point of its own (pivot_root needs one).
    mount(Some(plan.rootfs), plan.rootfs, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .map_err(step("binding the rootfs onto itself"))?;
    let root: OwnedFd = std::fs::File::open(plan.rootfs).map_err(step("opening the rootfs"))?.into();

    // 3. The spec's mounts, in order.
    let ctx = MountContext {
        root: root.as_fd(),
        bundle: plan.bundle,
        cgroup: plan.cgroup,
        cgroupns: plan.cgroupns,
        idmapped: plan.idmapped,
        label: plan.mount_label,
        sources: plan.sources,
    };
    let mut ro_later = Vec::new();
    for (i, m) in plan.spec.mounts().iter().flatten().enumerate() {
        ro_later.extend(mount::mount_one(&ctx, m, i)?);
    }

    // 4. /dev, unless it is a bind mount (runc's needsSetupDev): then it
    // is the caller's, as it is.
    let dev_bound = plan.spec.mounts().iter().flatten().any(|m| mount::is_bind(m) && mount::is_dev(m.destination()));
    if !dev_bound {
        let devs = linux.and_then(|l| l.devices().as_deref()).unwrap_or_default();
        devices::create_devices(root.as_fd(), devs, plan.userns)?;
        devices::create_symlinks(root.as_fd())?;
    }

    // 5. The cwd exists before anything runs in it (runc creates it too).
    if let Some(p) = plan.spec.process() {
        path::create_in_root(root.as_fd(), p.cwd(), path::Kind::Dir)
            .map_err(|e| RootfsError::Field { field: "process.cwd".into(), msg: e.to_string() })?;
    }

    (plan.before_pivot)().map_err(|e| RootfsError::Step("hooks", e))?;

    // 6. Enter the root.
    if plan.no_pivot {
        enter::chroot_into(root.as_fd(), !plan.joined_mount_ns)?;
    } else {
        enter::pivot_into(root.as_fd())?;
    }
    drop(root);

    // 7. Masked and read-only paths, resolved inside the new root.
    let new_root: OwnedFd = std::fs::File::open("/").map_err(step("opening /"))?.into();
    let masked = linux.and_then(|l| l.masked_paths().as_deref()).unwrap_or_default();
    if !masked.is_empty() {
        let devnull = open_dev_null(new_root.as_fd())?;
        let mut shared_tmpfs = None;
        for p in masked {
            mask_path(new_root.as_fd(), Path::new(p), devnull.as_fd(), &mut shared_tmpfs, plan.mount_label)?;
        }
    }
    for p in linux.and_then(|l| l.readonly_paths().as_deref()).unwrap_or_default() {
        readonly_path(new_root.as_fd(), Path::new(p))?;
    }

    // 8. A read-only root, last.
    if plan.spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false) {
        let attr = MountAttr { attr_set: sys::MOUNT_ATTR_RDONLY, ..Default::default() };
        sys::mount_setattr(new_root.as_fd(), false, &attr).map_err(step("making the root read-only"))?;
    }

    // 9. `shared` and `unbindable` once more, on the container's root.
    propagation::after_pivot(asked)?;
    Ok(ReadOnly(ro_later))
}

/// The container's /dev/null, for masking files: opened without following
/// a symlink and checked to be the null device (CVE-2025-31133: a /dev/null
/// swapped for a symlink would otherwise turn "masking" into exposing).
fn open_dev_null(root: BorrowedFd) -> Result<OwnedFd, RootfsError> {
    let fd = path::open_in_root(root, Path::new("/dev/null"), true)
        .map_err(step("opening /dev/null"))?
        .ok_or_else(|| RootfsError::Step("opening /dev/null", "it does not exist".into()))?;
    let md = nix::sys::stat::fstat(fd.as_fd()).map_err(step("checking /dev/null"))?;
    if md.st_mode & libc::S_IFMT != libc::S_IFCHR || md.st_rdev != nix::sys::stat::makedev(1, 3) {
        return Err(RootfsError::Step("checking /dev/null", "it is not the null device (1:3)".into()));
    }
    Ok(fd)
}

/// Hides `p`: a file under the null device, a directory under an empty
/// read-only tmpfs. A path that does not exist needs no masking. Every
/// masked directory shares one tmpfs (as runc 1.5 does): the first is
/// made, the others are clones of its mount, which is much cheaper than a
/// new superblock each.
fn mask_path(
    root: BorrowedFd,
    p: &Path,
    devnull: BorrowedFd,
    shared: &mut Option<OwnedFd>,
    label: Option<&str>,
) -> Result<(), RootfsError> {
    let err = |e: std::io::Error| RootfsError::Field {
        field: "linux.maskedPaths".into(),
        msg: format!("{}: {e}", p.display()),
    };
    let Some(target) = path::open_in_root(root, p, true).map_err(err)? else { return Ok(()) };
    let md = nix::sys::stat::fstat(target.as_fd()).map_err(|e| err(e.into()))?;
    let is_dir = md.st_mode & libc::S_IFMT == libc::S_IFDIR;
    let cover = if is_dir {
        if let Some(first) = shared {
            sys::open_tree(first.as_fd(), Path::new(""), sys::OPEN_TREE_CLONE).map_err(err)?
        } else {
            let opts = options::MountOptions {
                attr: MountAttr { attr_set: sys::MOUNT_ATTR_RDONLY, ..Default::default() },
                data: vec![("size".into(), Some("0".into()))],
                ..Default::default()
            };
            // Labelled like the container's other tmpfs (runc's maskPath).
            let (opts, _) = mount::with_label(&opts, "tmpfs", label);
            let fresh = mount::new_fs("tmpfs", None, &opts).map_err(err)?;
            sys::move_mount(fresh.as_fd(), target.as_fd()).map_err(err)?;
            // Once attached, the mount can be cloned on any kernel.
            *shared = Some(fresh);
            return Ok(());
        }
    } else if md.st_mode & libc::S_IFMT == libc::S_IFLNK {
        // A symlink points somewhere we resolve anyway; runc leaves these.
        return Ok(());
    } else {
        sys::open_tree(devnull, Path::new(""), sys::OPEN_TREE_CLONE).map_err(err)?
    };
    sys::move_mount(cover.as_fd(), target.as_fd()).map_err(err)
}

/// Makes `p` (and everything mounted below it) read-only.
fn readonly_path(root: BorrowedFd, p: &Path) -> Result<(), RootfsError> {
    let err = |e: std::io::Error| RootfsError::Field {
        field: "linux.readonlyPaths".into(),
        msg: format!("{}: {e}", p.display()),
    };
    let Some(target) = path::open_in_root(root, p, true).map_err(err)? else { return Ok(()) };
    let tree =
        sys::open_tree(target.as_fd(), Path::new(""), sys::OPEN_TREE_CLONE | libc::AT_RECURSIVE as u32).map_err(err)?;
    let attr = MountAttr { attr_set: sys::MOUNT_ATTR_RDONLY, ..Default::default() };
    sys::mount_setattr(tree.as_fd(), true, &attr).map_err(err)?;
    sys::move_mount(tree.as_fd(), target.as_fd()).map_err(err)
}

/// Bind-mounts the container's terminal onto /dev/console, as runc does for
/// a container's init. The source is the pty peer's fd itself (never a
/// /dev/pts/N path); the target is opened inside the root without following
/// a symlink, and must be a regular file or a character device (a missing
/// one is created as an empty file). A read-only /dev that has no
/// /dev/console is left as it is.
pub fn mount_console(peer: BorrowedFd) -> Result<(), RootfsError> {
    let root: OwnedFd = std::fs::File::open("/").map_err(step("opening /"))?.into();
    let console = Path::new("/dev/console");
    let target = match path::open_in_root(root.as_fd(), console, true).map_err(step("/dev/console"))? {
        Some(fd) => fd,
        None => match path::create_in_root(root.as_fd(), console, path::Kind::File) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::EROFS) => return Ok(()),
            Err(e) => return Err(RootfsError::Step("creating /dev/console", e.to_string())),
        },
    };
    let md = nix::sys::stat::fstat(target.as_fd()).map_err(step("/dev/console"))?;
    let kind = md.st_mode & libc::S_IFMT;
    if kind != libc::S_IFREG && kind != libc::S_IFCHR {
        return Err(RootfsError::Step("/dev/console", "not a file or character device".into()));
    }
    let tree = sys::open_tree(peer, Path::new(""), sys::OPEN_TREE_CLONE).map_err(step("binding /dev/console"))?;
    sys::move_mount(tree.as_fd(), target.as_fd()).map_err(step("binding /dev/console"))
}
