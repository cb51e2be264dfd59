//! The container's cgroup as the lifecycle uses it: made (with its limits
//! and device filter) before the clone, so init is born in it, or, with
//! `--systemd-cgroup`, made by systemd as a transient unit holding init
//! right after the clone; signalled and removed on delete. Only the
//! cgroup v2 hierarchy is ever touched.

use crate::cgroups::{self, systemd, Cgroup, CgroupError, SystemdPath};
use oci_spec::runtime::{Linux, LinuxNamespaceType, LinuxResources, Spec};
use std::path::{Path, PathBuf};

/// Where the container's cgroup goes.
pub struct Placement {
    /// The cgroup2 mount.
    pub mount: PathBuf,
    /// The cgroup directory.
    pub dir: PathBuf,
    /// With `--systemd-cgroup`: the unit that systemd makes the cgroup for.
    pub systemd: Option<SystemdPath>,
}

/// Where the container's cgroup goes, as runc's cgroupfs or systemd
/// driver names it. Known before anything is made, so that `create`
/// records it in state.json first: a create killed at any later point
/// leaves a cgroup (and unit) that `delete --force` finds.
pub fn path(linux: &Linux, id: &str, systemd: bool) -> Result<Placement, CgroupError> {
    let path = linux.cgroups_path().as_ref().map(|p| p.to_string_lossy().into_owned());
    if systemd {
        let unit = cgroups::parse_systemd(path.as_deref(), id)?;
        let mount = cgroups::cgroup2_mount()?;
        let dir = mount.join(unit.cgroup_path()?.trim_start_matches('/'));
        return Ok(Placement { mount, dir, systemd: Some(unit) });
    }
    let (mount, dir) = cgroups::container_dir(path.as_deref(), id)?;
    Ok(Placement { mount, dir, systemd: None })
}

fn resources(linux: &Linux) -> LinuxResources {
    linux.resources().clone().unwrap_or_default()
}

/// The device filter's rules: the spec's, then runc's default allowed
/// devices. They are attached while init sets itself up (see `create`),
/// before anything of the container's runs.
pub fn device_rules(linux: &Linux) -> Result<Vec<cgroups::DeviceRule>, CgroupError> {
    let spec_rules = linux.resources().as_ref().and_then(|r| r.devices().clone()).unwrap_or_default();
    cgroups::container_rules(&spec_rules, linux.devices().as_deref().unwrap_or_default())
}

/// The systemd driver's check before the unit exists: every limit as
/// `create` will check it, and the unit properties from the limits and
/// the `org.systemd.property.*` annotations, which it returns.
pub fn systemd_properties(spec: &Spec) -> Result<Vec<systemd::Property>, CgroupError> {
    let linux = spec.linux().as_ref().expect("validated");
    let r = resources(linux);
    cgroups::check_resources(&r)?;
    systemd::spec_properties(&r, spec.annotations().as_ref())
}

/// Creates (or, for systemd's, completes) the container's cgroup at `dir`
/// (from [`path`]) with every limit from the spec's `linux` section.
/// Delegated to the container's user where the spec asks for it (see
/// [`owner`]).
pub fn create(spec: &Spec, mount: &Path, dir: &Path, enable: cgroups::Enable) -> Result<Cgroup, CgroupError> {
    let linux = spec.linux().as_ref().expect("validated");
    let cg = Cgroup::create(mount, dir, &resources(linux), None, enable)?;
    if let Some(uid) = owner(spec) {
        if let Err(e) = cg.delegate(uid) {
            let _ = cgroups::remove_tree(cg.path());
            return Err(e);
        }
    }
    Ok(cg)
}

/// runtime-spec "Cgroup Ownership", as runc reads it: with a new cgroup
/// namespace and /sys/fs/cgroup mounted read-write from source "cgroup",
/// the cgroup belongs to the host uid of `process.user.uid`. A user
/// namespace joined by path is left alone (its maps are not in the spec);
/// root without a user namespace already owns it.
fn owner(spec: &Spec) -> Option<u32> {
    let linux = spec.linux().as_ref()?;
    let namespaces = linux.namespaces().as_deref().unwrap_or_default();
    let new = |t: LinuxNamespaceType| namespaces.iter().any(|n| n.typ() == t && n.path().is_none());
    let rw_cgroupfs = spec.mounts().iter().flatten().any(|m| {
        m.source().as_deref() == Some(Path::new("cgroup"))
            && m.destination().components().eq(Path::new("/sys/fs/cgroup").components())
            && !m.options().iter().flatten().any(|o| o == "ro")
    });
    if !new(LinuxNamespaceType::Cgroup) || !rw_cgroupfs {
        return None;
    }
    let uid = spec.process().as_ref().map_or(0, |p| p.user().uid());
    if new(LinuxNamespaceType::User) {
        let maps = linux.uid_mappings().as_deref().unwrap_or_default();
        maps.iter()
            .find(|m| uid >= m.container_id() && uid - m.container_id() < m.size())
            .map(|m| m.host_id() + (uid - m.container_id()))
    } else if namespaces.iter().any(|n| n.typ() == LinuxNamespaceType::User) {
        None
    } else {
        (uid != 0).then_some(uid)
    }
}

/// The systemd driver's part of create: the transient unit with init
/// (`pid`, waiting in nook's own cgroup) in it and `properties` (from
/// [`systemd_properties`]), checked from /proc/<pid>/cgroup; the caller
/// then writes the limits to its cgroup. A slice unit cannot take a pid:
/// init is moved into its cgroup, as runc does. On an error, no unit is
/// left.
pub fn start_unit(unit: &SystemdPath, id: &str, pid: i32, properties: &[systemd::Property]) -> Result<(), CgroupError> {
    let err = |source| CgroupError::Systemd { unit: unit.unit_name(), source };
    let scope = !unit.unit_name().ends_with(".slice");
    systemd::start(unit, id, scope.then_some(pid as u32), properties).map_err(err)?;
    if scope {
        let expected = unit.cgroup_path()?;
        let proc = format!("/proc/{pid}/cgroup");
        let content = std::fs::read_to_string(&proc).map_err(|e| CgroupError::io("read", &proc, e))?;
        let actual = cgroups::path::parse_proc_cgroup(&content).unwrap_or_default();
        if actual != expected {
            let _ = stop_unit(&unit.unit_name());
            return Err(err(systemd::SystemdError::WrongCgroup { expected, actual: actual.into() }));
        }
    }
    Ok(())
}

/// `update` with the systemd driver: `resources` (checked by the caller)
/// become the unit's properties before the cgroupfs driver writes them.
pub fn update_unit(unit: &str, resources: &LinuxResources) -> Result<(), CgroupError> {
    let props = systemd::resource_properties(resources)?;
    systemd::set_properties(unit, &props).map_err(|source| CgroupError::Systemd { unit: unit.into(), source })
}

/// Stops the container's systemd unit (gone already is fine).
pub fn stop_unit(unit: &str) -> Result<(), CgroupError> {
    systemd::stop(unit).map_err(|source| CgroupError::Systemd { unit: unit.into(), source })
}

/// runc's checks of the place of a cgroup before create makes anything:
/// a cgroup that already holds processes is a warning, in runc 1.1's words
/// (the container still starts), and one that is frozen, or would be born
/// frozen under a frozen ancestor, is an error (init would never report
/// ready). The deepest part of `dir` that exists is checked.
pub fn check_place(dir: &Path) -> Result<(), CgroupError> {
    let Some(existing) = dir.ancestors().find(|d| d.join("cgroup.procs").exists()) else { return Ok(()) };
    let cg = match Cgroup::open(existing) {
        Err(e) if e.is_not_found() => return Ok(()),
        cg => cg?,
    };
    if existing == dir {
        let n = cg.pids().map(|p| p.len()).unwrap_or(0);
        if n > 0 {
            crate::logger::warn(&format!("container's cgroup is not empty: {n} process(es) found"));
        }
    }
    match cg.frozen() {
        true => Err(CgroupError::Frozen { dir: existing.to_path_buf() }),
        false => Ok(()),
    }
}

/// Signals every process in the cgroup at `path` (SIGKILL through
/// cgroup.kill). A cgroup that is already gone has nobody to signal.
pub fn signal_all(path: &Path, sig: i32) -> Result<(), CgroupError> {
    if !path.exists() {
        return Ok(());
    }
    // systemd removes an emptied unit's cgroup on its own: gone meanwhile
    // is gone.
    match Cgroup::open(path).and_then(|cg| cg.kill_all(sig)) {
        Err(e) if e.is_not_found() => Ok(()),
        r => r,
    }
}

/// Kills what is left in the cgroup at `path` and removes it.
pub fn remove(path: &Path) -> Result<(), CgroupError> {
    if !path.exists() {
        return Ok(());
    }
    let cg = match Cgroup::open(path) {
        Err(e) if e.is_not_found() => return Ok(()),
        cg => cg?,
    };
    if cg.paused().unwrap_or(false) {
        let _ = cg.thaw();
    }
    let _ = cg.kill_all(libc::SIGKILL);
    cg.destroy()
}
