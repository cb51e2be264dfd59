//! A userspace classic-BPF interpreter for seccomp programs, strict about
//! what the kernel's checker would reject.

use crate::seccomp::bpf::*;

/// The input of a seccomp filter (struct seccomp_data).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Data {
    pub(crate) nr: u32,
    pub(crate) arch: u32,
    pub(crate) args: [u64; 6],
}

impl Data {
    /// The struct as the kernel of `arch` lays it out: 32-bit words are
    /// native, and a big-endian arch (no `__AUDIT_ARCH_LE` bit) stores the
    /// high word of each 64-bit field first.
    fn bytes(&self) -> [u8; 64] {
        let big = self.arch & 0x4000_0000 == 0;
        let mut b = [0u8; 64];
        b[0..4].copy_from_slice(&self.nr.to_ne_bytes());
        b[4..8].copy_from_slice(&self.arch.to_ne_bytes());
        let mut put64 = |off: usize, v: u64| {
            let (first, second) = if big { (v >> 32, v) } else { (v, v >> 32) };
            b[off..off + 4].copy_from_slice(&(first as u32).to_ne_bytes());
            b[off + 4..off + 8].copy_from_slice(&(second as u32).to_ne_bytes());
        };
        put64(8, 0x7f00_dead_beef);
        for (i, a) in self.args.iter().enumerate() {
            put64(16 + 8 * i, *a);
        }
        b
    }
}

/// Checks the program as the kernel does (length, opcodes, jumps in range,
/// aligned loads, ends in a return).
pub(crate) fn check(prog: &[SockFilter]) {
    assert!(!prog.is_empty() && prog.len() <= MAX_INSNS, "length {}", prog.len());
    for (pc, ins) in prog.iter().enumerate() {
        let rest = prog.len() - pc - 1;
        match ins.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => {
                assert!(ins.k % 4 == 0 && ins.k < 64, "load {}", ins.k)
            }
            c if c == BPF_ALU | BPF_AND | BPF_K || c == BPF_RET | BPF_K => {}
            c if c == BPF_JMP | BPF_JA => {
                assert!((ins.k as usize) < rest, "ja out of range at {pc}")
            }
            c if [BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET].iter().any(|j| c == BPF_JMP | j | BPF_K) => {
                assert!((ins.jt as usize) < rest && (ins.jf as usize) < rest, "jump out of range at {pc}")
            }
            c => panic!("unexpected opcode {c:#x} at {pc}"),
        }
    }
    assert_eq!(prog.last().unwrap().code, BPF_RET | BPF_K, "program must end in ret");
}

/// Runs the program; returns the filter's verdict and the number of
/// instructions executed.
pub(crate) fn run(prog: &[SockFilter], data: &Data) -> (u32, usize) {
    run_with(prog, data, |_| {})
}

/// Runs the program, calling `visit` with the index of every instruction
/// executed.
pub(crate) fn run_with(prog: &[SockFilter], data: &Data, mut visit: impl FnMut(usize)) -> (u32, usize) {
    let bytes = data.bytes();
    let (mut pc, mut a, mut steps) = (0usize, 0u32, 0usize);
    loop {
        let ins = prog[pc];
        visit(pc);
        steps += 1;
        pc += 1;
        let jump = |taken: bool| usize::from(if taken { ins.jt } else { ins.jf });
        match ins.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => {
                let k = ins.k as usize;
                a = u32::from_ne_bytes(bytes[k..k + 4].try_into().unwrap());
            }
            c if c == BPF_ALU | BPF_AND | BPF_K => a &= ins.k,
            c if c == BPF_JMP | BPF_JA => pc += ins.k as usize,
            c if c == BPF_JMP | BPF_JEQ | BPF_K => pc += jump(a == ins.k),
            c if c == BPF_JMP | BPF_JGT | BPF_K => pc += jump(a > ins.k),
            c if c == BPF_JMP | BPF_JGE | BPF_K => pc += jump(a >= ins.k),
            c if c == BPF_JMP | BPF_JSET | BPF_K => pc += jump(a & ins.k != 0),
            c if c == BPF_RET | BPF_K => return (ins.k, steps),
            c => panic!("unexpected opcode {c:#x}"),
        }
    }
}

/// The conditional jumps that can see the accumulator loaded from more
/// than one word (or masked differently) depending on the path taken to
/// them, or that compare `seccomp_data.arch` with what is no audit arch: a
/// filter generator that lost track of the accumulator.
/// AUDIT_ARCH_* of every arch libseccomp 2.5 knows.
const AUDIT_ARCHES: &[u32] = &[
    0xc000_003e,
    0x4000_0003,
    0x4000_0028,
    0xc000_00b7,
    0x0000_0008,
    0x8000_0008,
    0xa000_0008,
    0x4000_0008,
    0xc000_0008,
    0xe000_0008,
    0x0000_0014,
    0x8000_0015,
    0xc000_0015,
    0x0000_0016,
    0x8000_0016,
    0x0000_000f,
    0x8000_000f,
    0xc000_00f3,
];

pub(crate) fn ambiguous_jumps(prog: &[SockFilter]) -> Vec<bool> {
    use std::collections::BTreeSet;
    // (offset loaded, mask applied); offset u32::MAX: nothing loaded yet.
    let mut seen: Vec<BTreeSet<(u32, u32)>> = vec![BTreeSet::new(); prog.len() + 1];
    seen[0].insert((u32::MAX, u32::MAX));
    let mut out = vec![false; prog.len()];
    for (pc, ins) in prog.iter().enumerate() {
        let states = std::mem::take(&mut seen[pc]);
        let after: BTreeSet<(u32, u32)> = match ins.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => [(ins.k, u32::MAX)].into(),
            c if c == BPF_ALU | BPF_AND | BPF_K => states.iter().map(|(o, m)| (*o, m & ins.k)).collect(),
            _ => states.clone(),
        };
        let mut flow = |to: usize| seen[to].extend(after.iter().copied());
        match ins.code {
            c if c == BPF_RET | BPF_K => {}
            c if c == BPF_JMP | BPF_JA => flow(pc + 1 + ins.k as usize),
            c if c & 0x07 == BPF_JMP => {
                let arch = states.iter().any(|(off, _)| *off == 4);
                out[pc] = states.len() > 1 || (arch && !AUDIT_ARCHES.contains(&ins.k));
                flow(pc + 1 + usize::from(ins.jt));
                flow(pc + 1 + usize::from(ins.jf));
            }
            _ => flow(pc + 1),
        }
    }
    out
}
