//! Linux security modules: the AppArmor profile or SELinux label a
//! container's program runs under (`process.apparmorProfile`,
//! `process.selinuxLabel`, which also labels the session keyring), and the
//! check that refuses a setting the host's LSMs cannot honour.
//! (`linux.mountLabel` is a mount option: see src/rootfs.)
//!
//! As runc (libcontainer/apparmor): the profile is set for the process's
//! next exec (libapparmor's aa_change_onexec), by writing `exec <profile>`
//! to the process's own `attr/apparmor/exec` (`attr/exec` on kernels before
//! 5.8). Nothing nook does itself is confined: the kernel applies the
//! profile only at the exec of the container's program. An empty profile
//! sets nothing (the caller, e.g. containerd's docker-default, chooses the
//! default); "unconfined" is written like any other name.
//!
//! SELinux, as runc with go-selinux: the label is written to the process's
//! own `attr/exec` (effective at exec) and, around the creation of the
//! session keyring, to `attr/keycreate`.
//!
//! Every write goes through nook's private procfs handle (`ProcFs`, opened
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

/// The SELinux label to apply, if any (empty means none).
pub fn selinux_label(process: &Process) -> Option<&str> {
    set(process.selinux_label())
}

/// Refuses LSM settings this host cannot honour: an AppArmor profile where
/// AppArmor is not enabled, an SELinux label where SELinux is not.
/// `mount_label` is `linux.mountLabel` (none for `nook exec`).
pub fn check(process: &Process, mount_label: &Option<String>) -> Result<(), LsmError> {
    if apparmor_profile(process).is_some() && !apparmor_enabled() {
        return Err(err("process.apparmorProfile", "AppArmor is not enabled on this host"));
    }
    for (field, v) in [("process.selinuxLabel", process.selinux_label()), ("linux.mountLabel", mount_label)] {
        if set(v).is_some() && !selinux_enabled() {
            return Err(err(field, "SELinux is not enabled on this host"));
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

/// Writes an SELinux label (None: clears it) to this thread's `attr/<attr>`.
fn selinux_write(proc: &ProcFs, attr: &str, label: Option<&str>) -> Result<(), LsmError> {
    let field = "process.selinuxLabel";
    let mut f = proc
        .open_write(&format!("thread-self/attr/{attr}"))
        .map_err(|e| err(field, format!("opening the SELinux {attr} attribute: {e}")))?;
    // An empty write clears the attribute (libselinux writes nothing).
    let r = match label {
        Some(l) => f.write_all(l.as_bytes()),
        None => f.write(b"").map(drop),
    };
    r.map_err(|e| match (e.kind(), label) {
        (ErrorKind::InvalidInput, Some(l)) => err(field, format!("{l:?}: not a valid SELinux context here")),
        _ => err(field, format!("setting the SELinux {attr} label: {e}")),
    })
}

fn need<'a>(proc: Option<&'a ProcFs>, field: &'static str) -> Result<&'a ProcFs, LsmError> {
    proc.ok_or_else(|| err(field, "internal: no procfs handle"))
}

/// Applies the process's LSM settings for its next exec, if it has any.
pub fn apply_on_exec(proc: Option<&ProcFs>, process: &Process) -> Result<(), LsmError> {
    if let Some(label) = selinux_label(process) {
        selinux_write(need(proc, "process.selinuxLabel")?, "exec", Some(label))?;
    }
    if let Some(profile) = apparmor_profile(process) {
        apparmor_on_exec(need(proc, "process.apparmorProfile")?, profile)?;
    }
    Ok(())
}

/// Runs `f` (which makes the session keyring) with the process's SELinux
/// label as the label of keys this thread creates, as runc does; cleared
/// again afterwards. Without a label, just `f`.
pub fn with_key_label<T>(proc: Option<&ProcFs>, process: &Process, f: impl FnOnce() -> T) -> Result<T, LsmError> {
    let Some(label) = selinux_label(process) else { return Ok(f()) };
    let proc = need(proc, "process.selinuxLabel")?;
    selinux_write(proc, "keycreate", Some(label))?;
    let out = f();
    selinux_write(proc, "keycreate", None)?;
    Ok(out)
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
    fn selinux_is_refused_where_it_is_off() {
        let p = process(serde_json::json!({"selinuxLabel": "system_u:system_r:container_t:s0"}));
        assert_eq!(check(&p, &None).is_ok(), selinux_enabled());
        if !selinux_enabled() {
            let e = check(&p, &None).unwrap_err();
            assert_eq!(e.to_string(), "process.selinuxLabel: SELinux is not enabled on this host");
            let e = check(&process(serde_json::json!({})), &Some("system_u:object_r:x:s0".into())).unwrap_err();
            assert_eq!(e.field, "linux.mountLabel");
        }
    }

    #[test]
    fn a_profile_is_refused_where_apparmor_is_off() {
        let p = process(serde_json::json!({"apparmorProfile": "unconfined"}));
        assert_eq!(check(&p, &None).is_ok(), apparmor_enabled());
    }
}
