//! Where a container's cgroup lives: finding the cgroup2 mount, reading
//! nook's own cgroup, and turning `linux.cgroupsPath` into a directory the
//! way runc's cgroupfs v2 driver does (`fs2/defaultpath.go`, `specconv`).

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

use super::CgroupError;

/// Where a pure cgroup v2 host mounts the unified hierarchy.
pub const UNIFIED_MOUNTPOINT: &str = "/sys/fs/cgroup";
/// Where a hybrid host mounts it.
pub const HYBRID_MOUNTPOINT: &str = "/sys/fs/cgroup/unified";

/// Whether `path` is the root of a cgroup2 filesystem (statfs magic
/// `CGROUP2_SUPER_MAGIC`, 0x63677270).
pub fn is_cgroup2(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|st| st.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

/// The cgroup2 mount point: `/sys/fs/cgroup` on a v2 host,
/// `/sys/fs/cgroup/unified` on a hybrid host, else an error.
pub fn cgroup2_mount() -> Result<PathBuf, CgroupError> {
    [UNIFIED_MOUNTPOINT, HYBRID_MOUNTPOINT]
        .iter()
        .map(Path::new)
        .find(|p| is_cgroup2(p))
        .map(Path::to_path_buf)
        .ok_or(CgroupError::NotMounted)
}

/// The v2 cgroup ("0::/...") in the contents of a `/proc/<pid>/cgroup` file.
pub fn parse_proc_cgroup(content: &str) -> Option<&str> {
    content.lines().find_map(|l| l.strip_prefix("0::"))
}

/// The cgroup v2 path of the calling process, e.g. `/user.slice/session-1.scope`.
pub fn own_cgroup() -> Result<String, CgroupError> {
    let path = Path::new("/proc/self/cgroup");
    let content = std::fs::read_to_string(path).map_err(|e| CgroupError::io("read", path, e))?;
    parse_proc_cgroup(&content)
        .map(str::to_owned)
        .ok_or_else(|| CgroupError::Parse { path: path.to_path_buf(), detail: "no cgroup v2 (\"0::\") entry".into() })
}

/// Check that `p` names a place inside the hierarchy: no `..`, no `.`-only
/// tricks, no NUL. Returns the normal components.
fn clean_components<'a>(original: &str, p: &'a Path) -> Result<Vec<&'a OsStr>, CgroupError> {
    if original.contains('\0') {
        return Err(CgroupError::invalid_path(original, "contains a NUL byte"));
    }
    let mut out = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                return Err(CgroupError::invalid_path(original, "\"..\" components are not allowed"))
            }
            Component::Prefix(_) => unreachable!("no path prefixes on Linux"),
        }
    }
    Ok(out)
}

/// The cgroup directory for a container, as runc's cgroupfs v2 driver
/// computes it:
/// - `cgroups_path` absolute: `mount` + path;
/// - relative: under the *parent* of `own_cgroup` (runc: the caller's own
///   cgroup most probably has tasks in it, so controllers could not be
///   enabled below it);
/// - empty or absent: like a relative path equal to the container id.
///
/// Unlike runc, which lexically clamps `..`, any `..` component is an error,
/// as is a path that names the hierarchy root itself.
pub fn resolve(mount: &Path, own_cgroup: &str, cgroups_path: Option<&str>, id: &str) -> Result<PathBuf, CgroupError> {
    let given = cgroups_path.filter(|p| !p.is_empty());
    let (text, base) = match given {
        Some(p) if p.starts_with('/') => (p, None),
        Some(p) => (p, Some(own_cgroup)),
        None => (id, Some(own_cgroup)),
    };
    let inner = clean_components(text, Path::new(text))?;
    if inner.is_empty() {
        return Err(CgroupError::invalid_path(text, "names the cgroup hierarchy root"));
    }
    let mut dir = mount.to_path_buf();
    if let Some(own) = base {
        let own = clean_components(own, Path::new(own))?;
        // filepath.Dir(ownCgroup): drop the last component.
        let parent = &own[..own.len().saturating_sub(1)];
        dir.extend(parent);
    }
    dir.extend(inner);
    Ok(dir)
}

/// A `slice:prefix:name` cgroupsPath for the systemd driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemdPath {
    /// The parent slice, e.g. `system.slice` (default when empty).
    pub slice: String,
    /// The scope prefix, e.g. `docker`.
    pub prefix: String,
    /// The unit name part, e.g. the container id.
    pub name: String,
}

impl SystemdPath {
    /// The unit name: `<prefix>-<name>.scope`, or `<name>` when it is a slice.
    pub fn unit_name(&self) -> String {
        if self.name.ends_with(".slice") {
            self.name.clone()
        } else if self.prefix.is_empty() {
            format!("{}.scope", self.name)
        } else {
            format!("{}-{}.scope", self.prefix, self.name)
        }
    }

    /// The cgroup path systemd gives this unit, relative to the mount:
    /// `/system.slice/docker-abc.scope`. A slice unit goes where its own
    /// name puts it (`a-b.slice` → `/a.slice/a-b.slice`), whatever the
    /// parent slice says (systemd places slices by name).
    pub fn cgroup_path(&self) -> Result<String, CgroupError> {
        let parent = expand_slice(&self.slice)?;
        let unit = self.unit_name();
        if unit.ends_with(".slice") {
            return expand_slice(&unit);
        }
        Ok(format!("{parent}/{unit}"))
    }
}

/// Whether systemd is the init system (as sd_booted(3) checks).
pub fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// Parse a systemd-driver cgroupsPath. Empty means the runc default,
/// `system.slice:nook:<id>`. Fails when systemd is not running.
pub fn parse_systemd(cgroups_path: Option<&str>, id: &str) -> Result<SystemdPath, CgroupError> {
    parse_systemd_with(cgroups_path, id, systemd_running())
}

pub(crate) fn parse_systemd_with(
    cgroups_path: Option<&str>,
    id: &str,
    running: bool,
) -> Result<SystemdPath, CgroupError> {
    if !running {
        return Err(CgroupError::SystemdNotRunning);
    }
    let p = match cgroups_path.filter(|p| !p.is_empty()) {
        None => SystemdPath { slice: "system.slice".into(), prefix: "nook".into(), name: id.into() },
        Some(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            let [slice, prefix, name] = parts[..] else {
                return Err(CgroupError::invalid_path(
                    s,
                    "expected \"slice:prefix:name\" for the systemd cgroup driver",
                ));
            };
            let slice = if slice.is_empty() { "system.slice" } else { slice };
            SystemdPath { slice: slice.into(), prefix: prefix.into(), name: name.into() }
        }
    };
    for part in [&p.slice, &p.prefix, &p.name] {
        if part.contains('/') || part.contains('\0') || part == ".." {
            return Err(CgroupError::invalid_path(part, "systemd unit names cannot contain '/'"));
        }
    }
    if p.name.is_empty() {
        return Err(CgroupError::invalid_path("", "systemd unit name is empty"));
    }
    Ok(p)
}

/// systemd's slice expansion: `a-b-c.slice` → `/a.slice/a-b.slice/a-b-c.slice`,
/// `-.slice` → `` (the root).
pub fn expand_slice(slice: &str) -> Result<String, CgroupError> {
    let bad = |why| Err(CgroupError::invalid_path(slice, why));
    let Some(name) = slice.strip_suffix(".slice") else {
        return bad("a slice name must end in \".slice\"");
    };
    if name == "-" {
        return Ok(String::new());
    }
    if name.is_empty() || name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        return bad("invalid slice name");
    }
    let mut out = String::new();
    let mut prefix = String::new();
    for (i, part) in name.split('-').enumerate() {
        if i > 0 {
            prefix.push('-');
        }
        prefix.push_str(part);
        out.push('/');
        out.push_str(&prefix);
        out.push_str(".slice");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "/sys/fs/cgroup";

    fn r(own: &str, p: Option<&str>, id: &str) -> Result<PathBuf, CgroupError> {
        resolve(Path::new(M), own, p, id)
    }

    #[test]
    fn absolute_paths_go_under_the_mount() {
        assert_eq!(r("/user.slice/s.scope", Some("/a/b"), "x").unwrap(), Path::new("/sys/fs/cgroup/a/b"));
        assert_eq!(r("/", Some("//a/./b/"), "x").unwrap(), Path::new("/sys/fs/cgroup/a/b"));
    }

    #[test]
    fn relative_paths_go_under_the_parent_of_our_own_cgroup() {
        assert_eq!(
            r("/user.slice/session-1.scope", Some("k8s/pod"), "x").unwrap(),
            Path::new("/sys/fs/cgroup/user.slice/k8s/pod")
        );
        assert_eq!(r("/", Some("a"), "x").unwrap(), Path::new("/sys/fs/cgroup/a"));
    }

    #[test]
    fn empty_path_uses_the_container_id() {
        assert_eq!(r("/a/b", None, "ctr").unwrap(), Path::new("/sys/fs/cgroup/a/ctr"));
        assert_eq!(r("/a/b", Some(""), "ctr").unwrap(), Path::new("/sys/fs/cgroup/a/ctr"));
        assert_eq!(r("/", None, "ctr").unwrap(), Path::new("/sys/fs/cgroup/ctr"));
    }

    #[test]
    fn escapes_are_rejected() {
        for p in ["/../etc", "a/../../b", "..", "/a/..", "a\0b"] {
            let e = r("/x", Some(p), "id").unwrap_err().to_string();
            assert!(e.contains("linux.cgroupsPath"), "{p}: {e}");
        }
        assert!(r("/x", None, "..").is_err());
        assert!(r("/x", Some("/"), "id").unwrap_err().to_string().contains("root"));
        assert!(r("/x", Some("/./"), "id").is_err());
    }

    #[test]
    fn proc_cgroup_parsing() {
        let c = "12:pids:/\n1:name=systemd:/x\n0::/user.slice/u.scope\n";
        assert_eq!(parse_proc_cgroup(c), Some("/user.slice/u.scope"));
        assert_eq!(parse_proc_cgroup("0::/\n"), Some("/"));
        assert_eq!(parse_proc_cgroup("1:cpu:/\n"), None);
    }

    #[test]
    fn systemd_paths() {
        let p = parse_systemd_with(Some("system.slice:docker:abc"), "id", true).unwrap();
        assert_eq!(p.unit_name(), "docker-abc.scope");
        assert_eq!(p.cgroup_path().unwrap(), "/system.slice/docker-abc.scope");
        let p = parse_systemd_with(Some("a-b.slice:crio:x"), "id", true).unwrap();
        assert_eq!(p.cgroup_path().unwrap(), "/a.slice/a-b.slice/crio-x.scope");
        let p = parse_systemd_with(None, "id", true).unwrap();
        assert_eq!(p.cgroup_path().unwrap(), "/system.slice/nook-id.scope");
        let p = parse_systemd_with(Some(":p:n"), "id", true).unwrap();
        assert_eq!(p.slice, "system.slice");
        let p = parse_systemd_with(Some("-.slice::n.slice"), "id", true).unwrap();
        assert_eq!(p.cgroup_path().unwrap(), "/n.slice");
        let p = parse_systemd_with(Some("system.slice::nook-pod.slice"), "id", true).unwrap();
        assert_eq!(p.unit_name(), "nook-pod.slice");
        assert_eq!(p.cgroup_path().unwrap(), "/nook.slice/nook-pod.slice");
        assert!(parse_systemd_with(Some("bad:p:n"), "id", true).unwrap().cgroup_path().is_err());
        assert!(parse_systemd_with(Some("a:b"), "id", true).is_err());
        assert!(parse_systemd_with(Some("a.slice:b:c/d"), "id", true).is_err());
        assert!(parse_systemd_with(Some("bad:b:c"), "id", true).unwrap().cgroup_path().is_err());
        let e = parse_systemd_with(Some("a.slice:b:c"), "id", false).unwrap_err();
        assert_eq!(e.to_string(), "systemd cgroup driver: systemd is not running");
    }

    #[test]
    fn host_mount_is_found() {
        // Either /sys/fs/cgroup or /sys/fs/cgroup/unified is cgroup2 on the
        // hosts nook is tested on.
        let m = cgroup2_mount().unwrap();
        assert!(is_cgroup2(&m));
        assert!(!is_cgroup2(Path::new("/proc")));
    }
}
