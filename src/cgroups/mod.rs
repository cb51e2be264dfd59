//! cgroup v2 for nook: where a container's cgroup lives ([`path`]), creating
//! it with the controllers enabled along its path ([`Cgroup::create`]), mapping
//! OCI resources onto v2 files as runc does ([`Cgroup::update`]), the device
//! eBPF filter ([`devices`], [`bpf`]), and the operations the lifecycle needs
//! (freeze, kill, pids, stats, destroy). cgroup v1 is not supported.

pub mod bpf;
pub mod devices;
pub mod path;
mod resources;
pub mod stats;
pub mod systemd;

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use oci_spec::runtime::LinuxResources;

pub use devices::{container_rules, DeviceRule};
pub use path::{cgroup2_mount, own_cgroup, parse_systemd, resolve, SystemdPath};
pub use resources::{blkio_weight_to_io_weight, cpu_shares_to_weight, memory_swap_to_v2};
pub use stats::Stats;

/// Which controllers [`Cgroup::create`] switches on along the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enable {
    /// Every controller each ancestor offers, as runc's cgroupfs driver
    /// does: the container sees them all (a nested runtime or systemd in it
    /// can use them), and a later `update` finds the one it sets.
    All,
    /// Only those the limits need: under the systemd driver, where systemd
    /// manages the ancestors of the unit's cgroup.
    Needed,
}

use resources::{Missing, Plan};

/// Errors of the cgroup module.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cgroup v2 is not mounted; nook supports cgroup v2 only")]
    NotMounted,
    #[error("systemd cgroup driver: systemd is not running")]
    SystemdNotRunning,
    #[error("linux.cgroupsPath {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },
    #[error("invalid {field}: {reason}")]
    InvalidValue { field: String, reason: String },
    #[error("cgroup controller {controller:?} is not available in {dir} (available: {available})")]
    ControllerUnavailable { controller: String, dir: PathBuf, available: String },
    #[error("cannot use domain controllers in {dir}: it is in {mode:?} mode")]
    NotDomain { dir: PathBuf, mode: String },
    #[error("rejecting {what} limit {limit}: not above current usage {usage}")]
    BelowUsage { what: &'static str, limit: i64, usage: u64 },
    #[error("{op} {path}: {source}")]
    Io { op: &'static str, path: PathBuf, source: io::Error },
    #[error("unexpected content in {path}: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("timed out after {after:?} waiting for {dir} to become {state}")]
    Timeout { dir: PathBuf, state: &'static str, after: Duration },
    #[error("linux.cgroupsPath: systemd: {unit}: {source}")]
    Systemd { unit: String, source: systemd::SystemdError },
    #[error(transparent)]
    Annotation(#[from] systemd::AnnotationError),
    #[error("device cgroup program: {op}: {source}")]
    Bpf { op: &'static str, source: io::Error },
    #[error("container's cgroup unexpectedly frozen: {dir} is frozen (write 0 to its cgroup.freeze to thaw it)")]
    Frozen { dir: PathBuf },
}

impl CgroupError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        CgroupError::Io { op, path: path.into(), source }
    }
    /// An I/O error saying the file or directory is not there.
    pub fn is_not_found(&self) -> bool {
        matches!(self, CgroupError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
    pub(crate) fn invalid_path(path: impl Into<String>, reason: &str) -> Self {
        CgroupError::InvalidPath { path: path.into(), reason: reason.into() }
    }
}

type Result<T> = std::result::Result<T, CgroupError>;

/// Read `dir/name`, `None` if it cannot be read (missing file, no controller).
pub(crate) fn read_opt(dir: &Path, name: &str) -> Option<String> {
    fs::read_to_string(dir.join(name)).ok()
}

fn read(dir: &Path, name: &str) -> Result<String> {
    let p = dir.join(name);
    fs::read_to_string(&p).map_err(|e| CgroupError::io("read", p, e))
}

/// One write(2) of `value` to an existing cgroup file (never creates it).
fn write_raw(dir: &Path, name: &str, value: &str) -> io::Result<()> {
    OpenOptions::new().write(true).open(dir.join(name))?.write_all(value.as_bytes())
}

fn write(dir: &Path, name: &str, value: &str) -> Result<()> {
    write_raw(dir, name, value).map_err(|e| CgroupError::io("write", dir.join(name), e))
}

fn words(s: &str) -> BTreeSet<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// Controllers that cannot run in a threaded subtree.
fn is_domain_controller(c: &str) -> bool {
    !matches!(c, "cpu" | "cpuset" | "perf_event" | "pids")
}

/// A container's cgroup: its directory and an open fd on it (for clone3
/// `CLONE_INTO_CGROUP` and for attaching the device program).
#[derive(Debug)]
pub struct Cgroup {
    path: PathBuf,
    dir: OwnedFd,
}

/// What `create` changed, so a failure can undo it: the directories it
/// made. Controllers it enabled in an ancestor that already existed stay
/// enabled (as with runc and crun): by the time of the failure a sibling
/// container may be using them, and disabling a controller removes its
/// files from every child.
#[derive(Default)]
struct Undo {
    created: Vec<PathBuf>,
}

impl Undo {
    fn run(self) {
        for d in self.created.iter().rev() {
            let _ = fs::remove_dir(d);
        }
    }
}

impl Cgroup {
    /// Open an existing cgroup directory.
    pub fn open(path: &Path) -> Result<Cgroup> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let dir = nix::fcntl::open(path, flags, nix::sys::stat::Mode::empty())
            .map_err(|e| CgroupError::io("open", path, e.into()))?;
        Ok(Cgroup { path: path.to_path_buf(), dir })
    }

    /// Create the cgroup at `path` (under `mount`, the cgroup2 mount point),
    /// enabling controllers in each ancestor's `cgroup.subtree_control` from
    /// the mount down ([`Enable`]), then apply the resources and, when
    /// `devices` is given, attach the device filter compiled from them.
    ///
    /// Everything is validated, and every needed controller checked against
    /// the mount's `cgroup.controllers`, before anything is written. On
    /// failure, the directories created here are removed again; controllers
    /// enabled in shared ancestors stay (a sibling may use them).
    pub fn create(
        mount: &Path,
        path: &Path,
        resources: &LinuxResources,
        devices: Option<&[DeviceRule]>,
        enable: Enable,
    ) -> Result<Cgroup> {
        let plan = resources::plan(resources, &resources::hugepage_sizes())?;
        let below = |r: &&Path| {
            r.components().next().is_some() && r.components().all(|c| matches!(c, std::path::Component::Normal(_)))
        };
        let rel =
            path.strip_prefix(mount).ok().filter(below).ok_or_else(|| {
                CgroupError::invalid_path(path.display().to_string(), "is not below the cgroup2 mount")
            })?;
        // Directories from the mount down to the target.
        let mut chain = vec![mount.to_path_buf()];
        for c in rel.components() {
            chain.push(chain.last().unwrap().join(c));
        }
        // What the hierarchy offers at all, before anything is written.
        check_controllers(mount, &plan)?;
        let mut undo = Undo::default();
        match Self::build(&chain, &plan, devices, enable, &mut undo) {
            Ok(cg) => Ok(cg),
            Err(e) => {
                undo.run();
                Err(e)
            }
        }
    }

    fn build(
        chain: &[PathBuf],
        plan: &Plan,
        devices: Option<&[DeviceRule]>,
        enable: Enable,
        undo: &mut Undo,
    ) -> Result<Cgroup> {
        let domain = plan.controllers.iter().any(|c| is_domain_controller(c));
        for (i, dir) in chain.iter().enumerate() {
            if i > 0 {
                match fs::create_dir(dir) {
                    Ok(()) => undo.created.push(dir.clone()),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(CgroupError::io("mkdir", dir, e)),
                }
                let mode = read_opt(dir, "cgroup.type").unwrap_or_default();
                let mode = mode.trim();
                if domain && matches!(mode, "threaded" | "domain threaded" | "domain invalid") {
                    return Err(CgroupError::NotDomain { dir: dir.clone(), mode: mode.into() });
                }
            }
            if i + 1 < chain.len() {
                // Each needed controller must reach this level (an existing
                // ancestor may not have passed it down: then it is enabled
                // there, one level up, in the previous round).
                check_controllers(dir, plan)?;
                let on = words(&read(dir, "cgroup.subtree_control")?);
                let wanted: BTreeSet<String> = match enable {
                    Enable::Needed => plan.controllers.iter().cloned().collect(),
                    Enable::All => words(&read(dir, "cgroup.controllers")?),
                };
                for c in wanted.iter().filter(|c| !on.contains(*c)) {
                    match write(dir, "cgroup.subtree_control", &format!("+{c}")) {
                        Ok(()) => {}
                        // As runc: one that will not go on (a threaded
                        // subtree, an internal process) is left off, unless
                        // the container's limits need it.
                        Err(_) if !plan.controllers.contains(c) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        let cg = Cgroup::open(chain.last().unwrap())?;
        cg.apply(plan)?;
        if let Some(rules) = devices {
            if undo.created.last() == chain.last() {
                // A cgroup made just now has no device program to replace.
                bpf::attach_device_program(&cg.dir, &devices::compile(rules))
                    .map_err(|source| CgroupError::Bpf { op: "load and attach", source })?;
            } else {
                cg.set_devices(rules)?;
            }
        }
        Ok(cg)
    }

    /// Checks the values of `resources` alone (not the controllers).
    pub fn validate(resources: &LinuxResources) -> Result<()> {
        resources::plan(resources, &resources::hugepage_sizes()).map(drop)
    }

    /// Apply `resources` to this (existing) cgroup, as `runc update` does.
    /// Validation happens first: an invalid value writes nothing.
    pub fn update(&self, resources: &LinuxResources) -> Result<()> {
        let plan = resources::plan(resources, &resources::hugepage_sizes())?;
        check_controllers(&self.path, &plan)?;
        self.apply(&plan)
    }

    /// What [`Cgroup::update`] checks before writing anything (values,
    /// controllers, `checkBeforeUpdate` against the current usage), alone:
    /// for the systemd driver, which sets the unit's properties first.
    pub fn check_update(&self, resources: &LinuxResources) -> Result<()> {
        let plan = resources::plan(resources, &resources::hugepage_sizes())?;
        check_controllers(&self.path, &plan)?;
        self.check_usage(&plan)
    }

    fn check_usage(&self, plan: &Plan) -> Result<()> {
        if let Some((memory, swap)) = plan.check_memory {
            if let Some(usage) = read_opt(&self.path, "memory.current").and_then(|s| stats::parse_u64(&s)) {
                for (what, limit) in [("memory+swap", swap), ("memory", memory)] {
                    if limit > 0 && (limit as u64) <= usage {
                        return Err(CgroupError::BelowUsage { what, limit, usage });
                    }
                }
            }
        }
        Ok(())
    }

    fn apply(&self, plan: &Plan) -> Result<()> {
        self.check_usage(plan)?;
        let mut later = Vec::new();
        for w in &plan.writes {
            match write_raw(&self.path, &w.file, &w.value) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => match &w.missing {
                    Missing::Skip => {}
                    Missing::Fallback(f, v) => write(&self.path, f, v)?,
                    Missing::Fail => return Err(CgroupError::io("write", self.path.join(&w.file), e)),
                },
                Err(e) if w.retry_last && e.raw_os_error() == Some(libc::EINVAL) => later.push(w),
                Err(e) => return Err(CgroupError::io("write", self.path.join(&w.file), e)),
            }
        }
        for w in later {
            write(&self.path, &w.file, &w.value)?;
        }
        Ok(())
    }

    /// Replace the device filter with one compiled from `rules` (attach the
    /// new program, then detach the old ones).
    pub fn set_devices(&self, rules: &[DeviceRule]) -> Result<()> {
        bpf::replace_device_program(&self.dir, &devices::compile(rules))
            .map_err(|source| CgroupError::Bpf { op: "load and attach", source })
    }

    /// The cgroup directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open directory fd (for clone3 `CLONE_INTO_CGROUP`).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    /// Hands the cgroup to `uid` (runtime-spec "Cgroup Ownership"): the
    /// directory and the files the kernel lists as safe to delegate
    /// (/sys/kernel/cgroup/delegate, else the spec's three), nothing else.
    pub fn delegate(&self, uid: u32) -> Result<()> {
        let listed = fs::read_to_string("/sys/kernel/cgroup/delegate");
        let files: Vec<&str> = match &listed {
            Ok(l) => l.lines().map(str::trim).filter(|f| !f.is_empty() && !f.contains('/')).collect(),
            Err(_) => vec!["cgroup.procs", "cgroup.subtree_control", "cgroup.threads"],
        };
        let owner = Some(nix::unistd::Uid::from_raw(uid));
        let chown = |name: Option<&str>| {
            let r = match name {
                None => nix::unistd::fchown(&self.dir, owner, None),
                Some(f) => nix::unistd::fchownat(&self.dir, f, owner, None, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW),
            };
            match r {
                Ok(()) | Err(nix::errno::Errno::ENOENT) => Ok(()),
                Err(e) => Err(CgroupError::io("chown", self.path.join(name.unwrap_or("")), e.into())),
            }
        };
        chown(None)?;
        files.into_iter().try_for_each(|f| chown(Some(f)))
    }

    /// Move a process into this cgroup.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        write(&self.path, "cgroup.procs", &pid.to_string())
    }

    /// Make a `Command`'s child join this cgroup between fork and exec
    /// (open + write of "0" to cgroup.procs: async-signal-safe, no
    /// allocation). For helpers and tests; containers are born in their
    /// cgroup with clone3 `CLONE_INTO_CGROUP` on [`Cgroup::fd`].
    pub fn join_on_exec(&self, cmd: &mut std::process::Command) {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::process::CommandExt;
        let procs = self.path.join("cgroup.procs");
        let procs = std::ffi::CString::new(procs.as_os_str().as_bytes()).expect("no NUL in a cgroup path");
        // SAFETY: the closure only calls open(2), write(2) and close(2).
        unsafe {
            cmd.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let r = libc::write(fd, b"0".as_ptr().cast(), 1);
                let err = io::Error::last_os_error();
                libc::close(fd);
                if r == 1 {
                    Ok(())
                } else {
                    Err(err)
                }
            });
        }
    }

    /// Every process in this cgroup and its descendants.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let mut out = Vec::new();
        collect_pids(&self.path, &mut out)?;
        Ok(out)
    }

    /// Freeze, and wait until the kernel reports `frozen 1`. On timeout the
    /// cgroup is thawed again (runc does the same).
    pub fn freeze(&self) -> Result<()> {
        write(&self.path, "cgroup.freeze", "1")?;
        self.wait_frozen(true).inspect_err(|_| {
            let _ = write_raw(&self.path, "cgroup.freeze", "0");
        })
    }

    /// Thaw, and wait until the kernel reports `frozen 0`.
    pub fn thaw(&self) -> Result<()> {
        write(&self.path, "cgroup.freeze", "0")?;
        self.wait_frozen(false)
    }

    fn wait_frozen(&self, frozen: bool) -> Result<()> {
        let want = if frozen { 1 } else { 0 };
        let timeout = Duration::from_secs(10);
        let start = Instant::now();
        loop {
            let ev = stats::parse_flat_keyed(&read(&self.path, "cgroup.events")?);
            if ev.get("frozen") == Some(&want) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                let state = if frozen { "frozen" } else { "thawed" };
                return Err(CgroupError::Timeout { dir: self.path.clone(), state, after: timeout });
            }
            std::thread::sleep(Duration::from_millis(if start.elapsed() < Duration::from_millis(50) { 1 } else { 10 }));
        }
    }

    /// Whether the cgroup is frozen (asked to freeze), from `cgroup.freeze`.
    pub fn paused(&self) -> Result<bool> {
        Ok(read(&self.path, "cgroup.freeze")?.trim() == "1")
    }

    /// Whether anything born here now would be frozen: the cgroup was asked
    /// to freeze, or is frozen through an ancestor (`cgroup.events`). The
    /// root cgroup, which has neither file, never is.
    pub fn frozen(&self) -> bool {
        let asked = read_opt(&self.path, "cgroup.freeze").is_some_and(|f| f.trim() == "1");
        let events = read_opt(&self.path, "cgroup.events").unwrap_or_default();
        asked || stats::parse_flat_keyed(&events).get("frozen") == Some(&1)
    }

    /// Signal every process in the cgroup tree with `sig`, any number
    /// kill(2) takes (0 only checks, as runc's `kill --all ID 0`). SIGKILL
    /// uses `cgroup.kill` (kernel ≥ 5.14) when present; other signals, or
    /// older kernels, signal each pid from `cgroup.procs`.
    pub fn kill_all(&self, sig: i32) -> Result<()> {
        if sig == libc::SIGKILL {
            match write_raw(&self.path, "cgroup.kill", "1") {
                Ok(()) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(CgroupError::io("write", self.path.join("cgroup.kill"), e)),
            }
        }
        for pid in self.pids()? {
            match crate::sys::kill(pid, sig) {
                Err(e) if e.raw_os_error() != Some(libc::ESRCH) => {
                    return Err(CgroupError::io("kill", format!("pid {pid}"), e))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Counts from `memory.events` (all zero without the memory controller).
    pub fn oom_events(&self) -> stats::MemoryEventCount {
        stats::memory_events(&self.path)
    }

    /// Statistics in runc's `events --stats` shape, from the files that exist.
    pub fn stats(&self) -> Stats {
        let count = || self.pids().map(|p| p.len() as u64).unwrap_or(0);
        stats::read(&self.path, count, &resources::hugepage_sizes())
    }

    /// Remove the cgroup and its descendants, children first, retrying
    /// EBUSY for a short while as exiting processes drain.
    pub fn destroy(self) -> Result<()> {
        remove_tree(&self.path)
    }
}

/// Every controller `plan` needs must be in `dir`'s cgroup.controllers.
fn check_controllers(dir: &Path, plan: &Plan) -> Result<()> {
    let available = words(&read(dir, "cgroup.controllers")?);
    match plan.controllers.iter().find(|c| !available.contains(*c)) {
        None => Ok(()),
        Some(missing) => {
            let available = available.into_iter().collect::<Vec<_>>().join(" ");
            Err(CgroupError::ControllerUnavailable {
                controller: missing.clone(),
                dir: dir.to_path_buf(),
                available: if available.is_empty() { "none".into() } else { available },
            })
        }
    }
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) -> Result<()> {
    let procs = match fs::read_to_string(dir.join("cgroup.procs")) {
        // A threaded cgroup refuses reads of cgroup.procs.
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => read(dir, "cgroup.threads")?,
        r => r.map_err(|e| CgroupError::io("read", dir.join("cgroup.procs"), e))?,
    };
    out.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    for child in subdirs(dir)? {
        collect_pids(&child, out)?;
    }
    Ok(())
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = fs::read_dir(dir).map_err(|e| CgroupError::io("read", dir, e))?;
    Ok(rd.filter_map(|e| e.ok()).filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()).collect())
}

/// rmdir a cgroup tree, children first; a missing tree is not an error.
pub fn remove_tree(dir: &Path) -> Result<()> {
    match fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    match subdirs(dir) {
        Ok(children) => children.iter().try_for_each(|c| remove_tree(c))?,
        Err(CgroupError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    let mut delay = Duration::from_millis(1);
    for _ in 0..12 {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                crate::logger::debug(|| format!("{} is busy, retrying in {delay:?}", dir.display()));
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(200));
            }
            Err(e) => return Err(CgroupError::io("rmdir", dir, e)),
        }
    }
    fs::remove_dir(dir).map_err(|e| CgroupError::io("rmdir", dir, e))
}

/// The cgroup2 mount and the cgroup directory for container `id` with the
/// cgroupfs driver: [`cgroup2_mount`] + [`own_cgroup`] + [`resolve`].
pub fn container_dir(cgroups_path: Option<&str>, id: &str) -> Result<(PathBuf, PathBuf)> {
    let mount = cgroup2_mount()?;
    let dir = resolve(&mount, &own_cgroup()?, cgroups_path, id)?;
    Ok((mount, dir))
}

/// Checks `resources` as `create` and `update` do before writing anything
/// (values, ranges, known hugepage sizes), without touching a cgroup.
pub fn check_resources(resources: &LinuxResources) -> Result<()> {
    resources::plan(resources, &resources::hugepage_sizes()).map(|_| ())
}

/// What this driver supports, for `nook features` (cgroup section): v2,
/// with the cgroupfs or the (system) systemd driver.
pub fn features() -> oci_spec::runtime::Cgroup {
    let mut c = oci_spec::runtime::Cgroup::default();
    c.set_v1(Some(false));
    c.set_v2(Some(true));
    c.set_systemd(Some(true));
    c.set_systemd_user(Some(false));
    c.set_rdma(Some(true));
    c
}

#[cfg(test)]
mod tests;
