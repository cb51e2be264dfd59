//! `create`: everything up to the point where the container's program is
//! about to be exec'd. Returns once init reports it is ready; init then
//! waits on the exec fifo for `start`.

use super::{cgroup, net_devices};
use super::{other, ContainerError, Result};
use crate::cgroups::Cgroup;
use crate::init::{self, InitArgs};
use crate::namespaces::{self, Namespaces};
use crate::state::{self, ContainerDir, State};
use crate::sync::{self, Msg};
use crate::sys::{self, Forked};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub pidfd_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// `--systemd-cgroup`.
    pub systemd_cgroup: bool,
    /// A foreground `run`: with `process.terminal` and no
    /// `--console-socket`, the pty master comes back to nook to relay.
    pub foreground: bool,
}

/// A container that `create` just made. The state lock stays held while
/// this value lives (so `run` can start it without a race).
pub struct Created {
    pub dir: ContainerDir,
    pub state: State,
    pub pidfd: OwnedFd,
    /// The pty master, for a foreground run to relay (see
    /// `CreateOptions::foreground`).
    pub pty: Option<OwnedFd>,
}

/// Removes whatever a failed create made, in reverse order.
struct Undo {
    dir: Option<ContainerDir>,
    cgroup: Option<Cgroup>,
    child: Option<(i32, OwnedFd)>,
    /// The systemd unit started for the container, and its cgroup.
    unit: Option<(String, PathBuf)>,
    /// Without a mount namespace: the rootfs, and the mount it showed
    /// before init mounted anything there (see `rootfs::detach_host_mounts`).
    host_mounts: Option<(PathBuf, u64)>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some((pid, pidfd)) = self.child.take() {
            let _ = sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
        if let Some((rootfs, below)) = self.host_mounts.take() {
            if let Err(e) = crate::rootfs::detach_host_mounts(&rootfs, below) {
                crate::logger::warn(&format!("cleaning up: {e}"));
            }
        }
        if let Some((unit, _)) = &self.unit {
            if let Err(e) = cgroup::stop_unit(unit) {
                crate::logger::warn(&format!("cleaning up: {e}"));
            }
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.destroy();
        }
        if let Some((_, dir)) = self.unit.take() {
            let _ = crate::cgroups::remove_tree(&dir);
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.remove();
        }
    }
}

/// runc's rules for terminals and `--console-socket`: a detached process
/// with a terminal needs somewhere to send the pty master, and a console
/// socket without a terminal would wait for one forever. Returns the
/// socket, connected (from the host, before init leaves its paths behind).
pub(super) fn check_terminal(terminal: bool, socket: Option<&Path>, detached: bool) -> Result<Option<OwnedFd>> {
    match socket {
        None if terminal && detached => Err(ContainerError::Other(
            "process.terminal: cannot allocate a terminal when nook detaches without --console-socket".into(),
        )),
        None => Ok(None),
        Some(_) if !terminal => Err(ContainerError::Other(
            "--console-socket: only used with a terminal (process.terminal, or exec -t)".into(),
        )),
        Some(p) => {
            crate::console::connect(p).map(Some).map_err(|e| ContainerError::Other(format!("--console-socket: {e}")))
        }
    }
}

/// Checks that fds 3 .. 3+n are really open (runc issue 5474): handing
/// the container an fd number nook never received would give it whatever
/// nook happens to have open there.
pub(super) fn check_preserved_fds(n: u32) -> Result<()> {
    for fd in 3..3 + n as i32 {
        if nix::fcntl::fcntl(unsafe_borrow(fd), nix::fcntl::FcntlArg::F_GETFD).is_err() {
            return Err(ContainerError::Other(format!("--preserve-fds={n}: fd {fd} is not open")));
        }
    }
    Ok(())
}

fn unsafe_borrow(fd: i32) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: only used for an F_GETFD probe, which is harmless on any
    // number, open or not.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

/// Socket-activation fds systemd handed to this nook (LISTEN_FDS, when
/// LISTEN_PID names us): passed on ahead of --preserve-fds, with
/// LISTEN_FDS and LISTEN_PID=1 in the container's environment, as runc does.
fn listen_fds() -> u32 {
    let ours = std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<i32>().ok()) == Some(sys::getpid());
    if !ours {
        return 0;
    }
    std::env::var("LISTEN_FDS").ok().and_then(|n| n.parse().ok()).unwrap_or(0)
}

pub fn create(root: &Path, opts: &CreateOptions) -> Result<Created> {
    state::validate_id(&opts.id)?;
    let mut bundle = crate::spec::load(&opts.bundle)?;
    let listen = listen_fds();
    if listen > 0 {
        if let Some(p) = bundle.spec.process_mut() {
            let mut env = p.env().clone().unwrap_or_default();
            env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
            env.extend([format!("LISTEN_FDS={listen}"), "LISTEN_PID=1".to_owned()]);
            p.set_env(Some(env));
        }
    }
    let preserve_fds = listen + opts.preserve_fds;
    let bundle = bundle;
    let spec = &bundle.spec;
    let process = spec.process().as_ref().expect("validated");
    let console_socket =
        check_terminal(process.terminal().unwrap_or(false), opts.console_socket.as_deref(), !opts.foreground)?;
    check_preserved_fds(preserve_fds)?;
    let linux = spec.linux().as_ref().expect("validated");
    check_process_settings(spec)?;
    crate::logger::debug(|| "config loaded".into());
    let ns = Namespaces::from_spec(linux.namespaces().as_deref().unwrap_or_default())?;
    let seccomp = linux.seccomp().as_ref().map(crate::seccomp::compile).transpose()?;
    if let Some(f) = &seccomp {
        for name in f.skipped_syscalls() {
            crate::logger::debug(|| format!("seccomp: syscall {name} is unknown here, skipped"));
        }
    }

    let place = cgroup::path(linux, &opts.id, opts.systemd_cgroup)?;
    let (cg_mount, cg_dir) = (&place.mount, &place.dir);
    let device_rules = cgroup::device_rules(linux)?;
    // systemd makes the cgroup once init exists: every limit and unit
    // property is checked now, before any unit is made.
    let unit_properties = match place.systemd {
        Some(_) => cgroup::systemd_properties(spec)?,
        None => Vec::new(),
    };

    // From here on, everything made is undone on failure. If nook itself
    // is killed, what it made is found from state.json: the first save
    // already names the cgroup, so `delete --force` removes it and kills
    // whatever was born in it (an init blocked on the fifo, pid still 0).
    // Without a mount namespace, init mounts in the host's: on a bind of the
    // rootfs, detached again by delete down to what the rootfs shows now.
    let host_mounts = match ns.in_host_mount_ns() {
        true => Some(crate::rootfs::mount_id_at(&bundle.rootfs).map_err(other("the rootfs's mount"))?),
        false => None,
    };
    let mut undo = Undo {
        dir: Some(ContainerDir::create(root, &opts.id)?),
        cgroup: None,
        child: None,
        unit: None,
        host_mounts: host_mounts.map(|id| (bundle.rootfs.clone(), id)),
    };
    let dir = undo.dir.as_ref().expect("set");
    // Once the id is known to be new (as runc, which checks it first).
    cgroup::check_place(cg_dir)?;
    let created = state::rfc3339(std::time::SystemTime::now());
    let mut st = State {
        oci_version: spec.version().clone(),
        id: opts.id.clone(),
        pid: 0,
        init_start_time: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created,
        annotations: spec.annotations().clone().unwrap_or_default().into_iter().collect(),
        cgroup: Some(cg_dir.clone()),
        systemd_unit: place.systemd.as_ref().map(|u| u.unit_name()),
        hooks: spec.hooks().clone(),
        host_rootfs_mount: host_mounts,
    };
    dir.save_config(&bundle.raw)?;
    dir.save(&st)?;

    // With the cgroupfs driver init is born in its cgroup (clone3
    // CLONE_INTO_CGROUP). With systemd's, init is cloned into nook's own
    // cgroup and waits there until systemd has put it into its unit.
    let cg_fd: Option<OwnedFd> = match place.systemd {
        None => {
            let cg = cgroup::create(spec, cg_mount, cg_dir, crate::cgroups::Enable::All)?;
            let fd = cg.fd().try_clone_to_owned().map_err(other("cgroup fd"))?;
            undo.cgroup = Some(cg);
            crate::logger::debug(|| "cgroup made".into());
            Some(fd)
        }
        Some(_) => None,
    };

    let fifo_path = dir.fifo();
    nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(other("creating the exec fifo"))?;
    let fifo: OwnedFd = std::fs::File::options()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(&fifo_path)
        .map_err(other("opening the exec fifo"))?
        .into();

    let idmapped =
        crate::rootfs::prepare_idmapped(spec, &bundle.dir).map_err(|e| ContainerError::Init(e.to_string()))?;
    let (parent_end, child_end) = sync::pair().map_err(other("setup channel"))?;
    let mut restore = namespaces::enter_for_children(&ns.join_for_children)?;
    if ns.new_time {
        let offsets = linux.time_offsets().clone().unwrap_or_default();
        match namespaces::new_time_for_children(&offsets) {
            Ok(r) => restore.extend(r),
            Err(e) => {
                restore.restore()?;
                return Err(e.into());
            }
        }
    }
    let procfs = match init::needs_procfs(spec) {
        true => Some(sys::procfs::ProcFs::open().map_err(other("opening a private procfs"))?),
        false => None,
    };
    // runc's words for the step (its nsexec sets up the namespaces; here
    // the clone makes them and init joins the rest).
    crate::logger::debug(|| "=> nsexec container setup".into());
    let forked = sys::clone3(ns.clone_flags, cg_fd.as_ref().map(|f| f.as_fd()));
    // Only nook goes back to its own pid namespace (for later children);
    // the clone stays where it was born.
    if !matches!(forked, Ok(Forked::Child)) {
        restore.restore()?;
    }
    match forked.map_err(other("clone3"))? {
        Forked::Child => {
            let args = InitArgs {
                new_keyring: !opts.no_new_keyring,
                id: &opts.id,
                seccomp: seccomp.as_ref(),
                spec,
                bundle: &bundle.dir,
                rootfs: &bundle.rootfs,
                namespaces: &ns,
                no_pivot: opts.no_pivot,
                preserve_fds,
                cgroup: st.cgroup.as_deref(),
                fifo,
                idmapped,
                close: [dir.lock_fd().as_raw_fd(), parent_end.as_raw_fd()]
                    .into_iter()
                    .chain(cg_fd.as_ref().map(|f| f.as_raw_fd()))
                    .chain(undo.cgroup.as_ref().map(|c| c.fd().as_raw_fd()))
                    .collect(),
                wait_for_cgroup: place.systemd.is_some(),
                console_socket,
                procfs: procfs.as_ref(),
            };
            init::run(args, child_end)
        }
        Forked::Parent { mut pid, pidfd } => {
            crate::logger::debug(|| format!("cloned init {pid}"));
            undo.child = Some((pid, pidfd));
            drop(child_end);
            drop(fifo);
            drop(cg_fd);
            drop(idmapped);
            if let Some(unit) = &place.systemd {
                cgroup::start_unit(unit, &opts.id, pid, &unit_properties)?;
                undo.unit = Some((unit.unit_name(), cg_dir.clone()));
                let cg = cgroup::create(spec, cg_mount, cg_dir, crate::cgroups::Enable::Needed)?;
                if unit.unit_name().ends_with(".slice") {
                    cg.add_pid(pid)?;
                }
                undo.cgroup = Some(cg);
                crate::logger::debug(|| "systemd unit started, cgroup set up".into());
                parent_end.send(&Msg::Continue).map_err(other("resuming init in its cgroup"))?;
            }
            if ns.clone_flags & libc::CLONE_NEWUSER as u64 != 0 {
                let uid = linux.uid_mappings().as_deref().unwrap_or_default();
                let gid = linux.gid_mappings().as_deref().unwrap_or_default();
                namespaces::write_id_maps(pid, uid, gid)?;
                parent_end.send(&Msg::Continue).map_err(other("resuming init after the id maps"))?;
            }
            drop(console_socket);
            // The device filter goes on while init builds its root on the
            // other CPU: it only has to be in place before anything of the
            // container's runs, which is after Ready and start.
            undo.cgroup.as_ref().expect("set").set_devices(&device_rules)?;
            let mut pty = None;
            loop {
                match parent_end.recv_fd().map_err(other("waiting for the container's init"))? {
                    Some((Msg::Hooks, _)) => {
                        let state = crate::hooks::state_json(&st.id, "creating", pid, &st.bundle, &st.annotations);
                        for kind in [crate::hooks::Kind::Prestart, crate::hooks::Kind::CreateRuntime] {
                            crate::hooks::run(spec.hooks().as_ref(), kind, &state)
                                .map_err(|e| ContainerError::Init(e.to_string()))?;
                        }
                        parent_end.send(&Msg::Continue).map_err(other("resuming init"))?;
                    }
                    Some((Msg::MountSources, Some(root))) => {
                        let sources = crate::rootfs::open_bind_sources(spec, &bundle.dir, root.as_fd())
                            .map_err(|e| ContainerError::Init(e.to_string()))?;
                        for (i, fd) in sources {
                            parent_end
                                .send_fd(&Msg::MountSource(i as u32), fd.as_fd())
                                .map_err(other("mount source"))?;
                        }
                        parent_end.send(&Msg::Continue).map_err(other("resuming init"))?;
                    }
                    Some((Msg::Pty, Some(fd))) if opts.foreground && pty.is_none() => pty = Some(fd),
                    Some((Msg::Reborn(new), Some(fd))) if ns.unshare_after_join & libc::CLONE_NEWPID as u64 != 0 => {
                        // The first clone has forked the real init and exits.
                        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
                        crate::logger::debug(|| format!("init is {new}, in its new pid namespace"));
                        pid = new;
                        undo.child = Some((pid, fd));
                    }
                    Some((Msg::Ready, _)) => break,
                    Some((Msg::Error(msg), _)) => return Err(ContainerError::Init(msg)),
                    Some((m, _)) => return Err(ContainerError::Other(format!("unexpected message from init: {m:?}"))),
                    None => return Err(ContainerError::Init("the container's init exited during setup".into())),
                }
            }
            // The container's network devices, moved in while init waits
            // for start (renamed as asked, addresses carried over).
            if let Some(devs) = linux.net_devices() {
                net_devices::move_in(devs, pid)?;
            }
            st.pid = pid;
            st.init_start_time = state::proc_stat(pid)
                .map(|(t, _)| t)
                .ok_or_else(|| ContainerError::Init("the container's init exited during setup".into()))?;
            dir.save(&st)?;
            if let Some(pf) = &opts.pid_file {
                write_pid_file(pf, pid)?;
            }
            if let Some(sock) = &opts.pidfd_socket {
                let (_, pidfd) = undo.child.as_ref().expect("set");
                crate::console::send_fd(sock, pidfd.as_fd(), "pidfd").map_err(other("--pidfd-socket"))?;
            }
            let (_, pidfd) = undo.child.take().expect("set");
            undo.cgroup = None;
            undo.unit = None;
            undo.host_mounts = None;
            crate::logger::debug(|| format!("init {pid} ready"));
            let dir = undo.dir.take().expect("set");
            Ok(Created { dir, state: st, pidfd, pty })
        }
    }
}

/// Writes the pid file atomically (temp file + rename), as runc does.
pub(super) fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let path = std::path::absolute(path).map_err(other("--pid-file"))?;
    let tmp = path.with_file_name(format!(".{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("pid")));
    std::fs::write(&tmp, pid.to_string())
        .map_err(|e| ContainerError::Other(format!("--pid-file {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, &path).map_err(|e| ContainerError::Other(format!("--pid-file {}: {e}", path.display())))
}

/// `linux.personality`, `process.ioPriority`, `process.scheduler`,
/// `linux.memoryPolicy` and `process.execCPUAffinity`, checked before
/// anything is made (init sets them later; the affinity is for `exec`).
fn check_process_settings(spec: &oci_spec::runtime::Spec) -> Result<()> {
    use crate::process::{self, ProcessError};
    let bad = |e: ProcessError| match e {
        ProcessError::Field(f, msg) => ContainerError::from(crate::spec::SpecError::invalid(f, msg)),
        e => ContainerError::Other(e.to_string()),
    };
    if let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        process::persona(p).map_err(bad)?;
    }
    if let Some(p) = spec.process().as_ref().and_then(|p| p.io_priority().as_ref()) {
        process::validate_io_priority(p).map_err(bad)?;
    }
    if let Some(s) = spec.process().as_ref().and_then(|p| p.scheduler().as_ref()) {
        process::sched_attr(s).map_err(bad)?;
    }
    if let Some(p) = spec.linux().as_ref().and_then(|l| l.memory_policy().as_ref()) {
        process::mempolicy(p).map_err(bad)?;
    }
    process::exec_affinity(spec.process().as_ref().and_then(|p| p.exec_cpu_affinity().as_ref())).map_err(bad)?;
    Ok(())
}
