//! `process.execCPUAffinity`: the CPUs a process started by `nook exec`
//! runs on. As the runtime-spec says, it never applies to the container's
//! init.
//!
//! runc moves its exec'd child into the container's cgroup after starting
//! it: `initial` is the affinity before that move, `final` the one set
//! after it. nook's exec child is born in the container's cgroup
//! (clone3 with CLONE_INTO_CGROUP), so the equivalent is:
//!
//! - `initial`: `nook exec` sets it on itself before the clone, so the
//!   runtime's own work before the clone runs there and the child inherits
//!   it. (A cpuset on the container's cgroup overrides it at the clone, as
//!   the kernel does when runc's child joins the cgroup.)
//! - `final`: the child, already in the cgroup, sets it on itself at the
//!   end of its setup, before exec; without it the affinity stays what the
//!   kernel made it (the spec's "SHOULD NOT change").

use super::{cpulist, ProcessError};
use oci_spec::runtime::ExecCPUAffinity;

pub const INITIAL: &str = "process.execCPUAffinity.initial";
pub const FINAL: &str = "process.execCPUAffinity.final";

/// The CPUs of `initial` and of `final`, each None when absent or empty.
pub type Cpus = (Option<Vec<usize>>, Option<Vec<usize>>);

/// Parses `process.execCPUAffinity`, naming the field at fault.
pub fn exec_affinity(a: Option<&ExecCPUAffinity>) -> Result<Cpus, ProcessError> {
    let Some(a) = a else { return Ok((None, None)) };
    let one = |name: &'static str, v: Option<&String>| -> Result<Option<Vec<usize>>, ProcessError> {
        match v.map(|s| cpulist::parse(s)) {
            None => Ok(None),
            Some(Ok(cpus)) if cpus.is_empty() => Ok(None),
            Some(Ok(cpus)) => Ok(Some(cpus)),
            Some(Err(e)) => Err(ProcessError::Field(name, e)),
        }
    };
    Ok((one(INITIAL, a.initial().as_ref())?, one(FINAL, a.cpu_affinity_final().as_ref())?))
}

/// Pins the calling process to `cpus`. The kernel's EINVAL (no CPU of the
/// list usable) is told as the CPUs this host lacks, naming `field`.
pub fn set_affinity(field: &'static str, cpus: &[usize]) -> Result<(), ProcessError> {
    let Err(e) = crate::sys::sched_setaffinity_self(&cpulist::mask(cpus)) else { return Ok(()) };
    let online = cpulist::host_list("/sys/devices/system/cpu/online");
    let missing = cpulist::missing(cpus, &online);
    let ids = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    Err(match e.raw_os_error() {
        Some(libc::EINVAL) if !missing.is_empty() => {
            ProcessError::Field(field, format!("CPU {} is not online on this host (online: {online:?})", ids(&missing)))
        }
        Some(libc::EINVAL) => ProcessError::Field(
            field,
            format!("none of CPUs {} may be used here (the container's cpuset excludes them)", ids(cpus)),
        ),
        _ => ProcessError::Field(field, format!("sched_setaffinity: {e}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_checked_naming_the_field() {
        let a: ExecCPUAffinity = serde_json::from_str(r#"{"initial":"0","final":"0-1"}"#).unwrap();
        assert_eq!(exec_affinity(Some(&a)).unwrap(), (Some(vec![0]), Some(vec![0, 1])));
        let a: ExecCPUAffinity = serde_json::from_str(r#"{"final":"2-1"}"#).unwrap();
        let e = exec_affinity(Some(&a)).unwrap_err().to_string();
        assert!(e.starts_with("process.execCPUAffinity.final: "), "{e}");
        assert_eq!(exec_affinity(None).unwrap(), (None, None));
    }
}
