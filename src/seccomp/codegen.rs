//! Code generation: arch dispatch, a binary search over the intervals of
//! syscall numbers that share one outcome, and each syscall's argument
//! diagram (`tree.rs`) as 32-bit comparisons.

use super::arch::{Abi, X32_SYSCALL_BIT};
use super::bpf::{Assembler, Cond, Insn, Label, SockFilter};
use super::rules::{AbiPolicy, Key, Policy, RET_ALLOW, RET_KILL_THREAD, STUB_ENOSYS};
use super::tree::{Id, NodeOp};
use super::SeccompError;
use std::collections::HashMap;

/// libseccomp's default bad-arch action, which runc keeps.
pub(crate) const RET_BAD_ARCH: u32 = RET_KILL_THREAD;

/// How much more a search leaf the kernel cannot cache counts than an
/// allowed one (which the kernel skips the filter for after the first call).
const WEIGHT_UNCACHED: u32 = 2;

// Offsets in struct seccomp_data.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

/// What a range of syscall numbers leads to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leaf {
    Ret(u32),
    /// The diagram `Id` of the block's ABI number `usize`.
    Tree(usize, Id),
}

/// Emits the whole program.
pub(crate) fn generate(policy: &Policy) -> Result<Vec<SockFilter>, SeccompError> {
    let mut asm = Assembler::default();
    // One block per audit arch: x86_64 and x32 share theirs.
    let mut blocks: Vec<(u32, Vec<&AbiPolicy>)> = Vec::new();
    for p in &policy.abis {
        match blocks.iter_mut().find(|(arch, _)| *arch == p.abi.audit_arch()) {
            Some((_, ps)) => ps.push(p),
            None => blocks.push((p.abi.audit_arch(), vec![p])),
        }
    }
    asm.push(Insn::Load(OFF_ARCH));
    let labels: Vec<Label> = blocks.iter().map(|_| asm.label()).collect();
    for ((arch, _), label) in blocks.iter().zip(&labels) {
        let next = asm.label();
        asm.push(Insn::Jump(Cond::Eq, *arch, *label, next));
        asm.bind(next);
    }
    asm.push(Insn::Ret(RET_BAD_ARCH));
    for ((_, ps), label) in blocks.iter().zip(labels) {
        asm.bind(label);
        asm.push(Insn::Load(OFF_NR));
        let ivs = intervals(ps, policy.default_action);
        emit_search(&mut asm, ps, &ivs, policy.default_action);
    }
    asm.assemble()
}

/// The maximal intervals (by start) with one outcome, covering all of u32.
fn intervals(ps: &[&AbiPolicy], default: u32) -> Vec<(u32, Leaf)> {
    // Point outcomes over a default, in order; later ones override.
    let mut spans: Vec<(u32, u32, Leaf)> = Vec::new();
    if let [p] = ps {
        match p.abi {
            // x86_64 alone: x32 numbers are a bad arch, except -1 (which a
            // tracer uses to skip a syscall): the default.
            Abi::X86_64 => spans.push((X32_SYSCALL_BIT, u32::MAX - 1, Leaf::Ret(RET_BAD_ARCH))),
            Abi::X32 => spans.push((0, X32_SYSCALL_BIT - 1, Leaf::Ret(RET_BAD_ARCH))),
            _ => {}
        }
    }
    for (i, p) in ps.iter().enumerate() {
        for (key, e) in &p.syscalls {
            let Key::Nr(nr) = key else { continue };
            let leaf = match e.chains {
                Some(root) => Leaf::Tree(i, root),
                None => Leaf::Ret(e.action),
            };
            spans.push((*nr, *nr, leaf));
        }
    }
    // runc's stub runs before libseccomp's filter. On x86_64 it tells the
    // modes apart by the x32 bit alone.
    for p in ps {
        let Some(last) = p.enosys_above else { continue };
        let ranges: &[(u32, u32)] = match p.abi {
            Abi::X86_64 => &[(0, 0x3fff_ffff), (0x8000_0000, 0xbfff_ffff)],
            Abi::X32 => &[(X32_SYSCALL_BIT, 0x7fff_ffff), (0xc000_0000, u32::MAX)],
            Abi::S390 | Abi::S390x => &[(0, 0), (0, u32::MAX)],
            _ => &[(0, u32::MAX)],
        };
        for &(start, end) in ranges {
            if start == 0 && end == 0 {
                spans.push((0, 0, Leaf::Ret(STUB_ENOSYS))); // s390: syscall 0 multiplexes the others
            } else if last < end {
                spans.push((start.max(last + 1), end, Leaf::Ret(STUB_ENOSYS)));
            }
        }
    }
    // Sweep: each boundary starts the outcome of the last span covering it.
    let mut bounds: Vec<u32> = vec![0];
    for (s, e, _) in &spans {
        bounds.push(*s);
        if let Some(after) = e.checked_add(1) {
            bounds.push(after);
        }
    }
    bounds.sort_unstable();
    bounds.dedup();
    let mut out: Vec<(u32, Leaf)> = Vec::new();
    for b in bounds {
        let leaf = spans.iter().rev().find(|(s, e, _)| *s <= b && b <= *e).map_or(Leaf::Ret(default), |s| s.2);
        if out.last().is_some_and(|(_, l)| *l == leaf && matches!(leaf, Leaf::Ret(_))) {
            continue;
        }
        out.push((b, leaf));
    }
    out
}

/// Binary search over `ivs`; the accumulator holds the syscall nr. A lone
/// syscall between two intervals of one outcome takes one `jeq`.
fn emit_search(asm: &mut Assembler, ps: &[&AbiPolicy], ivs: &[(u32, Leaf)], default: u32) {
    let leaf = |asm: &mut Assembler, leaf: &Leaf| match leaf {
        Leaf::Ret(r) => asm.push(Insn::Ret(*r)),
        Leaf::Tree(i, root) => emit_tree(asm, ps[*i], *root, default),
    };
    match ivs {
        [(_, l)] => return leaf(asm, l),
        [(_, a), (nr, x), (after, b)] if a == b && *after == nr + 1 => {
            let (hit, miss) = (asm.label(), asm.label());
            asm.push(Insn::Jump(Cond::Eq, *nr, hit, miss));
            asm.bind(miss);
            leaf(asm, a);
            asm.bind(hit);
            return leaf(asm, x);
        }
        _ => {}
    }
    let mid = split(ivs);
    let (left, right) = (asm.label(), asm.label());
    asm.push(Insn::Jump(Cond::Ge, ivs[mid].0, right, left));
    asm.bind(left);
    emit_search(asm, ps, &ivs[..mid], default);
    asm.bind(right);
    emit_search(asm, ps, &ivs[mid..], default);
}

/// Where to split `ivs` (at least two): halves of equal weight, where
/// what the kernel cannot cache (argument rules, anything but an
/// unconditional allow) weighs more than what it skips the filter for.
fn split(ivs: &[(u32, Leaf)]) -> usize {
    let weight = |l: &Leaf| match l {
        Leaf::Ret(r) if *r == RET_ALLOW => 1,
        _ => WEIGHT_UNCACHED,
    };
    let total: u32 = ivs.iter().map(|(_, l)| weight(l)).sum();
    let (mut acc, mut best, mut best_diff) = (0, 1, u32::MAX);
    for (i, (_, l)) in ivs.iter().enumerate().take(ivs.len() - 1) {
        acc += weight(l);
        let diff = acc.abs_diff(total - acc);
        if diff < best_diff {
            (best, best_diff) = (i + 1, diff);
        }
    }
    best
}

/// A place in the diagram: evaluate the level from `node` on, and go to
/// `fall` if nothing there decides.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Unit {
    node: Id,
    fall: Target,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Unit(usize),
    Ret(u32),
}

/// The accumulator: (offset of the word, mask applied).
type Acc = Option<(u32, u32)>;

/// Emits one syscall's diagram. Levels are tried in order; a node's
/// branch goes to its sub-level (which falls back to the node's next
/// sibling), returns its action, or goes on to the next sibling.
fn emit_tree(asm: &mut Assembler, p: &AbiPolicy, root: Id, default: u32) {
    let arena = &p.arena;
    let mut units: Vec<Unit> = Vec::new();
    let mut index: HashMap<Unit, usize> = HashMap::new();
    // Each unit's two targets.
    let mut edges: Vec<(Target, Target)> = Vec::new();
    let start = intern(&mut units, &mut index, Unit { node: arena.level_start(root), fall: Target::Ret(default) });
    let mut i = 0;
    while i < units.len() {
        let u = units[i];
        let n = &arena.nodes[u.node];
        let next = match n.lvl_nxt {
            Some(s) => Target::Unit(intern(&mut units, &mut index, Unit { node: s, fall: u.fall })),
            None => u.fall,
        };
        let mut branch = |sub: Option<Id>, act: (bool, u32)| match sub {
            Some(s) => Target::Unit(intern(&mut units, &mut index, Unit { node: arena.level_start(s), fall: next })),
            None if act.0 => Target::Ret(act.1),
            None => next,
        };
        let t = branch(n.nxt_t, n.act_t);
        let f = branch(n.nxt_f, n.act_f);
        edges.push((t, f));
        i += 1;
    }
    // Layout: every unit before the units it jumps to (reverse postorder).
    let mut order = Vec::with_capacity(units.len());
    let mut seen = vec![false; units.len()];
    postorder(start, &edges, &mut seen, &mut order);
    order.reverse();
    // What the accumulator holds on entry: the same on every way in, or unknown.
    let mut entry: Vec<Option<Acc>> = vec![None; units.len()];
    entry[start] = Some(Some((OFF_NR, u32::MAX)));
    let labels: Vec<Label> = units.iter().map(|_| asm.label()).collect();
    let mut rets: Vec<(u32, Label)> = Vec::new();
    for &ui in &order {
        let n = &arena.nodes[units[ui].node];
        let word = arg_offset(p.abi, n.arg, n.hi);
        asm.bind(labels[ui]);
        let acc = entry[ui].flatten();
        if acc.is_none_or(|(off, mask)| off != word || (mask != u32::MAX && mask != n.mask)) {
            asm.push(Insn::Load(word));
            if n.mask != u32::MAX {
                asm.push(Insn::And(n.mask));
            }
        } else if acc.is_some_and(|(_, mask)| mask != n.mask) {
            asm.push(Insn::And(n.mask));
        }
        let exit = Some((word, n.mask));
        let mut target = |t: Target| -> Label {
            match t {
                Target::Unit(j) => {
                    entry[j] = Some(match entry[j] {
                        None => exit,
                        Some(prev) if prev == exit => exit,
                        Some(_) => None,
                    });
                    labels[j]
                }
                Target::Ret(r) => ret_label(asm, &mut rets, r),
            }
        };
        let (tl, fl) = (target(edges[ui].0), target(edges[ui].1));
        let cond = match n.op {
            NodeOp::Eq | NodeOp::MaskedEq => Cond::Eq,
            NodeOp::Gt => Cond::Gt,
            NodeOp::Ge => Cond::Ge,
        };
        asm.push(Insn::Jump(cond, n.datum, tl, fl));
    }
    for (r, l) in rets {
        asm.bind(l);
        asm.push(Insn::Ret(r));
    }
}

fn intern(units: &mut Vec<Unit>, index: &mut HashMap<Unit, usize>, u: Unit) -> usize {
    *index.entry(u).or_insert_with(|| {
        units.push(u);
        units.len() - 1
    })
}

fn postorder(u: usize, edges: &[(Target, Target)], seen: &mut [bool], out: &mut Vec<usize>) {
    if seen[u] {
        return;
    }
    seen[u] = true;
    // The false branch is visited last so that it tends to follow directly.
    for t in [edges[u].0, edges[u].1] {
        if let Target::Unit(v) = t {
            postorder(v, edges, seen, out);
        }
    }
    out.push(u);
}

fn ret_label(asm: &mut Assembler, rets: &mut Vec<(u32, Label)>, r: u32) -> Label {
    if let Some((_, l)) = rets.iter().find(|(v, _)| *v == r) {
        return *l;
    }
    let l = asm.label();
    rets.push((r, l));
    l
}

/// Offset of one 32-bit word of argument `arg` for `abi`'s byte order.
fn arg_offset(abi: Abi, arg: u8, hi: bool) -> u32 {
    OFF_ARGS + 8 * u32::from(arg) + if hi != abi.big_endian() { 4 } else { 0 }
}
