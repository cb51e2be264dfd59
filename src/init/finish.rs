//! The last steps before exec, shared by the container's init (after
//! `start`) and by processes started with `nook exec`: seccomp, user,
//! capabilities, umask, no_new_privs, closing nook's fds, exec.

use super::signals;
use crate::console;
use crate::process;
use crate::seccomp::Filter;
use crate::sync::{Channel, Msg};
use oci_spec::runtime::{ContainerProcessState, Process, Spec};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Where a seccomp listener fd goes: a socket connected before the process
/// left the host's paths behind, and the state to send with it.
pub struct Listener {
    stream: std::os::unix::net::UnixStream,
    path: PathBuf,
    state: ContainerProcessState,
}

/// Connects to `linux.seccomp.listenerPath`. Must run while the host's
/// /proc and paths are still visible (before pivot_root or setns(mnt)).
pub fn connect_listener(spec: &Spec, id: &str, bundle: &Path) -> Result<Listener, String> {
    let sc = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()).ok_or("linux.seccomp: missing")?;
    let path = sc.listener_path().clone().ok_or("linux.seccomp.listenerPath: needed for SCMP_ACT_NOTIFY")?;
    // runc's words, which callers and runc's tests look for.
    let stream = std::os::unix::net::UnixStream::connect(&path).map_err(|e| {
        format!(
            "linux.seccomp.listenerPath: failed to connect with seccomp agent specified in the seccomp profile: {}: {e}",
            path.display()
        )
    })?;
    // The host's /proc: "self" is our pid as the host sees it.
    let host_pid = std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str().and_then(|s| s.parse().ok()))
        .ok_or("reading our pid")?;
    let mut st = oci_spec::runtime::State::default();
    st.set_version(crate::spec::OCI_VERSION.to_owned());
    st.set_id(id.to_owned());
    st.set_status(oci_spec::runtime::ContainerState::Running);
    st.set_pid(Some(host_pid));
    st.set_bundle(bundle.to_path_buf());
    st.set_annotations(spec.annotations().clone());
    let state = crate::seccomp::container_process_state(sc, host_pid, st);
    Ok(Listener { stream, path, state })
}

/// With `process.terminal`: allocates a pty from the container's devpts
/// (so this runs inside the container's root), makes it the process's
/// controlling terminal and stdio, and hands the master to the console
/// socket (connected by nook beforehand, from the host) or, without one,
/// to nook over the setup channel. The master is not kept here. With
/// `dev_console`: also bind it onto /dev/console (the container's init only).
pub fn set_up_terminal(
    process: &Process,
    socket: Option<OwnedFd>,
    chan: &Channel,
    dev_console: bool,
) -> Result<(), String> {
    if !process.terminal().unwrap_or(false) {
        // A session of its own all the same, as runc's init and exec'd
        // processes have (nsexec's setsid): CRIU dumps only a tree whose
        // sessions lie inside it (else it needs --shell-job).
        return nix::unistd::setsid().map(drop).map_err(|e| format!("setsid: {e}"));
    }
    let pty = console::open_pty()?;
    if dev_console {
        crate::rootfs::mount_console(pty.peer.as_fd()).map_err(|e| e.to_string())?;
    }
    let clamp = |v: u64| v.min(u16::MAX as u64) as u16;
    let size = process.console_size().as_ref().map(|b| console::winsize(clamp(b.height()), clamp(b.width())));
    console::attach(pty.peer.as_fd(), size, process.user().uid())?;
    match socket {
        Some(sock) => console::send_fd_on(sock.as_fd(), pty.master.as_fd(), console::MASTER_NAME)
            .map_err(|e| format!("--console-socket: sending the pty master: {e}")),
        None => {
            // nook relays it: "\n" stays "\n" (runc clears ONLCR on the pty
            // it relays); done here, before the program can write.
            console::clear_onlcr(pty.peer.as_fd())?;
            chan.send_fd(&Msg::Pty, pty.master.as_fd()).map_err(|e| format!("sending the pty master: {e}"))
        }
    }
}

/// Installs the filter and hands its listener fd (if any) over.
fn install_seccomp(filter: Option<&Filter>, listener: Option<Listener>) -> Result<(), String> {
    let Some(filter) = filter else { return Ok(()) };
    let fd = crate::seccomp::install(filter).map_err(|e| e.to_string())?;
    if let (Some(fd), Some(l)) = (fd, listener) {
        crate::seccomp::send_listener_fd_on(&l.stream, &l.path, std::os::fd::AsFd::as_fd(&fd), &l.state)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

pub struct Finish<'a> {
    pub process: &'a Process,
    /// args[0], already resolved inside the container.
    pub program: &'a Path,
    pub seccomp: Option<&'a Filter>,
    pub listener: Option<Listener>,
    /// fds 3 .. 3+preserve_fds are handed to the program.
    pub preserve_fds: u32,
    /// Runs last before the exec, with everything in place (the container's
    /// startContainer hooks, as runc runs them: under the seccomp filter,
    /// as the process's user, and with no fd of nook's left to inherit).
    pub before_exec: Option<&'a dyn Fn() -> Result<(), String>>,
}

/// Becomes the process's user and execs its program; returns only an error.
pub fn finish(f: Finish) -> Result<(), String> {
    let process = f.process;
    let nnp = process.no_new_privileges().unwrap_or(false);
    let mut listener = f.listener;
    // Nothing of nook's reaches the program: every fd above the preserved
    // ones is closed on exec. First, before any filter goes in: nook must
    // never depend on the container's profile allowing its own syscalls.
    crate::sys::cloexec_range_from(3 + f.preserve_fds).map_err(|e| format!("closing fds: {e}"))?;
    // Without no_new_privs the kernel wants CAP_SYS_ADMIN to load a
    // filter, so (as runc does) it goes in before the capabilities go.
    if !nnp {
        install_seccomp(f.seccomp, listener.take())?;
    }
    // While the process still has its capabilities (a real-time class
    // needs them).
    if let Some(p) = process.io_priority() {
        process::set_io_priority(p).map_err(|e| e.to_string())?;
    }
    if let Some(s) = process.scheduler() {
        process::set_scheduler(s).map_err(|e| e.to_string())?;
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
    signals::reset().map_err(|e| format!("signals: {e}"))?;
    // With no_new_privs, the filter goes in last, so it never has to allow
    // what nook itself needs.
    if nnp {
        install_seccomp(f.seccomp, listener)?;
    }
    if let Some(hooks) = f.before_exec {
        hooks()?;
    }
    let argv = process.args().as_deref().unwrap_or_default();
    let env = process.env().as_deref().unwrap_or_default();
    Err(process::exec(f.program, argv, env).to_string())
}

/// Ends a clone of nook. A setup error is reported over the channel (the
/// parent prints it) and the clone exits 1; otherwise `rest` runs, which
/// execs the program and returns only an error: printed on the process's
/// stderr, exit 127.
pub fn conclude<T>(chan: Channel, setup: Result<T, String>, rest: impl FnOnce(T, Channel) -> Result<(), String>) -> ! {
    match setup {
        Ok(v) => {
            if let Err(e) = rest(v, chan) {
                eprintln!("nook: {e}");
            }
            // SAFETY: _exit is async-signal-safe and skips atexit handlers,
            // which belong to the parent's copy of the process.
            unsafe { libc::_exit(127) }
        }
        Err(msg) => {
            let _ = chan.send(&Msg::Error(msg));
            // SAFETY: as above.
            unsafe { libc::_exit(1) }
        }
    }
}
