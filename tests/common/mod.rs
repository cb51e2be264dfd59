//! Shared helpers for the host test suites: a busybox bundle built from
//! Debian's busybox-static, a private state root per test, and checks that
//! nothing is left behind.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const NOOK: &str = env!("CARGO_BIN_EXE_nook");

/// Applets linked into the test rootfs (hard links: see docs/testing notes).
const APPLETS: &[&str] = &[
    "sh",
    "echo",
    "cat",
    "ls",
    "hostname",
    "id",
    "sleep",
    "true",
    "false",
    "ps",
    "kill",
    "readlink",
    "stat",
    "test",
    "grep",
    "wc",
    "head",
    "mkdir",
    "touch",
    "domainname",
    "env",
    "pwd",
    "mknod",
    "rm",
    "stty",
    "tty",
    "swapoff",
    "mount",
    "unshare",
    "linux32",
    "linux64",
];

pub struct Bundle {
    pub dir: PathBuf,
    pub root: PathBuf,
    pub id: String,
}

fn unique(name: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{name}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

impl Bundle {
    /// A bundle running `args`, with runc's default spec less the terminal.
    pub fn new(name: &str, args: &[&str]) -> Bundle {
        let id = unique(name);
        let dir = PathBuf::from("/tmp/nook-tests").join(&id);
        let _ = std::fs::remove_dir_all(&dir);
        let bin = dir.join("rootfs/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let busybox = Path::new("/bin/busybox");
        assert!(busybox.exists(), "busybox-static is not installed (make test installs it)");
        std::fs::copy(busybox, bin.join("busybox")).unwrap();
        for a in APPLETS {
            std::fs::hard_link(bin.join("busybox"), bin.join(a)).unwrap();
        }
        let b = Bundle { root: dir.join("state"), dir, id };
        let out = b.nook(&["spec", "--bundle", b.dir.to_str().unwrap()]);
        assert!(out.status.success(), "nook spec: {}", stderr(&out));
        b.edit(|c| {
            c["process"]["terminal"] = false.into();
            c["process"]["args"] = args.iter().map(|s| Value::from(*s)).collect();
        });
        b
    }

    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// Changes config.json.
    pub fn edit(&self, f: impl FnOnce(&mut Value)) {
        let mut c: Value = serde_json::from_slice(&std::fs::read(self.config()).unwrap()).unwrap();
        f(&mut c);
        std::fs::write(self.config(), serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    }

    /// A `nook --root <this test's root>` command.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(NOOK);
        c.arg("--root").arg(&self.root).args(args).stdin(Stdio::null());
        c
    }

    /// Runs nook to completion. Its stdout and stderr go to files, not
    /// pipes: a created container inherits them (as with runc) and would
    /// keep a pipe open long after nook itself has exited.
    pub fn nook(&self, args: &[&str]) -> Output {
        output_via_files(self.cmd(args))
    }

    /// `nook <verb> [flags] -b <bundle> <id>` for create/run.
    pub fn with_bundle(&self, verb: &str, extra: &[&str]) -> Output {
        let mut a = vec![verb, "--bundle", self.dir.to_str().unwrap()];
        a.extend_from_slice(extra);
        a.push(&self.id);
        self.nook(&a)
    }

    pub fn state(&self) -> Value {
        let out = self.nook(&["state", &self.id]);
        assert!(out.status.success(), "state: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn status(&self) -> String {
        self.state()["status"].as_str().unwrap().to_owned()
    }

    /// The container's cgroup directory, per runc's default naming.
    pub fn cgroup_dir(&self) -> PathBuf {
        cgroup_mount().join(&self.id)
    }

    /// Nothing of this container remains: no state dir, no cgroup, no
    /// process (init is a clone of nook, so its command line names the
    /// id), no mount on the host naming the bundle.
    pub fn assert_clean(&self) {
        assert!(!self.root.join(&self.id).exists(), "state dir left behind");
        assert!(!self.cgroup_dir().exists(), "cgroup {} left behind", self.cgroup_dir().display());
        let t = std::time::Instant::now();
        while let Some(pid) = self.leftover_process() {
            assert!(t.elapsed() < std::time::Duration::from_secs(5), "process {pid} left behind");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(self.dir.to_str().unwrap()), "a mount of the bundle was left on the host");
    }

    fn leftover_process(&self) -> Option<u32> {
        std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()).find_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let zombie = stat.rsplit(')').next()?.trim_start().starts_with('Z');
            let mine = cmd.split(|b| *b == 0).any(|a| a == self.id.as_bytes());
            (mine && !zombie).then_some(pid)
        })
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = self.nook(&["delete", "--force", &self.id]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The cgroup v2 mount tests expect nook to use, on this host's own cgroup
/// (the tests run in the root cgroup of the unified hierarchy).
pub fn cgroup_mount() -> PathBuf {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let own = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap().trim_start_matches('/').to_owned();
    for m in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        if std::fs::read_to_string(format!("{m}/cgroup.controllers")).is_ok() {
            return Path::new(m).join(own);
        }
    }
    panic!("no cgroup v2 mount");
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The command failed with exactly one line on stderr containing `needle`.
pub fn assert_one_line_error(o: &Output, needle: &str) {
    assert!(!o.status.success(), "expected failure, got success; stdout: {}", stdout(o));
    let err = stderr(o);
    assert_eq!(err.trim_end().lines().count(), 1, "expected one line, got: {err:?}");
    assert!(err.contains(needle), "expected {needle:?} in {err:?}");
}

/// Like `Command::output`, but through temporary files, so that a process
/// that inherits stdout/stderr cannot keep us waiting for EOF.
pub fn output_via_files(mut c: Command) -> Output {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let base = std::env::temp_dir().join(format!("nook-out-{}-{n}", std::process::id()));
    let (o, e) = (base.with_extension("out"), base.with_extension("err"));
    c.stdout(std::fs::File::create(&o).unwrap()).stderr(std::fs::File::create(&e).unwrap());
    let status = c.status().unwrap();
    let out = Output { status, stdout: std::fs::read(&o).unwrap(), stderr: std::fs::read(&e).unwrap() };
    let _ = std::fs::remove_file(o);
    let _ = std::fs::remove_file(e);
    out
}

/// splitmix64: a small deterministic PRNG for the fault and fuzz tests
/// (their seed is printed, so a run can be replayed).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-ish in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Polls `f` every 50 ms until it holds; fails the test after `patience`.
pub fn wait_until(what: &str, patience: std::time::Duration, mut f: impl FnMut() -> bool) {
    let t = std::time::Instant::now();
    while !f() {
        assert!(t.elapsed() < patience, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
pub mod clients;
pub mod oci;
