//! From `LinuxSeccomp` to a validated, per-ABI policy: actions encoded,
//! names resolved to numbers, rules merged per syscall (see the semantics in
//! `mod.rs`).

use super::{flags, syscall_table, SeccompError};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompFilterFlag as Flag, LinuxSeccompOperator as SpecOp,
};
use std::collections::BTreeMap;

// SECCOMP_RET_* (linux/seccomp.h).
pub(crate) const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub(crate) const RET_KILL_THREAD: u32 = 0x0000_0000;
pub(crate) const RET_TRAP: u32 = 0x0003_0000;
pub(crate) const RET_ERRNO: u32 = 0x0005_0000;
pub(crate) const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub(crate) const RET_TRACE: u32 = 0x7ff0_0000;
pub(crate) const RET_LOG: u32 = 0x7ffc_0000;
pub(crate) const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ACTION_FULL: u32 = 0xffff_0000;

pub(crate) const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub(crate) const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub(crate) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

/// The kernel's precedence of a return value: lower sorts first and wins.
pub(crate) fn precedence(ret: u32) -> i32 {
    (ret & RET_ACTION_FULL) as i32
}

/// The syscall ABIs an x86_64 kernel can present to a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Abi {
    X86_64,
    X32,
    I386,
}

impl Abi {
    #[cfg(test)]
    pub(crate) const ALL: [Abi; 3] = [Abi::X86_64, Abi::X32, Abi::I386];

    pub(crate) fn audit_arch(self) -> u32 {
        match self {
            Abi::X86_64 | Abi::X32 => AUDIT_ARCH_X86_64,
            Abi::I386 => AUDIT_ARCH_I386,
        }
    }

    /// Whether arguments are compared on 64 bits (libseccomp compares only
    /// the low word on 32-bit architectures).
    pub(crate) fn wide_args(self) -> bool {
        self != Abi::I386
    }

    fn table(self) -> &'static [(&'static str, u32)] {
        match self {
            Abi::X86_64 => syscall_table::X86_64,
            Abi::X32 => syscall_table::X32,
            Abi::I386 => syscall_table::I386,
        }
    }

    /// The syscall number of `name` in this ABI.
    pub(crate) fn resolve(self, name: &str) -> Option<u32> {
        let table = self.table();
        table.binary_search_by(|(n, _)| (*n).cmp(name)).ok().map(|i| table[i].1)
    }

    /// All (name, number) pairs of this ABI.
    #[cfg(test)]
    pub(crate) fn syscalls(self) -> &'static [(&'static str, u32)] {
        self.table()
    }
}

/// Argument comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `(arg & value) == value_two`.
    MaskedEq,
}

/// One argument condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cmp {
    pub(crate) index: u8,
    pub(crate) op: Op,
    pub(crate) value: u64,
    pub(crate) value_two: u64,
}

/// A conditional rule: all conditions hold => `action`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) conds: Vec<Cmp>,
    pub(crate) action: u32,
}

/// What happens to one syscall number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Unconditionally return this value.
    Ret(u32),
    /// Try the rules in order (sorted by precedence); none matches => the
    /// default action.
    Rules(Vec<Rule>),
}

/// The policy of one ABI.
#[derive(Debug)]
pub(crate) struct AbiPolicy {
    pub(crate) abi: Abi,
    pub(crate) syscalls: BTreeMap<u32, Decision>,
    /// runc's -ENOSYS stub: syscall numbers above this return ENOSYS.
    pub(crate) enosys_above: Option<u32>,
}

/// A validated seccomp policy.
#[derive(Debug)]
pub(crate) struct Policy {
    pub(crate) default_action: u32,
    /// In dispatch order; x86_64 always comes first.
    pub(crate) abis: Vec<AbiPolicy>,
    pub(crate) flags: u32,
    pub(crate) skipped: Vec<String>,
}

/// The rules gathered for one syscall before merging.
#[derive(Default)]
struct Pending {
    unconditional: Option<u32>,
    conditional: Vec<Rule>,
}

fn encode_action(action: Act, errno_ret: Option<u32>, field: &str) -> Result<u32, SeccompError> {
    let data = |default: u32| -> Result<u32, SeccompError> {
        let errno = errno_ret.unwrap_or(default);
        if errno > 0xffff {
            return Err(SeccompError::config(
                field.replace("action", "errnoRet"),
                format!("{errno} does not fit in the 16-bit SECCOMP_RET_DATA"),
            ));
        }
        Ok(errno)
    };
    if errno_ret.is_some() && !matches!(action, Act::ScmpActErrno | Act::ScmpActTrace) {
        return Err(SeccompError::config(
            field.replace("defaultAction", "defaultErrnoRet").replace("action", "errnoRet"),
            "only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno",
        ));
    }
    Ok(match action {
        Act::ScmpActKill | Act::ScmpActKillThread => RET_KILL_THREAD,
        Act::ScmpActKillProcess => RET_KILL_PROCESS,
        Act::ScmpActTrap => RET_TRAP,
        Act::ScmpActErrno => RET_ERRNO | data(EPERM)?,
        Act::ScmpActTrace => RET_TRACE | data(EPERM)?,
        Act::ScmpActNotify => RET_USER_NOTIF,
        Act::ScmpActLog => RET_LOG,
        Act::ScmpActAllow => RET_ALLOW,
    })
}

fn convert_op(op: SpecOp) -> Op {
    match op {
        SpecOp::ScmpCmpNe => Op::Ne,
        SpecOp::ScmpCmpLt => Op::Lt,
        SpecOp::ScmpCmpLe => Op::Le,
        SpecOp::ScmpCmpEq => Op::Eq,
        SpecOp::ScmpCmpGe => Op::Ge,
        SpecOp::ScmpCmpGt => Op::Gt,
        SpecOp::ScmpCmpMaskedEq => Op::MaskedEq,
    }
}

/// The ABIs in the filter (native x86_64 always) and the explicitly listed
/// ones (which get the -ENOSYS stub).
fn select_abis(spec: &LinuxSeccomp) -> (Vec<Abi>, Vec<Abi>) {
    let mut listed = Vec::new();
    for arch in spec.architectures().iter().flatten() {
        let abi = match arch {
            Arch::ScmpArchNative | Arch::ScmpArchX86_64 => Abi::X86_64,
            Arch::ScmpArchX86 => Abi::I386,
            Arch::ScmpArchX32 => Abi::X32,
            // Cannot occur on an x86_64 kernel; libseccomp would add a block
            // that never matches.
            _ => continue,
        };
        if !listed.contains(&abi) {
            listed.push(abi);
        }
    }
    let mut abis = vec![Abi::X86_64];
    abis.extend(listed.iter().copied().filter(|a| *a != Abi::X86_64));
    abis.sort();
    (abis, listed)
}

fn filter_flags(spec: &LinuxSeccomp, notify: bool) -> u32 {
    let mut bits = if notify { flags::NEW_LISTENER } else { 0 };
    for flag in spec.flags().iter().flatten() {
        bits |= match flag {
            Flag::SeccompFilterFlagLog => flags::LOG,
            Flag::SeccompFilterFlagSpecAllow => flags::SPEC_ALLOW,
            // TSYNC and NEW_LISTENER together need TSYNC_ESRCH (else EINVAL).
            Flag::SeccompFilterFlagTsync if notify => flags::TSYNC | flags::TSYNC_ESRCH,
            Flag::SeccompFilterFlagTsync => flags::TSYNC,
            // Only meaningful (and only accepted by the kernel) with a listener.
            Flag::SeccompFilterFlagWaitKillableRecv if notify => flags::WAIT_KILLABLE_RECV,
            Flag::SeccompFilterFlagWaitKillableRecv => 0,
        };
    }
    bits
}

impl Policy {
    pub(crate) fn from_spec(spec: &LinuxSeccomp) -> Result<Policy, SeccompError> {
        let default_action =
            encode_action(spec.default_action(), spec.default_errno_ret(), "linux.seccomp.defaultAction")?;
        if default_action == RET_USER_NOTIF {
            return Err(SeccompError::config(
                "linux.seccomp.defaultAction",
                "SCMP_ACT_NOTIFY cannot be the default action",
            ));
        }
        let (abis, listed) = select_abis(spec);
        let mut pending: Vec<BTreeMap<u32, Pending>> = abis.iter().map(|_| BTreeMap::new()).collect();
        let mut highest: Vec<Option<u32>> = vec![None; abis.len()];
        let mut skipped = Vec::new();
        let mut notify = false;

        for (i, call) in spec.syscalls().iter().flatten().enumerate() {
            let field = format!("linux.seccomp.syscalls[{i}]");
            let action = encode_action(call.action(), call.errno_ret(), &format!("{field}.action"))?;
            let args = call.args().as_deref().unwrap_or_default();
            let mut conds = Vec::with_capacity(args.len());
            for (k, arg) in args.iter().enumerate() {
                if arg.index() >= 6 {
                    return Err(SeccompError::config(
                        format!("{field}.args[{k}].index"),
                        format!("{} is out of range (a syscall has 6 arguments)", arg.index()),
                    ));
                }
                conds.push(Cmp {
                    index: arg.index() as u8,
                    op: convert_op(arg.op()),
                    value: arg.value(),
                    value_two: arg.value_two().unwrap_or(0),
                });
            }
            // runc: conditions sharing an argument become separate rules.
            let split = conds.iter().enumerate().any(|(a, c)| conds[..a].iter().any(|d| d.index == c.index));
            let rules: Vec<Vec<Cmp>> = if split { conds.iter().map(|c| vec![*c]).collect() } else { vec![conds] };

            for (j, name) in call.names().iter().enumerate() {
                if name.is_empty() {
                    return Err(SeccompError::config(format!("{field}.names[{j}]"), "empty syscall name"));
                }
                if action == RET_USER_NOTIF {
                    if name == "write" {
                        return Err(SeccompError::config(
                            format!("{field}.action"),
                            "SCMP_ACT_NOTIFY cannot be used for the write syscall",
                        ));
                    }
                    notify = true;
                }
                let mut known = false;
                for (a, abi) in abis.iter().enumerate() {
                    let Some(nr) = abi.resolve(name) else {
                        continue;
                    };
                    known = true;
                    highest[a] = highest[a].max(Some(nr));
                    if action == default_action {
                        continue; // redundant rule, runc skips it
                    }
                    let entry = pending[a].entry(nr).or_default();
                    for conds in &rules {
                        if conds.is_empty() {
                            entry.unconditional.get_or_insert(action);
                        } else {
                            entry.conditional.push(Rule { conds: conds.clone(), action });
                        }
                    }
                }
                if !known && !skipped.contains(name) {
                    skipped.push(name.clone());
                }
            }
        }

        let allowish = matches!(default_action & RET_ACTION_FULL, RET_ALLOW | RET_LOG | RET_TRACE);
        let abis = abis
            .into_iter()
            .zip(pending)
            .zip(highest)
            .map(|((abi, pending), highest)| AbiPolicy {
                abi,
                syscalls: pending.into_iter().map(|(nr, p)| (nr, p.merge())).collect(),
                enosys_above: highest
                    .filter(|_| !allowish && default_action != RET_ERRNO | ENOSYS && listed.contains(&abi)),
            })
            .collect();
        Ok(Policy { default_action, abis, flags: filter_flags(spec, notify), skipped })
    }
}

impl Pending {
    fn merge(mut self) -> Decision {
        if let Some(ret) = self.unconditional {
            return Decision::Ret(ret);
        }
        // Stable: equal precedence keeps the profile's order.
        self.conditional.sort_by_key(|r| precedence(r.action));
        Decision::Rules(self.conditional)
    }
}
