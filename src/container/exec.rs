//! `exec`: start another process in a running container. nook clones
//! itself into the container's cgroup and pid namespace; the clone joins
//! the container's other namespaces and becomes the process.

use super::run::{wait_forwarding, FORWARDED};
use super::{load, other, ContainerError, Result};
use crate::init::{self, ExecArgs};
use crate::namespaces;
use crate::process::{self, ProcessError};
use crate::state::{self, Status};
use crate::sync::{self, Msg};
use crate::sys::{self, Forked};
use nix::sys::signal::{SigSet, SigmaskHow};
use oci_spec::runtime::{LinuxNamespaceType, Process};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub id: String,
    pub process: Process,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
    /// Receives the pty master (with a terminal).
    pub console_socket: Option<PathBuf>,
    /// `--cgroup`: a sub-cgroup of the container's to run the process in,
    /// relative to it (a leading `/` too, as runc joins it).
    pub sub_cgroup: Option<String>,
}

/// The directory of `sub` below the container's cgroup `base`, resolved
/// lexically as runc's `path.Join` does; it must stay below `base`.
fn sub_cgroup_dir(base: &Path, sub: &str) -> Result<PathBuf> {
    let mut rel = PathBuf::new();
    for c in Path::new(sub).components() {
        match c {
            std::path::Component::Normal(n) => rel.push(n),
            std::path::Component::ParentDir if rel.pop() => {}
            std::path::Component::ParentDir => {
                return Err(ContainerError::Other(format!("--cgroup {sub}: {sub} is not a sub cgroup path")))
            }
            _ => {}
        }
    }
    Ok(base.join(rel))
}

/// Namespace types in the order a process joins them (user first: it owns
/// the others; mnt last among those init joins, as it changes our root).
const JOIN_ORDER: [(LinuxNamespaceType, &str); 6] = [
    (LinuxNamespaceType::User, "user"),
    (LinuxNamespaceType::Ipc, "ipc"),
    (LinuxNamespaceType::Uts, "uts"),
    (LinuxNamespaceType::Network, "net"),
    (LinuxNamespaceType::Cgroup, "cgroup"),
    (LinuxNamespaceType::Mount, "mnt"),
];

fn ns_fd(pid: i32, name: &str) -> Result<Option<OwnedFd>> {
    let theirs = format!("/proc/{pid}/ns/{name}");
    let ours = format!("/proc/self/ns/{name}");
    let same = std::fs::metadata(&theirs).ok().map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        == std::fs::metadata(&ours).ok().map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    if same {
        return Ok(None);
    }
    let f = std::fs::File::open(&theirs).map_err(|e| ContainerError::Other(format!("{theirs}: {e}")))?;
    Ok(Some(f.into()))
}

/// The cgroup the container's init is in now (its own sub-cgroup, when it
/// moved itself), opened.
fn init_cgroup(pid: i32) -> Option<OwnedFd> {
    let content = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let rel = crate::cgroups::path::parse_proc_cgroup(&content)?.trim_start_matches('/').to_owned();
    let dir = crate::cgroups::cgroup2_mount().ok()?.join(rel);
    std::fs::File::options().read(true).custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC).open(dir).ok().map(Into::into)
}

pub fn exec(root: &Path, opts: &ExecOptions) -> Result<i32> {
    super::create::check_preserved_fds(opts.preserve_fds)?;
    let c = load(root, &opts.id)?;
    match c.status {
        Status::Running | Status::Created => {}
        Status::Paused if opts.ignore_paused => {}
        Status::Paused => {
            return Err(ContainerError::WrongState {
                id: opts.id.clone(),
                status: c.status,
                msg: "cannot exec in a paused container (use --ignore-paused to override)",
            })
        }
        s => {
            return Err(ContainerError::WrongState {
                id: opts.id.clone(),
                status: s,
                msg: "cannot exec in a container that is not running",
            })
        }
    }
    let st = c.state;
    let spec = &state::load_config(&c.dir.path)?;
    // Other commands may act on the container while the process runs.
    drop(c.dir);
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()).map(crate::seccomp::compile).transpose()?;
    crate::process::lsm::check(&opts.process, &None).map_err(|e| crate::spec::SpecError::invalid(e.field, e.msg))?;
    if opts.process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(crate::spec::SpecError::invalid("process.args", "must name the program to run").into());
    }
    // `initial`: nook itself runs there from now on, and the child it
    // clones inherits it (see process::affinity).
    let affinity = |e: ProcessError| ContainerError::Other(e.to_string());
    let (initial, _) = process::exec_affinity(opts.process.exec_cpu_affinity().as_ref()).map_err(affinity)?;
    if let Some(cpus) = initial {
        process::set_affinity(process::AFFINITY_INITIAL, &cpus).map_err(affinity)?;
    }
    let console_socket = super::create::check_terminal(
        opts.process.terminal().unwrap_or(false),
        opts.console_socket.as_deref(),
        opts.detach,
    )?;

    let mut join = Vec::new();
    for (t, name) in JOIN_ORDER {
        if let Some(fd) = ns_fd(st.pid, name)? {
            join.push((t, fd));
        }
    }
    // A container in nook's own mount namespace has no mount namespace to
    // join: the process enters init's root instead.
    let root: Option<OwnedFd> = match join.iter().any(|(t, _)| *t == LinuxNamespaceType::Mount) {
        false => Some(std::fs::File::open(format!("/proc/{}/root", st.pid)).map_err(other("init's root"))?.into()),
        true => None,
    };
    let mut for_children = Vec::new();
    if let Some(fd) = ns_fd(st.pid, "pid")? {
        for_children.push((LinuxNamespaceType::Pid, fd));
    }
    if let Some(fd) = ns_fd(st.pid, "time")? {
        for_children.push((LinuxNamespaceType::Time, fd));
    }
    let mut cgroup: Option<OwnedFd> = match (&st.cgroup, &opts.sub_cgroup) {
        (Some(p), None) => {
            Some(std::fs::File::open(p).map_err(|e| ContainerError::Other(format!("{}: {e}", p.display())))?.into())
        }
        (Some(p), Some(sub)) => {
            let dir = sub_cgroup_dir(p, sub)?;
            let f = std::fs::File::options()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(&dir)
                .map_err(|e| {
                    ContainerError::Other(format!("--cgroup {sub}: adding the process to {}: {e}", dir.display()))
                })?;
            Some(f.into())
        }
        (None, Some(_)) => return Err(ContainerError::Other("--cgroup: the container has no cgroup".into())),
        (None, None) => None,
    };
    // The fds above name the container's namespaces only if its init is
    // still the process we started (not a recycled pid).
    if !state::init_alive(&st) {
        return Err(ContainerError::WrongState {
            id: st.id.clone(),
            status: Status::Stopped,
            msg: "cannot exec in a container that is not running",
        });
    }

    let procfs = match init::needs_procfs_for(&opts.process) {
        true => Some(sys::procfs::ProcFs::open().map_err(other("opening a private procfs"))?),
        false => None,
    };

    let mut set = SigSet::empty();
    if !opts.detach {
        FORWARDED.iter().for_each(|s| set.add(*s));
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).map_err(other("blocking signals"))?;
    }
    let (parent_end, child_end) = sync::pair().map_err(other("setup channel"))?;
    let restore = namespaces::enter_for_children(&for_children)?;
    crate::logger::debug(|| "=> nsexec container setup".into());
    let mut forked = sys::clone3(0, cgroup.as_ref().map(|f| f.as_fd()));
    // A container that enabled domain controllers for cgroups of its own
    // (systemd in a container does) has no room for processes in its top
    // cgroup (EBUSY): as runc, join init's cgroup instead, unless --cgroup
    // named the place.
    if matches!(&forked, Err(e) if e.raw_os_error() == Some(libc::EBUSY)) && opts.sub_cgroup.is_none() {
        if let Some(fd) = init_cgroup(st.pid) {
            crate::logger::debug(|| "the container's cgroup is busy: joining init's".into());
            forked = sys::clone3(0, Some(fd.as_fd()));
            cgroup = Some(fd);
        }
    }
    // Only nook goes back to its own pid namespace (for later children);
    // the clone stays where it was born.
    if !matches!(forked, Ok(Forked::Child)) {
        restore.restore()?;
    }
    match forked.map_err(other("clone3"))? {
        Forked::Child => {
            let mut close = init::raw(&[&parent_end]);
            close.extend(cgroup.iter().map(std::os::fd::AsRawFd::as_raw_fd));
            let args = ExecArgs {
                id: &st.id,
                bundle: &st.bundle,
                spec,
                process: &opts.process,
                join: &join,
                root: root.as_ref(),
                seccomp: seccomp.as_ref(),
                preserve_fds: opts.preserve_fds,
                close,
                console_socket,
                procfs: procfs.as_ref(),
            };
            init::run_exec(args, child_end)
        }
        Forked::Parent { pid, pidfd } => {
            drop(child_end);
            drop(console_socket);
            let kill = |e: ContainerError| {
                let _ = sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
                e
            };
            let mut pty = None;
            loop {
                match parent_end.recv_fd() {
                    Err(e) => return Err(kill(other("waiting for the process")(e))),
                    Ok(Some((Msg::Pty, Some(fd)))) if !opts.detach && pty.is_none() => pty = Some(fd),
                    Ok(Some((Msg::Ready, _))) => break,
                    Ok(Some((Msg::Error(msg), _))) => return Err(kill(ContainerError::Init(msg))),
                    Ok(Some((m, _))) => return Err(kill(ContainerError::Other(format!("unexpected message: {m:?}")))),
                    Ok(None) => return Err(kill(ContainerError::Init("the process exited during setup".into()))),
                }
            }
            if let Some(pf) = &opts.pid_file {
                super::create::write_pid_file(pf, pid).map_err(kill)?;
            }
            if opts.detach {
                return Ok(0);
            }
            wait_forwarding(pid, pidfd, &set, pty)
        }
    }
}
