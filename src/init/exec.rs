//! A process started in a running container by `nook exec`: a clone of
//! nook born in the container's cgroup and pid namespace, which joins the
//! container's other namespaces, then becomes the process.

use super::finish::{conclude, connect_listener, finish, set_up_terminal, Finish};
use super::signals;
use crate::namespaces;
use crate::process;
use crate::sync::{Channel, Msg};
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub struct ExecArgs<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    /// The container's config (for the seccomp listener's state).
    pub spec: &'a Spec,
    pub process: &'a Process,
    /// The namespaces of the container's init to join, user first.
    pub join: &'a [(LinuxNamespaceType, OwnedFd)],
    /// Init's root, entered with chroot when there is no mount namespace to
    /// join (a container without one of its own).
    pub root: Option<&'a OwnedFd>,
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    pub preserve_fds: u32,
    /// fds of nook's that the process must not keep.
    pub close: Vec<i32>,
    /// `--console-socket`, connected by nook (with `process.terminal`).
    pub console_socket: Option<OwnedFd>,
    /// nook's private procfs, when the process has anything to write there.
    pub procfs: Option<&'a crate::sys::procfs::ProcFs>,
}

/// Runs the exec'd process's setup; never returns.
pub fn run_exec(mut args: ExecArgs, chan: Channel) -> ! {
    for fd in &args.close {
        let _ = nix::unistd::close(*fd);
    }
    crate::logger::keep_stderr();
    crate::logger::debug(|| "child process in init()".into());
    let console_socket = args.console_socket.take();
    let setup = setup(&args, &chan, console_socket);
    conclude(chan, setup, |(program, listener), chan| {
        drop(chan);
        let f = Finish {
            process: args.process,
            program: &program,
            seccomp: args.seccomp,
            listener,
            preserve_fds: args.preserve_fds,
            before_exec: None,
        };
        finish(f)
    })
}

fn setup(
    args: &ExecArgs,
    chan: &Channel,
    console_socket: Option<OwnedFd>,
) -> Result<(PathBuf, Option<super::Listener>), String> {
    signals::prepare().map_err(|e| format!("signals: {e}"))?;
    let listener = match args.seccomp.filter(|f| f.has_listener()) {
        None => None,
        Some(_) => Some(connect_listener(args.spec, args.id, args.bundle)?),
    };
    // procfs is written only through nook's private handle, never through
    // the container's /proc, where mounts raced by the container could
    // redirect the write (CVE-2025-52881).
    let procfs = || args.procfs.ok_or_else(|| "internal: no procfs handle".to_owned());
    if let Some(adj) = args.process.oom_score_adj() {
        procfs()?.write("thread-self/oom_score_adj", &adj.to_string()).map_err(|e| format!("oomScoreAdj: {e}"))?;
    }
    namespaces::join_all(args.join).map_err(|e| e.to_string())?;
    if let Some(root) = args.root {
        nix::unistd::fchdir(root).map_err(|e| format!("entering the container's root: {e}"))?;
        nix::unistd::chroot(".").map_err(|e| format!("entering the container's root: {e}"))?;
    }
    let p = args.process;
    // Entering the mount namespace moved us to its root: the cwd must
    // resolve inside the container (CVE-2024-21626: never a leaked host
    // directory).
    nix::unistd::chdir(p.cwd()).map_err(|e| format!("cwd {}: {e}", p.cwd().display()))?;
    let cwd = nix::unistd::getcwd().map_err(|e| format!("cwd: {e}"))?;
    if !cwd.is_absolute() || cwd.starts_with("(unreachable)") {
        return Err(format!("cwd {} is outside the container", cwd.display()));
    }
    process::apply_rlimits(p.rlimits().as_deref().unwrap_or_default()).map_err(|e| e.to_string())?;
    if let Some(per) = args.spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        process::set_personality(per).map_err(|e| e.to_string())?;
    }
    if let Some(mp) = args.spec.linux().as_ref().and_then(|l| l.memory_policy().as_ref()) {
        process::set_memory_policy(mp).map_err(|e| e.to_string())?;
    }
    let argv = p.args().as_deref().unwrap_or_default();
    let env = p.env().as_deref().unwrap_or_default();
    let program = process::find_executable(argv.first().ok_or("args: empty")?, env).map_err(|e| e.to_string())?;
    // In the container's mount namespace and root now: its /dev/pts.
    set_up_terminal(p, console_socket, chan, false)?;
    // In the container's cgroup since birth: `final` is set last, so the
    // runtime's setup ran on `initial` (see process::affinity).
    if let (_, Some(cpus)) = process::exec_affinity(p.exec_cpu_affinity().as_ref()).map_err(|e| e.to_string())? {
        process::set_affinity(process::AFFINITY_FINAL, &cpus).map_err(|e| e.to_string())?;
    }
    // Last, as for init: effective at the program's exec only.
    process::lsm::apply_on_exec(args.procfs, p).map_err(|e| e.to_string())?;
    chan.send(&Msg::Ready).map_err(|e| format!("reporting ready: {e}"))?;
    Ok((program, listener))
}
