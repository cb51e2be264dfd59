//! `restore`: a container brought back from a checkpoint's images by CRIU
//! (runc's Restore). Like `create`, it checks everything first and undoes
//! what it made on failure; the state directory, config and cgroup are
//! made as for a new container, CRIU is started inside that cgroup and
//! rebuilds the process tree as nook's child (`rst_sibling`), and the
//! restored init is recorded as the container's init: `running`, with
//! its new pid. Without `--detach`, nook then waits for it as `run` does.

use super::criu_spec::{self, CriuOptions, DESCRIPTORS};
use super::run::{wait_forwarding, FORWARDED};
use super::{cgroup, other, ContainerError, Result};
use crate::criu::rpc::{self, CriuReq, CriuReqType};
use crate::criu::{Handler, Notification, Spawn};
use crate::state::{self, ContainerDir, State, StateError};
use nix::sys::signal::{SigSet, SigmaskHow};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone)]
pub struct RestoreOptions {
    pub id: String,
    /// `--bundle`: the config the container is restored with.
    pub bundle: PathBuf,
    pub criu: CriuOptions,
    /// `--detach`: return once restored instead of waiting for it.
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    /// Receives the new pty master of a container with a terminal.
    pub console_socket: Option<PathBuf>,
    /// `--no-subreaper`: accepted; nook never makes itself a subreaper.
    pub no_subreaper: bool,
    /// `--no-pivot`: accepted; CRIU enters the root on its own.
    pub no_pivot: bool,
    /// `--lsm-profile TYPE:NAME` for the restored processes.
    pub lsm_profile: Option<String>,
    /// `--lsm-mount-context`: the SELinux context of the restored mounts.
    pub lsm_mount_context: Option<String>,
    /// `--systemd-cgroup`: the cgroup is a transient unit's, made by
    /// systemd around criu (as `create` does around init).
    pub systemd_cgroup: bool,
}

const LOG: &str = "restore.log";

fn bad(msg: impl Into<String>) -> ContainerError {
    ContainerError::Other(msg.into())
}

/// What a failed restore made, removed in reverse order.
struct Undo {
    dir: Option<ContainerDir>,
    cgroup: Option<PathBuf>,
    /// The systemd unit started for the container (`--systemd-cgroup`).
    unit: Option<String>,
    /// The restored init, once CRIU has named it.
    pid: Option<i32>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            if let Ok(fd) = crate::sys::pidfd_open(pid) {
                let _ = crate::sys::pidfd_send_signal(fd.as_fd(), libc::SIGKILL);
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            }
        }
        if let Some(unit) = self.unit.take() {
            if let Some(cg) = &self.cgroup {
                let _ = cgroup::signal_all(cg, libc::SIGKILL);
            }
            if let Err(e) = cgroup::stop_unit(&unit) {
                crate::logger::warn(&format!("cleaning up: {e}"));
            }
        }
        if let Some(cg) = self.cgroup.take() {
            if let Err(e) = cgroup::remove(&cg) {
                crate::logger::debug(|| format!("cleaning up: {e}"));
            }
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.remove();
        }
    }
}

/// The rootfs bound at `<state dir>/criu-root`: CRIU wants its root to be
/// a mount point whose parent is not mounted over (as runc does it).
struct CriuRoot(PathBuf);

impl CriuRoot {
    fn mount(rootfs: &Path, at: PathBuf) -> Result<CriuRoot> {
        use nix::mount::{mount, MsFlags};
        std::fs::create_dir(&at).map_err(|e| bad(format!("{}: {e}", at.display())))?;
        let r = CriuRoot(at);
        mount(Some(rootfs), &r.0, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
            .map_err(|e| bad(format!("binding the rootfs at {}: {e}", r.0.display())))?;
        Ok(r)
    }
}

impl Drop for CriuRoot {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// The checkpoint's images: a directory CRIU wrote (its inventory.img),
/// and runc's descriptors.json beside them.
fn open_images(p: &Path) -> Result<(OwnedFd, Vec<String>)> {
    let err = |e: std::io::Error| bad(format!("--image-path {}: {e}", p.display()));
    let dir: OwnedFd = std::fs::File::open(p).map_err(err)?.into();
    if !p.join("inventory.img").exists() {
        return Err(bad(format!("--image-path {}: no checkpoint there (no inventory.img)", p.display())));
    }
    let path = p.join(DESCRIPTORS);
    let fds = crate::spec::read_json(&path, 1 << 20).map_err(|e| bad(format!("--image-path {}: {e}", p.display())))?;
    Ok((dir, fds))
}

/// With `--systemd-cgroup`: the unit systemd makes around criu once it
/// runs, and the limits then written to its cgroup (as `create` does it
/// around init).
struct SystemdUnit<'a> {
    unit: crate::cgroups::SystemdPath,
    properties: Vec<crate::cgroups::systemd::Property>,
    spec: &'a oci_spec::runtime::Spec,
    place: &'a cgroup::Placement,
    rules: &'a [crate::cgroups::DeviceRule],
    started: bool,
}

impl SystemdUnit<'_> {
    fn start(&mut self, id: &str, pid: i32) -> Result<()> {
        cgroup::start_unit(&self.unit, id, pid, &self.properties)?;
        self.started = true;
        let cg = cgroup::create(self.spec, &self.place.mount, &self.place.dir, crate::cgroups::Enable::Needed)?;
        if self.unit.unit_name().ends_with(".slice") {
            cg.add_pid(pid)?;
        }
        cg.set_devices(self.rules)?;
        Ok(())
    }
}

/// Answers CRIU's notifications during a restore.
struct Restoring<'a> {
    dir: &'a ContainerDir,
    st: &'a mut State,
    hooks: Option<&'a oci_spec::runtime::Hooks>,
    console: Option<OwnedFd>,
    /// The pty master, for a foreground restore to relay.
    pty: Option<OwnedFd>,
    pid: &'a mut Option<i32>,
    systemd: Option<SystemdUnit<'a>>,
}

impl Handler for Restoring<'_> {
    fn started(&mut self, pid: i32, req: &mut CriuReq) -> std::result::Result<(), String> {
        if let Some(unit) = &mut self.systemd {
            unit.start(&self.st.id, pid).map_err(|e| e.to_string())?;
        }
        // criu is in the container's cgroup (born there, or put there by
        // systemd): restore the tree there
        // (the global cgroup root, as crun does, so that a cgroup namespace
        // is rooted at the container's cgroup and can be dumped again).
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).map_err(|e| format!("criu's cgroup: {e}"))?;
        let path = crate::cgroups::path::parse_proc_cgroup(&text).ok_or("criu's cgroup: no cgroup v2 entry")?;
        let opts = req.opts.as_mut().expect("set");
        opts.cg_root = vec![rpc::CgroupRoot { ctrl: None, path: path.to_owned() }];
        Ok(())
    }

    fn notify(&mut self, n: Notification) -> std::result::Result<(), String> {
        match n.script.as_str() {
            // The namespaces exist, nothing runs yet: runc's hooks.
            "setup-namespaces" => {
                let st = &self.st;
                let state = crate::hooks::state_json(&st.id, "creating", n.pid, &st.bundle, &st.annotations);
                for kind in [crate::hooks::Kind::Prestart, crate::hooks::Kind::CreateRuntime] {
                    crate::hooks::run(self.hooks, kind, &state).map_err(|e| e.to_string())?;
                }
            }
            "post-restore" => {
                *self.pid = Some(n.pid);
                self.st.pid = n.pid;
                self.st.init_start_time =
                    state::proc_stat(n.pid).map(|(t, _)| t).ok_or("the restored init exited at once")?;
                self.st.created = state::rfc3339(std::time::SystemTime::now());
                self.dir.save(self.st).map_err(|e| e.to_string())?;
            }
            // A terminal: the new pty's master, for the console socket or
            // the foreground relay.
            "orphan-pts-master" => {
                let fd = n.fd.ok_or("criu sent no pty master")?;
                match &self.console {
                    Some(sock) => crate::console::send_fd_on(sock.as_fd(), fd.as_fd(), crate::console::MASTER_NAME)
                        .map_err(|e| format!("--console-socket: {e}"))?,
                    None => self.pty = Some(fd),
                }
            }
            _ => {}
        }
        Ok(())
    }
}

pub fn restore(root: &Path, opts: &RestoreOptions) -> Result<i32> {
    let o = &opts.criu;
    state::validate_id(&opts.id)?;
    // An existing id is refused before anything else is looked at.
    if root.join(&opts.id).exists() {
        return Err(StateError::AlreadyExists(opts.id.clone()).into());
    }
    o.check()?;
    let bundle = crate::spec::load(&opts.bundle)?;
    let spec = &bundle.spec;
    let linux = spec.linux().as_ref().expect("validated");
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false);
    let (images, descriptors) = open_images(&o.image_path)?;
    let criu = crate::criu::find(o.criu.as_deref())?;
    criu.check_version()?;
    if o.lazy_pages {
        let want = rpc::CriuFeatures { lazy_pages: Some(true), ..Default::default() };
        if !criu.missing_features(want)?.is_empty() {
            return Err(bad("--lazy-pages: CRIU or the kernel lacks lazy pages (userfaultfd)"));
        }
    }
    let console = super::create::check_terminal(terminal, opts.console_socket.as_deref(), opts.detach)?;
    let work = match &o.work_path {
        Some(p) => {
            use std::os::unix::fs::DirBuilderExt;
            let err = |e: std::io::Error| bad(format!("--work-path {}: {e}", p.display()));
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(p).map_err(err)?;
            Some(OwnedFd::from(std::fs::File::open(p).map_err(err)?))
        }
        None => None,
    };
    // nook's mounts for a container without one (made in the host's mount
    // namespace, see rootfs::detach_host_mounts) are nothing CRIU restores.
    let ns = linux.namespaces().as_deref().unwrap_or_default();
    if !ns.iter().any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Mount) {
        return Err(bad("linux.namespaces: a restore needs a mount namespace"));
    }
    let (join_ns, ns_fds) = criu_spec::restore_namespaces(spec)?;
    let place = cgroup::path(linux, &opts.id, opts.systemd_cgroup)?;
    let device_rules = cgroup::device_rules(linux)?;
    // systemd makes the cgroup once criu runs: every limit and unit
    // property is checked now, before anything is made.
    let properties = match place.systemd {
        Some(_) => cgroup::systemd_properties(spec)?,
        None => Vec::new(),
    };

    let mut set = SigSet::empty();
    if !opts.detach {
        FORWARDED.iter().for_each(|s| set.add(*s));
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).map_err(other("blocking signals"))?;
    }

    // From here on, everything made is undone on failure.
    let mut undo = Undo { dir: Some(ContainerDir::create(root, &opts.id)?), cgroup: None, unit: None, pid: None };
    let dir = undo.dir.as_ref().expect("set");
    let mut st = State {
        oci_version: spec.version().clone(),
        id: opts.id.clone(),
        pid: 0,
        init_start_time: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: state::rfc3339(std::time::SystemTime::now()),
        annotations: spec.annotations().clone().unwrap_or_default().into_iter().collect(),
        cgroup: Some(place.dir.clone()),
        systemd_unit: place.systemd.as_ref().map(|u| u.unit_name()),
        hooks: spec.hooks().clone(),
        // CRIU restores into a mount namespace of the container's own.
        host_rootfs_mount: None,
    };
    dir.save_config(&bundle.raw)?;
    dir.save(&st)?;
    // With the cgroupfs driver criu is born in the container's cgroup.
    undo.cgroup = Some(place.dir.clone());
    let cg = match place.systemd {
        None => {
            let cg = cgroup::create(spec, &place.mount, &place.dir, crate::cgroups::Enable::All)?;
            cg.set_devices(&device_rules)?;
            Some(cg)
        }
        Some(_) => None,
    };
    criu_spec::prepare_mountpoints(spec, &bundle.rootfs, &bundle.dir)?;
    let criu_root = CriuRoot::mount(&bundle.rootfs, dir.path.join("criu-root"))?;

    let mut req_opts = o.base(spec, images.as_raw_fd(), LOG)?;
    req_opts.root = Some(criu_root.0.to_string_lossy().into_owned());
    req_opts.evasive_devices = Some(true);
    req_opts.rst_sibling = Some(true);
    req_opts.work_dir_fd = work.as_ref().map(|w| w.as_raw_fd());
    req_opts.lsm_profile = opts.lsm_profile.clone();
    req_opts.lsm_mount_context = opts.lsm_mount_context.clone();
    req_opts.join_ns = join_ns;
    req_opts.ext_mnt = criu_spec::restore_ext_mounts(spec, &bundle.rootfs, &bundle.dir);
    // The external namespaces come at fds 4, 5, …; the init's pipes are
    // criu's own stdio, which is nook's: the restored init gets them.
    req_opts.inherit_fd = ns_fds.iter().enumerate().map(|(i, (key, _))| inherit(key, 4 + i as i32)).collect();
    if !terminal {
        for (i, d) in descriptors.iter().enumerate().take(3) {
            if d.contains("pipe:") {
                req_opts.inherit_fd.push(inherit(d, i as i32));
            }
        }
    }
    let req = CriuReq { r#type: CriuReqType::Restore as i32, opts: Some(req_opts), ..Default::default() };
    let spawn =
        Spawn { inherit_stdio: !terminal, fds: ns_fds.into_iter().map(|(_, fd)| fd).collect(), cgroup: cg.as_ref() };
    let systemd = place.systemd.clone().map(|unit| SystemdUnit {
        unit,
        properties,
        spec,
        place: &place,
        rules: &device_rules,
        started: false,
    });
    let mut pid = None;
    let mut handler =
        Restoring { dir, st: &mut st, hooks: spec.hooks().as_ref(), console, pty: None, pid: &mut pid, systemd };
    crate::logger::debug(|| format!("criu {}: restoring {}", criu.path.display(), opts.id));
    let result = criu.call(req, spawn, &mut handler);
    let pty = handler.pty.take();
    if handler.systemd.as_ref().is_some_and(|u| u.started) {
        undo.unit = place.systemd.as_ref().map(|u| u.unit_name());
    }
    drop(handler);
    undo.pid = pid;
    drop(criu_root);
    result.map_err(|e| super::checkpoint::with_log(e.into(), o.log_dir(), LOG))?;
    let pid = pid.ok_or_else(|| bad("criu restored no process"))?;
    crate::logger::debug(|| format!("restored init {pid}"));
    let pidfd = crate::sys::pidfd_open(pid).map_err(other("the restored init"))?;
    if let Some(pf) = &opts.pid_file {
        super::create::write_pid_file(pf, pid)?;
    }
    undo.pid = None;
    undo.cgroup = None;
    undo.unit = None;
    let dir = undo.dir.take().expect("set");
    if opts.detach {
        return Ok(0);
    }
    // As `run`: let go of the lock while it runs, then delete it.
    drop(dir);
    let code = wait_forwarding(pid, pidfd, &set, pty)?;
    match ContainerDir::open(root, &st.id) {
        Ok(dir) => super::delete::destroy(dir, &st)?,
        Err(StateError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(code)
}

fn inherit(key: &str, fd: i32) -> rpc::InheritFd {
    rpc::InheritFd { key: key.to_owned(), fd }
}
