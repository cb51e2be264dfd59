//! Random profiles: the compiled program, run in the interpreter, must
//! agree with the oracle for every syscall number of every ABI, foreign
//! arches, x32 numbers and edge argument values.

use super::interp::{check, run, Data};
use super::{oracle, rule_args};
use crate::seccomp::rules::{Abi, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
use crate::seccomp::{compile, compile_linear};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompBuilder, LinuxSeccompOperator as O};

/// xorshift64*: tiny, deterministic.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

const EDGES: &[u64] = &[
    0,
    1,
    2,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    0xffff_ffff_0000_0000,
    0x8000_0000_0000_0000,
    u64::MAX - 1,
    u64::MAX,
];
const ACTIONS: &[A] = &[
    A::ScmpActKill,
    A::ScmpActKillThread,
    A::ScmpActKillProcess,
    A::ScmpActTrap,
    A::ScmpActErrno,
    A::ScmpActTrace,
    A::ScmpActLog,
    A::ScmpActAllow,
    A::ScmpActNotify,
];
const OPS: &[O] =
    &[O::ScmpCmpNe, O::ScmpCmpLt, O::ScmpCmpLe, O::ScmpCmpEq, O::ScmpCmpGe, O::ScmpCmpGt, O::ScmpCmpMaskedEq];
const ARCHES: &[Arch] =
    &[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32, Arch::ScmpArchNative, Arch::ScmpArchAarch64];
const FOREIGN_AUDIT: &[u32] = &[0xc000_00b7, 0x4000_0028, 0, 0xffff_ffff];

fn value(rng: &mut Rng) -> u64 {
    match rng.below(4) {
        0 => rng.next(),
        1 => rng.next() & 0xff,
        2 => (rng.next() & 0xff) << 32 | (rng.next() & 3),
        _ => rng.pick(EDGES),
    }
}

fn takes_errno(a: A) -> bool {
    matches!(a, A::ScmpActErrno | A::ScmpActTrace)
}

/// A random profile over a small pool of names so that rules collide.
fn random_profile(rng: &mut Rng, max_rules: usize) -> LinuxSeccomp {
    let mut pool: Vec<&str> = (0..12).map(|_| rng.pick(Abi::X86_64.syscalls()).0).collect();
    pool.extend((0..4).map(|_| rng.pick(Abi::I386.syscalls()).0));
    pool.extend((0..4).map(|_| rng.pick(Abi::X32.syscalls()).0));
    pool.push("no_such_syscall");
    pool.retain(|n| *n != "write");
    let mut rules = Vec::new();
    for _ in 0..1 + rng.below(max_rules) {
        let names: Vec<&str> = (0..1 + rng.below(3)).map(|_| rng.pick(&pool)).collect();
        let act = rng.pick(ACTIONS);
        // Only ERRNO and TRACE take an errno (the spec makes others an error).
        let errno = (rng.below(3) == 0).then(|| rng.below(200) as u32).filter(|_| takes_errno(act));
        let args = (0..rng.below(4)).map(|_| (rng.below(6), rng.pick(OPS), value(rng), value(rng))).collect();
        rules.push(rule_args(&names, act, errno, args));
    }
    let default = rng.pick(&ACTIONS[..8]);
    let mut b = LinuxSeccompBuilder::default()
        .default_action(default)
        .syscalls(rules)
        .architectures((0..rng.below(4)).map(|_| rng.pick(ARCHES)).collect::<Vec<_>>());
    if rng.below(2) == 0 && takes_errno(default) {
        b = b.default_errno_ret(rng.below(100) as u32);
    }
    b.build().unwrap()
}

/// Argument values around every constant of the profile.
fn interesting(spec: &LinuxSeccomp) -> Vec<u64> {
    let mut vals: Vec<u64> = EDGES.to_vec();
    for call in spec.syscalls().iter().flatten() {
        for a in call.args().iter().flatten() {
            for v in [a.value(), a.value_two().unwrap_or(0)] {
                vals.extend([v, v.wrapping_add(1), v.wrapping_sub(1), v ^ 0xffff_ffff_0000_0000, v & 0xffff_ffff]);
                vals.extend([v.wrapping_add(1 << 32), v.wrapping_sub(1 << 32)]);
            }
        }
    }
    vals
}

/// Every syscall number of every ABI under each audit arch, edges, x32.
pub(super) fn probes() -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for abi in Abi::ALL {
        out.extend(abi.syscalls().iter().map(|(_, nr)| (abi.audit_arch(), *nr)));
    }
    for nr in [0, 499, 1000, 0x3fff_ffff, 0x4000_0000, 0x4000_0300, 0x7fff_ffff, 0x8000_0000, u32::MAX] {
        out.extend([(AUDIT_ARCH_X86_64, nr), (AUDIT_ARCH_I386, nr)]);
    }
    out.extend(FOREIGN_AUDIT.iter().map(|a| (*a, 0)));
    out
}

pub(super) fn compare(spec: &LinuxSeccomp, rng: &mut Rng, probes: &[(u32, u32)]) -> usize {
    let vals = interesting(spec);
    let progs = [compile(spec).unwrap(), compile_linear(spec).unwrap()];
    for f in &progs {
        check(f.program());
    }
    let ruled: Vec<String> = spec.syscalls().iter().flatten().flat_map(|c| c.names().clone()).collect();
    let mut count = 0;
    for &(arch, nr) in probes {
        let has_rules = ruled.iter().any(|n| Abi::ALL.iter().any(|a| a.resolve(n) == Some(nr)));
        let tries = if has_rules { 48 } else { 1 };
        for t in 0..tries {
            let args = std::array::from_fn(|_| if t == 0 { 0 } else { rng.pick(&vals) });
            let d = Data { nr, arch, args };
            let want = oracle::eval(spec, &d);
            for f in &progs {
                let (got, _) = run(f.program(), &d);
                assert_eq!(got, want, "{d:x?}\nspec: {}", serde_json::to_string(spec).unwrap());
                count += 1;
            }
        }
    }
    count
}

#[test]
fn random_profiles_match_oracle() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let probes = probes();
    let mut n = 0;
    for _ in 0..150 {
        let spec = random_profile(&mut rng, 40);
        n += compare(&spec, &mut rng, &probes);
    }
    assert!(n > 100_000, "{n}");
}

#[test]
fn big_profiles_use_trampolines_and_match_oracle() {
    let mut rng = Rng(42);
    let probes = probes();
    for _ in 0..4 {
        // Many distinct syscalls with argument rules: the dispatch tree's
        // upper jumps exceed 255 instructions.
        let mut spec = random_profile(&mut rng, 1);
        spec.set_architectures(None);
        let rules = (0..150)
            .map(|i| {
                let (name, _) = Abi::X86_64.syscalls()[i % Abi::X86_64.syscalls().len()];
                let name = if name == "write" { "read" } else { name };
                let args = (0..1).map(|_| (rng.below(6), rng.pick(OPS), value(&mut rng), value(&mut rng))).collect();
                rule_args(&[name], rng.pick(&ACTIONS[..8]), None, args)
            })
            .collect();
        spec.set_syscalls(Some(rules));
        let f = compile(&spec).unwrap();
        assert!(f.program().windows(1).any(|w| w[0].code == crate::seccomp::bpf::BPF_JMP && w[0].k > 255));
        compare(&spec, &mut rng, &probes);
    }
}
