//! What runs inside the new namespaces: the container's init, from the
//! clone until it execs the container's program.
//!
//! Init is a clone of `nook` itself (no re-exec). It sets up everything,
//! reports `Ready` over the setup channel, and then blocks reading the
//! exec fifo until `nook start` writes to it. Only then does it take on the
//! container's user and capabilities and exec. Errors before `Ready` travel
//! back to `nook create` as one line; it prints them and cleans up. Errors
//! after `start` (a startContainer hook, the exec) go into the exec fifo,
//! where `nook start` reads them once init has exited.

mod exec;
mod finish;
mod signals;
mod stdio;

pub use exec::{run_exec, ExecArgs};
use finish::{conclude, connect_listener, finish, set_up_terminal, Finish, Listener};

use crate::hooks::Kind;
use crate::namespaces::{self, Namespaces};
use crate::process;
use crate::rootfs;
use crate::sync::{Channel, Msg};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Everything init needs, prepared by `nook` before the clone.
pub struct InitArgs<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    /// The compiled filter, installed right before exec.
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub namespaces: &'a Namespaces,
    pub no_pivot: bool,
    /// fds 3 .. 3+preserve_fds are handed to the program.
    pub preserve_fds: u32,
    pub cgroup: Option<&'a Path>,
    /// Idmapped binds made by nook before the clone.
    pub idmapped: Vec<(usize, OwnedFd)>,
    /// The exec fifo, opened read-write (so opening never blocks).
    pub fifo: OwnedFd,
    /// fds of nook's that init must not keep (the state lock, nook's end
    /// of the channel, the cgroup dir).
    pub close: Vec<i32>,
    /// Wait for nook to put us into our cgroup first (the systemd driver:
    /// init is cloned in nook's own cgroup).
    pub wait_for_cgroup: bool,
    /// `--console-socket`, connected by nook (with `process.terminal`).
    pub console_socket: Option<OwnedFd>,
    /// nook's private procfs, when init has anything to write there.
    pub procfs: Option<&'a crate::sys::procfs::ProcFs>,
    /// Join a new session keyring (not `--no-new-keyring`).
    pub new_keyring: bool,
}

/// Runs init; never returns. `chan` is init's end of the setup channel.
pub fn run(mut args: InitArgs, chan: Channel) -> ! {
    for fd in &args.close {
        let _ = nix::unistd::close(*fd);
    }
    crate::logger::keep_stderr();
    let console_socket = args.console_socket.take();
    let setup = setup(&args, &chan, console_socket);
    conclude(chan, setup, |(program, listener), chan| {
        wait_for_start(&args.fifo, chan)?;
        let started = || {
            let state = hook_state(&args, "created");
            let hooks = || {
                crate::hooks::run(args.spec.hooks().as_ref(), Kind::StartContainer, &state).map_err(|e| e.to_string())
            };
            let process = args.spec.process().as_ref().expect("validated");
            finish(Finish {
                process,
                program: &program,
                seccomp: args.seccomp,
                listener,
                preserve_fds: args.preserve_fds,
                before_exec: Some(&hooks),
            })
        };
        // Only an error comes back: `start` reads it from the fifo once we
        // have exited (see container::start::release) and prints it.
        match started() {
            Err(e) if nix::unistd::write(&args.fifo, e.as_bytes()).is_ok() => Ok(()),
            r => r,
        }
    })
}

/// Everything that can fail while `create` is still waiting.
fn setup(
    args: &InitArgs,
    chan: &Channel,
    console_socket: Option<OwnedFd>,
) -> Result<(PathBuf, Option<Listener>), String> {
    let process = args.spec.process().as_ref().ok_or("process: missing")?;
    if args.new_keyring {
        // A keyring of its own (a failure is not fatal, as in runc), labelled
        // with process.selinuxLabel.
        let join = || crate::sys::join_session_keyring(&format!("_ses.{}", args.id));
        let _ = process::lsm::with_key_label(args.procfs, process, join).map_err(|e| e.to_string())?;
    }
    signals::prepare().map_err(|e| format!("init signals: {e}"))?;
    // The host's /proc is still ours: "self" is our pid as the host sees it.
    let host_pid = std::fs::read_link("/proc/self").ok().and_then(|p| p.to_str().and_then(|s| s.parse().ok()));
    HOST_PID.store(host_pid.unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
    if args.wait_for_cgroup {
        // Before anything else, above all before a cgroup namespace is
        // made: its root is the cgroup we are in then.
        match chan.recv() {
            Ok(Some(Msg::Continue)) => {}
            _ => return Err("the runtime did not put init into its cgroup".into()),
        }
    }
    let ns = args.namespaces;
    if ns.clone_flags & libc::CLONE_NEWUSER as u64 != 0 {
        // Nothing may use our ids before nook has written the maps.
        match chan.recv() {
            Ok(Some(Msg::Continue)) => {}
            _ => return Err("the runtime did not write the user namespace's id maps".into()),
        }
        become_root("linux.uidMappings")?;
    }
    namespaces::join_all(&ns.join).map_err(|e| e.to_string())?;
    if ns.joins(LinuxNamespaceType::User) {
        become_root("linux.namespaces: user")?;
    }
    if ns.unshare_after_join != 0 {
        nix::sched::unshare(nix::sched::CloneFlags::from_bits_retain(ns.unshare_after_join as i32))
            .map_err(|e| format!("linux.namespaces: creating namespaces in the joined user namespace: {e}"))?;
        if ns.unshare_after_join & libc::CLONE_NEWPID as u64 != 0 {
            fork_into_new_pid_ns(chan)?;
        }
    }
    if args.namespaces.new_cgroup {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| format!("creating the cgroup namespace: {e}"))?;
    }
    // runc's debug lines for these steps (see `logger`).
    crate::logger::debug(|| "<= nsexec container setup".into());
    crate::logger::debug(|| "child process in init()".into());
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    // procfs is written only through nook's private handle: a joined mount
    // namespace's /proc may have anything mounted over it (CVE-2025-52881).
    apply_sysctl(args.spec, args.procfs)?;
    if let Some(adj) = process.oom_score_adj() {
        procfs(args.procfs)?
            .write("thread-self/oom_score_adj", &adj.to_string())
            .map_err(|e| format!("process.oomScoreAdj: {e}"))?;
    }
    let listener = match args.seccomp.filter(|f| f.has_listener()) {
        None => None,
        Some(_) => Some(connect_listener(args.spec, args.id, args.bundle)?),
    };
    let hooks = args.spec.hooks().as_ref();
    let before_pivot = || -> Result<(), String> {
        let Some(h) = hooks else { return Ok(()) };
        if !Kind::Prestart.of(h).is_empty() || !Kind::CreateRuntime.of(h).is_empty() {
            chan.send(&Msg::Hooks).map_err(|e| format!("asking for hooks: {e}"))?;
            match chan.recv() {
                Ok(Some(Msg::Continue)) => {}
                _ => return Err("the runtime did not finish the createRuntime hooks".into()),
            }
        }
        if Kind::CreateContainer.of(h).is_empty() {
            return Ok(());
        }
        // As runc: createContainer hooks run in the container's rootfs (as
        // the runtime's namespace names it, before the pivot).
        nix::unistd::chdir(args.rootfs)
            .map_err(|e| format!("hooks.createContainer: entering the rootfs {}: {e}", args.rootfs.display()))?;
        crate::hooks::run(hooks, Kind::CreateContainer, &hook_state(args, "creating")).map_err(|e| e.to_string())
    };
    // A mount namespace joined by path gets the container's root too, as
    // with runc: the rootfs is bound, mounted and pivoted into there.
    let userns = ns.has_new(LinuxNamespaceType::User) || ns.joins(LinuxNamespaceType::User);
    let sources = match userns && rootfs::bind_sources_wanted(args.spec) {
        true => bind_sources(chan)?,
        false => Vec::new(),
    };
    let plan = rootfs::Plan {
        before_pivot: &before_pivot,
        spec: args.spec,
        rootfs: args.rootfs,
        bundle: args.bundle,
        no_pivot: args.no_pivot,
        cgroup: args.cgroup,
        cgroupns: args.namespaces.new_cgroup,
        userns,
        idmapped: &args.idmapped,
        sources: &sources,
        procfs: args.procfs,
        joined_mount_ns: ns.joins(LinuxNamespaceType::Mount),
        host_mount_ns: ns.in_host_mount_ns(),
        mount_label: args.spec.linux().as_ref().and_then(|l| l.mount_label().as_deref()).filter(|l| !l.is_empty()),
    };
    let read_only = rootfs::prepare(&plan).map_err(|e| e.to_string())?;
    stdio::reopen_dev_null()?;
    if let Some(h) = args.spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).map_err(|e| format!("hostname: {e}"))?;
    }
    if let Some(d) = args.spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        crate::sys::setdomainname(d).map_err(|e| format!("domainname: {e}"))?;
    }
    process::apply_rlimits(process.rlimits().as_deref().unwrap_or_default()).map_err(|e| e.to_string())?;
    if let Some(p) = args.spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        process::set_personality(p).map_err(|e| e.to_string())?;
    }
    if let Some(p) = args.spec.linux().as_ref().and_then(|l| l.memory_policy().as_ref()) {
        process::set_memory_policy(p).map_err(|e| e.to_string())?;
    }
    nix::unistd::chdir(process.cwd()).map_err(|e| format!("process.cwd {}: {e}", process.cwd().display()))?;
    let argv = process.args().as_deref().unwrap_or_default();
    let env = process.env().as_deref().unwrap_or_default();
    let program = process::find_executable(&argv[0], env).map_err(|e| e.to_string())?;
    // The terminal comes from the container's own /dev/pts, now mounted.
    set_up_terminal(process, console_socket, chan, true)?;
    // A read-only tmpfs or /dev becomes so now, with /dev/console in it.
    read_only.apply().map_err(|e| e.to_string())?;
    // Last: the profile takes effect at the program's exec (and, as with
    // runc, at a startContainer hook's), so nothing above is confined; set
    // now so a profile the kernel refuses fails `create`.
    process::lsm::apply_on_exec(args.procfs, process).map_err(|e| e.to_string())?;

    crate::logger::debug(|| "init: closing the pipe to signal completion".into());
    chan.send(&Msg::Ready).map_err(|e| format!("reporting ready: {e}"))?;
    Ok((program, listener))
}

/// Asks nook for the bind mounts' sources (see rootfs::sources): init's
/// root goes with the request, the fds come back one per mount.
fn bind_sources(chan: &Channel) -> Result<Vec<(usize, OwnedFd)>, String> {
    let root = std::fs::File::open("/").map_err(|e| format!("opening /: {e}"))?;
    chan.send_fd(&Msg::MountSources, std::os::fd::AsFd::as_fd(&root))
        .map_err(|e| format!("asking for the bind mount sources: {e}"))?;
    let mut sources = Vec::new();
    loop {
        match chan.recv_fd() {
            Ok(Some((Msg::MountSource(i), Some(fd)))) => sources.push((i as usize, fd)),
            Ok(Some((Msg::Continue, _))) => return Ok(sources),
            _ => return Err("the runtime did not send the bind mount sources".into()),
        }
    }
}

/// unshare(CLONE_NEWPID) applies to our children only: fork once more, so
/// that the process that carries on is pid 1 of the new namespace. It is
/// born nook's child (CLONE_PARENT), so `run` waits for it as for any init;
/// this process tells nook its pid and pidfd, and exits.
fn fork_into_new_pid_ns(chan: &Channel) -> Result<(), String> {
    let forked = crate::sys::clone3(libc::CLONE_PARENT as u64, None)
        .map_err(|e| format!("linux.namespaces: pid: forking into the new pid namespace: {e}"))?;
    match forked {
        crate::sys::Forked::Child => {
            let host_pid = std::fs::read_link("/proc/self").ok().and_then(|p| p.to_str().and_then(|s| s.parse().ok()));
            HOST_PID.store(host_pid.unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
        crate::sys::Forked::Parent { pid, pidfd } => {
            let sent = chan.send_fd(&Msg::Reborn(pid), std::os::fd::AsFd::as_fd(&pidfd));
            // SAFETY: _exit ends this process at once; the child carries on.
            unsafe { libc::_exit(i32::from(sent.is_err())) }
        }
    }
}

/// The state JSON a hook run by init reads. Init's own pid as the host sees
/// it was recorded before the pivot (see `setup`).
fn hook_state(args: &InitArgs, status: &str) -> Vec<u8> {
    let pid = HOST_PID.load(std::sync::atomic::Ordering::Relaxed);
    let ann = args.spec.annotations().clone().unwrap_or_default().into_iter().collect();
    crate::hooks::state_json(args.id, status, pid, args.bundle, &ann)
}

static HOST_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Blocks until `nook start` writes to the fifo.
fn wait_for_start(fifo: &OwnedFd, chan: Channel) -> Result<(), String> {
    drop(chan);
    let mut b = [0u8; 1];
    match nix::unistd::read(fifo, &mut b).map_err(std::io::Error::from) {
        Ok(1) => Ok(()),
        Ok(_) => Err("start: the exec fifo closed before start".into()),
        Err(e) => Err(format!("start: reading the exec fifo: {e}")),
    }
}

/// The raw fd numbers of `fds`, for `InitArgs::close`.
pub fn raw(fds: &[&dyn AsRawFd]) -> Vec<i32> {
    fds.iter().map(|f| f.as_raw_fd()).collect()
}

/// Takes the user namespace's root ids (init came in with the host's,
/// which the namespace may not map), as runc does after its maps are set.
fn become_root(field: &str) -> Result<(), String> {
    let root = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(root, root, root)
        .map_err(|e| format!("{field}: becoming gid 0 in the user namespace: {e}"))?;
    let root = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresuid(root, root, root)
        .map_err(|e| format!("{field}: becoming uid 0 in the user namespace: {e}"))?;
    if crate::process::setgroups_allowed() {
        nix::unistd::setgroups(&[]).map_err(|e| format!("{field}: clearing the groups: {e}"))?;
    }
    Ok(())
}

/// Writes `linux.sysctl` while init is in the container's namespaces
/// (validation allowed only namespaced keys), before the pivot.
fn apply_sysctl(spec: &Spec, proc: Option<&crate::sys::procfs::ProcFs>) -> Result<(), String> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else { return Ok(()) };
    let mut keys: Vec<_> = sysctl.iter().collect();
    keys.sort();
    for (key, value) in keys {
        let path = format!("sys/{}", key.replace('.', "/"));
        procfs(proc)?.write(&path, value).map_err(|e| format!("linux.sysctl.{key}: writing /proc/{path}: {e}"))?;
    }
    Ok(())
}

/// The handle nook opened for init (see `needs_procfs`).
fn procfs(p: Option<&crate::sys::procfs::ProcFs>) -> Result<&crate::sys::procfs::ProcFs, String> {
    p.ok_or_else(|| "internal: no procfs handle for init".to_owned())
}

/// Whether init will write to procfs, or read it in a mount namespace
/// joined by path (whose /proc the container controls), so nook opens a
/// handle for it.
pub fn needs_procfs(spec: &Spec) -> bool {
    let linux = spec.linux().as_ref();
    let sysctl = linux.and_then(|l| l.sysctl().as_ref()).is_some_and(|s| !s.is_empty());
    let joins_mount = linux.and_then(|l| l.namespaces().as_ref()).is_some_and(|ns| {
        ns.iter().any(|n| {
            n.typ() == LinuxNamespaceType::Mount && n.path().as_ref().is_some_and(|p| !p.as_os_str().is_empty())
        })
    });
    sysctl || joins_mount || spec.process().as_ref().is_some_and(needs_procfs_for)
}

/// Whether setting up `process` (the container's or one for `nook exec`)
/// writes to procfs.
pub fn needs_procfs_for(process: &oci_spec::runtime::Process) -> bool {
    process.oom_score_adj().is_some()
        || process::lsm::apparmor_profile(process).is_some()
        || process::lsm::selinux_label(process).is_some()
}
