//! The syscall ABIs a filter can cover: audit arch, byte order, argument
//! width, syscall numbers (from the generated `syscall_table.rs`) and
//! libseccomp's socketcall/ipc multiplexing. Every arch libseccomp 2.5
//! knows is here; the native one is the build target's.

use super::syscall_table::{COLUMNS, MUX, MUXED, NONE, SYSCALLS};
use oci_spec::runtime::Arch;

/// `__X32_SYSCALL_BIT`.
pub(crate) const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const ARM_PRIVATE: u32 = 0xf_0000;

/// The two multiplexers of 32-bit ABIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MuxCall {
    /// socketcall(2): the first argument picks socket, bind, ...
    Socketcall,
    /// ipc(2): the first argument picks semop, msgsnd, shmat, ...
    Ipc,
}

macro_rules! abis {
    ($($abi:ident = $audit:literal, $column:literal, $oci:ident;)*) => {
        /// A syscall ABI (libseccomp's "arch").
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub(crate) enum Abi { $($abi),* }

        impl Abi {
            /// Every ABI, in libseccomp's order.
            pub(crate) const ALL: &'static [Abi] = &[$(Abi::$abi),*];

            /// `seccomp_data.arch` of this ABI (AUDIT_ARCH_*).
            pub(crate) fn audit_arch(self) -> u32 {
                match self { $(Abi::$abi => $audit),* }
            }

            fn column_name(self) -> &'static str {
                match self { $(Abi::$abi => $column),* }
            }

            /// The OCI name (`SCMP_ARCH_*`) of this ABI.
            pub(crate) fn oci(self) -> Arch {
                match self { $(Abi::$abi => Arch::$oci),* }
            }
        }
    };
}

abis! {
    X86_64 = 0xc000_003e, "X86_64", ScmpArchX86_64;
    X32 = 0xc000_003e, "X32", ScmpArchX32;
    X86 = 0x4000_0003, "X86", ScmpArchX86;
    Arm = 0x4000_0028, "ARM", ScmpArchArm;
    Aarch64 = 0xc000_00b7, "AARCH64", ScmpArchAarch64;
    Mips = 0x0000_0008, "MIPS", ScmpArchMips;
    Mips64 = 0x8000_0008, "MIPS64", ScmpArchMips64;
    Mips64n32 = 0xa000_0008, "MIPS64N32", ScmpArchMips64n32;
    Mipsel = 0x4000_0008, "MIPS", ScmpArchMipsel;
    Mipsel64 = 0xc000_0008, "MIPS64", ScmpArchMipsel64;
    Mipsel64n32 = 0xe000_0008, "MIPS64N32", ScmpArchMipsel64n32;
    Ppc = 0x0000_0014, "PPC", ScmpArchPpc;
    Ppc64 = 0x8000_0015, "PPC64", ScmpArchPpc64;
    Ppc64le = 0xc000_0015, "PPC64", ScmpArchPpc64le;
    S390 = 0x0000_0016, "S390", ScmpArchS390;
    S390x = 0x8000_0016, "S390X", ScmpArchS390x;
    Parisc = 0x0000_000f, "PARISC", ScmpArchParisc;
    Parisc64 = 0x8000_000f, "PARISC64", ScmpArchParisc64;
    Riscv64 = 0xc000_00f3, "RISCV64", ScmpArchRiscv64;
}

impl Abi {
    /// The ABI of the build target: the filter always covers it.
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
    pub(crate) const NATIVE: Abi = Abi::X86_64;
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "32"))]
    pub(crate) const NATIVE: Abi = Abi::X32;
    #[cfg(target_arch = "x86")]
    pub(crate) const NATIVE: Abi = Abi::X86;
    #[cfg(target_arch = "aarch64")]
    pub(crate) const NATIVE: Abi = Abi::Aarch64;
    #[cfg(target_arch = "arm")]
    pub(crate) const NATIVE: Abi = Abi::Arm;
    #[cfg(target_arch = "riscv64")]
    pub(crate) const NATIVE: Abi = Abi::Riscv64;
    #[cfg(all(target_arch = "powerpc64", target_endian = "little"))]
    pub(crate) const NATIVE: Abi = Abi::Ppc64le;
    #[cfg(all(target_arch = "powerpc64", target_endian = "big"))]
    pub(crate) const NATIVE: Abi = Abi::Ppc64;
    #[cfg(target_arch = "powerpc")]
    pub(crate) const NATIVE: Abi = Abi::Ppc;
    #[cfg(target_arch = "s390x")]
    pub(crate) const NATIVE: Abi = Abi::S390x;
    #[cfg(all(target_arch = "mips", target_endian = "big"))]
    pub(crate) const NATIVE: Abi = Abi::Mips;
    #[cfg(all(target_arch = "mips", target_endian = "little"))]
    pub(crate) const NATIVE: Abi = Abi::Mipsel;
    #[cfg(all(target_arch = "mips64", target_endian = "big"))]
    pub(crate) const NATIVE: Abi = Abi::Mips64;
    #[cfg(all(target_arch = "mips64", target_endian = "little"))]
    pub(crate) const NATIVE: Abi = Abi::Mipsel64;

    /// The ABI of an OCI arch name, `None` for those libseccomp 2.5 does
    /// not know (runc then refuses the profile).
    pub(crate) fn from_oci(arch: Arch, native: Abi) -> Option<Abi> {
        if arch == Arch::ScmpArchNative {
            return Some(native);
        }
        Abi::ALL.iter().copied().find(|a| a.oci() == arch)
    }

    /// Big-endian ABIs store the high word of a 64-bit argument first.
    pub(crate) fn big_endian(self) -> bool {
        self.audit_arch() & 0x4000_0000 == 0
    }

    /// Whether arguments are compared on 64 bits: libseccomp compares only
    /// the low word on its 32-bit arches, which include x32 and MIPS n32.
    pub(crate) fn wide_args(self) -> bool {
        self.audit_arch() & 0x8000_0000 != 0 && !matches!(self, Abi::X32 | Abi::Mips64n32 | Abi::Mipsel64n32)
    }

    fn column(self) -> usize {
        COLUMNS.iter().position(|c| *c == self.column_name()).expect("every ABI has a column")
    }

    fn decode(self, v: u16) -> Option<u32> {
        match (v, self) {
            (NONE, _) => None,
            (v, Abi::X32) => Some(X32_SYSCALL_BIT + u32::from(v)),
            (v, _) if v >= 0xf000 => Some(ARM_PRIVATE + u32::from(v & 0xfff)),
            (v, _) => Some(u32::from(v)),
        }
    }

    /// The syscall number of `name` in this ABI.
    pub(crate) fn resolve(self, name: &str) -> Option<u32> {
        let i = SYSCALLS.binary_search_by(|(n, _)| (*n).cmp(name)).ok()?;
        self.decode(SYSCALLS[i].1[self.column()])
    }

    /// Whether any ABI knows `name`.
    pub(crate) fn known(name: &str) -> bool {
        SYSCALLS.binary_search_by(|(n, _)| (*n).cmp(name)).is_ok()
    }

    /// All (name, number) pairs of this ABI.
    #[cfg(test)]
    pub(crate) fn syscalls(self) -> impl Iterator<Item = (&'static str, u32)> {
        let col = self.column();
        SYSCALLS.iter().filter_map(move |(n, nrs)| self.decode(nrs[col]).map(|nr| (*n, nr)))
    }

    /// Whether libseccomp multiplexes socket and ipc calls on this ABI
    /// (its rules then also drop syscalls the ABI does not have).
    pub(crate) fn multiplexes(self) -> bool {
        MUXED.contains(&self.column_name())
    }

    /// How libseccomp multiplexes `name` on this ABI: the syscall number
    /// of socketcall(2) or ipc(2) and the value of its first argument.
    pub(crate) fn mux(self, name: &str) -> Option<(u32, u32)> {
        if !self.multiplexes() {
            return None;
        }
        let (_, call, arg) = MUX.iter().find(|(n, ..)| *n == name)?;
        let via = match call {
            MuxCall::Socketcall => "socketcall",
            MuxCall::Ipc => "ipc",
        };
        Some((self.resolve(via)?, u32::from(*arg)))
    }
}
