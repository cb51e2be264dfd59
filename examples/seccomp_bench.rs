//! Per-syscall overhead of seccomp filters: `getppid` in a loop with no
//! filter, with nook's binary-search filter of podman's default profile and
//! with a linear-chain filter of the same rules. Each variant runs in a
//! forked child (filters cannot be removed). Prints one JSON line.
//!
//! `cargo run --release --example seccomp_bench [-- ITERATIONS [PROFILE]]`

#[path = "../src/seccomp/tests/podman.rs"]
mod podman;

use nix::sys::wait::waitpid;
use nix::unistd::{fork, pipe, read, write, ForkResult};
use nook::seccomp::{compile, compile_linear, install, Filter};
use std::time::Instant;

/// ns per getppid() in a child that first installs `filter`.
fn measure(filter: Option<&Filter>, iterations: u64) -> f64 {
    let (rx, tx) = pipe().expect("pipe");
    // SAFETY: the child only installs the filter, loops, writes and _exit()s.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            drop(rx);
            if let Some(f) = filter {
                nix::sys::prctl::set_no_new_privs().expect("no_new_privs");
                install(f).expect("install");
            }
            let start = Instant::now();
            for _ in 0..iterations {
                // SAFETY: getppid has no arguments and no side effects.
                unsafe { libc::syscall(libc::SYS_getppid) };
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

fn main() {
    let mut args = std::env::args().skip(1);
    let iterations: u64 = args.next().map_or(2_000_000, |s| s.parse().expect("ITERATIONS"));
    let path = args.next().unwrap_or_else(|| "/usr/share/containers/seccomp.json".into());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let spec = podman::resolve(&text, "amd64", "SCMP_ARCH_X86_64", podman::PODMAN_DEFAULT_CAPS);
    let tree = compile(&spec).expect("compile");
    let linear = compile_linear(&spec).expect("compile_linear");

    // Warm up, then take the best of three runs of each variant.
    measure(None, iterations / 10);
    let best = |f: Option<&Filter>| (0..3).map(|_| measure(f, iterations)).fold(f64::INFINITY, f64::min);
    let (none, bin, lin) = (best(None), best(Some(&tree)), best(Some(&linear)));
    println!(
        "{{\"bench\":\"seccomp_getppid\",\"profile\":{:?},\"iterations\":{iterations},\"no_filter_ns\":{none:.1},\"tree_ns\":{bin:.1},\"linear_ns\":{lin:.1},\"tree_overhead_ns\":{:.1},\"linear_overhead_ns\":{:.1},\"tree_insns\":{},\"linear_insns\":{}}}",
        path,
        bin - none,
        lin - none,
        tree.program().len(),
        linear.program().len()
    );
}
