//! Docker's and podman's default profiles, verbatim, for every arch of
//! their `archMap` and with few and all capabilities: nook against runc's
//! libseccomp, and what they mean for a few syscalls.
//!
//! `docker-default.json` is moby's profiles/seccomp/default.json as
//! Debian's golang-github-docker-docker-dev 20.10.24 ships it; podman's is
//! /usr/share/containers/seccomp.json (golang-github-containers-common).

use super::differential::{compare, Outcome};
use super::install::{in_child, sys};
use super::interp::{run, Data};
use super::podman::{resolve, PODMAN_DEFAULT_CAPS};
use super::random::Rng;
use super::rule_args;
use crate::seccomp::arch::Abi;
use crate::seccomp::compile;
use nix::sys::wait::WaitStatus;
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompOperator as O};

const PATH: &str = "/usr/share/containers/seccomp.json";
const DOCKER: &str = include_str!("docker-default.json");
const ALLOW: u32 = 0x7fff_0000;
const EPERM: u32 = 0x0005_0001;
const ENOSYS: u32 = 0x0005_0026;
const EINVAL: u32 = 0x0005_0016;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// Every capability a profile's includes/excludes name.
const ALL_CAPS: &[&str] = &[
    "CAP_DAC_READ_SEARCH",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_CHROOT",
    "CAP_SYS_MODULE",
    "CAP_SYS_PACCT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_SYS_NICE",
    "CAP_SYSLOG",
    "CAP_BPF",
    "CAP_PERFMON",
];
/// archMap arches: (SCMP name, Go name, nook's native ABI for it).
const ARCH_MAP: &[(&str, &str, Abi)] = &[
    ("SCMP_ARCH_X86_64", "amd64", Abi::X86_64),
    ("SCMP_ARCH_AARCH64", "arm64", Abi::Aarch64),
    ("SCMP_ARCH_MIPS64", "mips64", Abi::Mips64),
    ("SCMP_ARCH_MIPS64N32", "mips64n32", Abi::Mips64n32),
    ("SCMP_ARCH_MIPSEL64", "mipsel64", Abi::Mipsel64),
    ("SCMP_ARCH_MIPSEL64N32", "mipsel64n32", Abi::Mipsel64n32),
    ("SCMP_ARCH_S390X", "s390x", Abi::S390x),
    ("SCMP_ARCH_PPC64LE", "ppc64le", Abi::Ppc64le),
    ("SCMP_ARCH_RISCV64", "riscv64", Abi::Riscv64),
];

/// The profile for every archMap arch and two capability sets, compared
/// with libseccomp.
fn compare_everywhere(text: &str) {
    let caps: Vec<&str> = PODMAN_DEFAULT_CAPS.iter().chain(ALL_CAPS).copied().collect();
    let mut rng = Rng(11);
    for (scmp, go, native) in ARCH_MAP {
        for caps in [PODMAN_DEFAULT_CAPS, &caps[..]] {
            let spec = resolve(text, go, scmp, caps);
            let outcome = compare(&spec, *native, &mut rng, 24);
            assert!(matches!(outcome, Outcome::Agreed(n) if n > 1000), "{scmp}: {outcome:?}");
        }
    }
}

#[test]
fn docker_default_profile_matches_libseccomp() {
    compare_everywhere(DOCKER);
}

#[test]
fn podman_default_profile_matches_libseccomp() {
    let text =
        std::fs::read_to_string(PATH).unwrap_or_else(|e| panic!("{PATH} (scripts/deps.sh test installs it): {e}"));
    compare_everywhere(&text);
}

fn podman_profile(caps: &[&str]) -> Option<LinuxSeccomp> {
    let text =
        std::fs::read_to_string(PATH).unwrap_or_else(|e| panic!("{PATH} (scripts/deps.sh test installs it): {e}"));
    Some(resolve(&text, "amd64", "SCMP_ARCH_X86_64", caps))
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
    let n = f.program().len();
    assert!((200..2500).contains(&n), "{n}");
    assert!(f.skipped_syscalls().len() < 40, "{:?}", f.skipped_syscalls());

    // The search is shallow: getppid takes a few instructions.
    let d = Data { nr: 110, arch: AUDIT_ARCH_X86_64, args: [0; 6] };
    let steps = run(f.program(), &d).1;
    assert!(steps <= 16, "{steps}");

    let v = |abi, name, args: &[u64]| verdict(&spec, abi, name, args);
    for name in ["read", "write", "getppid", "execve", "exit_group"] {
        assert_eq!(v(Abi::X86_64, name, &[]), ALLOW, "{name}");
        assert_eq!(v(Abi::X86, name, &[]), ALLOW, "{name}");
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
    assert_eq!(v(Abi::X86, "personality", &[0x1_0000_0008]), ALLOW);
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
    assert!(matches!(compare(&spec, Abi::X86_64, &mut Rng(8), 24), Outcome::Agreed(_)));
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
