//! From `LinuxSeccomp` to a validated, per-ABI policy: actions encoded,
//! names resolved to numbers, rules merged per syscall as libseccomp merges
//! them (see the semantics in `mod.rs` and `tree.rs`).

use super::arch::Abi;
use super::tree::{Arena, Conflict, Entry};
use super::{flags, SeccompError};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompFilterFlag as Flag, LinuxSeccompOperator as SpecOp,
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

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;
const RET_ENOSYS: u32 = RET_ERRNO | ENOSYS;

/// Argument comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `(arg & mask) == datum & mask`.
    MaskedEq,
}

/// One argument condition, as libseccomp holds it: MASKED_EQ's `value` is
/// the mask and `valueTwo` the datum; the other operators compare `value`
/// under a full mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cmp {
    pub(crate) index: u8,
    pub(crate) op: Op,
    pub(crate) mask: u64,
    pub(crate) datum: u64,
}

/// A syscall of one ABI in libseccomp's rule database: its number, or its
/// name where the ABI has no such syscall (libseccomp keeps such
/// "pseudo-syscalls", which never reach the filter but can still make a
/// later rule conflict).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Key {
    Nr(u32),
    Pseudo(String),
}

/// The policy of one ABI.
#[derive(Debug)]
pub(crate) struct AbiPolicy {
    pub(crate) abi: Abi,
    pub(crate) arena: Arena,
    pub(crate) syscalls: BTreeMap<Key, Entry>,
    /// runc's -ENOSYS stub: syscall numbers above this return ENOSYS (and
    /// syscall 0 on s390/s390x, which multiplexes the others).
    pub(crate) enosys_above: Option<u32>,
}

/// A validated seccomp policy.
#[derive(Debug)]
pub(crate) struct Policy {
    pub(crate) default_action: u32,
    /// The native ABI first, then the listed ones in order.
    pub(crate) abis: Vec<AbiPolicy>,
    pub(crate) flags: u32,
    pub(crate) skipped: Vec<String>,
}

fn encode_action(action: Act, errno_ret: Option<u32>, field: &str) -> Result<u32, SeccompError> {
    let data = |default: u32, max: u32, what: &str| -> Result<u32, SeccompError> {
        let errno = errno_ret.unwrap_or(default);
        if errno > max {
            return Err(SeccompError::config(
                field.replace("defaultAction", "defaultErrnoRet").replace("action", "errnoRet"),
                format!("{errno} {what}"),
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
        Act::ScmpActErrno => RET_ERRNO | data(EPERM, 0xffff, "does not fit in the 16-bit SECCOMP_RET_DATA")?,
        Act::ScmpActTrace => RET_TRACE | data(EPERM, 0xffff, "does not fit in the 16-bit SECCOMP_RET_DATA")?,
        Act::ScmpActNotify => RET_USER_NOTIF,
        Act::ScmpActLog => RET_LOG,
        Act::ScmpActAllow => RET_ALLOW,
    })
}

/// libseccomp takes errno values below MAX_ERRNO (4095) only (checked
/// where libseccomp checks: on the default action and on rules it adds).
fn check_errno(action: u32, field: &str) -> Result<(), SeccompError> {
    let errno = action & 0xffff;
    if action & RET_ACTION_FULL == RET_ERRNO && errno > 4094 {
        return Err(SeccompError::config(field, format!("{errno} is not an errno (libseccomp takes 0 to 4094)")));
    }
    Ok(())
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

/// The ABIs of the filter: the native one, then the listed ones (each
/// once). The second list says which were listed (they get the stub).
fn select_abis(spec: &LinuxSeccomp, native: Abi) -> Result<(Vec<Abi>, Vec<Abi>), SeccompError> {
    let mut abis = vec![native];
    let mut listed = Vec::new();
    for (i, arch) in spec.architectures().iter().flatten().enumerate() {
        let field = || format!("linux.seccomp.architectures[{i}]");
        let name = || serde_json::to_string(arch).unwrap_or_default();
        let abi = Abi::from_oci(*arch, native).ok_or_else(|| {
            SeccompError::config(field(), format!("{} is not supported (libseccomp 2.5 does not know it)", name()))
        })?;
        if abi.big_endian() != native.big_endian() {
            return Err(SeccompError::config(
                field(),
                format!("{} and the native {:?} differ in byte order: one filter cannot cover both", name(), native),
            ));
        }
        if !abis.contains(&abi) {
            abis.push(abi);
        }
        if !listed.contains(&abi) {
            listed.push(abi);
        }
    }
    Ok((abis, listed))
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

/// The conditions of one `syscalls[]` entry, as runc hands them to
/// libseccomp: one rule, or one rule per condition if two share an
/// argument.
fn condition_groups(call: &oci_spec::runtime::LinuxSyscall, field: &str) -> Result<Vec<Vec<Cmp>>, SeccompError> {
    let args = call.args().as_deref().unwrap_or_default();
    let mut conds = Vec::with_capacity(args.len());
    for (k, arg) in args.iter().enumerate() {
        if arg.index() >= 6 {
            return Err(SeccompError::config(
                format!("{field}.args[{k}].index"),
                format!("{} is out of range (a syscall has 6 arguments)", arg.index()),
            ));
        }
        let op = convert_op(arg.op());
        let (mask, datum) = match op {
            Op::MaskedEq => (arg.value(), arg.value_two().unwrap_or(0)),
            _ => (u64::MAX, arg.value()),
        };
        conds.push(Cmp { index: arg.index() as u8, op, mask, datum });
    }
    let split = conds.iter().enumerate().any(|(a, c)| conds[..a].iter().any(|d| d.index == c.index));
    Ok(if split { conds.iter().map(|c| vec![*c]).collect() } else { vec![conds] })
}

impl AbiPolicy {
    /// Adds one rule for `name`, as libseccomp does on this ABI: the
    /// socket and ipc calls of multiplexing ABIs also become a rule on
    /// socketcall(2)/ipc(2) whose first argument selects the call.
    fn add(&mut self, name: &str, conds: &[Cmp], action: u32) -> Result<(), Conflict> {
        if let Some((via, call)) = self.abi.mux(name) {
            let mut muxed: Vec<Cmp> = conds.iter().copied().filter(|c| c.index != 0).collect();
            muxed.push(Cmp { index: 0, op: Op::Eq, mask: u64::MAX, datum: u64::from(call) });
            self.add_key(Key::Nr(via), muxed, action)?;
        }
        match self.abi.resolve(name) {
            Some(nr) => self.add_key(Key::Nr(nr), conds.to_vec(), action),
            // libseccomp keeps a rule for a syscall the ABI lacks (where it
            // can still conflict with a later one), except on the
            // multiplexing ABIs, which drop it unless it is multiplexed.
            None if !self.abi.multiplexes() || self.abi.mux(name).is_some() => {
                self.add_key(Key::Pseudo(name.to_string()), conds.to_vec(), action)
            }
            None => Ok(()),
        }
    }

    fn add_key(&mut self, key: Key, mut conds: Vec<Cmp>, action: u32) -> Result<(), Conflict> {
        conds.sort_by_key(|c| c.index);
        let chain = self.arena.chain(&conds, action, self.abi.wide_args());
        let mut entry = self.syscalls.remove(&key);
        let r = self.arena.rule_add(&mut entry, chain, action);
        if let Some(e) = entry {
            self.syscalls.insert(key, e);
        }
        r
    }
}

impl Policy {
    pub(crate) fn from_spec(spec: &LinuxSeccomp, native: Abi) -> Result<Policy, SeccompError> {
        let default_action =
            encode_action(spec.default_action(), spec.default_errno_ret(), "linux.seccomp.defaultAction")?;
        check_errno(default_action, "linux.seccomp.defaultErrnoRet")?;
        if default_action == RET_USER_NOTIF {
            return Err(SeccompError::config(
                "linux.seccomp.defaultAction",
                "SCMP_ACT_NOTIFY cannot be the default action",
            ));
        }
        let (abis, listed) = select_abis(spec, native)?;
        let mut policies: Vec<AbiPolicy> = abis
            .iter()
            .map(|&abi| AbiPolicy { abi, arena: Arena::default(), syscalls: BTreeMap::new(), enosys_above: None })
            .collect();
        let mut highest: Vec<Option<u32>> = vec![None; abis.len()];
        let mut skipped = Vec::new();
        let mut notify = false;

        for (i, call) in spec.syscalls().iter().flatten().enumerate() {
            let field = format!("linux.seccomp.syscalls[{i}]");
            let action = encode_action(call.action(), call.errno_ret(), &format!("{field}.action"))?;
            let groups = condition_groups(call, &field)?;
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
                if !Abi::known(name) {
                    if !skipped.contains(name) {
                        skipped.push(name.clone());
                    }
                    continue;
                }
                for (p, high) in policies.iter_mut().zip(&mut highest) {
                    // runc's stub asks libseccomp for the number, which
                    // answers a pseudo number for multiplexed calls.
                    if p.abi.mux(name).is_none() {
                        *high = (*high).max(p.abi.resolve(name));
                    }
                    if action == default_action {
                        continue; // redundant rule, runc skips it
                    }
                    check_errno(action, &format!("{field}.errnoRet"))?;
                    for conds in &groups {
                        p.add(name, conds, action).map_err(|c| {
                            let why = match c {
                                Conflict::Exists => {
                                    "a rule with the same conditions and another action exists for {abi} (libseccomp refuses it)"
                                }
                                Conflict::Loops => {
                                    "merging this rule with the others for {abi} never ends in libseccomp 2.5 (runc would hang)"
                                }
                            };
                            let why = why.replace("{abi}", &format!("{:?}", p.abi));
                            SeccompError::config(field.clone(), format!("{name}: {why}"))
                        })?;
                    }
                }
            }
        }

        let allowish = matches!(default_action & RET_ACTION_FULL, RET_ALLOW | RET_LOG | RET_TRACE);
        for (p, high) in policies.iter_mut().zip(highest) {
            // runc warns and makes no stub for an arch whose highest named
            // syscall is number 0.
            p.enosys_above = high.filter(|h| *h > 0 && !allowish && listed.contains(&p.abi));
        }
        Ok(Policy { default_action, abis: policies, flags: filter_flags(spec, notify), skipped })
    }
}

/// What runc's -ENOSYS stub returns.
pub(crate) const STUB_ENOSYS: u32 = RET_ENOSYS;
