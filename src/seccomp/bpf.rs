//! Classic BPF: the instruction encoding and a small assembler with labels.
//!
//! The code generator emits [`Insn`]s whose jump targets are [`Label`]s; the
//! [`Assembler`] lays them out and resolves the targets. Conditional jumps
//! only have 8-bit offsets, so a conditional jump whose target lies further
//! than 255 instructions ahead is rewritten to jump over (or onto) an
//! unconditional `JA` trampoline, which has a 32-bit offset. Growing one jump
//! can push others out of range, so layout is iterated to a fixpoint (jumps
//! only ever grow, so this terminates).

use super::SeccompError;

// Opcode parts (linux/bpf_common.h).
pub(crate) const BPF_LD: u16 = 0x00;
pub(crate) const BPF_ALU: u16 = 0x04;
pub(crate) const BPF_JMP: u16 = 0x05;
pub(crate) const BPF_RET: u16 = 0x06;
pub(crate) const BPF_W: u16 = 0x00;
pub(crate) const BPF_ABS: u16 = 0x20;
pub(crate) const BPF_AND: u16 = 0x50;
pub(crate) const BPF_JA: u16 = 0x00;
pub(crate) const BPF_JEQ: u16 = 0x10;
pub(crate) const BPF_JGT: u16 = 0x20;
pub(crate) const BPF_JGE: u16 = 0x30;
#[cfg(test)]
pub(crate) const BPF_JSET: u16 = 0x40;
pub(crate) const BPF_K: u16 = 0x00;

/// The kernel's limit on the length of a filter program (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

/// One classic BPF instruction, laid out as the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockFilter {
    /// Opcode.
    pub code: u16,
    /// Forward offset taken when a conditional jump is true.
    pub jt: u8,
    /// Forward offset taken when a conditional jump is false.
    pub jf: u8,
    /// Constant operand.
    pub k: u32,
}

impl SockFilter {
    pub(crate) const fn stmt(code: u16, k: u32) -> Self {
        SockFilter { code, jt: 0, jf: 0, k }
    }
}

/// A jump target, bound to a position with [`Insn::Bind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Label(pub(crate) usize);

/// Conditions of the conditional jumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cond {
    Eq,
    Gt,
    Ge,
}

impl Cond {
    fn opcode(self) -> u16 {
        BPF_JMP
            | BPF_K
            | match self {
                Cond::Eq => BPF_JEQ,
                Cond::Gt => BPF_JGT,
                Cond::Ge => BPF_JGE,
            }
    }
}

/// Symbolic instructions produced by the code generator.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Insn {
    /// `A = seccomp_data[off]` (32-bit word).
    Load(u32),
    /// `A &= k`.
    And(u32),
    /// `if (A cond k) goto t else goto f`.
    Jump(Cond, u32, Label, Label),
    /// `return k`.
    Ret(u32),
    /// Binds a label to the next real instruction.
    Bind(Label),
}

/// How a conditional jump is encoded once its targets are known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// One instruction, both offsets fit in 8 bits.
    Short,
    /// `Jcc jt=0 jf=f+1; JA t` (only the true target is far).
    FarTrue,
    /// `Jcc jt=t+1 jf=0; JA f` (only the false target is far).
    FarFalse,
    /// `Jcc jt=0 jf=1; JA t; JA f`.
    FarBoth,
}

impl Shape {
    fn len(self) -> usize {
        match self {
            Shape::Short => 1,
            Shape::FarTrue | Shape::FarFalse => 2,
            Shape::FarBoth => 3,
        }
    }
}

/// Collects symbolic instructions and assembles them into a program.
#[derive(Default)]
pub(crate) struct Assembler {
    insns: Vec<Insn>,
    labels: usize,
}

impl Assembler {
    pub(crate) fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    pub(crate) fn push(&mut self, insn: Insn) {
        self.insns.push(insn);
    }

    pub(crate) fn bind(&mut self, label: Label) {
        self.insns.push(Insn::Bind(label));
    }

    /// Resolves labels, inserting trampolines where needed.
    pub(crate) fn assemble(self) -> Result<Vec<SockFilter>, SeccompError> {
        let mut shapes = vec![Shape::Short; self.insns.len()];
        loop {
            let (addr, labels) = self.layout(&shapes);
            let mut changed = false;
            for (i, insn) in self.insns.iter().enumerate() {
                if let Insn::Jump(_, _, t, f) = *insn {
                    let shape = shapes[i];
                    // Offsets are relative to the instruction after the Jcc.
                    let from = addr[i] + 1;
                    // Label addresses already account for the current shapes, so
                    // the true and false offsets of the Jcc are both relative
                    // to the instruction that follows it, whatever its shape.
                    let far = |l: Label| labels[l.0] - from > 255;
                    let need = match shape {
                        Shape::Short if far(t) && far(f) => Shape::FarBoth,
                        Shape::Short if far(t) => Shape::FarTrue,
                        Shape::Short if far(f) => Shape::FarFalse,
                        Shape::FarTrue if far(f) => Shape::FarBoth,
                        Shape::FarFalse if far(t) => Shape::FarBoth,
                        s => s,
                    };
                    if need != shape {
                        shapes[i] = need;
                        changed = true;
                    }
                }
            }
            if !changed {
                return self.emit(&shapes, &addr, &labels);
            }
        }
    }

    /// Addresses of every symbolic instruction and of every label.
    fn layout(&self, shapes: &[Shape]) -> (Vec<usize>, Vec<usize>) {
        let mut addr = Vec::with_capacity(self.insns.len());
        let mut labels = vec![usize::MAX; self.labels];
        let mut pc = 0;
        for (insn, shape) in self.insns.iter().zip(shapes) {
            addr.push(pc);
            match insn {
                Insn::Bind(l) => labels[l.0] = pc,
                Insn::Jump(..) => pc += shape.len(),
                _ => pc += 1,
            }
        }
        (addr, labels)
    }

    fn emit(&self, shapes: &[Shape], addr: &[usize], labels: &[usize]) -> Result<Vec<SockFilter>, SeccompError> {
        let mut out = Vec::with_capacity(addr.last().map_or(0, |a| a + 3));
        let target = |l: Label, from: usize| -> Result<u32, SeccompError> {
            let to = labels[l.0];
            assert!(to != usize::MAX, "unbound BPF label");
            assert!(to >= from, "backward BPF jump");
            u32::try_from(to - from).map_err(|_| SeccompError::TooLarge(to))
        };
        for (i, insn) in self.insns.iter().enumerate() {
            match *insn {
                Insn::Bind(_) => {}
                Insn::Load(off) => out.push(SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, off)),
                Insn::And(k) => out.push(SockFilter::stmt(BPF_ALU | BPF_AND | BPF_K, k)),
                Insn::Ret(k) => out.push(SockFilter::stmt(BPF_RET | BPF_K, k)),
                Insn::Jump(cond, k, t, f) => {
                    let code = cond.opcode();
                    let pc = addr[i];
                    let short = |l: Label| -> Result<u8, SeccompError> {
                        let off = target(l, pc + 1)?;
                        u8::try_from(off).map_err(|_| SeccompError::TooLarge(off as usize))
                    };
                    let jcc = |jt, jf| SockFilter { code, jt, jf, k };
                    match shapes[i] {
                        Shape::Short => out.push(jcc(short(t)?, short(f)?)),
                        Shape::FarTrue => {
                            out.push(jcc(0, short(f)?));
                            out.push(SockFilter::stmt(BPF_JMP | BPF_JA, target(t, pc + 2)?));
                        }
                        Shape::FarFalse => {
                            out.push(jcc(short(t)?, 0));
                            out.push(SockFilter::stmt(BPF_JMP | BPF_JA, target(f, pc + 2)?));
                        }
                        Shape::FarBoth => {
                            out.push(jcc(0, 1));
                            out.push(SockFilter::stmt(BPF_JMP | BPF_JA, target(t, pc + 2)?));
                            out.push(SockFilter::stmt(BPF_JMP | BPF_JA, target(f, pc + 3)?));
                        }
                    }
                }
            }
        }
        if out.len() > MAX_INSNS {
            return Err(SeccompError::TooLarge(out.len()));
        }
        Ok(out)
    }
}
