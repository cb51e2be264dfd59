//! Code generation: arch dispatch, binary search over syscall-number
//! intervals, argument comparisons on 32-bit halves.

use super::bpf::{Assembler, Cond, Insn, Label, SockFilter};
use super::rules::{
    Abi, AbiPolicy, Cmp, Decision, Op, Policy, Rule, AUDIT_ARCH_X86_64, RET_ERRNO, RET_KILL_THREAD, X32_SYSCALL_BIT,
};
use super::SeccompError;

/// libseccomp's default bad-arch action, which runc keeps.
pub(crate) const RET_BAD_ARCH: u32 = RET_KILL_THREAD;
const RET_ENOSYS: u32 = RET_ERRNO | 38;

// Offsets in struct seccomp_data.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

/// What a range of syscall numbers leads to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leaf<'a> {
    Ret(u32),
    Rules(&'a [Rule]),
}

/// Emits the whole program with the binary-search dispatch.
pub(crate) fn generate(policy: &Policy) -> Result<Vec<SockFilter>, SeccompError> {
    generate_with(policy, emit_tree)
}

/// Emits the program with a linear chain of `jeq` per syscall instead of
/// the binary search (the shape of seccompiler's output); for benchmarks.
pub(crate) fn generate_linear(policy: &Policy) -> Result<Vec<SockFilter>, SeccompError> {
    generate_with(policy, emit_chain)
}

type Dispatch = fn(&mut Assembler, &AbiPolicy, u32);

fn generate_with(policy: &Policy, dispatch: Dispatch) -> Result<Vec<SockFilter>, SeccompError> {
    let mut asm = Assembler::default();
    let find = |abi| policy.abis.iter().find(|p| p.abi == abi);
    let (x86_64, x32, i386) = (find(Abi::X86_64), find(Abi::X32), find(Abi::I386));

    asm.push(Insn::Load(OFF_ARCH));
    let x86_64_block = asm.label();
    let i386_block = asm.label();
    let mut next = asm.label();
    if x86_64.is_some() || x32.is_some() {
        asm.push(Insn::Jump(Cond::Eq, AUDIT_ARCH_X86_64, x86_64_block, next));
        asm.bind(next);
        next = asm.label();
    }
    if let Some(p) = i386 {
        asm.push(Insn::Jump(Cond::Eq, p.abi.audit_arch(), i386_block, next));
        asm.bind(next);
    }
    asm.push(Insn::Ret(RET_BAD_ARCH));

    if x86_64.is_some() || x32.is_some() {
        // x32 syscalls share x86_64's audit arch and set X32_SYSCALL_BIT.
        asm.bind(x86_64_block);
        asm.push(Insn::Load(OFF_NR));
        let (native, compat) = (asm.label(), asm.label());
        asm.push(Insn::Jump(Cond::Ge, X32_SYSCALL_BIT, compat, native));
        for (label, abi) in [(native, x86_64), (compat, x32)] {
            asm.bind(label);
            match abi {
                Some(p) => dispatch(&mut asm, p, policy.default_action),
                None => asm.push(Insn::Ret(RET_BAD_ARCH)),
            }
        }
    }
    if let Some(p) = i386 {
        asm.bind(i386_block);
        asm.push(Insn::Load(OFF_NR));
        dispatch(&mut asm, p, policy.default_action);
    }
    asm.assemble()
}

/// The maximal intervals of syscall numbers (by start) with one outcome,
/// covering all of u32.
fn intervals(p: &AbiPolicy, default: u32) -> Vec<(u32, Leaf<'_>)> {
    let mut out: Vec<(u32, Leaf)> = vec![(0, Leaf::Ret(default))];
    let mut push = |start: u32, leaf| {
        if out.last().is_some_and(|last| last.0 == start) {
            out.pop();
        }
        // Merge equal returns; rule blocks are never merged.
        if out.last().is_some_and(|last| last.1 == leaf && matches!(leaf, Leaf::Ret(_))) {
            return;
        }
        out.push((start, leaf));
    };
    for (&nr, decision) in &p.syscalls {
        push(
            nr,
            match decision {
                Decision::Ret(r) => Leaf::Ret(*r),
                Decision::Rules(rules) => Leaf::Rules(rules),
            },
        );
        if let Some(after) = nr.checked_add(1) {
            push(after, Leaf::Ret(default));
        }
    }
    if let Some(after) = p.enosys_above.and_then(|n| n.checked_add(1)) {
        // Everything named in the profile is <= enosys_above.
        push(after, Leaf::Ret(RET_ENOSYS));
    }
    out
}

fn emit_tree(asm: &mut Assembler, p: &AbiPolicy, default: u32) {
    let ivs = intervals(p, default);
    emit_node(asm, &ivs, p.abi, default);
}

/// Balanced binary search over `ivs`; the accumulator holds the syscall nr.
fn emit_node(asm: &mut Assembler, ivs: &[(u32, Leaf)], abi: Abi, default: u32) {
    if let [(_, leaf)] = ivs {
        return emit_leaf(asm, *leaf, abi, default);
    }
    let mid = ivs.len() / 2;
    let (left, right) = (asm.label(), asm.label());
    asm.push(Insn::Jump(Cond::Ge, ivs[mid].0, right, left));
    asm.bind(left);
    emit_node(asm, &ivs[..mid], abi, default);
    asm.bind(right);
    emit_node(asm, &ivs[mid..], abi, default);
}

/// One `jeq` per syscall with rules, in number order.
fn emit_chain(asm: &mut Assembler, p: &AbiPolicy, default: u32) {
    if let Some(max) = p.enosys_above {
        let (enosys, next) = (asm.label(), asm.label());
        asm.push(Insn::Jump(Cond::Gt, max, enosys, next));
        asm.bind(enosys);
        asm.push(Insn::Ret(RET_ENOSYS));
        asm.bind(next);
    }
    for (&nr, decision) in &p.syscalls {
        let (hit, next) = (asm.label(), asm.label());
        asm.push(Insn::Jump(Cond::Eq, nr, hit, next));
        asm.bind(hit);
        match decision {
            Decision::Ret(r) => emit_leaf(asm, Leaf::Ret(*r), p.abi, default),
            Decision::Rules(rules) => emit_leaf(asm, Leaf::Rules(rules), p.abi, default),
        }
        asm.bind(next);
    }
    asm.push(Insn::Ret(default));
}

fn emit_leaf(asm: &mut Assembler, leaf: Leaf, abi: Abi, default: u32) {
    match leaf {
        Leaf::Ret(r) => asm.push(Insn::Ret(r)),
        Leaf::Rules(rules) => {
            for rule in rules {
                let fail = asm.label();
                for cmp in &rule.conds {
                    emit_cmp(asm, cmp, abi.wide_args(), fail);
                }
                asm.push(Insn::Ret(rule.action));
                asm.bind(fail);
            }
            asm.push(Insn::Ret(default));
        }
    }
}

/// Falls through when `cmp` holds, jumps to `fail` otherwise. 64-bit
/// values are compared high word first; the low word decides only when the
/// high words are equal.
fn emit_cmp(asm: &mut Assembler, cmp: &Cmp, wide: bool, fail: Label) {
    let lo_off = OFF_ARGS + 8 * u32::from(cmp.index);
    let hi_off = lo_off + 4;
    let (v_hi, v_lo) = ((cmp.value >> 32) as u32, cmp.value as u32);
    let (d_hi, d_lo) = ((cmp.value_two >> 32) as u32, cmp.value_two as u32);
    let pass = asm.label();
    let and = |asm: &mut Assembler, mask: u32| {
        if mask != u32::MAX {
            asm.push(Insn::And(mask));
        }
    };
    if wide {
        let low = asm.label();
        asm.push(Insn::Load(hi_off));
        match cmp.op {
            Op::Eq => asm.push(Insn::Jump(Cond::Eq, v_hi, low, fail)),
            Op::Ne => asm.push(Insn::Jump(Cond::Eq, v_hi, low, pass)),
            Op::MaskedEq => {
                and(asm, v_hi);
                asm.push(Insn::Jump(Cond::Eq, d_hi, low, fail));
            }
            Op::Gt | Op::Ge | Op::Lt | Op::Le => {
                // hi > v_hi decides "greater", hi < v_hi "less".
                let (greater, less) = if matches!(cmp.op, Op::Gt | Op::Ge) { (pass, fail) } else { (fail, pass) };
                let equal = asm.label();
                asm.push(Insn::Jump(Cond::Gt, v_hi, greater, equal));
                asm.bind(equal);
                asm.push(Insn::Jump(Cond::Eq, v_hi, low, less));
            }
        }
        asm.bind(low);
    }
    asm.push(Insn::Load(lo_off));
    let jump = match cmp.op {
        Op::Eq => Insn::Jump(Cond::Eq, v_lo, pass, fail),
        Op::Ne => Insn::Jump(Cond::Eq, v_lo, fail, pass),
        Op::MaskedEq => {
            and(asm, v_lo);
            Insn::Jump(Cond::Eq, d_lo, pass, fail)
        }
        Op::Gt => Insn::Jump(Cond::Gt, v_lo, pass, fail),
        Op::Ge => Insn::Jump(Cond::Ge, v_lo, pass, fail),
        Op::Lt => Insn::Jump(Cond::Ge, v_lo, fail, pass),
        Op::Le => Insn::Jump(Cond::Gt, v_lo, fail, pass),
    };
    asm.push(jump);
    asm.bind(pass);
}
