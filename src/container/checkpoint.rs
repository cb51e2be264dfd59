//! `checkpoint`: CRIU dumps a running container's processes into images
//! (runc's Checkpoint). Unless `--leave-running` or `--pre-dump`, the
//! container is gone afterwards: CRIU ends its processes and nook deletes
//! it, as runc does. A restore (`restore`) brings it back from the images.

use super::criu_spec::{self, CriuOptions, DESCRIPTORS};
use super::{load, ContainerError, Result};
use crate::criu::rpc::{self, CriuReq, CriuReqType};
use crate::criu::{Handler, Notification, Spawn};
use crate::state::Status;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone)]
pub struct CheckpointOptions {
    pub id: String,
    pub criu: CriuOptions,
    /// `--parent-path`: the previous (pre-)dump, relative to the image path.
    pub parent_path: Option<PathBuf>,
    /// `--leave-running`: the container goes on after the dump.
    pub leave_running: bool,
    /// `--pre-dump`: memory only, the container goes on; a later dump names
    /// this one with `--parent-path` and writes only what changed since.
    pub pre_dump: bool,
    /// `--page-server ADDRESS:PORT`: the pages go there, not to the images.
    pub page_server: Option<String>,
    /// `--status-fd`: with `--lazy-pages`, gets a `\0` once CRIU is ready
    /// to serve the pages.
    pub status_fd: Option<i32>,
}

const LOG: &str = "dump.log";

fn bad(msg: impl Into<String>) -> ContainerError {
    ContainerError::Other(msg.into())
}

/// `ADDRESS:PORT` (`[v6]:PORT` too), as runc splits it.
fn page_server(s: &str) -> Result<rpc::CriuPageServerInfo> {
    let usage = || bad(format!("--page-server {s:?}: not ADDRESS:PORT"));
    let (addr, port) = s.rsplit_once(':').ok_or_else(usage)?;
    let addr = addr.strip_prefix('[').and_then(|a| a.strip_suffix(']')).unwrap_or(addr);
    if addr.is_empty() || port.is_empty() {
        return Err(usage());
    }
    let port: u16 = port.parse().map_err(|_| bad(format!("--page-server {s:?}: invalid port {port:?}")))?;
    Ok(rpc::CriuPageServerInfo { address: Some(addr.into()), port: Some(port.into()), ..Default::default() })
}

/// `--parent-path` must be relative to the image path and a directory there.
fn check_parent(images: &Path, parent: &Path) -> Result<()> {
    if parent.is_absolute() {
        return Err(bad("--parent-path must be relative (to --image-path)"));
    }
    let real = images.join(parent);
    match std::fs::metadata(&real) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(bad(format!("--parent-path {}: not a directory", real.display()))),
        Err(e) => Err(bad(format!("--parent-path {}: {e}", real.display()))),
    }
}

/// A directory (made if missing, as runc does) and an fd of it for CRIU,
/// which opens it again through /proc/<nook>/fd/<n>.
fn open_dir(p: &Path, flag: &str) -> Result<OwnedFd> {
    let err = |e: std::io::Error| bad(format!("{flag} {}: {e}", p.display()));
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(p).map_err(err)?;
    Ok(std::fs::File::open(p).map_err(err)?.into())
}

/// What fds 0, 1 and 2 of `pid` link to (`pipe:[123]`, `/dev/null`…), for
/// descriptors.json: the restore hands the pipes over to its own stdio, as
/// runc's does. Read at the dump (runc records them at create), so that a
/// pipe the process has replaced since is the one named.
fn descriptors(pid: i32) -> Vec<String> {
    (0..3)
        .map(|fd| std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).map(|l| l.to_string_lossy().into_owned()))
        .map(|r| r.unwrap_or_default())
        .collect()
}

/// Answers CRIU's notifications during a dump.
struct Dump {
    status_fd: Option<OwnedFd>,
}

impl Handler for Dump {
    fn notify(&mut self, n: Notification) -> std::result::Result<(), String> {
        // With --lazy-pages, CRIU serves the pages from here on: one \0,
        // and the fd is closed, as runc does.
        if n.script == "status-ready" {
            if let Some(fd) = self.status_fd.take() {
                if let Err(e) = nix::unistd::write(&fd, b"\0") {
                    crate::logger::debug(|| format!("--status-fd: {e}"));
                }
            }
        }
        Ok(())
    }
}

pub fn checkpoint(root: &Path, opts: &CheckpointOptions) -> Result<()> {
    let o = &opts.criu;
    o.check()?;
    let ps = opts.page_server.as_deref().map(page_server).transpose()?;
    let status_fd = opts
        .status_fd
        .map(|fd| crate::sys::fds::take_writable(fd).map_err(|e| bad(format!("--status-fd {fd}: {e}"))))
        .transpose()?;
    let c = load(root, &opts.id)?;
    match c.status {
        Status::Running | Status::Paused => {}
        s => {
            return Err(ContainerError::WrongState {
                id: opts.id.clone(),
                status: s,
                msg: "cannot checkpoint a container that is not running",
            })
        }
    }
    let criu = crate::criu::find(o.criu.as_deref())?;
    criu.check_version()?;
    let mut features = rpc::CriuFeatures::default();
    if opts.pre_dump {
        features.mem_track = Some(true);
    }
    if o.lazy_pages {
        features.lazy_pages = Some(true);
    }
    if features != rpc::CriuFeatures::default() {
        let missing = criu.missing_features(features)?;
        if !missing.is_empty() {
            return Err(bad(format!("CRIU or the kernel lacks {}", missing.join(" and "))));
        }
    }
    let st = &c.state;
    let spec = crate::state::load_config(&c.dir.path)?;

    let images = open_dir(&o.image_path, "--image-path")?;
    if let Some(p) = &opts.parent_path {
        check_parent(&o.image_path, p)?;
    }
    let work = o.work_path.as_deref().map(|p| open_dir(p, "--work-path")).transpose()?;
    let mut req_opts = o.base(&spec, images.as_raw_fd(), LOG)?;
    req_opts.root = Some(st.rootfs.to_string_lossy().into_owned());
    req_opts.pid = Some(st.pid);
    req_opts.leave_running = Some(opts.leave_running);
    req_opts.work_dir_fd = work.as_ref().map(|w| w.as_raw_fd());
    req_opts.external = criu_spec::dump_externals(&spec)?;
    // CRIU freezes the container through its cgroup v2 freezer.
    req_opts.freeze_cgroup = st.cgroup.as_ref().map(|p| p.to_string_lossy().into_owned());
    req_opts.ps = ps;
    if let Some(p) = &opts.parent_path {
        req_opts.parent_img = Some(p.to_string_lossy().into_owned());
        req_opts.track_mem = Some(true);
    }
    if !opts.pre_dump {
        req_opts.ext_mnt = criu_spec::dump_ext_mounts(&spec, &st.rootfs, st.pid);
        let json = serde_json::to_vec(&descriptors(st.pid)).expect("strings serialize");
        let path = o.image_path.join(DESCRIPTORS);
        std::fs::write(&path, json).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    }
    let kind = if opts.pre_dump { CriuReqType::PreDump } else { CriuReqType::Dump };
    let req = CriuReq { r#type: kind as i32, opts: Some(req_opts), ..Default::default() };
    crate::logger::debug(|| format!("criu {}: dumping {} (pid {})", criu.path.display(), st.id, st.pid));
    let mut handler = Dump { status_fd };
    criu.call(req, Spawn::default(), &mut handler).map_err(|e| with_log(e.into(), o.log_dir(), LOG))?;
    crate::logger::debug(|| "dumped".into());
    if opts.leave_running || opts.pre_dump {
        return Ok(());
    }
    // CRIU has ended the container's processes: delete it, as runc does.
    super::delete::destroy(c.dir, &c.state)
}

/// Adds CRIU's first logged error (unless CRIU's answer already said it)
/// and the log's path to a failure.
pub(super) fn with_log(e: ContainerError, dir: &Path, file: &str) -> ContainerError {
    let log = dir.join(file);
    let msg = e.to_string();
    match criu_spec::log_error(dir, file) {
        Some(line) if !msg.contains(&line) => ContainerError::Other(format!("{msg}: {line} (see {})", log.display())),
        _ if log.exists() => ContainerError::Other(format!("{msg} (see {})", log.display())),
        _ => e,
    }
}
