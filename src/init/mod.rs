//! What runs inside the new namespaces: the container's init, from the
//! clone until it execs the container's program.
//!
//! Init is a clone of `nook` itself (no re-exec). It sets up everything,
//! reports `Ready` over the setup channel, and then blocks reading the
//! exec fifo until `nook start` writes to it. Only then does it take on the
//! container's user and capabilities and exec. Errors before `Ready` travel
//! back to `nook create` as one line; it prints them and cleans up.

mod signals;

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
    /// The exec fifo, opened read-write (so opening never blocks).
    pub fifo: OwnedFd,
    /// fds of nook's that init must not keep (the state lock, nook's end
    /// of the channel, the cgroup dir).
    pub close: Vec<i32>,
}

/// Runs init; never returns. `chan` is init's end of the setup channel.
pub fn run(args: InitArgs, chan: Channel) -> ! {
    for fd in &args.close {
        let _ = nix::unistd::close(*fd);
    }
    match setup(&args, &chan) {
        Ok((program, listener)) => {
            if let Err(e) = wait_for_start(&args.fifo, chan).and_then(|()| finish(&args, &program, listener)) {
                eprintln!("nook: {e}");
            }
            // SAFETY: _exit is async-signal-safe and skips atexit handlers,
            // which belong to the parent's copy of the process.
            unsafe { libc::_exit(127) }
        }
        Err(msg) => {
            let _ = chan.send(&Msg::Error(msg));
            unsafe { libc::_exit(1) }
        }
    }
}

/// Where a seccomp listener fd goes: a socket connected before init left
/// the host's paths behind, and what to say with the fd.
struct Listener {
    stream: std::os::unix::net::UnixStream,
    path: PathBuf,
    host_pid: i32,
}

/// Everything that can fail while `create` is still waiting.
fn setup(args: &InitArgs, chan: &Channel) -> Result<(PathBuf, Option<Listener>), String> {
    signals::prepare().map_err(|e| format!("init signals: {e}"))?;
    namespaces::join_all(&args.namespaces.join).map_err(|e| e.to_string())?;
    if args.namespaces.new_cgroup {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP).map_err(|e| format!("creating the cgroup namespace: {e}"))?;
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());

    let process = args.spec.process().as_ref().ok_or("process: missing")?;
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| format!("process.oomScoreAdj: {e}"))?;
    }
    let listener = match args.seccomp.filter(|f| f.has_listener()) {
        None => None,
        Some(_) => Some(connect_listener(args.spec)?),
    };
    if !args.namespaces.joins(LinuxNamespaceType::Mount) {
        let plan = rootfs::Plan {
            spec: args.spec,
            rootfs: args.rootfs,
            bundle: args.bundle,
            no_pivot: args.no_pivot,
            cgroup: args.cgroup,
            cgroupns: args.namespaces.new_cgroup,
        };
        rootfs::prepare(&plan).map_err(|e| e.to_string())?;
    }
    if let Some(h) = args.spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).map_err(|e| format!("hostname: {e}"))?;
    }
    if let Some(d) = args.spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        crate::sys::setdomainname(d).map_err(|e| format!("domainname: {e}"))?;
    }
    process::apply_rlimits(process.rlimits().as_deref().unwrap_or_default()).map_err(|e| e.to_string())?;
    nix::unistd::chdir(process.cwd()).map_err(|e| format!("process.cwd {}: {e}", process.cwd().display()))?;
    let argv = process.args().as_deref().unwrap_or_default();
    let env = process.env().as_deref().unwrap_or_default();
    let program = process::find_executable(&argv[0], env).map_err(|e| e.to_string())?;

    chan.send(&Msg::Ready).map_err(|e| format!("reporting ready: {e}"))?;
    Ok((program, listener))
}

fn connect_listener(spec: &Spec) -> Result<Listener, String> {
    let sc = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()).ok_or("linux.seccomp: missing")?;
    let path = sc.listener_path().clone().ok_or("linux.seccomp.listenerPath: needed for SCMP_ACT_NOTIFY")?;
    let stream = std::os::unix::net::UnixStream::connect(&path)
        .map_err(|e| format!("linux.seccomp.listenerPath {}: {e}", path.display()))?;
    // Before the pivot, /proc is the host's: "self" is our host pid.
    let host_pid = std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str().and_then(|s| s.parse().ok()))
        .ok_or("reading the init's pid")?;
    Ok(Listener { stream, path, host_pid })
}

/// Installs the seccomp filter and hands its listener fd (if any) to the
/// listener socket with the container process state.
fn install_seccomp(args: &InitArgs, listener: Option<Listener>) -> Result<(), String> {
    let Some(filter) = args.seccomp else { return Ok(()) };
    let fd = crate::seccomp::install(filter).map_err(|e| e.to_string())?;
    if let (Some(fd), Some(l)) = (fd, listener) {
        let sc = args.spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()).ok_or("linux.seccomp: missing")?;
        let mut st = oci_spec::runtime::State::default();
        st.set_version(crate::spec::OCI_VERSION.to_owned());
        st.set_id(args.id.to_owned());
        st.set_status(oci_spec::runtime::ContainerState::Running);
        st.set_pid(Some(l.host_pid));
        st.set_bundle(args.bundle.to_path_buf());
        st.set_annotations(args.spec.annotations().clone());
        let cps = crate::seccomp::container_process_state(sc, l.host_pid, st);
        crate::seccomp::send_listener_fd_on(&l.stream, &l.path, std::os::fd::AsFd::as_fd(&fd), &cps)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

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

/// After `start`: become the container's user and exec its program.
fn finish(args: &InitArgs, program: &Path, listener: Option<Listener>) -> Result<(), String> {
    let process = args.spec.process().as_ref().ok_or("process: missing")?;
    let nnp = process.no_new_privileges().unwrap_or(false);
    let mut listener = listener;
    // Without no_new_privs the kernel wants CAP_SYS_ADMIN to load a
    // filter, so (as runc does) it goes in before the capabilities go.
    if !nnp {
        install_seccomp(args, listener.take())?;
    }
    let caps = process.capabilities().as_ref();
    process::drop_bounding(caps).map_err(|e| e.to_string())?;
    process::switch_user(process.user()).map_err(|e| e.to_string())?;
    process::apply_capabilities(caps).map_err(|e| e.to_string())?;
    let umask = process.user().umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    if nnp {
        nix::sys::prctl::set_no_new_privs().map_err(|e| format!("process.noNewPrivileges: {e}"))?;
    }
    signals::reset().map_err(|e| format!("init signals: {e}"))?;
    // Nothing of nook's reaches the program: every fd above the preserved
    // ones is closed on exec.
    crate::sys::cloexec_range_from(3 + args.preserve_fds).map_err(|e| format!("closing fds: {e}"))?;
    // With no_new_privs, the filter goes in last, so it never has to allow
    // what nook itself needs.
    if nnp {
        install_seccomp(args, listener)?;
    }
    let argv = process.args().as_deref().unwrap_or_default();
    let env = process.env().as_deref().unwrap_or_default();
    Err(process::exec(program, argv, env).to_string())
}

/// The raw fd numbers of `fds`, for `InitArgs::close`.
pub fn raw(fds: &[&dyn AsRawFd]) -> Vec<i32> {
    fds.iter().map(|f| f.as_raw_fd()).collect()
}
