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

/// Instructions in libseccomp's exported program.
fn libseccomp_len(ctx: &ScmpFilterContext) -> usize {
    let path = std::env::temp_dir().join(format!("nook-seccomp-bench-{}", std::process::id()));
    let file = std::fs::File::create(&path).expect("temp file");
    ctx.export_bpf(&file).expect("export");
    let len = std::fs::metadata(&path).expect("stat").len() as usize / 8;
    let _ = std::fs::remove_file(&path);
    len
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

    measure(&Variant::Bare, libc::SYS_getppid, [0; 3], iterations / 10); // warm-up
    let best = |v: &Variant, nr, args| (0..3).map(|_| measure(v, nr, args, iterations)).fold(f64::INFINITY, f64::min);
    let mut rows = Vec::new();
    for (label, nr, args, what) in ROWS {
        let none = best(&Variant::Bare, *nr, *args);
        let mut row = serde_json::json!({"syscall": label, "nr": nr, "verdict": what, "none_ns": none});
        for (name, v) in &variants {
            row[format!("{name}_ns")] = serde_json::json!(best(v, *nr, *args) - none);
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
        "insns": {"nook": nook.program().len(), "libseccomp": libseccomp_len(&lib), "libseccomp_tree": libseccomp_len(&tree)},
        "compile_us": compile_us,
    });
    println!("{out}");
}
