//! Which namespaces the container gets: new ones (created by clone3's
//! flags) and existing ones joined by path (setns). pid and time
//! namespaces apply to children, so those are joined by nook itself just
//! before the clone and left right after; the rest are joined by init.
//!
//! A new user namespace is made by the clone itself, together with the
//! other new namespaces (so it owns them); nook then writes the child's
//! uid_map and gid_map while init waits. Namespaces joined by path beside
//! a new user namespace are joined by nook for the clone too: from inside
//! its new user namespace, init could not enter one the host owns.
//!
//! A user namespace joined by path is joined by init first, and the new
//! namespaces are unshared after it (so that namespace owns them, not the
//! host's); a new pid namespace then takes one more fork, as in runc.

use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespace, LinuxNamespaceType};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

#[derive(Debug, thiserror::Error)]
pub enum NsError {
    #[error("linux.namespaces: {0} {1}: {2}")]
    Open(LinuxNamespaceType, String, String),
    #[error("joining the {0} namespace: {1}")]
    Join(LinuxNamespaceType, nix::Error),
    #[error("{0}: {1}")]
    Map(&'static str, String),
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
    /// CLONE_NEW* flags init unshares after joining (a user namespace
    /// given by path must own the container's new namespaces).
    pub unshare_after_join: u64,
    /// A new time namespace: made by nook (unshare) before the clone, so
    /// its offsets can be written before init enters it.
    pub new_time: bool,
}

/// CLONE_NEW* flags and their names in linux.namespaces.
const NAMES: [(i32, &str); 8] = [
    (libc::CLONE_NEWNS, "mount"),
    (libc::CLONE_NEWUTS, "uts"),
    (libc::CLONE_NEWIPC, "ipc"),
    (libc::CLONE_NEWNET, "network"),
    (libc::CLONE_NEWPID, "pid"),
    (libc::CLONE_NEWUSER, "user"),
    (libc::CLONE_NEWCGROUP, "cgroup"),
    (libc::CLONE_NEWTIME, "time"),
];

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
                    } else if t == LinuxNamespaceType::Time {
                        ns.new_time = true;
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
                    match crate::sys::ns_type(fd.as_fd()) {
                        Ok(actual) if actual == t as i32 => {}
                        Ok(actual) => {
                            let name = NAMES.iter().find(|(f, _)| *f == actual).map_or("another", |(_, n)| *n);
                            return Err(err(format!("is a {name} namespace, not a {t} one")));
                        }
                        Err(e) => return Err(err(format!("reading the namespace's type: {e}"))),
                    }
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
        if ns.joins(LinuxNamespaceType::User) {
            // All new namespaces are made by init once it is in the joined
            // user namespace, so that namespace owns them. A new pid
            // namespace then takes a second fork (see `init`).
            ns.unshare_after_join = ns.clone_flags;
            ns.clone_flags = 0;
        } else if ns.clone_flags & libc::CLONE_NEWUSER as u64 != 0 {
            // Init, born in its new user namespace, could not enter a
            // namespace the host's user namespace owns (a network namespace
            // made by CNI, say): nook joins those for the clone instead, as
            // runc joins before it unshares the user namespace.
            ns.join_for_children.append(&mut ns.join);
        }
        Ok(ns)
    }

    pub fn has_new(&self, t: LinuxNamespaceType) -> bool {
        match t {
            LinuxNamespaceType::Cgroup => self.new_cgroup,
            LinuxNamespaceType::Time => self.new_time,
            _ => (self.clone_flags | self.unshare_after_join) & t as u64 != 0,
        }
    }

    pub fn joins(&self, t: LinuxNamespaceType) -> bool {
        self.join.iter().chain(&self.join_for_children).any(|(j, _)| *j == t)
    }

    /// No mount namespace, new or joined: the container's mounts are made
    /// in the host's.
    pub fn in_host_mount_ns(&self) -> bool {
        !self.has_new(LinuxNamespaceType::Mount) && !self.joins(LinuxNamespaceType::Mount)
    }
}

/// setns into each namespace in `list`.
pub fn join_all(list: &[(LinuxNamespaceType, OwnedFd)]) -> Result<(), NsError> {
    for (t, fd) in list {
        setns(fd.as_fd(), flag(*t)).map_err(|e| NsError::Join(*t, e))?;
    }
    Ok(())
}

/// nook's own namespaces (and cwd), to go back to after a clone.
pub struct Restore {
    list: Vec<(LinuxNamespaceType, OwnedFd)>,
    cwd: Option<std::fs::File>,
}

impl Restore {
    pub fn extend(&mut self, more: Vec<(LinuxNamespaceType, OwnedFd)>) {
        self.list.extend(more);
    }

    pub fn restore(&self) -> Result<(), NsError> {
        join_all(&self.list)?;
        if let Some(cwd) = &self.cwd {
            nix::unistd::fchdir(cwd)
                .map_err(|e| NsError::Map("linux.namespaces: mount", format!("back to nook's cwd: {e}")))?;
        }
        Ok(())
    }
}

/// Joins the pid/time namespaces for the next child, and returns what
/// restores nook's own afterwards.
pub fn enter_for_children(list: &[(LinuxNamespaceType, OwnedFd)]) -> Result<Restore, NsError> {
    let mut restore = Vec::new();
    for (t, _) in list {
        let own = match t {
            LinuxNamespaceType::Pid => "/proc/self/ns/pid_for_children",
            LinuxNamespaceType::Time => "/proc/self/ns/time_for_children",
            LinuxNamespaceType::Network => "/proc/self/ns/net",
            LinuxNamespaceType::Ipc => "/proc/self/ns/ipc",
            LinuxNamespaceType::Uts => "/proc/self/ns/uts",
            LinuxNamespaceType::Cgroup => "/proc/self/ns/cgroup",
            LinuxNamespaceType::Mount => "/proc/self/ns/mnt",
            LinuxNamespaceType::User => unreachable!("a user namespace is never joined for children"),
        };
        let fd: OwnedFd = std::fs::File::open(own).map_err(|e| NsError::Open(*t, own.into(), e.to_string()))?.into();
        restore.push((*t, fd));
    }
    // Entering a mount namespace moves us to its root; so does coming back.
    let cwd = match restore.iter().any(|(t, _)| *t == LinuxNamespaceType::Mount) {
        true => Some(std::fs::File::open(".").map_err(|e| NsError::Map("linux.namespaces: mount", e.to_string()))?),
        false => None,
    };
    join_all(list)?;
    Ok(Restore { list: restore, cwd })
}

/// The lines of a uid_map or gid_map file ("inside outside count").
pub fn map_lines(maps: &[LinuxIdMapping]) -> String {
    maps.iter().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect()
}

/// Writes the id maps of `pid`'s new user namespace (each file in one
/// write, as the kernel requires). As runc does, setgroups is denied only
/// when nook is not root (the kernel then insists on it).
pub fn write_id_maps(pid: i32, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<(), NsError> {
    let write = |file: &str, field: &'static str, data: &str| {
        let p = format!("/proc/{pid}/{file}");
        std::fs::write(&p, data).map_err(|e| NsError::Map(field, format!("writing {p}: {e}")))
    };
    if !nix::unistd::geteuid().is_root() {
        write("setgroups", "linux.gidMappings", "deny")?;
    }
    write("uid_map", "linux.uidMappings", &map_lines(uid))?;
    write("gid_map", "linux.gidMappings", &map_lines(gid))
}

/// A user namespace with the given maps and no process in it, for an
/// idmapped mount: a child is cloned into a new user namespace and waits,
/// its maps are written, its namespace opened, and the child killed.
pub fn throwaway_userns(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<OwnedFd, NsError> {
    let err = |what: &str, e: std::io::Error| NsError::Map("mount uidMappings/gidMappings", format!("{what}: {e}"));
    match crate::sys::clone3(nix::sched::CloneFlags::CLONE_NEWUSER.bits() as u64, None)
        .map_err(|e| err("cloning into a user namespace", e))?
    {
        crate::sys::Forked::Child => loop {
            nix::unistd::pause();
        },
        crate::sys::Forked::Parent { pid, pidfd } => {
            let result = write_id_maps(pid, uid, gid).and_then(|()| {
                std::fs::File::open(format!("/proc/{pid}/ns/user"))
                    .map(OwnedFd::from)
                    .map_err(|e| err("opening its namespace", e))
            });
            let _ = crate::sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            result
        }
    }
}

/// Makes a new time namespace for nook's next child with the spec's
/// `linux.timeOffsets` (written before any process is in it, as the kernel
/// requires), and returns what restores nook's own afterwards.
pub fn new_time_for_children(
    offsets: &std::collections::HashMap<String, oci_spec::runtime::LinuxTimeOffset>,
) -> Result<Vec<(LinuxNamespaceType, OwnedFd)>, NsError> {
    let own = "/proc/self/ns/time_for_children";
    let t = LinuxNamespaceType::Time;
    let fd: OwnedFd = std::fs::File::open(own).map_err(|e| NsError::Open(t, own.into(), e.to_string()))?.into();
    let mut lines = String::new();
    for (clock, off) in offsets {
        if clock != "monotonic" && clock != "boottime" {
            return Err(NsError::Map("linux.timeOffsets", format!("unknown clock {clock:?} (monotonic or boottime)")));
        }
        lines += &format!("{clock} {} {}\n", off.secs().unwrap_or(0), off.nanosecs().unwrap_or(0));
    }
    nix::sched::unshare(flag(t)).map_err(|e| NsError::Map("linux.namespaces: time", format!("unshare: {e}")))?;
    let restore = vec![(t, fd)];
    if !lines.is_empty() {
        if let Err(e) = std::fs::write("/proc/self/timens_offsets", &lines) {
            join_all(&restore)?;
            return Err(NsError::Map("linux.timeOffsets", format!("writing /proc/self/timens_offsets: {e}")));
        }
    }
    Ok(restore)
}
