//! Linux security modules: the AppArmor profile a container's program runs
//! under (`process.apparmorProfile`), and the checks that refuse an LSM
//! setting the host cannot honour (`process.selinuxLabel`,
//! `linux.mountLabel`: SELinux is refused everywhere for now, with a clear
//! reason).
//!
//! As runc (libcontainer/apparmor): the profile is set for the process's
//! next exec (libapparmor's aa_change_onexec), by writing `exec <profile>`
//! to the process's own `attr/apparmor/exec` (`attr/exec` on kernels before
//! 5.8). Nothing nook does itself is confined: the kernel applies the
//! profile only at the exec of the container's program. An empty profile
//! sets nothing (the caller, e.g. containerd's docker-default, chooses the
//! default); "unconfined" is written like any other name.
//!
//! The write goes through nook's private procfs handle (`ProcFs`, opened
//! before the clone), never through a /proc the container could have
//! mounted over (CVE-2025-52881). `thread-self` through it is the writer.

use crate::sys::procfs::ProcFs;
use oci_spec::runtime::Process;
use std::io::{ErrorKind, Write};
use std::path::Path;

/// A setting the host cannot honour, or a profile the kernel refused. The
/// field is the spec's name for it.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {msg}")]
pub struct LsmError {
    pub field: &'static str,
    pub msg: String,
}

fn err(field: &'static str, msg: impl Into<String>) -> LsmError {
    LsmError { field, msg: msg.into() }
}

/// Whether AppArmor is enabled (runc's test): securityfs shows it and the
/// module says so.
pub fn apparmor_enabled() -> bool {
    Path::new("/sys/kernel/security/apparmor").exists()
        && std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.starts_with('Y'))
}

/// Whether SELinux is enabled: selinuxfs is mounted at /sys/fs/selinux.
pub fn selinux_enabled() -> bool {
    const SELINUX_MAGIC: i64 = 0xf97cff8c;
    nix::sys::statfs::statfs("/sys/fs/selinux").is_ok_and(|s| s.filesystem_type().0 == SELINUX_MAGIC)
}

fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// The profile to apply, if any (empty means none).
pub fn apparmor_profile(process: &Process) -> Option<&str> {
    set(process.apparmor_profile())
}

/// Refuses LSM settings this host (or this version of nook) cannot honour:
/// an AppArmor profile where AppArmor is not enabled, and any SELinux label
/// (named as such where SELinux is disabled). `mount_label` is
/// `linux.mountLabel` (none for `nook exec`).
pub fn check(process: &Process, mount_label: &Option<String>) -> Result<(), LsmError> {
    if apparmor_profile(process).is_some() && !apparmor_enabled() {
        return Err(err("process.apparmorProfile", "AppArmor is not enabled on this host"));
    }
    for (field, v) in [("process.selinuxLabel", process.selinux_label()), ("linux.mountLabel", mount_label)] {
        if set(v).is_some() {
            if !selinux_enabled() {
                return Err(err(field, "SELinux is not enabled on this host"));
            }
            return Err(err(field, "not supported by this version of nook yet"));
        }
    }
    Ok(())
}

/// Sets `profile` as the AppArmor profile of this thread's next exec.
/// Fails (ENOENT) when no such profile is loaded.
pub fn apparmor_on_exec(proc: &ProcFs, profile: &str) -> Result<(), LsmError> {
    let field = "process.apparmorProfile";
    let mut f = match proc.open_write("thread-self/attr/apparmor/exec") {
        Err(e) if e.kind() == ErrorKind::NotFound => proc.open_write("thread-self/attr/exec"),
        r => r,
    }
    .map_err(|e| err(field, format!("opening the AppArmor exec attribute: {e}")))?;
    f.write_all(format!("exec {profile}").as_bytes()).map_err(|e| match e.kind() {
        ErrorKind::NotFound => err(field, format!("{profile:?}: no such AppArmor profile is loaded")),
        _ => err(field, format!("{profile:?}: setting the AppArmor profile: {e}")),
    })
}

/// Applies the process's LSM settings for its next exec, if it has any.
pub fn apply_on_exec(proc: Option<&ProcFs>, process: &Process) -> Result<(), LsmError> {
    let Some(profile) = apparmor_profile(process) else { return Ok(()) };
    let proc = proc.ok_or_else(|| err("process.apparmorProfile", "internal: no procfs handle"))?;
    apparmor_on_exec(proc, profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(json: serde_json::Value) -> Process {
        let mut v = serde_json::json!({"cwd": "/", "user": {"uid": 0, "gid": 0}});
        v.as_object_mut().unwrap().extend(json.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn empty_settings_need_nothing() {
        let p = process(serde_json::json!({"apparmorProfile": "", "selinuxLabel": ""}));
        assert!(check(&p, &Some(String::new())).is_ok());
        assert_eq!(apparmor_profile(&p), None);
        assert!(apply_on_exec(None, &p).is_ok());
    }

    #[test]
    fn selinux_is_refused_with_the_reason() {
        let p = process(serde_json::json!({"selinuxLabel": "system_u:system_r:container_t:s0"}));
        let e = check(&p, &None).unwrap_err();
        assert_eq!(e.field, "process.selinuxLabel");
        let why = if selinux_enabled() { "not supported" } else { "SELinux is not enabled on this host" };
        assert!(e.msg.contains(why), "{e}");
        let e = check(&process(serde_json::json!({})), &Some("system_u:object_r:x:s0".into())).unwrap_err();
        assert_eq!(e.field, "linux.mountLabel");
    }

    #[test]
    fn a_profile_is_refused_where_apparmor_is_off() {
        let p = process(serde_json::json!({"apparmorProfile": "unconfined"}));
        assert_eq!(check(&p, &None).is_ok(), apparmor_enabled());
    }
}
