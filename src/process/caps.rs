//! Capability sets, applied as runc applies them: bounding first (while we
//! still hold CAP_SETPCAP), then after the uid change, effective,
//! permitted, inheritable, and ambient.

use super::ProcessError;
use caps::{CapSet, Capability as Cap, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

fn convert(set: &Option<Capabilities>) -> Result<CapsHashSet, ProcessError> {
    set.iter()
        .flatten()
        .map(|c| {
            let name = format!("CAP_{c}");
            name.parse::<Cap>().map_err(|_| ProcessError::Caps(format!("{name} is not known to this system")))
        })
        .collect()
}

/// Drops every capability not in the bounding set. Call before the uid
/// change.
pub fn drop_bounding(caps: Option<&LinuxCapabilities>) -> Result<(), ProcessError> {
    let keep = match caps {
        Some(c) => convert(c.bounding())?,
        None => CapsHashSet::new(),
    };
    let err = |e: caps::errors::CapsError| ProcessError::Caps(format!("bounding set: {e}"));
    for cap in caps::all() {
        if !keep.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap).map_err(err)?;
        }
    }
    Ok(())
}

/// Sets the effective, permitted, inheritable and ambient sets.
pub fn apply_capabilities(caps: Option<&LinuxCapabilities>) -> Result<(), ProcessError> {
    // No `capabilities` means none at all (oci-spec's Default is runc's
    // default set, which is not what an absent field means).
    let none = CapsHashSet::new();
    let (eff, perm, inh, amb) = match caps {
        Some(c) => (convert(c.effective())?, convert(c.permitted())?, convert(c.inheritable())?, convert(c.ambient())?),
        None => (none.clone(), none.clone(), none.clone(), none),
    };
    set(CapSet::Inheritable, "inheritable", &inh.union(&amb).copied().collect(), CapSet::Bounding)?;
    set(CapSet::Effective, "effective", &eff, CapSet::Permitted)?;
    set(CapSet::Permitted, "permitted", &perm, CapSet::Permitted)?;
    let err = |e: caps::errors::CapsError| ProcessError::Caps(format!("ambient: {e}"));
    caps::clear(None, CapSet::Ambient).map_err(err)?;
    for cap in amb {
        caps::raise(None, CapSet::Ambient, cap).map_err(err)?;
    }
    Ok(())
}

/// Sets `which` to `want`. The kernel only says EPERM when a capability
/// is beyond `limit` (what nook itself holds): the error names those.
fn set(which: CapSet, name: &str, want: &CapsHashSet, limit: CapSet) -> Result<(), ProcessError> {
    caps::set(None, which, want).map_err(|e| {
        let have = caps::read(None, limit).unwrap_or_default();
        let mut beyond: Vec<String> = want.difference(&have).map(|c| c.to_string()).collect();
        beyond.sort();
        if beyond.is_empty() {
            ProcessError::Caps(format!("{name}: {e}"))
        } else {
            ProcessError::Caps(format!("{name}: {} cannot be granted: nook does not hold it", beyond.join(", ")))
        }
    })
}
