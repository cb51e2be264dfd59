//! nook against runc's libseccomp: the same profile compiled by both,
//! both programs run in the interpreter on the same `seccomp_data`, and
//! every verdict (action and data) must be equal. A profile one of them
//! refuses, the other must refuse too.

use super::interp::{check as check_program, run, Data};
use super::random::Rng;
use super::reference::{self, Reference};
use crate::seccomp::arch::{Abi, X32_SYSCALL_BIT};
use crate::seccomp::{compile_for, SeccompError};
use libseccomp::ScmpArch;
use oci_spec::runtime::LinuxSeccomp;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Syscall numbers outside the tables that each arch block must handle.
const ODD_NRS: &[u32] = &[
    999,
    1000,
    3999,
    4000,
    5000,
    6000,
    0xf_0000,
    0xf_0002,
    0xf_0007,
    0x3fff_ffff,
    X32_SYSCALL_BIT,
    X32_SYSCALL_BIT + 1,
    X32_SYSCALL_BIT + 0x200,
    X32_SYSCALL_BIT + 0x3ff,
    0x7fff_ffff,
    0x8000_0000,
    u32::MAX - 1,
    u32::MAX,
];
/// `seccomp_data.arch` values of no arch.
const NO_ARCH: &[u32] = &[0, 0x4000_0000, 0xc000_0000, u32::MAX];

/// How one profile went.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Both refused it.
    Refused,
    /// Both accepted it and agreed on this many inputs.
    Agreed(usize),
}

/// Inputs left out because libseccomp's filter compared a stale
/// accumulator on them (a libseccomp bug nook does not copy), over all
/// comparisons so far.
pub(crate) static STALE: AtomicUsize = AtomicUsize::new(0);
/// Inputs on which libseccomp's default layout and its binary tree differ
/// (libseccomp 2.5 bugs; nook follows the default layout, which runc
/// uses). For big-endian natives they are left out: libseccomp exporting
/// for the other byte order than the host's leaves some constants
/// unconverted, so neither layout is a reference there.
pub(crate) static LAYOUTS: AtomicUsize = AtomicUsize::new(0);

/// libseccomp's name for a nook ABI.
fn scmp(abi: Abi) -> ScmpArch {
    reference::scmp_arch(abi.oci()).expect("libseccomp knows every nook ABI")
}

/// Argument values around every constant of the profile, the edges of
/// both words, and random values whose halves differ.
fn arg_values(spec: &LinuxSeccomp, rng: &mut Rng) -> Vec<u64> {
    let mut vals: Vec<u64> = vec![0, 1, 2, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 1 << 32, u64::MAX, u64::MAX - 1];
    vals.extend(0..25); // socketcall/ipc call numbers
    for call in spec.syscalls().iter().flatten() {
        for a in call.args().iter().flatten() {
            for v in [a.value(), a.value_two().unwrap_or(0)] {
                vals.extend([v, v.wrapping_add(1), v.wrapping_sub(1), v ^ 0xffff_ffff_0000_0000, v & 0xffff_ffff]);
                vals.extend([v.wrapping_add(1 << 32), v.wrapping_sub(1 << 32), v | 1 << 63, v.rotate_left(32)]);
                if a.value_two().is_some() {
                    vals.push(a.value_two().unwrap_or(0) & a.value());
                }
            }
        }
    }
    vals.extend((0..16).map(|_| rng.next()));
    vals
}

/// Compares nook (built for `native`) with runc on libseccomp, with
/// `tries` argument vectors per syscall that has rules.
pub(crate) fn compare(spec: &LinuxSeccomp, native: Abi, rng: &mut Rng, tries: usize) -> Outcome {
    let json = || serde_json::to_string(spec).unwrap();
    let nook = compile_for(spec, native);
    if let Err(e) = &nook {
        if e.to_string().contains("never ends in libseccomp") {
            assert!(reference::hangs(spec, scmp(native), 5), "libseccomp does not hang on {}", json());
            return Outcome::Refused;
        }
    }
    let refs: Vec<Result<Reference, String>> =
        [1, 2].iter().map(|opt| reference::build(spec, scmp(native), *opt)).collect();
    let (nook, lib, tree) = match (nook, &refs[0], &refs[1]) {
        (Err(SeccompError::Config { .. }), Err(_), Err(_)) => return Outcome::Refused,
        (Ok(n), Ok(l), Ok(t)) => (n, l, t),
        (n, l, _) => panic!(
            "nook and libseccomp disagree on refusing the profile (native {native:?})\nnook: {:?}\nlibseccomp: {:?}\nprofile: {}",
            n.err().map(|e| e.to_string()),
            l.as_ref().err(),
            json()
        ),
    };
    check_program(nook.program());
    let mut abis = vec![native];
    abis.extend(spec.architectures().iter().flatten().filter_map(|a| Abi::from_oci(*a, native)));
    let named: Vec<&str> = spec.syscalls().iter().flatten().flat_map(|c| c.names()).map(String::as_str).collect();
    let vals = arg_values(spec, rng);
    let mut count = 0;
    let mut probe = |d: Data| {
        // runc leaves libseccomp's default layout; the binary tree must
        // give the same verdicts (where libseccomp itself is consistent).
        let ((want, stale), (want_tree, stale_tree)) = (lib.eval(&d), tree.eval(&d));
        if stale {
            STALE.fetch_add(1, Relaxed);
            return;
        }
        if want != want_tree && !stale_tree {
            LAYOUTS.fetch_add(1, Relaxed);
            if native.big_endian() {
                return; // see CROSS_ENDIAN: no reference for this input
            }
        }
        let got = run(nook.program(), &d).0;
        assert_eq!(
            got,
            want,
            "nook {got:#x}, runc+libseccomp {want:#x} on {d:x?} (native {native:?})\nprofile: {}",
            json()
        );
        count += 1;
    };
    for abi in Abi::ALL {
        let arch = abi.audit_arch();
        if !abis.contains(abi) {
            for nr in [0, 1, 59, 4001, 5001] {
                probe(Data { nr, arch, args: [0; 6] });
            }
            continue;
        }
        let mut ruled: Vec<u32> = named.iter().filter_map(|n| abi.resolve(n)).collect();
        ruled.extend(named.iter().filter_map(|n| abi.mux(n)).map(|(via, _)| via));
        let nrs = abi.syscalls().map(|(_, nr)| nr).chain(ODD_NRS.iter().copied());
        for nr in nrs {
            let n = if ruled.contains(&nr) { tries } else { 1 };
            for t in 0..n {
                let args = std::array::from_fn(|_| if t == 0 { 0 } else { vals[rng.below(vals.len())] });
                probe(Data { nr, arch, args });
            }
        }
    }
    for &arch in NO_ARCH {
        probe(Data { nr: 0, arch, args: [0; 6] });
    }
    Outcome::Agreed(count)
}
