//! Tests: nook's filters against runc's libseccomp in a classic-BPF
//! interpreter (Docker's and podman's profiles, hand-written ones, random
//! ones, a regression corpus); the syscall tables against libseccomp;
//! real installs in forked children.

mod corpus;
mod differential;
mod handwritten;
mod install;
mod interp;
pub(crate) mod podman;
mod profile;
mod random;
mod reference;
mod tables;

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSeccompOperator, LinuxSyscall,
    LinuxSyscallBuilder,
};

/// An unconditional rule.
pub(super) fn rule(names: &[&str], action: LinuxSeccompAction, errno: Option<u32>) -> LinuxSyscall {
    rule_args(names, action, errno, vec![])
}

/// A rule with argument conditions `(index, op, value, value_two)`.
pub(super) fn rule_args(
    names: &[&str],
    action: LinuxSeccompAction,
    errno: Option<u32>,
    args: Vec<(usize, LinuxSeccompOperator, u64, u64)>,
) -> LinuxSyscall {
    let mut b =
        LinuxSyscallBuilder::default().names(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).action(action);
    if let Some(e) = errno {
        b = b.errno_ret(e);
    }
    let mut r = b.build().unwrap();
    if !args.is_empty() {
        r.set_args(Some(
            args.into_iter()
                .map(|(index, op, value, two)| {
                    LinuxSeccompArgBuilder::default().index(index).op(op).value(value).value_two(two).build().unwrap()
                })
                .collect(),
        ));
    }
    r
}

/// A profile with the given default action and rules (native arch only).
pub(super) fn profile(default: LinuxSeccompAction, rules: Vec<LinuxSyscall>) -> LinuxSeccomp {
    LinuxSeccompBuilder::default().default_action(default).syscalls(rules).build().unwrap()
}

#[test]
fn config_errors_name_the_field() {
    use LinuxSeccompAction::*;
    let err = |s: &LinuxSeccomp| super::compile(s).unwrap_err().to_string();

    let mut s =
        profile(ScmpActAllow, vec![rule(&["read"], ScmpActErrno, None), rule(&["getpid"], ScmpActErrno, Some(70000))]);
    assert_eq!(err(&s), "linux.seccomp.syscalls[1].errnoRet: 70000 does not fit in the 16-bit SECCOMP_RET_DATA");

    s.set_syscalls(Some(vec![rule_args(
        &["read"],
        ScmpActErrno,
        None,
        vec![(6, LinuxSeccompOperator::ScmpCmpEq, 0, 0)],
    )]));
    assert!(err(&s).starts_with("linux.seccomp.syscalls[0].args[0].index: "), "{}", err(&s));

    s.set_syscalls(Some(vec![rule(&["read", ""], ScmpActErrno, None)]));
    assert_eq!(err(&s), "linux.seccomp.syscalls[0].names[1]: empty syscall name");

    s.set_syscalls(Some(vec![rule(&["write"], ScmpActNotify, None)]));
    assert!(err(&s).starts_with("linux.seccomp.syscalls[0].action: "));

    s.set_default_action(ScmpActNotify);
    s.set_syscalls(None);
    assert!(err(&s).starts_with("linux.seccomp.defaultAction: "));
}

#[test]
fn unknown_names_are_skipped_and_flags_computed() {
    use super::flags;
    use oci_spec::runtime::LinuxSeccompFilterFlag as F;
    use LinuxSeccompAction::*;
    let mut s = profile(
        ScmpActErrno,
        vec![rule(&["read", "no_such_syscall"], ScmpActAllow, None), rule(&["getppid"], ScmpActNotify, None)],
    );
    s.set_flags(Some(vec![F::SeccompFilterFlagLog, F::SeccompFilterFlagTsync, F::SeccompFilterFlagWaitKillableRecv]));
    let f = super::compile(&s).unwrap();
    assert_eq!(f.skipped_syscalls(), ["no_such_syscall"]);
    assert!(f.has_listener());
    assert_eq!(
        f.flags(),
        flags::LOG | flags::TSYNC | flags::TSYNC_ESRCH | flags::WAIT_KILLABLE_RECV | flags::NEW_LISTENER
    );
    s.set_syscalls(Some(vec![rule(&["read"], ScmpActAllow, None)]));
    let f = super::compile(&s).unwrap();
    assert_eq!(f.flags(), flags::LOG | flags::TSYNC);
    assert!(!f.has_listener());
}
