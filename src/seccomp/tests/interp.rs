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
    fn bytes(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[0..4].copy_from_slice(&self.nr.to_ne_bytes());
        b[4..8].copy_from_slice(&self.arch.to_ne_bytes());
        b[8..16].copy_from_slice(&0x7f00_dead_beefu64.to_ne_bytes());
        for (i, a) in self.args.iter().enumerate() {
            b[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
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
    let bytes = data.bytes();
    let (mut pc, mut a, mut steps) = (0usize, 0u32, 0usize);
    loop {
        let ins = prog[pc];
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
