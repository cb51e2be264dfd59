//! Podman's default profile (/usr/share/containers/seccomp.json).

use super::install::{in_child, sys};
use super::interp::{run, Data};
use super::podman::{resolve, PODMAN_DEFAULT_CAPS};
use super::random::{compare, probes, Rng};
use super::rule_args;
use crate::seccomp::rules::{Abi, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
use crate::seccomp::{compile, compile_linear};
use nix::sys::wait::WaitStatus;
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompOperator as O};

const PATH: &str = "/usr/share/containers/seccomp.json";
const ALLOW: u32 = 0x7fff_0000;
const EPERM: u32 = 0x0005_0001;
const ENOSYS: u32 = 0x0005_0026;
const EINVAL: u32 = 0x0005_0016;

fn podman_profile(caps: &[&str]) -> Option<LinuxSeccomp> {
    match std::fs::read_to_string(PATH) {
        Ok(s) => Some(resolve(&s, "amd64", "SCMP_ARCH_X86_64", caps)),
        Err(e) => {
            eprintln!("skipping: {PATH}: {e}");
            None
        }
    }
}

/// The verdict for syscall `name` of `abi` with `args`.
fn verdict(spec: &LinuxSeccomp, abi: Abi, name: &str, args: &[u64]) -> u32 {
    let f = compile(spec).unwrap();
    let mut a = [0u64; 6];
    a[..args.len()].copy_from_slice(args);
    let nr = abi.resolve(name).unwrap_or_else(|| panic!("{name}"));
    run(f.program(), &Data { nr, arch: abi.audit_arch(), args: a }).0
}

#[test]
fn podman_default_profile() {
    let Some(spec) = podman_profile(PODMAN_DEFAULT_CAPS) else {
        return;
    };
    let f = compile(&spec).unwrap();
    let linear = compile_linear(&spec).unwrap();
    let n = f.program().len();
    eprintln!("podman profile: {n} instructions (linear chain: {})", linear.program().len());
    assert!((200..2500).contains(&n), "{n}");
    assert!(f.skipped_syscalls().len() < 40, "{:?}", f.skipped_syscalls());

    // The whole profile agrees with the oracle.
    compare(&spec, &mut Rng(7), &probes());

    // The tree is shallow: getppid costs far less than in the linear chain.
    let d = Data { nr: 110, arch: AUDIT_ARCH_X86_64, args: [0; 6] };
    let (tree_steps, lin_steps) = (run(f.program(), &d).1, run(linear.program(), &d).1);
    assert!(tree_steps <= 16 && lin_steps > 3 * tree_steps, "{tree_steps} vs {lin_steps}");

    let v = |abi, name, args: &[u64]| verdict(&spec, abi, name, args);
    for name in ["read", "write", "getppid", "execve", "exit_group"] {
        assert_eq!(v(Abi::X86_64, name, &[]), ALLOW, "{name}");
        assert_eq!(v(Abi::I386, name, &[]), ALLOW, "{name}");
        assert_eq!(v(Abi::X32, name, &[]), ALLOW, "{name}");
    }
    // Explicitly denied with EPERM, including capability-gated ones.
    for name in ["kexec_load", "userfaultfd", "init_module", "settimeofday", "open_by_handle_at", "acct"] {
        assert_eq!(v(Abi::X86_64, name, &[]), EPERM, "{name}");
    }
    // Granting the capability flips the includes/excludes.
    let with_caps = podman_profile(&[PODMAN_DEFAULT_CAPS, &["CAP_SYS_TIME", "CAP_SYS_MODULE"]].concat()).unwrap();
    assert_eq!(verdict(&with_caps, Abi::X86_64, "settimeofday", &[]), ALLOW);
    assert_eq!(verdict(&with_caps, Abi::X86_64, "init_module", &[]), ALLOW);
    assert_eq!(verdict(&with_caps, Abi::X86_64, "acct", &[]), EPERM);
    // Podman's profile (unlike Docker's) allows these: it relies on user
    // namespaces instead.
    for name in ["mount", "unshare", "keyctl", "clone"] {
        assert_eq!(v(Abi::X86_64, name, &[]), ALLOW, "{name}");
    }
    // personality: only the listed personas.
    for p in [0, 8, 0x20000, 0x20008, 0xffff_ffff] {
        assert_eq!(v(Abi::X86_64, "personality", &[p]), ALLOW, "{p:#x}");
    }
    for p in [1, 0x1_0000_0000, 0x1_0000_0008, u64::MAX] {
        assert_eq!(v(Abi::X86_64, "personality", &[p]), ENOSYS, "{p:#x}");
    }
    // On i386 only the low word counts (libseccomp on 32-bit arches).
    assert_eq!(v(Abi::I386, "personality", &[0x1_0000_0008]), ALLOW);
    // socket: AF_NETLINK + NETLINK_AUDIT gets EINVAL.
    assert_eq!(v(Abi::X86_64, "socket", &[16, 3, 9]), EINVAL);
    assert_eq!(v(Abi::X86_64, "socket", &[16, 3, 0]), ALLOW);
    assert_eq!(v(Abi::X86_64, "socket", &[2, 1, 0]), ALLOW);
    // Beyond the highest syscall named: ENOSYS; foreign arch: KILL_THREAD.
    let beyond = |arch, nr| run(f.program(), &Data { nr, arch, args: [0; 6] }).0;
    assert_eq!(beyond(AUDIT_ARCH_X86_64, 1000), ENOSYS);
    assert_eq!(beyond(AUDIT_ARCH_I386, 1000), ENOSYS);
    assert_eq!(beyond(0xc000_00b7, 0), 0);
}

#[test]
fn docker_style_clone_and_mount_rules() {
    // Podman's profile minus mount/unshare/keyctl/clone, plus Docker's
    // clone rule: allowed unless a namespace flag is set.
    let Some(mut spec) = podman_profile(PODMAN_DEFAULT_CAPS) else {
        return;
    };
    let mut calls = spec.syscalls().clone().unwrap();
    for c in &mut calls {
        let names = c
            .names()
            .iter()
            .filter(|n| !["mount", "unshare", "keyctl", "clone"].contains(&n.as_str()))
            .cloned()
            .collect();
        c.set_names(names);
    }
    calls.push(rule_args(&["clone"], A::ScmpActAllow, None, vec![(0, O::ScmpCmpMaskedEq, 0x7e02_0000, 0)]));
    spec.set_syscalls(Some(calls));
    let v = |name, args: &[u64]| verdict(&spec, Abi::X86_64, name, args);
    for name in ["mount", "unshare", "keyctl"] {
        assert_eq!(v(name, &[]), ENOSYS, "{name}");
    }
    const SIGCHLD: u64 = 17;
    assert_eq!(v("clone", &[SIGCHLD]), ALLOW);
    assert_eq!(v("clone", &[0x0001_0000 | 0x0000_0100 | SIGCHLD]), ALLOW); // CLONE_THREAD|CLONE_VM
    for ns in [0x0002_0000u64, 0x1000_0000, 0x2000_0000, 0x0400_0000, 0x0800_0000, 0x4000_0000, 0x0200_0000] {
        assert_eq!(v("clone", &[ns | SIGCHLD]), ENOSYS, "{ns:#x}");
    }
    compare(&spec, &mut Rng(8), &probes());
}

#[test]
fn podman_default_profile_installs() {
    let Some(spec) = podman_profile(PODMAN_DEFAULT_CAPS) else {
        return;
    };
    let f = compile(&spec).unwrap();
    let ppid = i64::from(std::process::id());
    let status = in_child(&f, drop, || {
        let checks = [
            sys(libc::SYS_getppid, [0; 4]) == ppid,
            sys(libc::SYS_personality, [0x12345, 0, 0, 0]) == -38,
            sys(libc::SYS_kexec_load, [0; 4]) == -1,
            sys(1000, [0; 4]) == -38,
        ];
        checks.iter().position(|ok| !ok).map_or(0, |i| i as i32 + 1)
    });
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
}
