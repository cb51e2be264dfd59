//! Protection against CVE-2019-5736: a container process must never reach
//! the host's nook binary for writing through /proc/<pid>/exe.
//!
//! Init is a clone of nook, so until it execs, its /proc/<pid>/exe is the
//! nook binary. Before a command that enters a container (create, run,
//! exec), nook re-executes itself from a private, read-only overlayfs mount
//! of its own directory (the technique runc 1.2 uses): no copy of the
//! binary, and an overlay without an upper layer can never be made
//! writable. A binary already on a read-only mount needs nothing.

use crate::sys::{self, FsContext};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

const MARKER: &str = "_NOOK_SEALED";
const T0: &str = "_NOOK_T0";
static FIRST_START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// When the image that re-executed this one started sealing
/// (CLOCK_MONOTONIC ns), if this image is a sealed re-execution.
pub fn first_image_start() -> Option<u64> {
    FIRST_START.get().copied()
}

/// Whether the running binary sits on a read-only mount.
pub fn exe_is_sealed() -> io::Result<bool> {
    let f = std::fs::File::open("/proc/self/exe")?;
    let st = nix::sys::statvfs::fstatvfs(&f)?;
    Ok(st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

/// Re-executes nook from a sealed mount unless it already runs from one.
/// `scratch` is an empty directory nook owns (the overlay's second,
/// bottom layer). Returns only when already sealed or on error.
pub fn ensure_sealed(scratch: &Path) -> io::Result<()> {
    if std::env::var_os(MARKER).is_some() {
        std::env::remove_var(MARKER);
        if let Some(t) = std::env::var(T0).ok().and_then(|v| v.parse().ok()) {
            let _ = FIRST_START.set(t);
        }
        std::env::remove_var(T0);
        return if exe_is_sealed()? {
            Ok(())
        } else {
            Err(io::Error::other("re-executed, but the binary is still on a writable mount"))
        };
    }
    if exe_is_sealed()? {
        return Ok(());
    }
    let exe = std::fs::read_link("/proc/self/exe")?;
    let (dir, name) = match (exe.parent(), exe.file_name()) {
        (Some(d), Some(n)) => (d, n),
        _ => return Err(io::Error::other(format!("cannot seal {}", exe.display()))),
    };
    std::fs::create_dir_all(scratch)?;
    let fd = sealed_copy(dir, Path::new(name), scratch)?;

    let argv: Vec<CString> = std::env::args_os().map(|a| CString::new(a.as_bytes()).unwrap_or_default()).collect();
    let mut envp: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| CString::new([k.as_bytes(), b"=", v.as_bytes()].concat()).unwrap_or_default())
        .collect();
    envp.push(CString::new(format!("{MARKER}=1")).expect("no NUL"));
    // The re-executed image times its --debug phases from here.
    envp.push(CString::new(format!("{T0}={}", sys::monotonic_ns())).expect("no NUL"));
    Err(sys::execveat_fd(fd.as_fd(), &argv, &envp))
}

fn escape(p: &Path) -> String {
    String::from_utf8_lossy(p.as_os_str().as_bytes()).replace('\\', "\\\\").replace(':', "\\:")
}

/// An fd of `dir/name` through a detached read-only overlay of `dir`.
fn sealed_copy(dir: &Path, name: &Path, scratch: &Path) -> io::Result<OwnedFd> {
    let ctx = FsContext::open("overlay")?;
    ctx.set("lowerdir", Some(&format!("{}:{}", escape(dir), escape(scratch))))?;
    let _ = ctx.set("xino", Some("off"));
    let mnt = ctx.mount(sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOSUID)?;
    sys::openat2(mnt.as_fd(), name, libc::O_PATH, 0, libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS)
}
