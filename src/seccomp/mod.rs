//! `linux.seccomp`: compile the runtime-spec seccomp profile to classic BPF
//! and install it.
//!
//! The runtime calls [`compile`] while validating the configuration, before
//! the container process exists, so a bad profile is reported early with a
//! one-line message naming the field. The child calls [`install`] right
//! before `execve`; with `SCMP_ACT_NOTIFY` rules it gets the listener fd
//! back, which the runtime hands to the seccomp agent with
//! [`send_listener_fd`].
//!
//! # Semantics (those of runc 1.1 on libseccomp 2.5)
//!
//! nook builds the filter runc builds, verdict for verdict; the
//! differential test (`tests/differential.rs`) compiles every profile with
//! both and compares them on every syscall number of every arch, on
//! arguments around every constant, and on foreign arches.
//!
//! * The filter covers the native arch (the build target's) plus the
//!   listed ones, every arch libseccomp 2.5 knows (x86_64, x86, x32, arm,
//!   aarch64, the MIPS, PowerPC, s390 and PA-RISC families, riscv64).
//!   Syscall numbers come from libseccomp's own tables
//!   (`syscall_table.rs`, generated). A syscall of an arch not in the
//!   filter gets the bad-arch action `KILL_THREAD`; on x86_64 so do x32
//!   numbers (but -1) unless x32 is listed. Arches libseccomp does not know,
//!   or of the other byte order than the native one, are refused.
//! * A name unknown to every arch is skipped ([`Filter::skipped_syscalls`]).
//!   A rule whose action (errno included) equals the default is skipped.
//!   `SCMP_ACT_KILL` is `KILL_THREAD`; `ERRNO` and `TRACE` default to EPERM.
//! * Conditions of one rule are ANDed; if two test the same argument, the
//!   rule becomes one rule per condition (ORed), as runc does. On
//!   libseccomp's 32-bit arches (x86, x32, arm, MIPS o32/n32, ppc, s390,
//!   parisc) only the low 32 bits are compared; MASKED_EQ compares
//!   `arg & value` with `valueTwo & value`.
//! * Several rules of one syscall merge as in libseccomp's rule database
//!   (`tree.rs`): the first unconditional rule wins over everything;
//!   conditional rules become one decision diagram whose order decides
//!   which of two matching rules applies; rules with the same conditions
//!   and different actions are refused, as libseccomp refuses them.
//! * socket and ipc calls on the arches where libseccomp multiplexes them
//!   (x86, s390, s390x, MIPS o32, ppc, ppc64) also become a rule on
//!   socketcall(2)/ipc(2) whose first argument selects the call.
//! * runc's -ENOSYS stub: unless the default action is ALLOW, LOG or
//!   TRACE, on each *listed* arch a syscall numbered above the highest one
//!   the profile names returns ENOSYS (so new syscalls like `clone3` fall
//!   back in libc instead of failing with EPERM), and so does syscall 0 on
//!   s390 and s390x.
//!
//! # Program shape
//!
//! `load arch; jeq per audit arch; ret KILL_THREAD`, then per audit arch
//! `load nr` and a balanced binary search (`jge`) over the intervals of
//! syscall numbers that share one outcome, so the cost per syscall grows
//! with log(distinct outcomes). Leaves return directly or walk the
//! syscall's argument diagram. Far conditional jumps go through `JA`
//! trampolines (see `bpf.rs`).

mod arch;
mod bpf;
mod codegen;
mod notify;
mod rules;
mod sys;
mod syscall_table;
#[cfg(test)]
mod tests;
mod tree;

use oci_spec::runtime::LinuxSeccomp;
use std::os::fd::OwnedFd;

pub use bpf::{SockFilter, MAX_INSNS};
pub use notify::{container_process_state, send_listener_fd, send_listener_fd_on};

/// Errors of this module. Configuration errors name the offending field.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// A field of `linux.seccomp` is invalid.
    #[error("{field}: {reason}")]
    Config {
        /// JSON path of the field, e.g. `linux.seccomp.syscalls[3].action`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The compiled program exceeds what BPF can express.
    #[error("linux.seccomp: compiled filter is too large ({0} instructions or jump offset, kernel limit is 4096)")]
    TooLarge(usize),
    /// seccomp(2) failed.
    #[error("seccomp(SECCOMP_SET_MODE_FILTER, flags={flags:#x}): {source}")]
    Install {
        /// The filter flags passed to the kernel.
        flags: u32,
        /// The kernel's error.
        source: std::io::Error,
    },
    /// Handing the listener fd to the seccomp agent failed.
    #[error("seccomp listener {path}: {source}")]
    Listener {
        /// `linux.seccomp.listenerPath`.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
}

impl SeccompError {
    pub(crate) fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SeccompError::Config { field: field.into(), reason: reason.into() }
    }
}

/// Filter flag bits of seccomp(2) (linux/seccomp.h).
pub mod flags {
    /// `SECCOMP_FILTER_FLAG_TSYNC`.
    pub const TSYNC: u32 = 1 << 0;
    /// `SECCOMP_FILTER_FLAG_LOG`.
    pub const LOG: u32 = 1 << 1;
    /// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`.
    pub const SPEC_ALLOW: u32 = 1 << 2;
    /// `SECCOMP_FILTER_FLAG_NEW_LISTENER`.
    pub const NEW_LISTENER: u32 = 1 << 3;
    /// `SECCOMP_FILTER_FLAG_TSYNC_ESRCH`.
    pub const TSYNC_ESRCH: u32 = 1 << 4;
    /// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`.
    pub const WAIT_KILLABLE_RECV: u32 = 1 << 5;
}

/// Values for `nook features` (`linux.seccomp` of the runtime-spec
/// features document).
pub mod features {
    /// Actions accepted in `defaultAction` and `syscalls[].action`.
    pub const ACTIONS: &[&str] = &[
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_TRAP",
    ];
    /// Operators accepted in `syscalls[].args[].op`.
    pub const OPERATORS: &[&str] = &[
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_LE",
        "SCMP_CMP_LT",
        "SCMP_CMP_MASKED_EQ",
        "SCMP_CMP_NE",
    ];
    /// Architectures whose syscalls the filter can match: every arch
    /// libseccomp 2.5 knows that has the native byte order (one filter
    /// cannot mix byte orders; libseccomp refuses it too).
    #[cfg(target_endian = "little")]
    pub const ARCHS: &[&str] = &[
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_ARM",
        "SCMP_ARCH_MIPSEL",
        "SCMP_ARCH_MIPSEL64",
        "SCMP_ARCH_MIPSEL64N32",
        "SCMP_ARCH_PPC64LE",
        "SCMP_ARCH_RISCV64",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X86_64",
    ];
    /// Architectures whose syscalls the filter can match: every arch
    /// libseccomp 2.5 knows that has the native byte order.
    #[cfg(target_endian = "big")]
    pub const ARCHS: &[&str] = &[
        "SCMP_ARCH_MIPS",
        "SCMP_ARCH_MIPS64",
        "SCMP_ARCH_MIPS64N32",
        "SCMP_ARCH_PARISC",
        "SCMP_ARCH_PARISC64",
        "SCMP_ARCH_PPC",
        "SCMP_ARCH_PPC64",
        "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X",
    ];
    /// Flags this runtime knows about.
    pub const KNOWN_FLAGS: &[&str] = &[
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ];
    /// Flags this runtime can apply (the kernel must support them too).
    pub const SUPPORTED_FLAGS: &[&str] = KNOWN_FLAGS;
}

/// A compiled seccomp filter, ready for [`install`].
#[derive(Clone, Debug)]
pub struct Filter {
    program: Vec<SockFilter>,
    flags: u32,
    skipped: Vec<String>,
}

impl Filter {
    /// The BPF program.
    pub fn program(&self) -> &[SockFilter] {
        &self.program
    }

    /// The `SECCOMP_FILTER_FLAG_*` bits passed to seccomp(2).
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Whether the filter has `SCMP_ACT_NOTIFY` rules, so [`install`]
    /// returns a listener fd.
    pub fn has_listener(&self) -> bool {
        self.flags & flags::NEW_LISTENER != 0
    }

    /// Syscall names unknown to every architecture of the filter; they were
    /// skipped. The caller logs them at debug level, as runc does.
    pub fn skipped_syscalls(&self) -> &[String] {
        &self.skipped
    }
}

/// Compiles `linux.seccomp` for this host's arch.
///
/// Errors name the field, e.g. `linux.seccomp.syscalls[3].action: ...`.
pub fn compile(spec: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    compile_for(spec, arch::Abi::NATIVE)
}

/// Compiles `spec` as nook built for `native` would (the tests build
/// filters of every arch on any host).
pub(crate) fn compile_for(spec: &LinuxSeccomp, native: arch::Abi) -> Result<Filter, SeccompError> {
    let policy = rules::Policy::from_spec(spec, native)?;
    let program = codegen::generate(&policy)?;
    Ok(Filter { program, flags: policy.flags, skipped: policy.skipped })
}

/// Installs `filter` on the calling thread with seccomp(2).
///
/// The caller must have set no_new_privs or hold CAP_SYS_ADMIN. Returns the
/// notification listener fd when the filter has `SCMP_ACT_NOTIFY` rules.
pub fn install(filter: &Filter) -> Result<Option<OwnedFd>, SeccompError> {
    sys::set_mode_filter(&filter.program, filter.flags)
}
