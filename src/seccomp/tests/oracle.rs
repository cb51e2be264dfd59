//! Direct evaluation of a `LinuxSeccomp` for one syscall, written
//! independently of the compiler from the semantics documented in mod.rs.

use super::interp::Data;
use crate::seccomp::rules::{precedence, Abi, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompOperator as O};

fn action(a: A, errno: Option<u32>) -> u32 {
    match a {
        A::ScmpActKill | A::ScmpActKillThread => 0,
        A::ScmpActKillProcess => 0x8000_0000,
        A::ScmpActTrap => 0x0003_0000,
        A::ScmpActErrno => 0x0005_0000 | errno.unwrap_or(1),
        A::ScmpActTrace => 0x7ff0_0000 | errno.unwrap_or(1),
        A::ScmpActNotify => 0x7fc0_0000,
        A::ScmpActLog => 0x7ffc_0000,
        A::ScmpActAllow => 0x7fff_0000,
    }
}

fn listed(spec: &LinuxSeccomp, abi: Abi) -> bool {
    spec.architectures().iter().flatten().any(|a| {
        matches!(
            (a, abi),
            (Arch::ScmpArchX86_64 | Arch::ScmpArchNative, Abi::X86_64)
                | (Arch::ScmpArchX86, Abi::I386)
                | (Arch::ScmpArchX32, Abi::X32)
        )
    })
}

fn holds(op: O, arg: u64, v: u64, v2: u64, wide: bool) -> bool {
    let (arg, v, v2) = if wide { (arg, v, v2) } else { (arg as u32 as u64, v as u32 as u64, v2 as u32 as u64) };
    match op {
        O::ScmpCmpNe => arg != v,
        O::ScmpCmpLt => arg < v,
        O::ScmpCmpLe => arg <= v,
        O::ScmpCmpEq => arg == v,
        O::ScmpCmpGe => arg >= v,
        O::ScmpCmpGt => arg > v,
        O::ScmpCmpMaskedEq => arg & v == v2,
    }
}

/// The verdict of the profile for `d`.
pub(crate) fn eval(spec: &LinuxSeccomp, d: &Data) -> u32 {
    let default = action(spec.default_action(), spec.default_errno_ret());
    let abi = match d.arch {
        AUDIT_ARCH_X86_64 if d.nr >= 0x4000_0000 => Abi::X32,
        AUDIT_ARCH_X86_64 => Abi::X86_64,
        AUDIT_ARCH_I386 => Abi::I386,
        _ => return 0,
    };
    if abi != Abi::X86_64 && !listed(spec, abi) {
        return 0; // bad arch: KILL_THREAD
    }
    let mut unconditional = None;
    let mut best: Option<u32> = None;
    let mut highest = None;
    for call in spec.syscalls().iter().flatten() {
        let nrs: Vec<u32> = call.names().iter().filter_map(|n| abi.resolve(n)).collect();
        highest = highest.max(nrs.iter().copied().max());
        if !nrs.contains(&d.nr) {
            continue;
        }
        let act = action(call.action(), call.errno_ret());
        if act == default {
            continue;
        }
        let args = call.args().clone().unwrap_or_default();
        if args.is_empty() {
            unconditional.get_or_insert(act);
            continue;
        }
        let test = |a: &oci_spec::runtime::LinuxSeccompArg| {
            holds(a.op(), d.args[a.index()], a.value(), a.value_two().unwrap_or(0), abi != Abi::I386)
        };
        let shared = (0..6).any(|i| args.iter().filter(|a| a.index() == i).count() > 1);
        let matched = if shared { args.iter().any(test) } else { args.iter().all(test) };
        if matched && best.is_none_or(|b| precedence(act) < precedence(b)) {
            best = Some(act);
        }
    }
    if let Some(act) = unconditional.or(best) {
        return act;
    }
    let allowish = matches!(spec.default_action(), A::ScmpActAllow | A::ScmpActLog | A::ScmpActTrace);
    match highest {
        Some(h) if d.nr > h && listed(spec, abi) && !allowish => 0x0005_0000 | 38,
        _ => default,
    }
}
