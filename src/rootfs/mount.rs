//! Attaching the spec's mounts inside the root, with the new mount API:
//! each mount is built detached (fsopen/fsmount, or open_tree for binds),
//! given its attributes, and moved onto the destination fd resolved inside
//! the root.

use super::options::MountOptions;
use super::path::{create_in_root, Kind};
use super::RootfsError;
use crate::sys::{self, FsContext, MountAttr};
use nix::sys::stat::Mode;
use oci_spec::runtime::Mount;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What the mount code needs to know beyond the spec.
pub struct MountContext<'a> {
    pub root: BorrowedFd<'a>,
    pub bundle: &'a Path,
    /// The container's cgroup directory on the host, bound at a "cgroup"
    /// mount when the container has no cgroup namespace of its own.
    pub cgroup: Option<&'a Path>,
    pub cgroupns: bool,
    /// Idmapped binds made by nook before the clone: (index in `mounts`,
    /// the detached mount).
    pub idmapped: &'a [(usize, OwnedFd)],
    /// `linux.mountLabel` (SELinux).
    pub label: Option<&'a str>,
    /// Bind sources nook opened for init (see `sources`): (index in
    /// `mounts`, an O_PATH fd in init's mount namespace).
    pub sources: &'a [(usize, OwnedFd)],
}

/// A mount to make read-only once everything is in place (recursively
/// for `rro`).
pub type ReadOnlyLater = (OwnedFd, bool);

/// Whether `dest` names /dev.
pub fn is_dev(dest: &Path) -> bool {
    super::path::relative(dest) == Path::new("dev")
}

/// Whether `m` is a bind mount (runc's test: a `bind`/`rbind` option or
/// type "bind").
pub fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind") || m.options().iter().flatten().any(|o| o == "bind" || o == "rbind")
}

/// Mounts one entry of the spec's `mounts` inside the root. A tmpfs, or a
/// new filesystem on /dev, is attached read-write even when it asks for
/// `ro`: as runc, the read-only part comes last (see `ReadOnlyLater`), so
/// /dev/pts, the devices and /dev/console can still be made in it.
pub fn mount_one(ctx: &MountContext, m: &Mount, index: usize) -> Result<Option<ReadOnlyLater>, RootfsError> {
    let dest = m.destination();
    let field = |msg: String| RootfsError::Mount { index, dest: dest.to_owned(), msg };
    let opts = MountOptions::parse(m.options().as_deref().unwrap_or_default()).map_err(field)?;
    let typ = m.typ().as_deref().unwrap_or("");
    let source = m.source().as_deref();
    let (opts, ro_later) =
        if !is_bind(m) && (typ == "tmpfs" || is_dev(dest)) { opts.without_ro() } else { (opts, None) };

    if opts.copyup && (typ != "tmpfs" || opts.bind) {
        let what = if opts.bind { "bind" } else { typ };
        return Err(field(format!("tmpcopyup is for tmpfs mounts, not {what}")));
    }
    let prepared = ctx.idmapped.iter().find(|(i, _)| *i == index);
    let (detached, kind) = if let Some((_, fd)) = prepared {
        let src = source.ok_or_else(|| field("a bind mount needs a source".into()))?;
        let src = if src.is_absolute() { src.to_path_buf() } else { ctx.bundle.join(src) };
        let kind = if std::fs::metadata(&src).map_err(|e| field(format!("source {}: {e}", src.display())))?.is_dir() {
            Kind::Dir
        } else {
            Kind::File
        };
        (fd.try_clone().map_err(|e| field(format!("idmapped mount: {e}")))?, kind)
    } else if opts.bind || typ == "bind" {
        let src = source.ok_or_else(|| field("a bind mount needs a source".into()))?;
        let src = if src.is_absolute() { src.to_path_buf() } else { ctx.bundle.join(src) };
        let recursive = opts.recursive_bind || typ == "rbind";
        match ctx.sources.iter().find(|(i, _)| *i == index) {
            Some((_, fd)) => super::sources::bind_from(fd.as_fd(), recursive),
            None => bind_source(&src, recursive),
        }
        .map_err(|e| field(format!("source {}: {e}", src.display())))?
    } else if typ == "cgroup" || typ == "cgroup2" {
        cgroup_mount(ctx, &opts).map_err(|e| field(format!("cgroup2: {e}")))?
    } else {
        if typ.is_empty() || typ == "none" {
            return Err(field("no type, and not a bind mount".into()));
        }
        if typ == "proc" || typ == "sysfs" {
            ordinary_directory(ctx.root, dest, typ).map_err(field)?;
        }
        let (labelled, with) = with_label(&opts, typ, ctx.label);
        let mnt = match new_fs(typ, source, &labelled) {
            Ok(mnt) => mnt,
            // A user namespace may not mount sysfs for a network namespace
            // it does not own (one joined from the host): as runc does, it
            // gets the host's /sys, bound recursively, instead.
            Err(e) if typ == "sysfs" && e.kind() == std::io::ErrorKind::PermissionDenied => {
                let (mnt, _) =
                    bind_source(Path::new("/sys"), true).map_err(|e| field(format!("binding /sys for sysfs: {e}")))?;
                mnt
            }
            Err(e) if with => return Err(field(format!("{e} (with context= from linux.mountLabel)"))),
            Err(e) => return Err(field(e.to_string())),
        };
        if typ == "mqueue" {
            if let Some(label) = ctx.label {
                label_root(&mnt, label).map_err(|e| field(format!("linux.mountLabel: labelling the mqueue: {e}")))?;
            }
        }
        if opts.copyup {
            copy_up(ctx.root, dest, mnt.as_fd()).map_err(|e| field(format!("tmpcopyup: {e}")))?;
        }
        if typ == "tmpfs" {
            keep_mode(ctx.root, dest, &mnt).map_err(|e| field(format!("copying the mode of the directory: {e}")))?;
        }
        (mnt, Kind::Dir)
    };

    // Attributes: the mount itself, then the r* forms over its whole tree.
    if opts.attr != MountAttr::default() {
        sys::mount_setattr(detached.as_fd(), false, &opts.attr)
            .map_err(|e| field(format!("setting attributes: {e}")))?;
    }
    if opts.rattr != MountAttr::default() {
        sys::mount_setattr(detached.as_fd(), true, &opts.rattr)
            .map_err(|e| field(format!("setting recursive attributes: {e}")))?;
    }

    let target = create_in_root(ctx.root, dest, kind).map_err(|e| field(format!("creating the destination: {e}")))?;
    sys::move_mount(detached.as_fd(), target.as_fd()).map_err(|e| field(format!("attaching: {e}")))?;

    if let Some((prop, recursive)) = opts.propagation {
        let attr = MountAttr { propagation: prop, ..Default::default() };
        sys::mount_setattr(detached.as_fd(), recursive, &attr)
            .map_err(|e| field(format!("setting propagation: {e}")))?;
    }
    Ok(ro_later.map(|recursive| (detached, recursive)))
}

/// procfs and sysfs go on a directory or where nothing is yet, never
/// through a symlink (which runc refuses in these words too): a /proc
/// pointing elsewhere would put them, or leave the real one unmasked,
/// wherever the image says.
fn ordinary_directory(root: BorrowedFd, dest: &Path, typ: &str) -> Result<(), String> {
    let Some(fd) = super::path::open_in_root(root, dest, true).map_err(|e| e.to_string())? else { return Ok(()) };
    let st = nix::sys::stat::fstat(&fd).map_err(|e| e.to_string())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(format!("filesystem {typ:?} must be mounted on ordinary directory"));
    }
    Ok(())
}

/// A tmpfs over a directory that exists takes that directory's mode
/// (sticky and set-id bits included; not its owner), whatever its own
/// `mode=` says, as runc does (its mountToRootfs chmods the mount point).
fn keep_mode(root: BorrowedFd, dest: &Path, tmpfs: &OwnedFd) -> std::io::Result<()> {
    let Some(orig) = super::path::open_in_root(root, dest, false)? else { return Ok(()) };
    let mode = nix::sys::stat::fstat(&orig)?.st_mode & 0o7777;
    let flags = nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC;
    let dir = nix::fcntl::openat(tmpfs, ".", flags, Mode::empty())?;
    nix::sys::stat::fchmod(&dir, Mode::from_bits_truncate(mode))?;
    Ok(())
}

/// `tmpcopyup`: copies what the destination directory holds (if it exists)
/// into the new, still detached tmpfs.
fn copy_up(root: BorrowedFd, dest: &Path, tmpfs: BorrowedFd) -> std::io::Result<()> {
    let Some(orig) = super::path::open_in_root(root, dest, false)? else { return Ok(()) };
    let flags = libc::O_RDONLY | libc::O_DIRECTORY;
    let dir = sys::openat2(orig.as_fd(), Path::new("."), flags, 0, 0)?;
    super::copyup::copy_dir(dir.as_fd(), tmpfs)
}

/// A detached copy of the host path `src` (with its submounts if
/// `recursive`), and whether the destination should be a file or a dir.
fn bind_source(src: &Path, recursive: bool) -> std::io::Result<(OwnedFd, Kind)> {
    let kind = if std::fs::metadata(src)?.is_dir() { Kind::Dir } else { Kind::File };
    let mut flags = sys::OPEN_TREE_CLONE;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    let cwd = nix::fcntl::AT_FDCWD;
    Ok((sys::open_tree(cwd, src, flags)?, kind))
}

/// SELinux mount-context options: an explicit one in the mount's own
/// options is kept as it is.
const CONTEXT_OPTIONS: [&str; 4] = ["context", "fscontext", "defcontext", "rootcontext"];

/// `opts` with `context=<label>` added for `linux.mountLabel`, as runc does
/// for every new filesystem but proc, sysfs and mqueue (which it labels
/// after mounting), and whether it was added.
pub(super) fn with_label(opts: &MountOptions, typ: &str, label: Option<&str>) -> (MountOptions, bool) {
    let mut o = opts.clone();
    let explicit = opts.data.iter().any(|(k, _)| CONTEXT_OPTIONS.contains(&k.as_str()));
    match label {
        Some(l) if !explicit && !["proc", "sysfs", "mqueue"].contains(&typ) => {
            // Through fsconfig the value goes as it is: no quoting.
            o.data.push(("context".into(), Some(l.to_owned())));
            (o, true)
        }
        _ => (o, false),
    }
}

/// Labels the root of a detached mount (runc's SetFileLabel on /dev/mqueue).
fn label_root(mnt: &OwnedFd, label: &str) -> std::io::Result<()> {
    let dir = nix::fcntl::openat(mnt, ".", nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY, Mode::empty())
        .map_err(std::io::Error::from)?;
    // SAFETY: valid fd, NUL-terminated name, buffer and length describe `label`.
    let r = unsafe {
        libc::fsetxattr(
            std::os::fd::AsRawFd::as_raw_fd(&dir),
            c"security.selinux".as_ptr(),
            label.as_ptr().cast(),
            label.len(),
            0,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A new filesystem of type `typ`, configured with the data options.
pub(super) fn new_fs(typ: &str, source: Option<&Path>, opts: &MountOptions) -> std::io::Result<OwnedFd> {
    let ctx =
        FsContext::open(typ).map_err(|e| std::io::Error::new(e.kind(), format!("filesystem type {typ:?}: {e}")))?;
    if let Some(src) = source.and_then(|s| s.to_str()).filter(|s| !s.is_empty()) {
        // Not every filesystem takes a source; the name is only cosmetic.
        let _ = ctx.set("source", Some(src));
    }
    for (k, v) in &opts.data {
        ctx.set(k, v.as_deref())?;
    }
    ctx.mount(opts.fsmount_flags())
}

/// /sys/fs/cgroup inside the container: a fresh cgroup2 mount showing the
/// container's own cgroup as its root when it has a cgroup namespace, else
/// a bind of its cgroup directory. Never a cgroup v1 hierarchy.
fn cgroup_mount(ctx: &MountContext, opts: &MountOptions) -> std::io::Result<(OwnedFd, Kind)> {
    if ctx.cgroupns {
        let mut o = opts.clone();
        o.data.clear();
        return Ok((new_fs("cgroup2", None, &o)?, Kind::Dir));
    }
    let dir: PathBuf = ctx
        .cgroup
        .map(Path::to_path_buf)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "the container has no cgroup"))?;
    bind_source(&dir, false)
}

/// Whether mount `m` is idmapped (its own mappings, or `idmap`/`ridmap`).
pub(super) fn is_idmapped(m: &Mount, opts: &MountOptions) -> bool {
    opts.idmap.is_some() || m.uid_mappings().is_some() || m.gid_mappings().is_some()
}

/// Makes the idmapped bind mounts of `spec`, detached, in nook itself
/// (before the clone, in the host's user namespace, which owns the source
/// filesystems: a container's user namespace could not). Each gets a
/// throwaway user namespace with the mount's mappings, or the container's
/// when only `idmap`/`ridmap` is given. Init inherits the fds and attaches
/// them. Errors name the mount.
pub fn prepare_idmapped(spec: &oci_spec::runtime::Spec, bundle: &Path) -> Result<Vec<(usize, OwnedFd)>, RootfsError> {
    let linux = spec.linux().as_ref();
    let mut out = Vec::new();
    for (index, m) in spec.mounts().iter().flatten().enumerate() {
        let dest = m.destination();
        let field = |msg: String| RootfsError::Mount { index, dest: dest.to_owned(), msg };
        let opts = MountOptions::parse(m.options().as_deref().unwrap_or_default()).map_err(field)?;
        if !is_idmapped(m, &opts) {
            continue;
        }
        let typ = m.typ().as_deref().unwrap_or("");
        if !(opts.bind || typ == "bind" || typ == "rbind") {
            return Err(field("idmapped mounts must be bind mounts".into()));
        }
        let (uid, gid) = match (m.uid_mappings(), m.gid_mappings()) {
            (Some(u), Some(g)) => (u.clone(), g.clone()),
            (None, None) => match linux.map(|l| (l.uid_mappings(), l.gid_mappings())) {
                Some((Some(u), Some(g))) => (u.clone(), g.clone()),
                _ => return Err(field("idmap without mappings needs the container's user namespace mappings".into())),
            },
            _ => return Err(field("uidMappings and gidMappings must be given together".into())),
        };
        if uid.is_empty() || gid.is_empty() {
            return Err(field("uidMappings and gidMappings must not be empty".into()));
        }
        let src = m.source().as_deref().ok_or_else(|| field("a bind mount needs a source".into()))?;
        let src = if src.is_absolute() { src.to_path_buf() } else { bundle.join(src) };
        let recursive_bind = opts.recursive_bind || typ == "rbind";
        let (tree, _) =
            bind_source(&src, recursive_bind).map_err(|e| field(format!("source {}: {e}", src.display())))?;
        let userns = crate::namespaces::throwaway_userns(&uid, &gid).map_err(|e| field(e.to_string()))?;
        let attr = MountAttr {
            attr_set: sys::MOUNT_ATTR_IDMAP,
            userns_fd: std::os::fd::AsRawFd::as_raw_fd(&userns) as u64,
            ..Default::default()
        };
        sys::mount_setattr(tree.as_fd(), opts.idmap == Some(true), &attr)
            .map_err(|e| field(format!("idmapping {}: {e}", src.display())))?;
        out.push((index, tree));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mount_label_goes_where_runc_puts_it() {
        let label = Some("system_u:object_r:container_file_t:s0:c1,c2");
        let plain = MountOptions::parse(&["nosuid".into(), "mode=755".into()]).unwrap();
        for typ in ["tmpfs", "devpts", "shm", "overlay"] {
            let (o, added) = with_label(&plain, typ, label);
            assert!(added, "{typ}");
            assert_eq!(o.data.last(), Some(&("context".into(), label.map(String::from))), "{typ}");
        }
        for typ in ["proc", "sysfs", "mqueue"] {
            assert_eq!(with_label(&plain, typ, label).0.data, plain.data, "{typ}");
        }
        assert!(!with_label(&plain, "tmpfs", None).1);
        // The mount's own context option wins.
        let own = MountOptions::parse(&["context=system_u:object_r:other_t:s0".into()]).unwrap();
        assert_eq!(with_label(&own, "tmpfs", label), (own.clone(), false));
    }
}
