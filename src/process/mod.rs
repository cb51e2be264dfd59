//! The container process's identity and limits: rlimits, user and groups,
//! capabilities, no_new_privs, scheduling, CPU affinity and NUMA memory
//! policy, and finding and exec'ing its program.

mod affinity;
mod caps;
pub mod cpulist;
pub mod lsm;
mod numa;
mod sched;

pub use self::affinity::{exec_affinity, set_affinity, FINAL as AFFINITY_FINAL, INITIAL as AFFINITY_INITIAL};
pub use self::caps::{apply_capabilities, drop_bounding};
pub use self::numa::{mempolicy, set_memory_policy};
pub use self::sched::{persona, sched_attr, set_io_priority, set_personality, set_scheduler, validate_io_priority};

use nix::sys::resource::{setrlimit, Resource};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType, User};
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("process.rlimits: {0}: {1}")]
    Rlimit(PosixRlimitType, String),
    #[error("process.user: {0}")]
    User(String),
    #[error("process.capabilities: {0}")]
    Caps(String),
    #[error("exec: {0:?}: {1}")]
    NotFound(String, String),
    #[error("{0}: {1}")]
    Sys(&'static str, String),
    #[error("{0}: {1}")]
    Field(&'static str, String),
}

fn resource(t: PosixRlimitType) -> Resource {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => Resource::RLIMIT_CPU,
        RlimitFsize => Resource::RLIMIT_FSIZE,
        RlimitData => Resource::RLIMIT_DATA,
        RlimitStack => Resource::RLIMIT_STACK,
        RlimitCore => Resource::RLIMIT_CORE,
        RlimitRss => Resource::RLIMIT_RSS,
        RlimitNproc => Resource::RLIMIT_NPROC,
        RlimitNofile => Resource::RLIMIT_NOFILE,
        RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        RlimitAs => Resource::RLIMIT_AS,
        RlimitLocks => Resource::RLIMIT_LOCKS,
        RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        RlimitNice => Resource::RLIMIT_NICE,
        RlimitRtprio => Resource::RLIMIT_RTPRIO,
        RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

/// Sets each rlimit; raising one above its hard limit needs
/// CAP_SYS_RESOURCE and fails with a message naming the limit.
pub fn apply_rlimits(limits: &[PosixRlimit]) -> Result<(), ProcessError> {
    for l in limits {
        if l.soft() > l.hard() {
            return Err(ProcessError::Rlimit(
                l.typ(),
                format!("soft limit {} is above hard limit {}", l.soft(), l.hard()),
            ));
        }
        setrlimit(resource(l.typ()), l.soft(), l.hard())
            .map_err(|e| ProcessError::Rlimit(l.typ(), format!("setting soft {} hard {}: {e}", l.soft(), l.hard())))?;
    }
    Ok(())
}

/// Switches to the spec's user: supplementary groups, gid, then uid
/// (keeping the permitted capabilities across the uid change; the caller
/// sets the final capability sets afterwards).
pub fn switch_user(user: &User) -> Result<(), ProcessError> {
    let err = |what: &str, e: nix::Error| ProcessError::User(format!("{what}: {e}"));
    let gids: Vec<nix::unistd::Gid> =
        user.additional_gids().iter().flatten().map(|g| nix::unistd::Gid::from_raw(*g)).collect();
    if setgroups_allowed() {
        nix::unistd::setgroups(&gids).map_err(|e| err("setgroups", e))?;
    } else if !gids.is_empty() {
        // A user namespace with setgroups denied (rootless), as runc.
        return Err(ProcessError::User("additionalGids: setgroups is denied in this user namespace".into()));
    }
    nix::sys::prctl::set_keepcaps(true).map_err(|e| err("keepcaps", e))?;
    let gid = nix::unistd::Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid).map_err(|e| err(&format!("setgid {}", user.gid()), e))?;
    let uid = nix::unistd::Uid::from_raw(user.uid());
    nix::unistd::setresuid(uid, uid, uid).map_err(|e| err(&format!("setuid {}", user.uid()), e))?;
    nix::sys::prctl::set_keepcaps(false).map_err(|e| err("keepcaps", e))?;
    Ok(())
}

/// Whether setgroups(2) may be called: not in a user namespace whose
/// /proc/self/setgroups says "deny".
pub fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() != "deny")
}

/// Finds args[0] as runc does: a name with a `/` is taken as is, any
/// other name is looked up in the container's PATH. Runs inside the
/// container's root, before `start`, so a missing program fails `create`.
pub fn find_executable(arg0: &str, env: &[String]) -> Result<PathBuf, ProcessError> {
    let not_found = |why: &str| ProcessError::NotFound(arg0.to_owned(), why.to_owned());
    if arg0.contains('/') {
        // Go's exec.LookPath words, which clients read: docker turns "no
        // such file or directory" into exit 127, "permission denied" into 126.
        let p = PathBuf::from(arg0);
        return match std::fs::metadata(&p) {
            Err(e) => Err(not_found(&format!("stat {arg0}: {}", go_error_text(&e)))),
            Ok(m) if m.is_dir() => Err(not_found("is a directory")),
            Ok(m) if m.permissions().mode() & 0o111 != 0 => Ok(p),
            Ok(_) => Err(not_found("permission denied")),
        };
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path.split(':')
        .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(arg0))
        .find(|p| is_executable(p))
        .ok_or_else(|| not_found("executable file not found in $PATH"))
}

/// An errno as Go prints it: the C library's text, lower-cased first letter
/// ("no such file or directory").
fn go_error_text(e: &std::io::Error) -> String {
    let Some(n) = e.raw_os_error() else { return e.to_string() };
    let text = nix::errno::Errno::from_raw(n).desc();
    let mut c = text.chars();
    c.next().map_or_else(String::new, |f| f.to_lowercase().chain(c).collect())
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn cstrings<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(items: I) -> Vec<CString> {
    items.into_iter().map(|s| CString::new(s.as_ref().as_bytes()).unwrap_or_else(|_| CString::from(c""))).collect()
}

/// Replaces this process with the container's program.
pub fn exec(path: &Path, args: &[String], env: &[String]) -> ProcessError {
    let p = cstrings([path]).remove(0);
    let err = nix::unistd::execve(&p, &cstrings(args), &cstrings(env)).unwrap_err();
    ProcessError::Sys("execve", format!("{}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_are_found_in_path_like_runc() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        assert!(find_executable("sh", &env).unwrap().ends_with("sh"));
        assert!(find_executable("/bin/sh", &env).is_ok());
        let e = find_executable("no-such-program-here", &env).unwrap_err();
        assert!(e.to_string().contains("not found in $PATH"), "{e}");
        // A directory is not an executable.
        assert!(find_executable("/tmp/", &env).is_err());
    }

    #[test]
    fn soft_above_hard_is_refused_with_the_limit_named() {
        let l: PosixRlimit = serde_json::from_str(r#"{"type":"RLIMIT_NOFILE","soft":10,"hard":5}"#).unwrap();
        let e = apply_rlimits(&[l]).unwrap_err().to_string();
        assert!(e.contains("RLIMIT_NOFILE") && e.contains("above hard"), "{e}");
    }
}
