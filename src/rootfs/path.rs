//! Resolving container paths inside the root filesystem.
//!
//! Every path that comes from the container (a mount destination, a masked
//! path, the cwd) is resolved once, by the kernel, with openat2's
//! RESOLVE_IN_ROOT: `..` and symlinks cannot climb out of the root, and
//! magic links (/proc/self/fd/N) are refused. The result is an fd that later
//! steps act on, so the path is never looked up a second time.

use crate::sys;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

const RESOLVE: u64 = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;

/// What to create at a path that does not exist yet.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Dir,
    File,
}

/// Strips the leading `/` and drops `.` components: the form openat2 wants
/// relative to the root fd. `..` stays; the kernel confines it.
pub fn relative(path: &Path) -> PathBuf {
    path.components().filter(|c| matches!(c, Component::Normal(_) | Component::ParentDir)).collect()
}

/// Opens `path` inside `root` as an O_PATH fd, or None if it does not exist.
pub fn open_in_root(root: BorrowedFd, path: &Path, nofollow: bool) -> io::Result<Option<OwnedFd>> {
    let rel = relative(path);
    let rel = if rel.as_os_str().is_empty() { PathBuf::from(".") } else { rel };
    let flags = libc::O_PATH | if nofollow { libc::O_NOFOLLOW } else { 0 };
    match sys::openat2(root, &rel, flags, 0, RESOLVE) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens `path` inside `root`, creating it (and its missing parents, as
/// directories of mode 0755) as `kind` if it does not exist. Returns an
/// O_PATH fd of the result. Each prefix is resolved from the root with
/// RESOLVE_IN_ROOT, so a symlink planted meanwhile still lands inside.
pub fn create_in_root(root: BorrowedFd, path: &Path, kind: Kind) -> io::Result<OwnedFd> {
    create_depth(root, path, kind, 0)
}

fn create_depth(root: BorrowedFd, path: &Path, kind: Kind, depth: u32) -> io::Result<OwnedFd> {
    if let Some(fd) = open_in_root(root, path, false)? {
        return Ok(fd);
    }
    let rel = relative(path);
    let comps: Vec<Component> = rel.components().collect();
    let mut cur = sys::openat2(root, Path::new("."), libc::O_PATH | libc::O_DIRECTORY, 0, RESOLVE)?;
    let mut prefix = PathBuf::new();
    for (i, comp) in comps.iter().enumerate() {
        let name = Path::new(comp.as_os_str());
        let parent = prefix.clone();
        prefix.push(comp);
        let want = if i + 1 == comps.len() { kind } else { Kind::Dir };
        cur = match sys::openat2(root, &prefix, libc::O_PATH, 0, RESOLVE) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                match nix::fcntl::readlinkat(cur.as_fd(), name) {
                    // A dangling symlink: create what it points to, inside
                    // the root, as the kernel would resolve it.
                    Ok(target) => {
                        if depth >= 40 {
                            return Err(io::Error::from_raw_os_error(libc::ELOOP));
                        }
                        let target = PathBuf::from(target);
                        let resolved = if target.is_absolute() { target } else { parent.join(target) };
                        create_depth(root, &resolved, want, depth + 1)?;
                    }
                    Err(_) => make(cur.as_fd(), name, want)?,
                }
                sys::openat2(root, &prefix, libc::O_PATH, 0, RESOLVE)?
            }
            Err(e) => return Err(e),
        };
    }
    Ok(cur)
}

fn make(dir: BorrowedFd, name: &Path, kind: Kind) -> io::Result<()> {
    let r = match kind {
        Kind::Dir => nix::sys::stat::mkdirat(dir, name, nix::sys::stat::Mode::from_bits_truncate(0o755)),
        Kind::File => nix::fcntl::openat(
            dir,
            name,
            nix::fcntl::OFlag::O_CREAT
                | nix::fcntl::OFlag::O_EXCL
                | nix::fcntl::OFlag::O_WRONLY
                | nix::fcntl::OFlag::O_CLOEXEC
                | nix::fcntl::OFlag::O_NOFOLLOW,
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .map(drop),
    };
    match r {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("nook-path-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn root_fd(p: &Path) -> OwnedFd {
        std::fs::File::open(p).unwrap().into()
    }

    #[test]
    fn creates_missing_dirs_and_files_inside_root() {
        let d = tmp("create");
        let root = root_fd(&d);
        create_in_root(root.as_fd(), Path::new("/a/b/c"), Kind::Dir).unwrap();
        create_in_root(root.as_fd(), Path::new("/a/f"), Kind::File).unwrap();
        assert!(d.join("a/b/c").is_dir());
        assert!(d.join("a/f").is_file());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn symlinks_and_dotdot_cannot_leave_the_root() {
        let d = tmp("escape");
        let outside = tmp("outside");
        std::os::unix::fs::symlink(&outside, d.join("evil")).unwrap();
        std::os::unix::fs::symlink("../../../../..", d.join("up")).unwrap();
        let root = root_fd(&d);
        create_in_root(root.as_fd(), Path::new("/evil/x"), Kind::Dir).unwrap();
        create_in_root(root.as_fd(), Path::new("/up/y"), Kind::File).unwrap();
        create_in_root(root.as_fd(), Path::new("/../../z"), Kind::Dir).unwrap();
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none(), "wrote outside the root");
        // The absolute symlink target was re-rooted inside the container.
        assert!(d.join(outside.strip_prefix("/").unwrap()).join("x").is_dir());
        assert!(d.join("y").is_file() && d.join("z").is_dir());
        std::fs::remove_dir_all(&d).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }

    #[test]
    fn magic_links_are_refused() {
        let d = tmp("magic");
        std::os::unix::fs::symlink("/proc/self/root", d.join("hostroot")).unwrap();
        let root = root_fd(&d);
        // /proc does not exist inside this root, so the link resolves inside it and is missing.
        assert!(open_in_root(root.as_fd(), Path::new("/hostroot/etc"), false).unwrap().is_none());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
