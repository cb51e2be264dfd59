//! Seccomp filters of Docker's default profile (amd64, default
//! capabilities): nook's against libseccomp's as runc builds it (default
//! layout) and libseccomp's binary tree (`SCMP_FLTATR_CTL_OPTIMIZE` = 2).
//!
//! Per-syscall overhead: each syscall in a loop in a forked child that
//! installed the filter (filters cannot be removed), minus the same loop
//! without a filter. Since Linux 5.11 the kernel caches, per syscall
//! number, "this filter always allows it" and then skips the filter, so the
//! rows that matter are the syscalls it cannot cache: those with argument
//! rules and the denied ones. Also: filter size and compile time (the
//! mean of many compiles). runc prepends its -ENOSYS stub (a few
//! instructions) to libseccomp's filter; it is not counted here.
//!
//! Prints one JSON line. `cargo run --release --example seccomp_bench [-- ITERATIONS]`

#[path = "../src/seccomp/tests/podman.rs"]
mod podman;

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, pipe, read, write, ForkResult};
use nook::seccomp::{compile, install, Filter};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompOperator as O};
use std::time::Instant;

const DOCKER: &str = include_str!("../src/seccomp/tests/docker-default.json");

/// (label, syscall, arguments, what the profile does with it).
const ROWS: &[(&str, libc::c_long, [u64; 3], &str)] = &[
    ("personality(0xffffffff)", libc::SYS_personality, [0xffff_ffff, 0, 0], "allowed by its 5th argument rule"),
    ("personality(0x1234)", libc::SYS_personality, [0x1234, 0, 0], "denied: no argument rule matches"),
    ("acct(NULL)", libc::SYS_acct, [0, 0, 0], "denied"),
    ("mount_setattr(-1)", libc::SYS_mount_setattr, [u64::MAX, 0, 0], "denied, near the end of the table"),
    ("read(-1)", libc::SYS_read, [u64::MAX, 0, 0], "allowed, first of the table (cached)"),
    ("faccessat2(-1)", libc::SYS_faccessat2, [u64::MAX, 0, 0], "allowed, near the end (cached)"),
];

enum Variant<'a> {
    Bare,
    Nook(&'a Filter),
    Libseccomp(&'a ScmpFilterContext),
}

/// libseccomp's filter for `spec`, built as runc builds it.
fn libseccomp_filter(spec: &LinuxSeccomp, optimize: u32) -> ScmpFilterContext {
    let action = |a: A, e: Option<u32>| match a {
        A::ScmpActAllow => ScmpAction::Allow,
        A::ScmpActErrno => ScmpAction::Errno(e.unwrap_or(1) as i32),
        A::ScmpActKill | A::ScmpActKillThread => ScmpAction::KillThread,
        A::ScmpActKillProcess => ScmpAction::KillProcess,
        A::ScmpActTrap => ScmpAction::Trap,
        A::ScmpActTrace => ScmpAction::Trace(e.unwrap_or(1) as u16),
        A::ScmpActLog => ScmpAction::Log,
        A::ScmpActNotify => ScmpAction::Notify,
    };
    let default = action(spec.default_action(), spec.default_errno_ret());
    let mut ctx = ScmpFilterContext::new(default).expect("seccomp_init");
    for a in spec.architectures().iter().flatten() {
        let name = serde_json::to_string(a).unwrap();
        ctx.add_arch(name.trim_matches('"').parse::<ScmpArch>().expect("arch")).expect("add arch");
    }
    ctx.set_ctl_optimize(optimize).expect("optimize");
    for call in spec.syscalls().iter().flatten() {
        let act = action(call.action(), call.errno_ret());
        if act == default {
            continue;
        }
        let conds: Vec<ScmpArgCompare> = call
            .args()
            .iter()
            .flatten()
            .map(|a| match a.op() {
                O::ScmpCmpMaskedEq => ScmpArgCompare::new(
                    a.index() as u32,
                    ScmpCompareOp::MaskedEqual(a.value()),
                    a.value_two().unwrap_or(0),
                ),
                O::ScmpCmpEq => ScmpArgCompare::new(a.index() as u32, ScmpCompareOp::Equal, a.value()),
                op => panic!("{op:?}: not in Docker's profile"),
            })
            .collect();
        for name in call.names() {
            let Ok(nr) = ScmpSyscall::from_name(name) else { continue };
            ctx.add_rule_conditional(act, nr, &conds).expect("rule");
        }
    }
    ctx
}

/// libseccomp's exported program as (code, jt, jf, k).
fn libseccomp_program(ctx: &ScmpFilterContext) -> Vec<(u16, u8, u8, u32)> {
    let path = std::env::temp_dir().join(format!("nook-seccomp-bench-{}", std::process::id()));
    let file = std::fs::File::create(&path).expect("temp file");
    ctx.export_bpf(&file).expect("export");
    let bytes = std::fs::read(&path).expect("read back");
    let _ = std::fs::remove_file(&path);
    let word = |c: &[u8]| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
    bytes.chunks_exact(8).map(|c| (u16::from_ne_bytes([c[0], c[1]]), c[2], c[3], word(&c[4..]))).collect()
}

/// BPF instructions a program executes for x86_64 syscall `nr` with
/// `args` (the filter's cost without the timing noise).
fn steps(prog: &[(u16, u8, u8, u32)], nr: u32, args: [u64; 3]) -> usize {
    let word = |k: u32| -> u32 {
        match k {
            0 => nr,
            4 => 0xc000_003e,
            16..=63 => {
                let a = args.get((k as usize - 16) / 8).copied().unwrap_or(0);
                if k % 8 == 0 {
                    a as u32
                } else {
                    (a >> 32) as u32
                }
            }
            _ => 0,
        }
    };
    let (mut pc, mut a, mut n) = (0usize, 0u32, 0usize);
    loop {
        let (code, jt, jf, k) = prog[pc];
        n += 1;
        pc += 1;
        let jump = |t: bool| usize::from(if t { jt } else { jf });
        match code {
            0x20 => a = word(k),
            0x54 => a &= k,
            0x05 => pc += k as usize,
            0x15 => pc += jump(a == k),
            0x25 => pc += jump(a > k),
            0x35 => pc += jump(a >= k),
            0x45 => pc += jump(a & k != 0),
            0x06 => return n,
            c => panic!("opcode {c:#x}"),
        }
    }
}

/// ns per call of syscall `nr` in a child that first installs `variant`.
fn measure(variant: &Variant, nr: libc::c_long, args: [u64; 3], iterations: u64) -> f64 {
    let (rx, tx) = pipe().expect("pipe");
    // SAFETY: the child only installs the filter, loops, writes and _exit()s.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            drop(rx);
            nix::sys::prctl::set_no_new_privs().expect("no_new_privs");
            match variant {
                Variant::Bare => {}
                Variant::Nook(f) => drop(install(f).expect("install")),
                Variant::Libseccomp(ctx) => ctx.load().expect("seccomp_load"),
            }
            let start = Instant::now();
            for _ in 0..iterations {
                // SAFETY: the rows' syscalls fail or only query (personality).
                unsafe { libc::syscall(nr, args[0], args[1], args[2]) };
            }
            let ns = start.elapsed().as_nanos() as f64 / iterations as f64;
            let _ = write(&tx, &ns.to_ne_bytes());
            // SAFETY: leave the child without running the parent's destructors.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            drop(tx);
            let mut buf = [0u8; 8];
            let n = read(&rx, &mut buf).expect("read");
            waitpid(child, None).expect("waitpid");
            assert_eq!(n, 8, "benchmark child failed");
            f64::from_ne_bytes(buf)
        }
    }
}

/// Mean µs of `f` over `n` runs.
fn mean_us(n: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

fn main() {
    let iterations: u64 = std::env::args().nth(1).map_or(2_000_000, |s| s.parse().expect("ITERATIONS"));
    let spec = podman::resolve(DOCKER, "amd64", "SCMP_ARCH_X86_64", podman::PODMAN_DEFAULT_CAPS);
    let nook = compile(&spec).expect("compile");
    let (lib, tree) = (libseccomp_filter(&spec, 1), libseccomp_filter(&spec, 2));
    let variants = [
        ("nook", Variant::Nook(&nook)),
        ("libseccomp", Variant::Libseccomp(&lib)),
        ("libseccomp_tree", Variant::Libseccomp(&tree)),
    ];
    let nook_prog: Vec<_> = nook.program().iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect();
    let programs =
        [("nook", nook_prog), ("libseccomp", libseccomp_program(&lib)), ("libseccomp_tree", libseccomp_program(&tree))];

    measure(&Variant::Bare, libc::SYS_getppid, [0; 3], iterations / 10); // warm-up
    let best = |v: &Variant, nr, args| (0..3).map(|_| measure(v, nr, args, iterations)).fold(f64::INFINITY, f64::min);
    let mut rows = Vec::new();
    for (label, nr, args, what) in ROWS {
        let none = best(&Variant::Bare, *nr, *args);
        let mut row = serde_json::json!({"syscall": label, "nr": nr, "verdict": what, "none_ns": none});
        // Interleaved: the variants share whatever the machine does meanwhile.
        let mut ns = [f64::INFINITY; 3];
        for _ in 0..3 {
            for (i, (_, v)) in variants.iter().enumerate() {
                ns[i] = ns[i].min(measure(v, *nr, *args, iterations));
            }
        }
        for (i, (name, prog)) in programs.iter().enumerate() {
            row[format!("{name}_ns")] = serde_json::json!(ns[i] - none);
            row[format!("{name}_insns")] = serde_json::json!(steps(prog, *nr as u32, *args));
        }
        rows.push(row);
    }
    // libseccomp: the rules added and the program exported (to /dev/null).
    let null = std::fs::File::options().write(true).open("/dev/null").expect("/dev/null");
    let lib_us = |opt| mean_us(200, || libseccomp_filter(&spec, opt).export_bpf(&null).expect("export"));
    let compile_us = serde_json::json!({
        "nook": mean_us(200, || drop(compile(&spec).unwrap())),
        "libseccomp": lib_us(1),
        "libseccomp_tree": lib_us(2),
    });
    let out = serde_json::json!({
        "bench": "seccomp",
        "profile": "Docker 20.10.24 default (amd64, default capabilities)",
        "iterations": iterations,
        "rows": rows,
        "insns": {"nook": programs[0].1.len(), "libseccomp": programs[1].1.len(), "libseccomp_tree": programs[2].1.len()},
        "compile_us": compile_us,
    });
    println!("{out}");
}
