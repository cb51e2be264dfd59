//! CRIU driven as runc drives it: through its RPC interface, never by
//! parsing its output. `criu swrk 3` is started with one end of a
//! SOCK_SEQPACKET socketpair at fd 3; nook sends one `criu_req` (protobuf,
//! the types in [`rpc`] are generated from CRIU's own rpc.proto), answers
//! each `NOTIFY` (the action-script hooks: setup-namespaces, post-restore,
//! orphan-pts-master…) and reads the final `criu_resp`.
//!
//! Nothing here runs unless `checkpoint`, `restore` or `features` asks:
//! create/run/exec never touch this module.

#[rustfmt::skip]
pub mod rpc;

use prost::Message;
use rpc::{CriuReq, CriuReqType, CriuResp};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The oldest CRIU nook drives: 3.15 restores external pid namespaces and
/// freezes through the cgroup v2 freezer (runc falls back for older ones).
pub const MIN_VERSION: u32 = 31500;

#[derive(Debug, thiserror::Error)]
pub enum CriuError {
    #[error("criu is not installed (no criu in PATH): checkpoint and restore need CRIU (https://criu.org)")]
    NotInstalled,
    #[error("--criu {}: {how}", .path.display())]
    Missing { path: PathBuf, how: &'static str },
    #[error("criu {}: {source}", .path.display())]
    Spawn { path: PathBuf, source: std::io::Error },
    #[error("criu {have} is too old: nook needs CRIU {} or later", version_string(*want))]
    TooOld { have: String, want: u32 },
    #[error("talking to criu: {0}")]
    Io(#[from] std::io::Error),
    #[error("criu sent {0}")]
    Protocol(String),
    /// CRIU answered the request with `success: false`.
    #[error("criu failed ({what}, errno {errno}){}", .msg.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Failed { what: &'static str, errno: i32, msg: Option<String> },
    /// A notification handler refused to go on.
    #[error("{0}")]
    Notify(String),
    #[error("criu exited with {0}")]
    Exit(std::process::ExitStatus),
}

type Result<T> = std::result::Result<T, CriuError>;

fn version_number(v: &rpc::CriuVersion) -> u32 {
    let n = (v.major_number.max(0) * 10000 + v.minor_number.max(0) * 100 + v.sublevel.unwrap_or(0).max(0)) as u32;
    if v.gitid.is_some() {
        n - n % 100 + 100
    } else {
        n
    }
}

/// "3.17.1" from 31701.
pub fn version_string(v: u32) -> String {
    format!("{}.{}.{}", v / 10000, v / 100 % 100, v % 100)
}

/// The CRIU binary: `explicit` (runc's `--criu`: a path, or a name looked
/// up in PATH), or `criu` from PATH.
pub fn find(explicit: Option<&Path>) -> Result<Criu> {
    let Some(p) = explicit else {
        return lookup(Path::new("criu")).map(|path| Criu { path }).ok_or(CriuError::NotInstalled);
    };
    let bare = p.components().count() == 1 && !p.is_absolute();
    let found = if bare { lookup(p) } else { Some(p.to_owned()).filter(|p| p.is_file()) };
    found.map(|path| Criu { path }).ok_or_else(|| CriuError::Missing {
        path: p.to_owned(),
        how: if bare { "not found in PATH" } else { "no such file" },
    })
}

fn lookup(name: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// What the criu process gets besides the RPC socket.
#[derive(Default)]
pub struct Spawn<'a> {
    /// Its stdin, stdout and stderr are nook's own (a restore hands them to
    /// the restored process through `inherit_fd`); otherwise /dev/null.
    pub inherit_stdio: bool,
    /// Passed at 4, 5, … (`inherit_fd` names them by these numbers).
    pub fds: Vec<OwnedFd>,
    /// Born in this cgroup (runc puts criu into the container's cgroup on
    /// restore, so the restored tree lands there).
    pub cgroup: Option<&'a crate::cgroups::Cgroup>,
}

/// A notification from CRIU (an action-script point) and the fd that came
/// with it (orphan-pts-master).
pub struct Notification {
    pub script: String,
    pub pid: i32,
    pub fd: Option<OwnedFd>,
}

/// What a request's caller does at each notification, and once criu runs.
pub trait Handler {
    /// criu has started (pid) and waits for the request, which may still
    /// change (restore's `cg_root` is criu's own cgroup).
    fn started(&mut self, _pid: i32, _req: &mut CriuReq) -> std::result::Result<(), String> {
        Ok(())
    }
    fn notify(&mut self, n: Notification) -> std::result::Result<(), String>;
}

/// A handler for requests without notifications.
pub struct NoNotify;

impl Handler for NoNotify {
    fn notify(&mut self, _n: Notification) -> std::result::Result<(), String> {
        Ok(())
    }
}

pub struct Criu {
    pub path: PathBuf,
}

impl Criu {
    /// CRIU's version as runc computes it: major*10000 + minor*100 +
    /// sublevel; a git build counts as the next minor release.
    pub fn version(&self) -> Result<u32> {
        let req = CriuReq { r#type: CriuReqType::Version as i32, ..Default::default() };
        let resp = self.call(req, Spawn::default(), &mut NoNotify)?;
        let v = resp.version.ok_or_else(|| CriuError::Protocol("no version in its VERSION answer".into()))?;
        Ok(version_number(&v))
    }

    /// The version, or an error if it is older than [`MIN_VERSION`].
    pub fn check_version(&self) -> Result<u32> {
        let v = self.version()?;
        if v < MIN_VERSION {
            return Err(CriuError::TooOld { have: version_string(v), want: MIN_VERSION });
        }
        Ok(v)
    }

    /// The features (of those asked for) that this CRIU and kernel lack.
    pub fn missing_features(&self, want: rpc::CriuFeatures) -> Result<Vec<&'static str>> {
        let req = CriuReq { r#type: CriuReqType::FeatureCheck as i32, features: Some(want), ..Default::default() };
        let have = self.call(req, Spawn::default(), &mut NoNotify)?.features.unwrap_or_default();
        let mut missing = Vec::new();
        if want.mem_track == Some(true) && have.mem_track != Some(true) {
            missing.push("memory tracking (mem_track)");
        }
        if want.lazy_pages == Some(true) && have.lazy_pages != Some(true) {
            missing.push("lazy pages (userfaultfd)");
        }
        Ok(missing)
    }

    /// Runs `criu swrk` for one request: sends it, answers every
    /// notification through `handler`, and returns CRIU's final answer
    /// once criu has exited.
    pub fn call(&self, mut req: CriuReq, spawn: Spawn, handler: &mut dyn Handler) -> Result<CriuResp> {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        let (ours, theirs) =
            socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).map_err(io)?;
        let mut cmd = Command::new(&self.path);
        cmd.args(["swrk", "3"]);
        if !spawn.inherit_stdio {
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        }
        let mut fds = vec![(theirs, 3)];
        fds.extend(spawn.fds.into_iter().zip(4..));
        crate::sys::fds::place_on_exec(&mut cmd, fds);
        if let Some(cg) = spawn.cgroup {
            cg.join_on_exec(&mut cmd);
        }
        let child = cmd.spawn().map_err(|source| CriuError::Spawn { path: self.path.clone(), source })?;
        // Our copy of criu's end goes with `cmd`: if criu dies, we read EOF.
        drop(cmd);
        let mut criu = Reaped(Some(child));
        let pid = criu.pid();
        handler.started(pid, &mut req).map_err(CriuError::Notify)?;
        let resp = converse(ours.as_fd(), &req, handler)?;
        // CRIU serves one request (a pre-dump's criu would wait for the
        // next one): closing our end lets it go.
        drop(ours);
        let status = criu.wait()?;
        if !status.success() && resp.r#type != CriuReqType::PreDump as i32 {
            return Err(CriuError::Exit(status));
        }
        Ok(resp)
    }
}

fn io(e: nix::errno::Errno) -> CriuError {
    CriuError::Io(e.into())
}

/// The criu child, killed and reaped if nook gives up on it early.
struct Reaped(Option<Child>);

impl Reaped {
    fn pid(&self) -> i32 {
        self.0.as_ref().map_or(0, |c| c.id() as i32)
    }
    fn wait(&mut self) -> Result<std::process::ExitStatus> {
        Ok(self.0.take().expect("waited once").wait()?)
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn req_name(t: i32) -> &'static str {
    CriuReqType::try_from(t).map(|t| t.as_str_name()).unwrap_or("?")
}

/// Sends the request and reads answers until the final one, answering
/// each notification.
pub(crate) fn converse(sock: std::os::fd::BorrowedFd, req: &CriuReq, handler: &mut dyn Handler) -> Result<CriuResp> {
    send(sock, req)?;
    // runc's buffer: a response never comes close to it.
    let mut buf = vec![0u8; 10 * 4096];
    loop {
        let (n, fd) = crate::sys::recv_with_fd(sock, &mut buf)?;
        if n == 0 {
            return Err(CriuError::Protocol("nothing: it closed the connection".into()));
        }
        if n == buf.len() {
            return Err(CriuError::Protocol("an answer larger than 40 KiB".into()));
        }
        let resp =
            CriuResp::decode(&buf[..n]).map_err(|e| CriuError::Protocol(format!("an undecodable answer: {e}")))?;
        if !resp.success {
            return Err(CriuError::Failed {
                what: req_name(resp.r#type),
                errno: resp.cr_errno.unwrap_or(0),
                msg: resp.cr_errmsg.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()),
            });
        }
        if resp.r#type != CriuReqType::Notify as i32 {
            return Ok(resp);
        }
        let notify = resp.notify.unwrap_or_default();
        let n = Notification { script: notify.script.unwrap_or_default(), pid: notify.pid.unwrap_or(0), fd };
        crate::logger::debug(|| format!("criu: notify {} (pid {})", n.script, n.pid));
        handler.notify(n).map_err(CriuError::Notify)?;
        let ack = CriuReq { r#type: CriuReqType::Notify as i32, notify_success: Some(true), ..Default::default() };
        send(sock, &ack)?;
    }
}

fn send(sock: std::os::fd::BorrowedFd, req: &CriuReq) -> Result<()> {
    let data = req.encode_to_vec();
    let n =
        nix::sys::socket::send(std::os::fd::AsRawFd::as_raw_fd(&sock), &data, nix::sys::socket::MsgFlags::MSG_NOSIGNAL)
            .map_err(io)?;
    if n != data.len() {
        return Err(CriuError::Protocol(format!("a short read of our request ({n} of {} bytes)", data.len())));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
