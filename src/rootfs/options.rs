//! Parsing a mount's `options` list into what the new mount API takes:
//! per-mount attributes (for one mount and, for the `r*` forms, the whole
//! tree), propagation, and the filesystem's own data (`mode=755`, ...).

use crate::sys::*;

/// Propagation type of a mount (MS_* values, as mount_setattr takes them).
pub const MS_PRIVATE: u64 = libc::MS_PRIVATE;
pub const MS_SHARED: u64 = libc::MS_SHARED;
pub const MS_SLAVE: u64 = libc::MS_SLAVE;
pub const MS_UNBINDABLE: u64 = libc::MS_UNBINDABLE;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Attributes for the mount itself.
    pub attr: MountAttr,
    /// Attributes for the mount and every mount below it (`rro`, ...).
    pub rattr: MountAttr,
    pub bind: bool,
    pub recursive_bind: bool,
    /// Propagation and whether it applies recursively.
    pub propagation: Option<(u64, bool)>,
    /// Options for the filesystem itself: `(key, value)`; a flag has no value.
    pub data: Vec<(String, Option<String>)>,
    /// `idmap` (false) or `ridmap` (true): an idmapped bind mount.
    pub idmap: Option<bool>,
    /// `tmpcopyup`: a tmpfs starts with a copy of the directory it covers.
    pub copyup: bool,
}

enum Opt {
    Set(u64),
    Clear(u64),
    Atime(u64),
}

fn attr_option(name: &str) -> Option<Opt> {
    use Opt::*;
    Some(match name {
        "ro" => Set(MOUNT_ATTR_RDONLY),
        "rw" => Clear(MOUNT_ATTR_RDONLY),
        "nosuid" => Set(MOUNT_ATTR_NOSUID),
        "suid" => Clear(MOUNT_ATTR_NOSUID),
        "nodev" => Set(MOUNT_ATTR_NODEV),
        "dev" => Clear(MOUNT_ATTR_NODEV),
        "noexec" => Set(MOUNT_ATTR_NOEXEC),
        "exec" => Clear(MOUNT_ATTR_NOEXEC),
        "nodiratime" => Set(MOUNT_ATTR_NODIRATIME),
        "diratime" => Clear(MOUNT_ATTR_NODIRATIME),
        "nosymfollow" => Set(MOUNT_ATTR_NOSYMFOLLOW),
        "symfollow" => Clear(MOUNT_ATTR_NOSYMFOLLOW),
        "noatime" => Atime(MOUNT_ATTR_NOATIME),
        "strictatime" => Atime(MOUNT_ATTR_STRICTATIME),
        "relatime" => Atime(MOUNT_ATTR_RELATIME),
        // Like mount(8): turning these off falls back to relatime.
        "atime" | "norelatime" | "nostrictatime" => Atime(MOUNT_ATTR_RELATIME),
        _ => return None,
    })
}

fn apply(attr: &mut MountAttr, opt: Opt) {
    match opt {
        Opt::Set(f) => {
            attr.attr_set |= f;
            attr.attr_clr &= !f;
        }
        Opt::Clear(f) => {
            attr.attr_clr |= f;
            attr.attr_set &= !f;
        }
        Opt::Atime(v) => {
            attr.attr_clr |= MOUNT_ATTR__ATIME;
            attr.attr_set = (attr.attr_set & !MOUNT_ATTR__ATIME) | v;
        }
    }
}

fn propagation(name: &str) -> Option<(u64, bool)> {
    Some(match name {
        "private" => (MS_PRIVATE, false),
        "rprivate" => (MS_PRIVATE, true),
        "shared" => (MS_SHARED, false),
        "rshared" => (MS_SHARED, true),
        "slave" => (MS_SLAVE, false),
        "rslave" => (MS_SLAVE, true),
        "unbindable" => (MS_UNBINDABLE, false),
        "runbindable" => (MS_UNBINDABLE, true),
        _ => return None,
    })
}

/// Superblock flags the kernel's fsconfig understands as plain flags.
const SB_FLAGS: &[&str] = &["sync", "async", "dirsync", "mand", "nomand", "lazytime", "nolazytime"];
/// Accepted and meaningless here (runc ignores the first four too). `silent` and
/// `loud` are MS_SILENT, which only quiets the kernel's messages while a
/// legacy mount(2) fills its superblock: fsconfig has no such flag and
/// would hand them to the filesystem, which refuses them (tmpfs: EINVAL).
const IGNORED: &[&str] = &["defaults", "remount", "iversion", "noiversion", "silent", "loud"];

impl MountOptions {
    /// Parses a mount's options; an error names the option.
    pub fn parse(opts: &[String]) -> Result<Self, String> {
        let mut m = MountOptions::default();
        for o in opts {
            let o = o.as_str();
            if let Some(opt) = attr_option(o) {
                apply(&mut m.attr, opt);
            } else if let Some(opt) = o.strip_prefix('r').and_then(attr_option) {
                apply(&mut m.rattr, opt);
            } else if let Some(p) = propagation(o) {
                m.propagation = Some(p);
            } else if o == "bind" {
                m.bind = true;
            } else if o == "rbind" {
                m.bind = true;
                m.recursive_bind = true;
            } else if o == "idmap" || o == "ridmap" {
                m.idmap = Some(o == "ridmap");
            } else if IGNORED.contains(&o) {
            } else if o == "tmpcopyup" {
                m.copyup = true;
            } else if SB_FLAGS.contains(&o) {
                m.data.push((o.to_owned(), None));
            } else if o.is_empty() {
                return Err("empty mount option".into());
            } else {
                match o.split_once('=') {
                    Some((k, v)) => m.data.push((k.to_owned(), Some(v.to_owned()))),
                    None => m.data.push((o.to_owned(), None)),
                }
            }
        }
        Ok(m)
    }

    /// These options without `ro` (and `rro`), and whether they had it
    /// (Some(true) for the recursive form): for a mount made read-only only
    /// once everything below it is in place.
    pub fn without_ro(&self) -> (MountOptions, Option<bool>) {
        let mut o = self.clone();
        let ro = |a: &MountAttr| a.attr_set & MOUNT_ATTR_RDONLY != 0;
        let had = if ro(&self.rattr) { Some(true) } else { ro(&self.attr).then_some(false) };
        o.attr.attr_set &= !MOUNT_ATTR_RDONLY;
        o.rattr.attr_set &= !MOUNT_ATTR_RDONLY;
        (o, had)
    }

    /// Attribute flags for fsmount(2) of a fresh filesystem (which has no
    /// child mounts, so the recursive forms apply the same way).
    pub fn fsmount_flags(&self) -> u64 {
        let mut a = self.attr;
        a.attr_set |= self.rattr.attr_set;
        let flags = a.attr_set & !MOUNT_ATTR_IDMAP;
        // A tmpcopyup tmpfs is filled first; `ro` comes with the attributes after.
        if self.copyup {
            flags & !MOUNT_ATTR_RDONLY
        } else {
            flags
        }
    }
}

/// Every option name `parse` understands (for `nook features`).
pub fn known_options() -> Vec<String> {
    const ATTRS: &[&str] = &[
        "ro",
        "rw",
        "nosuid",
        "suid",
        "nodev",
        "dev",
        "noexec",
        "exec",
        "nodiratime",
        "diratime",
        "nosymfollow",
        "symfollow",
        "noatime",
        "strictatime",
        "relatime",
        "atime",
        "norelatime",
        "nostrictatime",
    ];
    const PROPAGATION: &[&str] =
        &["private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"];
    let mut v: Vec<String> = ATTRS.iter().map(|s| s.to_string()).collect();
    v.extend(ATTRS.iter().map(|s| format!("r{s}")));
    v.extend(
        PROPAGATION
            .iter()
            .chain(SB_FLAGS)
            .chain(IGNORED)
            .chain(&["bind", "rbind", "idmap", "ridmap", "tmpcopyup"])
            .map(|s| s.to_string()),
    );
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(o: &[&str]) -> MountOptions {
        MountOptions::parse(&o.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn flags_data_and_propagation() {
        let m = parse(&["nosuid", "strictatime", "mode=755", "size=65536k", "newinstance", "rslave"]);
        assert_eq!(m.attr.attr_set, MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME);
        assert_eq!(m.attr.attr_clr, MOUNT_ATTR__ATIME);
        assert_eq!(m.propagation, Some((MS_SLAVE, true)));
        assert_eq!(
            m.data,
            vec![
                ("mode".into(), Some("755".into())),
                ("size".into(), Some("65536k".into())),
                ("newinstance".into(), None)
            ]
        );
    }

    #[test]
    fn later_options_override_earlier_ones() {
        let m = parse(&["ro", "rw", "noexec", "exec"]);
        assert_eq!(m.attr.attr_set, 0);
        assert_eq!(m.attr.attr_clr, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC);
    }

    #[test]
    fn recursive_variants_and_binds() {
        let m = parse(&["rbind", "rro", "rnosuid", "ro"]);
        assert!(m.bind && m.recursive_bind);
        assert_eq!(m.rattr.attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
        assert_eq!(m.attr.attr_set, MOUNT_ATTR_RDONLY);
        let b = parse(&["bind"]);
        assert!(b.bind && !b.recursive_bind);
    }

    #[test]
    fn ro_can_be_taken_off_for_later() {
        let (o, had) = parse(&["ro", "nosuid"]).without_ro();
        assert_eq!((o.attr.attr_set, had), (MOUNT_ATTR_NOSUID, Some(false)));
        assert_eq!(o.fsmount_flags() & MOUNT_ATTR_RDONLY, 0);
        assert_eq!(parse(&["rro"]).without_ro().1, Some(true));
        assert_eq!(parse(&["rw"]).without_ro().1, None);
    }

    #[test]
    fn extension_options_and_empty_options() {
        let c = parse(&["tmpcopyup", "mode=755"]);
        assert!(c.copyup && c.data == vec![("mode".to_string(), Some("755".to_string()))]);
        assert_eq!(parse(&["idmap"]).idmap, Some(false));
        assert_eq!(parse(&["rbind", "ridmap"]).idmap, Some(true));
        assert!(MountOptions::parse(&[String::new()]).is_err());
    }
}
