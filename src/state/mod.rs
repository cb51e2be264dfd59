//! Container state on disk: one directory per container under the root
//! (`/run/nook/<id>`), holding `state.json` (written atomically) and, while
//! the container is created but not started, the `exec.fifo` that `start`
//! writes to. Commands on one id are serialized by an flock on the
//! directory; commands on different ids never wait for each other.

mod time;

pub use time::rfc3339;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const FIFO: &str = "exec.fifo";
pub const CONFIG_FILE: &str = "config.json";
/// The seal's scratch directory under the root (see `crate::seal`): not a
/// container.
pub const SEAL_DIR: &str = ".seal";
const MAX_STATE_BYTES: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("container id {0:?} is invalid: {1}")]
    InvalidId(String, &'static str),
    #[error("container {0:?} does not exist")]
    NotFound(String),
    #[error("container {0:?} already exists")]
    AlreadyExists(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: corrupt state: {msg}")]
    Corrupt { path: PathBuf, msg: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.to_owned(), source }
}

/// Checks a container id as runc does: `^[\w+-\.]+$`, and never `.`/`..`.
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let bad = |why| Err(StateError::InvalidId(id.to_owned(), why));
    if id.is_empty() {
        return bad("it is empty");
    }
    if id == "." || id == ".." {
        return bad("it is a path component");
    }
    if id.len() > 1024 {
        return bad("it is longer than 1024 bytes");
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b)) {
        return bad("only letters, digits, '_', '+', '-' and '.' are allowed");
    }
    Ok(())
}

/// The lifecycle status of a container, as runtime-spec and runc name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        };
        f.write_str(s)
    }
}

/// What nook keeps about a container between invocations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    /// Host pid of the container's init; 0 until it exists.
    pub pid: i32,
    /// The init's start time in clock ticks since boot (/proc/<pid>/stat
    /// field 22), so that a recycled pid is never taken for the container.
    pub init_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Absolute path of the container's cgroup directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<PathBuf>,
    /// The systemd unit that holds the cgroup (`--systemd-cgroup`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<String>,
    /// The config's hooks (poststart and poststop run after create). The
    /// whole config is kept beside, in config.json (see `load_config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// Without a mount namespace of its own, the container's mounts are
    /// made in the host's, on a bind of the rootfs: this is the id of the
    /// mount the rootfs path showed before, down to which `delete` detaches
    /// (see `rootfs::detach_host_mounts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_rootfs_mount: Option<u64>,
}

/// The runtime-spec state plus runc's extra fields, as `nook state` prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub pid: i32,
    pub status: Status,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    pub owner: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: &'a BTreeMap<String, String>,
}

/// A container's state directory, locked for the lifetime of this value.
pub struct ContainerDir {
    pub id: String,
    pub path: PathBuf,
    lock: nix::fcntl::Flock<File>,
}

impl ContainerDir {
    /// Creates and locks `<root>/<id>`; fails if it exists.
    pub fn create(root: &Path, id: &str) -> Result<Self, StateError> {
        validate_id(id)?;
        std::fs::DirBuilder::new().recursive(true).mode(0o711).create(root).map_err(io_err(root))?;
        let path = root.join(id);
        match std::fs::DirBuilder::new().mode(0o711).create(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StateError::AlreadyExists(id.to_owned()))
            }
            r => r.map_err(io_err(&path))?,
        }
        Self::lock(id, path)
    }

    /// Opens and locks an existing container's directory.
    pub fn open(root: &Path, id: &str) -> Result<Self, StateError> {
        validate_id(id)?;
        let dir = Self::lock(id, root.join(id))?;
        if !dir.path.join(STATE_FILE).exists() {
            // Removed while we waited for the lock, or a create that died
            // before writing any state.
            return Err(StateError::NotFound(id.to_owned()));
        }
        Ok(dir)
    }

    fn lock(id: &str, path: PathBuf) -> Result<Self, StateError> {
        let lock = File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StateError::NotFound(id.to_owned()),
            _ => StateError::Io { path: path.clone(), source: e },
        })?;
        let lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| StateError::Io { path: path.clone(), source: e.into() })?;
        // Every removal holds the lock, so once the directory we locked is
        // the one at `path`, it stays there until we let go. If it was
        // removed while we waited (by `delete --force` of a create that had
        // not written its state yet), it is gone: never act on `path`.
        let ours = lock.metadata().map_err(io_err(&path))?;
        match std::fs::metadata(&path) {
            Ok(now) if now.dev() == ours.dev() && now.ino() == ours.ino() => {}
            _ => return Err(StateError::NotFound(id.to_owned())),
        }
        Ok(ContainerDir { id: id.to_owned(), path, lock })
    }

    /// Removes `<root>/<id>` if it holds no state.json: a create killed
    /// before it wrote any. Returns false (and removes nothing) if the
    /// directory has state after all.
    pub fn remove_stateless(root: &Path, id: &str) -> Result<bool, StateError> {
        validate_id(id)?;
        let dir = Self::lock(id, root.join(id))?;
        if dir.path.join(STATE_FILE).exists() {
            return Ok(false);
        }
        dir.remove()?;
        Ok(true)
    }

    pub fn fifo(&self) -> PathBuf {
        self.path.join(FIFO)
    }

    pub fn load(&self) -> Result<State, StateError> {
        load_state(&self.path)
    }

    /// Writes state.json atomically: a temp file, fsync'd, renamed over.
    pub fn save(&self, state: &State) -> Result<(), StateError> {
        let tmp = self.path.join(".state.json.tmp");
        let data = serde_json::to_vec(state).expect("state serializes");
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(&data).map_err(io_err(&tmp))?;
        let target = self.path.join(STATE_FILE);
        std::fs::rename(&tmp, &target).map_err(io_err(&target))
    }

    /// Keeps the config the container was made from, as it was read (no
    /// re-serialization): `exec` starts from its process, namespaces and
    /// seccomp profile, as runc's does. Written before the first state.
    pub fn save_config(&self, raw: &[u8]) -> Result<(), StateError> {
        let path = self.path.join(CONFIG_FILE);
        std::fs::write(&path, raw).map_err(io_err(&path))
    }

    /// Removes the directory and everything in it, then drops the lock.
    pub fn remove(self) -> Result<(), StateError> {
        std::fs::remove_dir_all(&self.path).map_err(io_err(&self.path))?;
        drop(self.lock);
        Ok(())
    }

    /// The user who owns the state directory, by name where known.
    pub fn owner(&self) -> String {
        owner_of(&self.path)
    }

    /// Raw fd of the lock, so a child can be kept from inheriting it.
    pub fn lock_fd(&self) -> i32 {
        self.lock.as_raw_fd()
    }
}

/// Reads `<dir>/state.json` without taking the lock (the file is only ever
/// replaced by rename, so it is never seen half-written).
pub fn load_state(dir: &Path) -> Result<State, StateError> {
    let path = dir.join(STATE_FILE);
    crate::spec::read_json(&path, MAX_STATE_BYTES).map_err(|e| match e {
        crate::spec::SpecError::Io { path, source } => StateError::Io { path, source },
        other => StateError::Corrupt { path: path.clone(), msg: other.to_string() },
    })
}

/// The config a container was created from (see `save_config`).
pub fn load_config(dir: &Path) -> Result<crate::spec::Spec, StateError> {
    let path = dir.join(CONFIG_FILE);
    crate::spec::read_doc(&path, crate::spec::MAX_CONFIG_BYTES, crate::spec::Doc::Config).map_err(|e| match e {
        crate::spec::SpecError::Io { path, source } => StateError::Io { path, source },
        other => StateError::Corrupt { path: path.clone(), msg: other.to_string() },
    })
}

/// The user name owning `path` (runc's `owner` field), from /etc/passwd
/// (nook is linked statically, so it does not load NSS modules).
pub fn owner_of(path: &Path) -> String {
    let uid = std::fs::metadata(path).map(|m| m.uid()).unwrap_or(0);
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    user_name(&passwd, uid).unwrap_or_else(|| uid.to_string())
}

fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
    })
}

/// Lists the ids of all containers under `root` (sorted).
pub fn list_ids(root: &Path) -> Result<Vec<String>, StateError> {
    let entries = match std::fs::read_dir(root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        r => r.map_err(io_err(root))?,
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| validate_id(id).is_ok() && id != SEAL_DIR)
        .collect();
    ids.sort();
    Ok(ids)
}

/// The start time (clock ticks after boot) and state letter of a process,
/// or None if it does not exist.
pub fn proc_stat(pid: i32) -> Option<(u64, char)> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces or parens: fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    // `rest` starts at field 3; starttime is field 22.
    let start = fields.nth(18)?.parse().ok()?;
    Some((start, state))
}

/// Whether the container's init is still the process we started.
pub fn init_alive(state: &State) -> bool {
    matches!(proc_stat(state.pid), Some((start, s)) if start == state.init_start_time && s != 'Z' && s != 'X')
}

/// Derives the status from the init process, the fifo and the freezer.
pub fn status(dir: &Path, state: &State) -> Status {
    if state.pid == 0 {
        return if locked_by_other(dir) { Status::Creating } else { Status::Stopped };
    }
    if !init_alive(state) {
        return Status::Stopped;
    }
    if dir.join(FIFO).exists() {
        return Status::Created;
    }
    let frozen = state
        .cgroup
        .as_ref()
        .and_then(|cg| std::fs::read_to_string(cg.join("cgroup.freeze")).ok())
        .is_some_and(|s| s.trim() == "1");
    if frozen {
        Status::Paused
    } else {
        Status::Running
    }
}

/// What `list` shows for a directory with no state.json yet: a create
/// killed (or still running) between making the directory and writing its
/// first state. Its status is creating while that create holds the lock,
/// else stopped, so `delete --force` is seen to be needed.
pub fn placeholder(id: &str) -> State {
    State {
        oci_version: String::new(),
        id: id.to_owned(),
        pid: 0,
        init_start_time: 0,
        bundle: PathBuf::new(),
        rootfs: PathBuf::new(),
        created: String::new(),
        annotations: BTreeMap::new(),
        cgroup: None,
        systemd_unit: None,
        hooks: None,
        host_rootfs_mount: None,
    }
}

fn locked_by_other(dir: &Path) -> bool {
    let Ok(f) = File::open(dir) else { return false };
    let Ok(md) = f.metadata() else { return false };
    match nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(_) => false,
        Err((_, e)) => e == nix::errno::Errno::EWOULDBLOCK && locker_alive(&md),
    }
}

/// Whether the process that took the flock on this directory still lives.
/// A create killed after its clone leaves the lock, for a moment, with the
/// clone (init closes its copy first thing, when it gets to run): the lock
/// is then nobody's. /proc/locks names the process that took it.
fn locker_alive(md: &std::fs::Metadata) -> bool {
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else { return true };
    let want = format!("{:02x}:{:02x}:{}", nix::sys::stat::major(md.dev()), nix::sys::stat::minor(md.dev()), md.ino());
    let pid = locks.lines().find_map(|l| {
        // "1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF" (waiters have "->")
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() >= 6 && f[1] == "FLOCK" && f[5] == want).then(|| f[4].parse::<i32>().ok()).flatten()
    });
    match pid {
        // Not visible from our pid namespace: assume it lives.
        Some(pid) if pid > 0 => proc_stat(pid).is_some_and(|(_, state)| state != 'Z'),
        _ => true,
    }
}

#[cfg(test)]
mod tests;
