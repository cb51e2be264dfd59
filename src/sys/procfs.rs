//! A private procfs handle for every write nook makes into /proc on behalf
//! of a container (sysctl, oom_score_adj, LSM attributes).
//!
//! Why: a path under /proc is only as trustworthy as the mounts on the way
//! to it. A process that resolves `/proc/sys/...` in a mount namespace the
//! container shares (or can race mounts into) may write somewhere else
//! entirely, e.g. a bind of `/proc/sys/kernel/core_pattern` over the file
//! it meant (CVE-2025-52881). The handle here is a fresh procfs instance
//! from fsopen("proc"), never attached anywhere, so nothing can be mounted
//! over any of its files; every open through it stays beneath it on the one
//! filesystem (RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS)
//! and the file opened is checked to be procfs.
//!
//! The handle is made by nook before the clone, in the host's pid and mount
//! namespaces, and inherited by init: `thread-self` through it names the
//! writer as the host sees it, and /proc/sys/net resolves to the network
//! namespace the writer is in when it opens the file.

use super::openat2;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

const PROC_SUPER_MAGIC: i64 = 0x9fa0;
const PROC_ROOT_INO: u64 = 1;
const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_BENEATH: u64 = 0x08;

/// A detached procfs mount, or (where fsopen is refused) a detached clone
/// of the host's /proc mount without whatever is mounted below it.
#[derive(Debug)]
pub struct ProcFs {
    root: OwnedFd,
}

impl ProcFs {
    pub fn open() -> io::Result<ProcFs> {
        let attrs = super::MOUNT_ATTR_NOSUID | super::MOUNT_ATTR_NODEV | super::MOUNT_ATTR_NOEXEC;
        let root = match super::FsContext::open("proc").and_then(|fs| fs.mount(attrs)) {
            Ok(fd) => fd,
            Err(_) => {
                let cwd = nix::fcntl::AT_FDCWD;
                super::open_tree(cwd, Path::new("/proc"), super::OPEN_TREE_CLONE)?
            }
        };
        let st = nix::sys::stat::fstat(&root).map_err(io::Error::from)?;
        if !is_procfs(&root)? || st.st_ino != PROC_ROOT_INO {
            return Err(io::Error::other("the procfs handle is not the root of a procfs"));
        }
        Ok(ProcFs { root })
    }

    /// Opens `path` (relative, e.g. `thread-self/oom_score_adj`) for writing.
    pub fn open_write(&self, path: &str) -> io::Result<std::fs::File> {
        let resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS;
        let fd = openat2(self.root.as_fd(), Path::new(path), libc::O_WRONLY | libc::O_NOCTTY, 0, resolve)?;
        if !is_procfs(&fd)? {
            return Err(io::Error::other(format!("/proc/{path} is not on procfs")));
        }
        Ok(fd.into())
    }

    /// Reads `path` (relative, e.g. `thread-self/mountinfo`) whole.
    pub fn read_to_string(&self, path: &str) -> io::Result<String> {
        let resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS;
        let fd = openat2(self.root.as_fd(), Path::new(path), libc::O_RDONLY | libc::O_NOCTTY, 0, resolve)?;
        if !is_procfs(&fd)? {
            return Err(io::Error::other(format!("/proc/{path} is not on procfs")));
        }
        io::read_to_string(std::fs::File::from(fd))
    }

    /// Writes `data` to `path` in one write, as procfs files expect.
    pub fn write(&self, path: &str, data: &str) -> io::Result<()> {
        let mut f = self.open_write(path)?;
        f.write_all(data.as_bytes())
    }
}

fn is_procfs(fd: &OwnedFd) -> io::Result<bool> {
    let st = nix::sys::statfs::fstatfs(fd).map_err(io::Error::from)?;
    Ok(st.filesystem_type().0 as i64 == PROC_SUPER_MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_reach_the_process_itself() {
        // In a child, so the test process's own score is left alone.
        let proc = ProcFs::open().unwrap();
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let ok = proc.write("thread-self/oom_score_adj", "123").is_ok()
                    && std::fs::read_to_string("/proc/self/oom_score_adj").is_ok_and(|s| s.trim() == "123");
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }

    #[test]
    fn reads_the_callers_own_files() {
        let proc = ProcFs::open().unwrap();
        let own = std::fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
        assert_eq!(proc.read_to_string("thread-self/mountinfo").unwrap(), own);
        assert!(proc.read_to_string("self/root/etc/passwd").is_err());
    }

    #[test]
    fn refuses_to_leave_procfs() {
        let proc = ProcFs::open().unwrap();
        for path in ["../etc/passwd", "/etc/passwd", "self/root/etc/passwd", "self/fd/0"] {
            assert!(proc.open_write(path).is_err(), "{path} opened");
        }
    }
}
