//! The container's cgroup, as the lifecycle uses it: made before the
//! clone (so init is born in it), removed on delete. Only the cgroup v2
//! hierarchy is ever touched.

use super::ContainerError;
use oci_spec::runtime::LinuxResources;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

const CGROUP2_SUPER_MAGIC: i64 = 0x63677270;

fn is_cgroup2(p: &Path) -> bool {
    nix::sys::statfs::statfs(p).is_ok_and(|s| s.filesystem_type().0 as i64 == CGROUP2_SUPER_MAGIC)
}

/// Where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup on a v2 host,
/// /sys/fs/cgroup/unified on a hybrid one.
pub fn mountpoint() -> Result<PathBuf, ContainerError> {
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .iter()
        .map(PathBuf::from)
        .find(|p| is_cgroup2(p))
        .ok_or_else(|| ContainerError::Cgroup("cgroup v2 is not mounted (nook supports cgroup v2 only)".into()))
}

/// nook's own cgroup, from /proc/self/cgroup's `0::` line.
fn own_cgroup() -> Result<PathBuf, ContainerError> {
    let s = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| ContainerError::Cgroup(format!("/proc/self/cgroup: {e}")))?;
    s.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(PathBuf::from)
        .ok_or_else(|| ContainerError::Cgroup("/proc/self/cgroup has no cgroup v2 entry".into()))
}

/// The cgroup directory for a container, as runc's cgroupfs driver names
/// it: an absolute `cgroupsPath` is taken from the hierarchy's root, a
/// relative one from nook's own cgroup, and none means `<own>/<id>`.
pub fn path_for(mount: &Path, own: &Path, cgroups_path: Option<&Path>, id: &str) -> Result<PathBuf, ContainerError> {
    let rel = match cgroups_path.filter(|p| !p.as_os_str().is_empty()) {
        Some(p) if p.is_absolute() => p.to_path_buf(),
        Some(p) => own.join(p),
        None => own.join(id),
    };
    if rel.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(ContainerError::Spec(crate::spec::SpecError::invalid(
            "linux.cgroupsPath",
            format!("{} must not contain \"..\"", rel.display()),
        )));
    }
    let rel: PathBuf = rel.components().filter(|c| matches!(c, Component::Normal(_))).collect();
    if rel.as_os_str().is_empty() {
        return Err(ContainerError::Spec(crate::spec::SpecError::invalid("linux.cgroupsPath", "names the root cgroup")));
    }
    Ok(mount.join(rel))
}

/// A container cgroup that exists.
pub struct Cgroup {
    pub path: PathBuf,
    /// Directories this create made, deepest last (removed on failure).
    created: Vec<PathBuf>,
}

impl Cgroup {
    /// Checks the resources and makes the cgroup directory.
    pub fn create(cgroups_path: Option<&Path>, id: &str, resources: Option<&LinuxResources>) -> Result<Self, ContainerError> {
        check_resources(resources)?;
        let mount = mountpoint()?;
        let path = path_for(&mount, &own_cgroup()?, cgroups_path, id)?;
        let mut created = Vec::new();
        let mut cur = mount.clone();
        for c in path.strip_prefix(&mount).expect("under the mount").components() {
            cur.push(c);
            match std::fs::create_dir(&cur) {
                Ok(()) => created.push(cur.clone()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    let cg = Cgroup { path: path.clone(), created };
                    cg.remove_created();
                    return Err(ContainerError::Cgroup(format!("creating {}: {e}", cur.display())));
                }
            }
        }
        Ok(Cgroup { path, created })
    }

    /// The directory fd, for clone3's CLONE_INTO_CGROUP.
    pub fn open(&self) -> Result<OwnedFd, ContainerError> {
        std::fs::File::open(&self.path)
            .map(Into::into)
            .map_err(|e| ContainerError::Cgroup(format!("opening {}: {e}", self.path.display())))
    }

    /// Undoes `create` (after a failed create).
    pub fn remove_created(&self) {
        for d in self.created.iter().rev() {
            let _ = remove_dir(d);
        }
    }
}

/// Until the cgroup controllers land, a requested limit is refused by name;
/// only device rules (which runc's default spec always carries) pass.
fn check_resources(r: Option<&LinuxResources>) -> Result<(), ContainerError> {
    let Some(r) = r else { return Ok(()) };
    let requested = [
        ("memory", r.memory().is_some()),
        ("cpu", r.cpu().is_some()),
        ("pids", r.pids().is_some()),
        ("blockIO", r.block_io().is_some()),
        ("hugepageLimits", r.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty())),
        ("network", r.network().is_some()),
        ("rdma", r.rdma().as_ref().is_some_and(|v| !v.is_empty())),
        ("unified", r.unified().as_ref().is_some_and(|v| !v.is_empty())),
    ];
    match requested.iter().find(|(_, on)| *on) {
        Some((name, _)) => Err(ContainerError::Spec(crate::spec::SpecError::invalid(
            format!("linux.resources.{name}"),
            "cgroup limits are not supported by this version of nook yet",
        ))),
        None => Ok(()),
    }
}

/// Removes a cgroup directory, retrying briefly while it drains.
pub fn remove_dir(path: &Path) -> std::io::Result<()> {
    for i in 0..100 {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && i < 99 => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Signals every process in the cgroup (SIGKILL through cgroup.kill).
pub fn signal_all(path: &Path, sig: i32) -> std::io::Result<()> {
    if sig == libc::SIGKILL && std::fs::write(path.join("cgroup.kill"), "1").is_ok() {
        return Ok(());
    }
    for pid in std::fs::read_to_string(path.join("cgroup.procs"))?.lines().filter_map(|l| l.parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::try_from(sig).ok());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_computed_like_runc_cgroupfs() {
        let m = Path::new("/sys/fs/cgroup");
        let own = Path::new("/user.slice/nook");
        assert_eq!(path_for(m, own, None, "c1").unwrap(), Path::new("/sys/fs/cgroup/user.slice/nook/c1"));
        assert_eq!(path_for(m, own, Some(Path::new("/a/b")), "c1").unwrap(), Path::new("/sys/fs/cgroup/a/b"));
        assert_eq!(path_for(m, own, Some(Path::new("x/y")), "c1").unwrap(), Path::new("/sys/fs/cgroup/user.slice/nook/x/y"));
        assert!(path_for(m, own, Some(Path::new("/a/../../etc")), "c1").is_err());
        assert!(path_for(m, Path::new("/"), Some(Path::new("/")), "c1").is_err());
    }
}
