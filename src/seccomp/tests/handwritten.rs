//! Hand-written profiles against runc's libseccomp: every operator, every
//! action, several rules for one syscall, several conditions on one
//! argument, the multiplexed socket and ipc calls, every arch listed.

use super::differential::{compare, Outcome};
use super::random::Rng;
use super::{rule, rule_args};
use crate::seccomp::arch::Abi;
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompBuilder, LinuxSeccompOperator as O};

const OPS: &[O] =
    &[O::ScmpCmpNe, O::ScmpCmpLt, O::ScmpCmpLe, O::ScmpCmpEq, O::ScmpCmpGe, O::ScmpCmpGt, O::ScmpCmpMaskedEq];

fn profile(default: A, rules: Vec<oci_spec::runtime::LinuxSyscall>, arches: &[Abi]) -> LinuxSeccomp {
    LinuxSeccompBuilder::default()
        .default_action(default)
        .syscalls(rules)
        .architectures(arches.iter().map(|a| a.oci()).collect::<Vec<_>>())
        .build()
        .unwrap()
}

/// Asserts that nook and libseccomp accept `spec` (for every native arch
/// of its byte order) and agree on it.
fn agree(spec: &LinuxSeccomp) {
    let mut rng = Rng(5);
    for native in [Abi::X86_64, Abi::Aarch64, Abi::Riscv64, Abi::Ppc64le, Abi::Arm] {
        let outcome = compare(spec, native, &mut rng, 64);
        assert!(matches!(outcome, Outcome::Agreed(_)), "{native:?}: {outcome:?}");
    }
}

const X86_FAMILY: &[Abi] = &[Abi::X86_64, Abi::X86, Abi::X32];

#[test]
fn every_operator_on_64_and_32_bit_arches() {
    for op in OPS {
        for v in [0u64, 5, 0x8000_0000, 0x1_0000_0005, u64::MAX] {
            let rules =
                vec![rule_args(&["personality", "socket", "semop"], A::ScmpActErrno, Some(9), vec![(0, *op, v, 5)])];
            agree(&profile(A::ScmpActAllow, rules.clone(), X86_FAMILY));
            agree(&profile(A::ScmpActKillProcess, rules, &[Abi::X86, Abi::Arm]));
        }
    }
}

#[test]
fn every_action_and_errno() {
    let acts = [
        (A::ScmpActKill, None),
        (A::ScmpActKillThread, None),
        (A::ScmpActKillProcess, None),
        (A::ScmpActTrap, None),
        (A::ScmpActErrno, None),
        (A::ScmpActErrno, Some(0)),
        (A::ScmpActErrno, Some(4094)),
        (A::ScmpActTrace, Some(0xffff)),
        (A::ScmpActTrace, None),
        (A::ScmpActTrace, Some(77)),
        (A::ScmpActLog, None),
        (A::ScmpActNotify, None),
        (A::ScmpActAllow, None),
    ];
    let names = [
        "getppid",
        "rmdir",
        "mkdir",
        "chown",
        "socket",
        "msgget",
        "clone3",
        "cacheflush",
        "arch_prctl",
        "kill",
        "futex",
        "read",
        "openat",
    ];
    let rules: Vec<_> = acts.iter().zip(names).map(|((a, e), n)| rule(&[n], *a, *e)).collect();
    for (default, errno) in acts.iter().filter(|(a, _)| *a != A::ScmpActNotify) {
        let mut spec = profile(*default, rules.clone(), X86_FAMILY);
        spec.set_default_errno_ret(*errno);
        agree(&spec);
    }
}

#[test]
fn several_rules_for_one_syscall() {
    // Docker's personality and clone rules, plus conflicting actions.
    let rules = vec![
        rule_args(&["personality"], A::ScmpActAllow, None, vec![(0, O::ScmpCmpEq, 0, 0)]),
        rule_args(&["personality"], A::ScmpActAllow, None, vec![(0, O::ScmpCmpEq, 8, 0)]),
        rule_args(&["personality"], A::ScmpActAllow, None, vec![(0, O::ScmpCmpEq, 0xffff_ffff, 0)]),
        rule_args(&["clone"], A::ScmpActAllow, None, vec![(0, O::ScmpCmpMaskedEq, 0x7e02_0000, 0)]),
        rule_args(&["clone"], A::ScmpActErrno, Some(1), vec![(1, O::ScmpCmpGt, 7, 0)]),
        rule_args(&["socket"], A::ScmpActErrno, Some(22), vec![(0, O::ScmpCmpEq, 16, 0), (2, O::ScmpCmpEq, 9, 0)]),
        rule_args(&["socket"], A::ScmpActKillProcess, None, vec![(1, O::ScmpCmpGt, 40, 0)]),
        rule(&["socketpair"], A::ScmpActAllow, None),
        rule_args(&["kill"], A::ScmpActErrno, Some(3), vec![(0, O::ScmpCmpGt, 5, 0)]),
        rule_args(&["kill"], A::ScmpActLog, None, vec![(0, O::ScmpCmpGt, 7, 0)]),
        rule_args(&["kill"], A::ScmpActTrace, Some(4), vec![(0, O::ScmpCmpLt, 2, 0), (1, O::ScmpCmpNe, 9, 0)]),
        rule_args(&["mmap"], A::ScmpActErrno, Some(5), vec![(2, O::ScmpCmpMaskedEq, 4, 4)]),
        rule_args(
            &["mmap"],
            A::ScmpActErrno,
            Some(5),
            vec![(2, O::ScmpCmpMaskedEq, 6, 6), (3, O::ScmpCmpGe, 1 << 40, 0)],
        ),
    ];
    agree(&profile(A::ScmpActErrno, rules.clone(), X86_FAMILY));
    agree(&profile(A::ScmpActAllow, rules, &[Abi::Aarch64, Abi::Arm]));
}

#[test]
fn several_conditions_on_one_argument_become_rules() {
    let rules = vec![
        rule_args(&["ioctl"], A::ScmpActAllow, None, vec![(1, O::ScmpCmpEq, 0x5401, 0), (1, O::ScmpCmpEq, 0x5413, 0)]),
        rule_args(
            &["fcntl"],
            A::ScmpActErrno,
            Some(1),
            vec![(1, O::ScmpCmpGe, 10, 0), (1, O::ScmpCmpLe, 20, 0), (0, O::ScmpCmpNe, 3, 0)],
        ),
        rule_args(
            &["shmat"],
            A::ScmpActAllow,
            None,
            vec![(2, O::ScmpCmpMaskedEq, 0x1000, 0), (2, O::ScmpCmpMaskedEq, 0x4000, 0x4000)],
        ),
    ];
    agree(&profile(A::ScmpActErrno, rules, X86_FAMILY));
}

#[test]
fn conflicting_rules_are_refused_by_both() {
    let rules = vec![
        rule_args(&["kill"], A::ScmpActErrno, Some(3), vec![(0, O::ScmpCmpEq, 5, 0)]),
        rule_args(&["kill"], A::ScmpActLog, None, vec![(0, O::ScmpCmpEq, 5, 0)]),
    ];
    let spec = profile(A::ScmpActAllow, rules, X86_FAMILY);
    assert_eq!(compare(&spec, Abi::X86_64, &mut Rng(1), 8), Outcome::Refused);
    let err = crate::seccomp::compile(&spec).unwrap_err().to_string();
    assert!(err.starts_with("linux.seccomp.syscalls[1]: kill: "), "{err}");
    // On x86 socket() is also socketcall(SYS_SOCKET, ...): libseccomp's
    // rule replaces the first argument's condition, so these collide there.
    let rules = vec![
        rule_args(&["socket"], A::ScmpActErrno, Some(22), vec![(0, O::ScmpCmpEq, 16, 0)]),
        rule_args(&["socket"], A::ScmpActKillProcess, None, vec![(0, O::ScmpCmpGt, 40, 0)]),
    ];
    assert!(matches!(
        compare(&profile(A::ScmpActAllow, rules.clone(), &[]), Abi::X86_64, &mut Rng(1), 8),
        Outcome::Agreed(_)
    ));
    let spec = profile(A::ScmpActAllow, rules, &[Abi::X86]);
    assert_eq!(compare(&spec, Abi::X86_64, &mut Rng(1), 8), Outcome::Refused);
}

#[test]
fn every_arch_listed() {
    let rules = vec![
        rule(&["getppid", "socketcall", "ipc", "breakpoint", "riscv_flush_icache"], A::ScmpActAllow, None),
        rule_args(&["socket", "shmget", "openat"], A::ScmpActAllow, None, vec![(1, O::ScmpCmpLt, 0x8_0000, 0)]),
    ];
    for big in [false, true] {
        let arches: Vec<Abi> = Abi::ALL.iter().copied().filter(|a| a.big_endian() == big).collect();
        let spec = profile(A::ScmpActErrno, rules.clone(), &arches);
        let mut rng = Rng(9);
        for native in &arches {
            assert!(matches!(compare(&spec, *native, &mut rng, 16), Outcome::Agreed(_)), "{native:?}");
        }
    }
    // Mixed byte orders: libseccomp refuses the arch, so does nook.
    let spec = profile(A::ScmpActErrno, rules, &[Abi::X86_64, Abi::S390x]);
    assert_eq!(compare(&spec, Abi::X86_64, &mut Rng(1), 8), Outcome::Refused);
}
