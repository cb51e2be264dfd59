//! The calling thread's mount table (/proc/thread-self/mountinfo), read
//! where runc reads it: to learn whether the mount holding the rootfs is
//! shared, and, for `--no-pivot`, which procfs and sysfs mounts lie
//! outside the rootfs. Read before the container runs anything.

use crate::sys::procfs::ProcFs;
use std::collections::HashSet;

use std::io;
use std::path::PathBuf;

/// One line of mountinfo (the fields nook uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub id: u64,
    pub parent: u64,
    /// The directory of the filesystem mounted here (`/` for a full mount).
    pub root: PathBuf,
    pub mount_point: PathBuf,
    /// The optional fields: `shared:N`, `master:N`, ...
    pub optional: Vec<String>,
    pub fs_type: String,
}

impl Mount {
    pub fn is_shared(&self) -> bool {
        self.optional.iter().any(|o| o.starts_with("shared:"))
    }
}

/// The ids of `top` and of every mount below it.
pub fn subtree(mounts: &[Mount], top: u64) -> HashSet<u64> {
    let mut ids = HashSet::from([top]);
    // Parents come before their children in mountinfo, but a mount moved
    // later may not: repeat until nothing is added.
    loop {
        let before = ids.len();
        ids.extend(mounts.iter().filter(|m| ids.contains(&m.parent)).map(|m| m.id).collect::<Vec<_>>());
        if ids.len() == before {
            return ids;
        }
    }
}

/// The mounts of the calling thread's mount namespace, read through
/// nook's private procfs handle when init has one (it does when it joined
/// a mount namespace by path, whose /proc the container controls), else
/// through /proc (the host's, in a mount namespace init just made).
pub fn read(procfs: Option<&ProcFs>) -> io::Result<Vec<Mount>> {
    let text = match procfs {
        Some(p) => p.read_to_string("thread-self/mountinfo")?,
        None => std::fs::read_to_string("/proc/thread-self/mountinfo")?,
    };
    parse(&text).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed /proc/thread-self/mountinfo"))
}

/// Parses mountinfo text; None if a line is malformed.
pub fn parse(text: &str) -> Option<Vec<Mount>> {
    text.lines().filter(|l| !l.is_empty()).map(parse_line).collect()
}

// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
fn parse_line(line: &str) -> Option<Mount> {
    let mut f = line.split(' ');
    let id = f.next()?.parse().ok()?;
    let parent = f.next()?.parse().ok()?;
    let _dev = f.next()?;
    let root = unescape(f.next()?);
    let mount_point = unescape(f.next()?);
    let _options = f.next()?;
    let optional = f.by_ref().take_while(|o| *o != "-").map(String::from).collect();
    let fs_type = f.next()?.to_owned();
    Some(Mount { id, parent, root, mount_point, optional, fs_type })
}

/// The kernel writes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(d.iter().fold(0u8, |v, c| v.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_optional_tags_and_escapes() {
        let text = "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
                    40 27 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n\
                    41 27 0:39 /sub /a\\040b rw shared:5 master:2 - tmpfs x rw\n";
        let m = parse(text).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!((m[0].id, m[0].parent, m[0].is_shared(), m[0].fs_type.as_str()), (27, 1, true, "ext4"));
        assert!(!m[1].is_shared() && m[1].optional.is_empty());
        assert_eq!(m[2].mount_point, PathBuf::from("/a b"));
        assert_eq!(m[2].root, PathBuf::from("/sub"));
        assert_eq!(m[2].optional, vec!["shared:5", "master:2"]);
        assert!(parse("27 1 254:0 /\n").is_none());
        assert_eq!(subtree(&m, 40), HashSet::from([40]));
        assert_eq!(subtree(&m, 27), HashSet::from([27, 40, 41]));
    }

    #[test]
    fn this_threads_table_has_its_root() {
        let m = read(None).unwrap();
        assert_eq!(read(Some(&ProcFs::open().unwrap())).unwrap(), m);
        assert!(m.iter().any(|m| m.mount_point == std::path::Path::new("/")));
    }
}
