//! Per-syscall overhead of seccomp filters: `getppid` (110, early in a
//! chain ordered by number) and `getrandom(NULL, 0, 0)` (318, late in it;
//! both allowed) in a loop with no filter, with nook's binary-search filter
//! of podman's default profile and with a linear-chain filter of the same
//! rules. Each variant runs in a forked child (filters cannot be removed).
//! Prints one JSON line: the getppid fields as before, `late_*` for
//! getrandom.
//!
//! Since Linux 5.11 the kernel caches, per syscall number, "this filter
//! always allows it" and then skips the filter altogether: getppid and
//! getrandom cost about the same under either filter on such kernels. So
//! the line also times `move_pages(0, 0, NULL, NULL, NULL, 0)` (279, late;
//! the profile denies it with EPERM, so the filter runs every time):
//! `denied_*`.
//!
//! `cargo run --release --example seccomp_bench [-- ITERATIONS [PROFILE]]`

#[path = "../src/seccomp/tests/podman.rs"]
mod podman;

use nix::sys::wait::waitpid;
use nix::unistd::{fork, pipe, read, write, ForkResult};
use nook::seccomp::{compile, compile_linear, install, Filter};
use std::time::Instant;

/// The allowed syscall timed late in the filter.
const LATE: (&str, libc::c_long) = ("getrandom", libc::SYS_getrandom);
/// The denied syscall timed late in the filter.
const DENIED: (&str, libc::c_long) = ("move_pages", libc::SYS_move_pages);

/// ns per syscall `nr` (without arguments) in a child that first installs
/// `filter`.
fn measure(filter: Option<&Filter>, nr: libc::c_long, iterations: u64) -> f64 {
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
                // SAFETY: getppid(), getrandom(NULL, 0, 0) and
                // move_pages(0, 0, ...) have no side effects.
                unsafe { libc::syscall(nr, 0usize, 0usize, 0usize, 0usize, 0usize, 0usize) };
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
    measure(None, libc::SYS_getppid, iterations / 10);
    let best = |f: Option<&Filter>, nr| (0..3).map(|_| measure(f, nr, iterations)).fold(f64::INFINITY, f64::min);
    let nr = libc::SYS_getppid;
    let (none, bin, lin) = (best(None, nr), best(Some(&tree), nr), best(Some(&linear), nr));
    let nr = LATE.1;
    let (l_none, l_bin, l_lin) = (best(None, nr), best(Some(&tree), nr), best(Some(&linear), nr));
    let nr = DENIED.1;
    let (d_none, d_bin, d_lin) = (best(None, nr), best(Some(&tree), nr), best(Some(&linear), nr));
    println!(
        "{{\"bench\":\"seccomp_getppid\",\"profile\":{:?},\"iterations\":{iterations},\"no_filter_ns\":{none:.1},\"tree_ns\":{bin:.1},\"linear_ns\":{lin:.1},\"tree_overhead_ns\":{:.1},\"linear_overhead_ns\":{:.1},\"tree_insns\":{},\"linear_insns\":{},\"late_syscall\":{:?},\"late_nr\":{},\"late_no_filter_ns\":{l_none:.1},\"late_tree_ns\":{l_bin:.1},\"late_linear_ns\":{l_lin:.1},\"late_tree_overhead_ns\":{:.1},\"late_linear_overhead_ns\":{:.1},\"denied_syscall\":{:?},\"denied_nr\":{},\"denied_no_filter_ns\":{d_none:.1},\"denied_tree_ns\":{d_bin:.1},\"denied_linear_ns\":{d_lin:.1},\"denied_tree_overhead_ns\":{:.1},\"denied_linear_overhead_ns\":{:.1}}}",
        path,
        bin - none,
        lin - none,
        tree.program().len(),
        linear.program().len(),
        LATE.0,
        LATE.1,
        l_bin - l_none,
        l_lin - l_none,
        DENIED.0,
        DENIED.1,
        d_bin - d_none,
        d_lin - d_none,
    );
}
