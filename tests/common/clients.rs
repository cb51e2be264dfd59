//! What the real-client suites (vm_containerd, vm_podman, vm_docker) share:
//! the busybox rootfs their images are built from, a command on a pty, and
//! the checks that nothing of the runtime is left behind.

use super::{stderr, stdout, wait_until};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

/// Under TCG every Go binary takes seconds to start: wait generously.
pub const PATIENCE: Duration = Duration::from_secs(180);

/// Applets hard-linked into the images (busybox-static prefers its own
/// applets, and hard links keep a layer to one file's data).
const APPLETS: &[&str] =
    &["sh", "cat", "echo", "sleep", "test", "tty", "stty", "grep", "true", "[", "cut", "dd", "head", "ls"];

/// What a rootfs tar holds.
pub const ROOTFS_ENTRIES: &[&str] = &["bin", "dev", "etc", "proc", "sys", "tmp"];

/// The runtime a client drives: nook, or another one (runc, to see what the
/// client expects) named by the environment variable `var`.
pub fn runtime(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| super::NOOK.to_owned())
}

pub fn ok(o: &Output, what: &str) -> String {
    assert!(o.status.success(), "{what}: exit {:?}\nstdout: {}\nstderr: {}", o.status.code(), stdout(o), stderr(o));
    stdout(o)
}

/// `dir/rootfs`: bin/busybox with its applets, and empty mount points.
pub fn busybox_rootfs(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs");
    for d in ROOTFS_ENTRIES {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("busybox-static");
    for a in APPLETS {
        std::fs::hard_link(rootfs.join("bin/busybox"), rootfs.join("bin").join(a)).unwrap();
    }
    rootfs
}

/// A reproducible tar of `what` in `dir` (root-owned, sorted, mtime 0).
pub fn tar(dir: &Path, out: &Path, what: &[&str]) {
    let st = Command::new("tar")
        .args(["--sort=name", "--numeric-owner", "--owner=0", "--group=0", "--mtime=@0", "-C"])
        .arg(dir)
        .arg("-cf")
        .arg(out)
        .args(what)
        .status()
        .unwrap();
    assert!(st.success(), "tar");
}

/// `dir/rootfs.tar` of [`busybox_rootfs`], for `podman import` and
/// `docker import`.
pub fn busybox_rootfs_tar(dir: &Path) -> PathBuf {
    let out = dir.join("rootfs.tar");
    tar(&busybox_rootfs(dir), &out, ROOTFS_ENTRIES);
    out
}

/// The names in directory `p` (none if it is missing).
pub fn entries(p: &Path) -> Vec<String> {
    std::fs::read_dir(p)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// Nothing of any container in the runtime's state root. nook keeps one
/// empty directory there by design: `.seal`, the bottom layer of the
/// read-only overlay it re-executes from (src/seal.rs).
pub fn assert_runtime_root_clean(root: &Path) {
    let left: Vec<String> = entries(root).into_iter().filter(|e| e != ".seal").collect();
    assert_eq!(left, Vec::<String>::new(), "left in the runtime root {}", root.display());
    assert!(entries(&root.join(".seal")).is_empty(), "{}/.seal not empty", root.display());
}

/// No cgroup below `parent` but those named in `except`.
pub fn assert_no_cgroups_under(parent: &Path, except: &[&str]) {
    let left: Vec<String> =
        entries(parent).into_iter().filter(|e| parent.join(e).is_dir() && !except.contains(&e.as_str())).collect();
    assert_eq!(left, Vec::<String>::new(), "cgroups left under {}", parent.display());
}

/// Waits until no process runs any of `programs`.
pub fn wait_no_process_of(programs: &[&str]) {
    let exes: Vec<PathBuf> = programs.iter().map(|p| std::fs::canonicalize(p).unwrap()).collect();
    wait_until(&format!("no process of {programs:?}"), PATIENCE, || {
        !std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()).any(|e| {
            let exe = std::fs::read_link(e.path().join("exe")).ok();
            exe.is_some_and(|x| exes.contains(&x))
        })
    });
}

/// SIGTERM, and SIGKILL if it is still there after `patience`.
pub fn stop(mut child: Child, patience: Duration) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let t = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > patience {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `cmd` with a pty's slave as its controlling terminal and stdio,
/// the window set to `rows`×`cols`; returns its exit code and everything
/// it wrote to the terminal.
pub fn run_on_a_pty(mut cmd: Command, rows: u16, cols: u16) -> (Option<i32>, String) {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = std::fs::File::from(pty.slave);
    cmd.stdin(slave.try_clone().unwrap()).stdout(slave.try_clone().unwrap()).stderr(slave.try_clone().unwrap());
    let fd = slave.as_raw_fd();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            libc::ioctl(fd, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: a valid winsize for a terminal fd we hold.
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
    let mut child = cmd.spawn().unwrap();
    drop(slave);
    drop(cmd);
    // Read the master until every slave is closed (EIO).
    let mut master = std::fs::File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    let status = child.wait().unwrap();
    (status.code(), reader.join().unwrap())
}

/// What the tty tests run: checks its stdio are terminals, waits for the
/// window size to arrive, prints it and exits 5.
pub const TTY_SCRIPT: &str = "test -t 0 && test -t 1 && echo tty=$(tty) term=$TERM; \
    for i in 1 2 3 4 5 6 7 8 9 10; do [ \"$(stty size)\" = '33 99' ] && break; sleep 1; done; stty size; exit 5";

/// The checks on [`TTY_SCRIPT`]'s run through a client, from a 33×99 pty.
pub fn assert_tty_run(cmd: Command) {
    let (code, text) = run_on_a_pty(cmd, 33, 99);
    assert_eq!(code, Some(5), "{text}");
    assert!(text.contains("tty=/dev/pts/0 term=xterm"), "{text:?}");
    assert!(text.contains("33 99"), "the window size did not follow: {text:?}");
}

/// A tmpfs mounted on a fresh temp dir named `nook-<what>-<pid>`, for a
/// client's storage (overlayfs can't stack on the guest's overlay root).
/// Only in the test VM.
pub fn private_tmpfs(what: &str) -> PathBuf {
    assert_eq!(std::env::var("NOOK_IN_VM").as_deref(), Ok("1"), "only in the test VM");
    let dir = std::env::temp_dir().join(format!("nook-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let st = Command::new("mount").args(["-t", "tmpfs", "tmpfs"]).arg(&dir).status().unwrap();
    assert!(st.success(), "mount tmpfs on {}", dir.display());
    dir
}

/// The cgroup v2 directory of process `pid`, as seen from here.
pub fn cgroup_of(pid: impl std::fmt::Display) -> PathBuf {
    let c = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let rel = c.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
    PathBuf::from("/sys/fs/cgroup").join(rel.trim_start_matches('/'))
}

/// The value of `key` in a flat-keyed file (cgroup.events and the like).
pub fn keyed(path: PathBuf, key: &str) -> String {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')).unwrap_or_else(|| panic!("{key}: {text}")).into()
}
