//! nook: an OCI container runtime with runc's command line.
//!
//! The modules follow the lifecycle, top to bottom; imports only flow
//! downwards:
//!
//! - [`cli`]: the command line (one file per subcommand); anyhow errors.
//! - [`container`]: create, start, run, kill, delete; combines the errors below.
//! - [`init`]: what runs inside the new namespaces until exec.
//! - [`rootfs`], [`namespaces`], [`process`], [`console`], [`cgroups`],
//!   [`seccomp`]: the pieces init and container use.
//! - [`spec`] (the bundle), [`state`] (what persists between commands).
//! - [`criu`]: checkpoint/restore through CRIU's RPC (only `checkpoint`,
//!   `restore` and `features` use it).
//! - [`sync`] (the parent–child channel), [`seal`] (CVE-2019-5736),
//!   [`logger`], and [`sys`] (the raw syscalls, where the `unsafe` lives).

pub mod cgroups;
pub mod cli;
pub mod console;
pub mod container;
pub mod criu;
pub mod hooks;
pub mod init;
pub mod logger;
pub mod namespaces;
pub mod process;
pub mod rootfs;
pub mod seal;
pub mod seccomp;
pub mod spec;
pub mod state;
pub mod sync;
pub mod sys;
