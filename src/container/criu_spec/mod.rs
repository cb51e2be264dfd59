//! What the container's config tells CRIU, the same on both sides of a
//! checkpoint, as runc describes it (libcontainer/criu_linux.go): the
//! options both commands take, the mounts CRIU must treat as external
//! (binds, masked files, device nodes), the namespaces the container
//! joined rather than made, and CRIU's configuration file.

use super::{ContainerError, Result};
use crate::criu::rpc::{self, CriuCgMode, ExtMountMap};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

/// What `checkpoint` and `restore` share (runc's flags of the same names).
#[derive(Debug, Default, Clone)]
pub struct CriuOptions {
    /// `--image-path`: where CRIU's images go (checkpoint) or come from.
    pub image_path: PathBuf,
    /// `--work-path`: CRIU's logs and work files (default: the image path).
    pub work_path: Option<PathBuf>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    /// `--manage-cgroups-mode`: soft (CRIU's default), full, strict, ignore.
    pub manage_cgroups_mode: Option<String>,
    /// `--empty-ns`: namespaces made empty rather than restored ("network").
    pub empty_ns: Vec<String>,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
    /// runc's `--criu`: the CRIU binary (default: `criu` from PATH).
    pub criu: Option<PathBuf>,
}

/// runc's record of the init's stdio in the images (a JSON list of what
/// fds 0, 1 and 2 link to), read back on restore to hand pipes over.
pub const DESCRIPTORS: &str = "descriptors.json";

fn bad(msg: impl Into<String>) -> ContainerError {
    ContainerError::Other(msg.into())
}

impl CriuOptions {
    /// Checks the flags that need no container (before anything is made).
    pub(super) fn check(&self) -> Result<()> {
        self.cg_mode()?;
        self.empty_ns_mask()?;
        Ok(())
    }

    pub(super) fn cg_mode(&self) -> Result<CriuCgMode> {
        Ok(match self.manage_cgroups_mode.as_deref() {
            None | Some("") => CriuCgMode::Default,
            Some("soft") => CriuCgMode::Soft,
            Some("full") => CriuCgMode::Full,
            Some("strict") => CriuCgMode::Strict,
            Some("ignore") => CriuCgMode::Ignore,
            Some(m) => return Err(bad(format!("--manage-cgroups-mode {m:?}: not soft, full, strict or ignore"))),
        })
    }

    /// CLONE_NEWNET always (runc manages no network devices: the network
    /// namespace is made, and left to whoever set it up), plus each
    /// `--empty-ns` (only "network" is known, as in runc).
    pub(super) fn empty_ns_mask(&self) -> Result<u32> {
        for ns in &self.empty_ns {
            if ns != "network" {
                return Err(bad(format!("--empty-ns {ns:?}: only \"network\" is supported")));
            }
        }
        Ok(libc::CLONE_NEWNET as u32)
    }

    /// The options both requests carry, as runc sets them.
    pub(super) fn base(&self, spec: &Spec, images_fd: i32, log_file: &str) -> Result<rpc::CriuOpts> {
        let mode = self.cg_mode()?;
        Ok(rpc::CriuOpts {
            images_dir_fd: images_fd,
            log_level: Some(4),
            log_file: Some(log_file.into()),
            manage_cgroups: Some(true),
            manage_cgroups_mode: Some(mode as i32),
            notify_scripts: Some(true),
            shell_job: Some(self.shell_job),
            ext_unix_sk: Some(self.ext_unix_sk),
            tcp_established: Some(self.tcp_established),
            file_locks: Some(self.file_locks),
            empty_ns: Some(self.empty_ns_mask()?),
            orphan_pts_master: Some(true),
            auto_dedup: Some(self.auto_dedup),
            lazy_pages: Some(self.lazy_pages),
            config_file: config_file(spec),
            ..Default::default()
        })
    }

    /// Where CRIU's log goes: the work path if given, else the images.
    pub(super) fn log_dir(&self) -> &Path {
        self.work_path.as_deref().unwrap_or(&self.image_path)
    }
}

/// CRIU's configuration file for this container: the `org.criu.config`
/// annotation (empty: none at all), else nook's own /etc/criu/nook.conf
/// (runc reads /etc/criu/runc.conf; CRIU ignores a file that is missing).
fn config_file(spec: &Spec) -> Option<String> {
    match spec.annotations().as_ref().and_then(|a| a.get("org.criu.config")) {
        Some(f) if f.is_empty() => None,
        Some(f) => Some(f.clone()),
        None => Some("/etc/criu/nook.conf".into()),
    }
}

/// A mount destination as CRIU sees it: cleaned, and with the symlinks in
/// it resolved inside the root (as runc's securejoin does: the longest
/// part that exists is resolved, the rest appended), so that it names the
/// mount point CRIU finds.
fn mount_key(rootfs: &Path, dest: &Path) -> String {
    use std::os::fd::{AsFd, AsRawFd};
    let clean = lexical(dest);
    let resolve = |p: &Path| -> Option<PathBuf> {
        let root = std::fs::File::open(rootfs).ok()?;
        let fd = crate::rootfs::path::open_in_root(root.as_fd(), p, false).ok()??;
        let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
        let rootfs = std::fs::canonicalize(rootfs).ok()?;
        real.strip_prefix(&rootfs).ok().map(|r| Path::new("/").join(r))
    };
    let mut existing = clean.clone();
    let mut rest = Vec::new();
    loop {
        if let Some(real) = resolve(&existing) {
            let full = rest.iter().rev().fold(real, |p, c: &std::ffi::OsString| p.join(c));
            return full.to_string_lossy().into_owned();
        }
        match (existing.file_name().map(|n| n.to_owned()), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_owned();
            }
            _ => return clean.to_string_lossy().into_owned(),
        }
    }
}

/// `/a/./b//c/../d` → `/a/b/d`, never above `/`.
fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Whether a mount is a bind (runc: `bind`/`rbind` among the options, or
/// the type).
fn is_bind(m: &oci_spec::runtime::Mount) -> bool {
    let typ = m.typ().as_deref().unwrap_or("");
    typ == "bind" || m.options().iter().flatten().any(|o| o == "bind" || o == "rbind")
}

/// The device nodes every container has (runc's default devices), then the
/// spec's `linux.devices`.
fn device_paths(spec: &Spec) -> Vec<PathBuf> {
    let spec_devs = spec.linux().as_ref().and_then(|l| l.devices().clone()).unwrap_or_default();
    let defaults = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"];
    let mut paths: Vec<PathBuf> =
        defaults.iter().map(PathBuf::from).filter(|p| !spec_devs.iter().any(|d| d.path() == p)).collect();
    paths.extend(spec_devs.iter().map(|d| d.path().clone()));
    paths
}

fn ext(key: String, val: String) -> ExtMountMap {
    ExtMountMap { key, val }
}

/// The mounts CRIU must not dump but name by a key (their mount point):
/// binds (their source is the host's), masked files (the null device) and
/// device nodes. `alive` is the container's init, to look at its files.
pub(super) fn dump_ext_mounts(spec: &Spec, rootfs: &Path, init: i32) -> Vec<ExtMountMap> {
    let mut out = Vec::new();
    for m in spec.mounts().iter().flatten().filter(|m| is_bind(m)) {
        let key = mount_key(rootfs, m.destination());
        out.push(ext(key.clone(), key));
    }
    let masked = spec.linux().as_ref().and_then(|l| l.masked_paths().clone()).unwrap_or_default();
    for p in masked {
        // Directories are masked with a tmpfs, which CRIU dumps.
        let path = format!("/proc/{init}/root/{}", p.trim_start_matches('/'));
        if std::fs::metadata(&path).is_ok_and(|md| !md.is_dir()) {
            out.push(ext(p, "/dev/null".into()));
        }
    }
    for d in device_paths(spec) {
        let key = mount_key(rootfs, &d);
        out.push(ext(key.clone(), key));
    }
    out
}

/// The same keys on restore, each mapped to what is mounted there now.
pub(super) fn restore_ext_mounts(spec: &Spec, rootfs: &Path, bundle: &Path) -> Vec<ExtMountMap> {
    let mut out = Vec::new();
    for m in spec.mounts().iter().flatten().filter(|m| is_bind(m)) {
        let src = m.source().clone().unwrap_or_default();
        let src = if src.is_absolute() { src } else { bundle.join(src) };
        out.push(ext(mount_key(rootfs, m.destination()), src.to_string_lossy().into_owned()));
    }
    if spec.linux().as_ref().and_then(|l| l.masked_paths().as_ref()).is_some_and(|m| !m.is_empty()) {
        out.push(ext("/dev/null".into(), "/dev/null".into()));
    }
    for d in device_paths(spec) {
        out.push(ext(mount_key(rootfs, &d), d.to_string_lossy().into_owned()));
    }
    out
}

/// The network and pid namespaces the container joined by path: CRIU
/// leaves them out of the images (`external`, keyed `extRoot<Type>NS`) and
/// is handed them again on restore.
pub(super) fn external_namespaces(spec: &Spec) -> Vec<(LinuxNamespaceType, &'static str, PathBuf)> {
    let list = spec.linux().as_ref().and_then(|l| l.namespaces().clone()).unwrap_or_default();
    list.iter()
        .filter_map(|n| {
            let key = match n.typ() {
                LinuxNamespaceType::Network => "extRootNetNS",
                LinuxNamespaceType::Pid => "extRootPidNS",
                _ => return None,
            };
            n.path().as_ref().map(|p| (n.typ(), key, p.clone()))
        })
        .collect()
}

/// `--external net[<inode>]:extRootNetNS` for each external namespace.
pub(super) fn dump_externals(spec: &Spec) -> Result<Vec<String>> {
    use std::os::unix::fs::MetadataExt;
    external_namespaces(spec)
        .into_iter()
        .map(|(t, key, path)| {
            let ino = std::fs::metadata(&path).map_err(|e| bad(format!("{}: {e}", path.display())))?.ino();
            Ok(format!("{}[{ino}]:{key}", ns_name(t)))
        })
        .collect()
}

/// An fd handed to CRIU under a key (`inherit_fd`).
pub(super) type KeyedFd = (String, OwnedFd);

/// On restore: each external namespace opened, to be passed to criu under
/// its key (`inherit_fd`); every other namespace given by path is joined
/// (`join_ns`). A cgroup namespace by path is refused, as runc does: CRIU
/// cannot join one.
pub(super) fn restore_namespaces(spec: &Spec) -> Result<(Vec<rpc::JoinNamespace>, Vec<KeyedFd>)> {
    let list = spec.linux().as_ref().and_then(|l| l.namespaces().clone()).unwrap_or_default();
    let mut join = Vec::new();
    let mut fds = Vec::new();
    for (t, key, path) in external_namespaces(spec) {
        let f = std::fs::File::open(&path)
            .map_err(|e| bad(format!("linux.namespaces: the {} namespace {}: {e}", ns_name(t), path.display())))?;
        fds.push((key.to_owned(), f.into()));
    }
    for n in &list {
        let Some(path) = n.path() else { continue };
        match n.typ() {
            LinuxNamespaceType::Network | LinuxNamespaceType::Pid => {}
            LinuxNamespaceType::Cgroup => {
                return Err(bad("linux.namespaces: CRIU cannot restore into a cgroup namespace given by path"))
            }
            t => join.push(rpc::JoinNamespace {
                ns: ns_name(t).into(),
                ns_file: path.to_string_lossy().into_owned(),
                extra_opt: None,
            }),
        }
    }
    Ok((join, fds))
}

/// Makes the mount points a restore needs in the rootfs, as the original
/// create made them (a fresh rootfs, containerd's or podman's, lacks
/// them): every mount's destination, unless it lies in a tmpfs (whose
/// content CRIU restores) or is a cgroup mount (it appears with /sys). A
/// destination inside a bind mount's destination is made in that bind's
/// source, where it really lives.
pub(super) fn prepare_mountpoints(spec: &Spec, rootfs: &Path, bundle: &Path) -> Result<()> {
    use crate::rootfs::path::{create_in_root, Kind};
    use std::os::fd::AsFd;
    let mounts = spec.mounts().clone().unwrap_or_default();
    let under = |p: &Path, top: &Path| p != top && p.starts_with(top);
    let tmpfs: Vec<PathBuf> =
        mounts.iter().filter(|m| m.typ().as_deref() == Some("tmpfs")).map(|m| lexical(m.destination())).collect();
    let source = |m: &oci_spec::runtime::Mount| {
        let s = m.source().clone().unwrap_or_default();
        if s.is_absolute() {
            s
        } else {
            bundle.join(s)
        }
    };
    let root: OwnedFd = std::fs::File::open(rootfs).map_err(|e| bad(format!("{}: {e}", rootfs.display())))?.into();
    for (i, m) in mounts.iter().enumerate() {
        let dest = lexical(m.destination());
        let typ = m.typ().as_deref().unwrap_or("");
        if tmpfs.iter().any(|t| under(&dest, t)) || typ == "cgroup" || typ == "cgroup2" {
            continue;
        }
        let kind = if is_bind(m) && !source(m).is_dir() { Kind::File } else { Kind::Dir };
        // The innermost earlier bind that contains this destination.
        let outer = mounts[..i]
            .iter()
            .filter(|b| is_bind(b) && under(&dest, &lexical(b.destination())))
            .max_by_key(|b| lexical(b.destination()).components().count());
        let err = |e: std::io::Error| bad(format!("mounts[{i}] ({}): the mount point: {e}", dest.display()));
        match outer {
            Some(b) => {
                let src: OwnedFd = std::fs::File::open(source(b)).map_err(err)?.into();
                let rest = dest.strip_prefix(lexical(b.destination())).expect("under it");
                create_in_root(src.as_fd(), rest, kind).map_err(err)?;
            }
            None => {
                create_in_root(root.as_fd(), &dest, kind).map_err(err)?;
            }
        }
    }
    Ok(())
}

/// CRIU's (and /proc's) name of a namespace type.
pub(super) fn ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Time => "time",
    }
}

/// The first lines of CRIU's log that report an error, for the one-line
/// message (the whole log stays in the work or image directory).
pub(super) fn log_error(dir: &Path, file: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(file)).ok()?;
    let first = text.lines().find(|l| l.contains("Error"))?;
    // "(00.012345) Error (criu/mount.c:123): what", less the timestamp.
    let first = first.split_once(") ").map_or(first, |(_, rest)| rest).trim();
    Some(first.to_owned())
}

#[cfg(test)]
mod tests;
