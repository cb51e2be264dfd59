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
//! # Semantics (matching runc + libseccomp)
//!
//! * The filter covers the native architecture (x86_64) plus the listed
//!   ones. `SCMP_ARCH_X86` is the i386 compat ABI, `SCMP_ARCH_X32` the x32
//!   ABI (x86_64 audit arch with syscall numbers `>= 0x40000000`). A syscall
//!   from an ABI not in the filter gets libseccomp's default *bad arch*
//!   action, which runc keeps: `SECCOMP_RET_KILL_THREAD`. In particular x32
//!   syscalls are killed unless `SCMP_ARCH_X32` is listed. Architectures that
//!   cannot occur on an x86_64 kernel (aarch64, ...) are accepted and ignored.
//! * Syscall names are resolved per ABI; a name unknown to every ABI of the
//!   filter is skipped (see [`Filter::skipped_syscalls`]), as runc does.
//! * A rule whose action (including errno) equals the default action is
//!   skipped, as runc does. `SCMP_ACT_KILL` is `KILL_THREAD`; `ERRNO` and
//!   `TRACE` default to `EPERM`.
//! * Conditions of one rule are ANDed; if two conditions of a rule test the
//!   same argument, runc splits the rule into one rule per condition (ORed),
//!   and so do we. On i386 (a 32-bit ABI) only the low 32 bits of arguments
//!   and values are compared, as libseccomp does.
//! * Several rules for one syscall: an unconditional rule wins over every
//!   conditional one, and the first unconditional rule wins over later ones
//!   (libseccomp's rule database behaves this way). Among conditional rules
//!   that all match, the action with the highest kernel precedence wins
//!   (KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > NOTIFY > TRACE > LOG >
//!   ALLOW), ties going to the earlier rule. libseccomp leaves that case to
//!   its internal tree order; we pick the order-independent, safe answer.
//! * runc's `-ENOSYS` stub: unless the default action is ALLOW, LOG or
//!   TRACE, on each *listed* ABI a syscall numbered above the highest syscall
//!   named in the profile returns `ENOSYS` (so new syscalls like `clone3`
//!   fall back in libc instead of failing with `EPERM`).
//!
//! # Program shape
//!
//! `load arch; jeq per audit arch; ret KILL_THREAD`, then per audit arch
//! `load nr` (and the x32 split on x86_64), then a balanced binary search
//! (`jge`) over the intervals of syscall numbers that share one outcome, so
//! the cost per syscall grows with log(distinct outcomes). Leaves return
//! directly or evaluate the argument rules. Far conditional jumps go
//! through `JA` trampolines (see `bpf.rs`).

mod bpf;
mod codegen;
mod notify;
mod rules;
mod sys;
mod syscall_table;
#[cfg(test)]
mod tests;

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
    /// Architectures whose syscalls the filter can match.
    pub const ARCHS: &[&str] = &["SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"];
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

/// Compiles `linux.seccomp` for this (x86_64) host.
///
/// Errors name the field, e.g. `linux.seccomp.syscalls[3].action: ...`.
pub fn compile(spec: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    build(spec, codegen::generate)
}

/// Installs `filter` on the calling thread with seccomp(2).
///
/// The caller must have set no_new_privs or hold CAP_SYS_ADMIN. Returns the
/// notification listener fd when the filter has `SCMP_ACT_NOTIFY` rules.
pub fn install(filter: &Filter) -> Result<Option<OwnedFd>, SeccompError> {
    sys::set_mode_filter(&filter.program, filter.flags)
}

/// Compiles `spec` into a filter that checks the rules one after another,
/// the shape seccompiler and plain libseccomp (without binary-tree
/// optimisation) produce; for benchmarks and tests only.
#[doc(hidden)]
pub fn compile_linear(spec: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    build(spec, codegen::generate_linear)
}

type Generator = fn(&rules::Policy) -> Result<Vec<SockFilter>, SeccompError>;

fn build(spec: &LinuxSeccomp, generate: Generator) -> Result<Filter, SeccompError> {
    let policy = rules::Policy::from_spec(spec)?;
    let program = generate(&policy)?;
    Ok(Filter { program, flags: policy.flags, skipped: policy.skipped })
}
