//! Which namespaces the container gets: new ones (created by clone3's
//! flags) and existing ones joined by path (setns). pid and time
//! namespaces apply to children, so those are joined by nook itself just
//! before the clone and left right after; the rest are joined by init.

use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

#[derive(Debug, thiserror::Error)]
pub enum NsError {
    #[error("linux.namespaces: {0} {1}: {2}")]
    Open(LinuxNamespaceType, String, String),
    #[error("joining the {0} namespace: {1}")]
    Join(LinuxNamespaceType, nix::Error),
}

/// The namespaces of a container, ready for clone3 and setns.
#[derive(Debug, Default)]
pub struct Namespaces {
    /// CLONE_NEW* flags for clone3 (never CLONE_NEWCGROUP: see `new_cgroup`).
    pub clone_flags: u64,
    /// A new cgroup namespace, unshared by init once it is in its cgroup,
    /// so the namespace's root is the container's cgroup.
    pub new_cgroup: bool,
    /// Namespaces init joins (in this order).
    pub join: Vec<(LinuxNamespaceType, OwnedFd)>,
    /// pid/time namespaces nook joins for the clone.
    pub join_for_children: Vec<(LinuxNamespaceType, OwnedFd)>,
}

pub fn flag(t: LinuxNamespaceType) -> CloneFlags {
    CloneFlags::from_bits_retain(t as i32)
}

impl Namespaces {
    pub fn from_spec(list: &[LinuxNamespace]) -> Result<Self, NsError> {
        let mut ns = Namespaces::default();
        for n in list {
            let t = n.typ();
            match n.path() {
                None => {
                    if t == LinuxNamespaceType::Cgroup {
                        ns.new_cgroup = true;
                    } else {
                        ns.clone_flags |= t as u64;
                    }
                }
                Some(p) => {
                    let err = |e: String| NsError::Open(t, p.display().to_string(), e);
                    // O_NONBLOCK: a path naming a fifo must not hang create.
                    let f = std::fs::File::options()
                        .read(true)
                        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
                        .open(p)
                        .map_err(|e| err(e.to_string()))?;
                    let fs = nix::sys::statfs::fstatfs(&f).map_err(|e| err(e.to_string()))?;
                    if fs.filesystem_type() != nix::sys::statfs::NSFS_MAGIC {
                        return Err(err("not a namespace (expected a file such as /proc/<pid>/ns/net)".into()));
                    }
                    let fd: OwnedFd = f.into();
                    if matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time) {
                        ns.join_for_children.push((t, fd));
                    } else {
                        ns.join.push((t, fd));
                    }
                }
            }
        }
        // The user namespace must be joined first: it owns the others.
        ns.join.sort_by_key(|(t, _)| *t != LinuxNamespaceType::User);
        Ok(ns)
    }

    pub fn has_new(&self, t: LinuxNamespaceType) -> bool {
        if t == LinuxNamespaceType::Cgroup {
            return self.new_cgroup;
        }
        self.clone_flags & t as u64 != 0
    }

    pub fn joins(&self, t: LinuxNamespaceType) -> bool {
        self.join.iter().chain(&self.join_for_children).any(|(j, _)| *j == t)
    }
}

/// setns into each namespace in `list`.
pub fn join_all(list: &[(LinuxNamespaceType, OwnedFd)]) -> Result<(), NsError> {
    for (t, fd) in list {
        setns(fd.as_fd(), flag(*t)).map_err(|e| NsError::Join(*t, e))?;
    }
    Ok(())
}

/// Joins the pid/time namespaces for the next child, and returns what
/// restores nook's own afterwards.
pub fn enter_for_children(
    list: &[(LinuxNamespaceType, OwnedFd)],
) -> Result<Vec<(LinuxNamespaceType, OwnedFd)>, NsError> {
    let mut restore = Vec::new();
    for (t, _) in list {
        let own = match t {
            LinuxNamespaceType::Pid => "/proc/self/ns/pid_for_children",
            _ => "/proc/self/ns/time_for_children",
        };
        let fd: OwnedFd = std::fs::File::open(own).map_err(|e| NsError::Open(*t, own.into(), e.to_string()))?.into();
        restore.push((*t, fd));
    }
    join_all(list)?;
    Ok(restore)
}
