//! Real filters installed in forked children.

use super::{profile, rule, rule_args};
use crate::seccomp::{compile, container_process_state, install, send_listener_fd, Filter};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::{ContainerProcessState, LinuxSeccompAction as A, LinuxSeccompOperator as O, State};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;

/// Raw syscall; returns the result or `-errno`.
pub(super) fn sys(nr: libc::c_long, a: [u64; 4]) -> i64 {
    // SAFETY: the tests only call syscalls without memory arguments.
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3]) };
    if r < 0 {
        -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap())
    } else {
        r
    }
}

/// Forks; the child sets no_new_privs, installs `filter` (handing any
/// listener fd to `with_listener`), runs `body` and exits with its result.
pub(super) fn in_child(filter: &Filter, with_listener: impl FnOnce(OwnedFd), body: impl FnOnce() -> i32) -> WaitStatus {
    // SAFETY: the child only runs the closures below, then _exit()s.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                nix::sys::prctl::set_no_new_privs().unwrap();
                if let Some(fd) = install(filter).unwrap() {
                    with_listener(fd);
                }
                body()
            }))
            .unwrap_or(101);
            // SAFETY: leaving the forked child without running the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => waitpid(child, None).unwrap(),
    }
}

#[test]
fn errno_rules_and_argument_conditions() {
    let f = compile(&profile(
        A::ScmpActAllow,
        vec![
            rule_args(&["getppid"], A::ScmpActErrno, Some(77), vec![(0, O::ScmpCmpGt, 0x1_0000_0000, 0)]),
            rule_args(
                &["getppid"],
                A::ScmpActErrno,
                Some(78),
                vec![(1, O::ScmpCmpMaskedEq, 0xff00_0000_0000_00ff, 0x1200_0000_0000_0034)],
            ),
            rule_args(&["getppid"], A::ScmpActErrno, Some(79), vec![(2, O::ScmpCmpLt, 5, 0), (3, O::ScmpCmpNe, 7, 0)]),
            rule(&["getpgrp"], A::ScmpActErrno, Some(88)),
        ],
    ))
    .unwrap();
    let ppid = i64::from(std::process::id());
    let status = in_child(&f, drop, || {
        let g = libc::SYS_getppid;
        let checks = [
            sys(g, [0, 0, 9, 0]) == ppid,
            sys(g, [0x1_0000_0001, 0, 9, 0]) == -77,
            sys(g, [0x1_0000_0000, 0, 9, 0]) == ppid,
            sys(g, [0xffff_ffff, 0, 9, 0]) == ppid,
            sys(g, [0, 0x12ab_cdef_0000_1234, 9, 0]) == -78,
            sys(g, [0, 0x13ab_cdef_0000_1234, 9, 0]) == ppid,
            // Both ERRNO rules match: libseccomp (and so runc) tries the
            // higher argument first.
            sys(g, [0x1_0000_0001, 0x1200_0000_0000_0034, 9, 0]) == -78,
            sys(g, [0, 0, 4, 8]) == -79,
            sys(g, [0, 0, 4, 7]) == ppid,
            sys(g, [0, 0, 5, 8]) == ppid,
            sys(libc::SYS_getpgrp, [0; 4]) == -88,
        ];
        // Exit code: 1 + index of the first failed check.
        checks.iter().position(|ok| !ok).map_or(0, |i| i as i32 + 1)
    });
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
}

#[test]
fn allowlist_default_errno() {
    let f = compile(&profile(A::ScmpActErrno, vec![rule(&["getppid", "exit_group", "exit"], A::ScmpActAllow, None)]))
        .unwrap();
    let mut spec_default =
        profile(A::ScmpActErrno, vec![rule(&["getppid", "exit_group", "exit"], A::ScmpActAllow, None)]);
    spec_default.set_default_errno_ret(Some(99));
    let g = compile(&spec_default).unwrap();
    let ppid = i64::from(std::process::id());
    for (filter, errno) in [(&f, 1), (&g, 99)] {
        let status = in_child(filter, drop, || {
            i32::from(sys(libc::SYS_getppid, [0; 4]) != ppid) | i32::from(sys(libc::SYS_getpgrp, [0; 4]) != -errno) << 1
        });
        assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
    }
}

#[test]
fn kill_and_trap_deliver_sigsys() {
    for act in [A::ScmpActKillProcess, A::ScmpActKill, A::ScmpActTrap] {
        let f = compile(&profile(A::ScmpActAllow, vec![rule(&["getppid"], act, None)])).unwrap();
        let status = in_child(&f, drop, || {
            sys(libc::SYS_getppid, [0; 4]);
            0
        });
        assert!(matches!(status, WaitStatus::Signaled(_, Signal::SIGSYS, _)), "{act:?}: {status:?}");
    }
}

#[test]
fn notify_hands_listener_to_agent() {
    let mut spec = profile(A::ScmpActAllow, vec![rule(&["getppid"], A::ScmpActNotify, None)]);
    spec.set_listener_metadata(Some("agent-metadata".into()));
    let dir = std::env::temp_dir().join(format!("nook-seccomp-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("listener.sock");
    let _ = std::fs::remove_file(&path);
    spec.set_listener_path(Some(path.clone()));
    let f = compile(&spec).unwrap();
    assert!(f.has_listener());
    let agent = UnixListener::bind(&path).unwrap();

    let agent_thread = std::thread::spawn(move || {
        let (conn, _) = agent.accept().unwrap();
        let mut buf = vec![0u8; 4096];
        let (n, fd) = crate::sys::recv_with_fd(conn.as_fd(), &mut buf).unwrap();
        let listener = fd.expect("the listener fd");
        let cps: ContainerProcessState = serde_json::from_slice(&buf[..n]).unwrap();
        // SAFETY: zeroed plain-data structs filled by the kernel.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) };
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        let nr = req.data.nr;
        let resp = libc::seccomp_notif_resp { id: req.id, val: 4242, error: 0, flags: 0 };
        let r = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) };
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        (cps, nr, req.pid)
    });

    let listener_path = path.clone();
    let spec2 = spec.clone();
    let status = in_child(
        &f,
        move |fd| {
            let mut state = State::default();
            state.set_version("1.2.0".into());
            state.set_id("ctr".into());
            let cps = container_process_state(&spec2, std::process::id() as i32, state);
            send_listener_fd(&listener_path, fd.as_fd(), &cps).unwrap();
        },
        || i32::from(sys(libc::SYS_getppid, [0; 4]) != 4242),
    );
    let (cps, nr, pid) = agent_thread.join().unwrap();
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
    assert_eq!(nr as i64, libc::SYS_getppid);
    assert_eq!(pid as i32, status.pid().unwrap().as_raw());
    assert_eq!(cps.fds(), &["seccompFd".to_string()]);
    assert_eq!(cps.metadata().as_deref(), Some("agent-metadata"));
    assert_eq!(*cps.pid(), status.pid().unwrap().as_raw());
    assert_eq!(cps.state().id(), "ctr");
    assert_eq!(cps.version(), "1.2.0");
    let _ = std::fs::remove_dir_all(&dir);
}
