//! The committed syscall tables (tools/gen_seccomp_syscalls.py) are
//! libseccomp's: every number of every arch resolves to the same name in
//! both, and every name nook knows libseccomp knows.

use super::reference::scmp_arch;
use crate::seccomp::arch::{Abi, X32_SYSCALL_BIT};
use libseccomp::ScmpSyscall;

#[test]
fn syscall_tables_are_libseccomps() {
    let ranges = [0..1200u32, 4000..6600, X32_SYSCALL_BIT..X32_SYSCALL_BIT + 1200, 0xf_0000..0xf_0010];
    for &abi in Abi::ALL {
        let arch = scmp_arch(abi.oci()).unwrap();
        let mine: std::collections::HashMap<u32, &str> = abi.syscalls().map(|(n, nr)| (nr, n)).collect();
        let mut found = 0;
        for nr in ranges.iter().cloned().flatten() {
            if (abi == Abi::X32) != (nr & X32_SYSCALL_BIT != 0) {
                continue;
            }
            // libseccomp's MIPS resolvers also answer the numbers without
            // their ABI's offset (4000, 5000, 6000).
            if matches!(abi, Abi::Mips | Abi::Mipsel | Abi::Mips64 | Abi::Mipsel64 | Abi::Mips64n32 | Abi::Mipsel64n32)
                && nr < 4000
            {
                continue;
            }
            let theirs = ScmpSyscall::from(nr as i32).get_name_by_arch(arch).ok();
            assert_eq!(mine.get(&nr).copied(), theirs.as_deref(), "{abi:?} syscall {nr:#x}");
            found += usize::from(theirs.is_some());
        }
        assert_eq!(found, mine.len(), "{abi:?}: a number outside the scanned ranges");
        for (name, nr) in abi.syscalls() {
            if abi.mux(name).is_none() {
                assert_eq!(
                    ScmpSyscall::from_name_by_arch(name, arch).map(i32::from).ok(),
                    Some(nr as i32),
                    "{abi:?} {name}"
                );
            }
        }
    }
}

#[test]
fn multiplexed_calls_are_libseccomps() {
    for &abi in Abi::ALL {
        let arch = scmp_arch(abi.oci()).unwrap();
        for name in ["socket", "accept", "sendmmsg", "semop", "shmctl", "read"] {
            // libseccomp answers its pseudo numbers -1xx (socketcall) and
            // -2xx (ipc) on the arches where it multiplexes.
            let theirs = ScmpSyscall::from_name_by_arch(name, arch).map(i32::from).unwrap();
            let mine = abi.mux(name).map(|(via, call)| {
                let expect_via = if theirs <= -200 { "ipc" } else { "socketcall" };
                assert_eq!(Some(via), abi.resolve(expect_via), "{abi:?} {name}");
                -(call as i32) - if theirs <= -200 { 200 } else { 100 }
            });
            let theirs_mux = (-224..=-101).contains(&theirs).then_some(theirs);
            assert_eq!(mine, theirs_mux, "{abi:?} {name}");
        }
    }
}
