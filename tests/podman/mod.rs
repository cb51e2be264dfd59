//! A private podman for the VM suite (tests/vm_podman.rs): its storage
//! (`--root`, `--runroot`, `--tmpdir`) in a temp dir on a tmpfs (overlayfs
//! can't stack on the guest's overlay root, but can on a tmpfs), its own
//! containers.conf (cgroupfs, file events, k8s-file logs), a busybox image
//! imported from a rootfs tar built from Debian's busybox-static, and the
//! checks that nothing of the runtime is left afterwards. podman drives the
//! runtime through conmon, exactly as CRI-O does.

use crate::common::{output_via_files, stderr, stdout, wait_until, NOOK};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Under TCG every Go binary takes seconds to start: wait generously.
pub const PATIENCE: Duration = Duration::from_secs(180);

pub const IMAGE: &str = "nook.test/busybox:latest";
/// podman's cgroup parent with the cgroupfs manager; each container gets
/// `libpod-<id>` below it, and conmons share `conmon`.
pub const CGROUP_PARENT: &str = "/sys/fs/cgroup/libpod_parent";

/// Applets hard-linked into the image (busybox-static prefers its own
/// applets, so hard links keep the layer to one file's data).
const APPLETS: &[&str] =
    &["sh", "cat", "echo", "sleep", "test", "tty", "stty", "grep", "true", "[", "cut", "dd", "head", "ls"];

/// The runtime conmon drives: nook, or another (runc, for comparison)
/// named by NOOK_PODMAN_RUNTIME.
pub fn runtime() -> String {
    std::env::var("NOOK_PODMAN_RUNTIME").unwrap_or_else(|_| NOOK.to_owned())
}

/// The runtime's state root: podman passes no `--root`, so it is the
/// runtime's own default, /run/<name> (/run/nook, /run/runc).
pub fn runtime_root() -> PathBuf {
    let rt = runtime();
    Path::new("/run").join(Path::new(&rt).file_name().unwrap())
}

pub fn ok(o: &Output, what: &str) -> String {
    assert!(o.status.success(), "{what}: exit {:?}\nstdout: {}\nstderr: {}", o.status.code(), stdout(o), stderr(o));
    stdout(o)
}

pub struct Podman {
    pub dir: PathBuf,
}

impl Podman {
    /// A tmpfs for podman's storage and config, and the busybox image
    /// imported into it.
    pub fn new() -> Podman {
        assert_eq!(std::env::var("NOOK_IN_VM").as_deref(), Ok("1"), "only in the test VM");
        let dir = std::env::temp_dir().join(format!("nook-podman-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let st = Command::new("mount").args(["-t", "tmpfs", "tmpfs"]).arg(&dir).status().unwrap();
        assert!(st.success(), "mount tmpfs on {}", dir.display());
        let p = Podman { dir };
        std::fs::write(
            p.dir.join("containers.conf"),
            "[containers]\nlog_driver = \"k8s-file\"\n[engine]\ncgroup_manager = \"cgroupfs\"\n\
             events_logger = \"file\"\n",
        )
        .unwrap();
        let tar = build_rootfs_tar(&p.dir.join("image"));
        let out = p.podman(&[
            "import",
            "--change",
            "CMD=sh",
            "--change",
            "ENV=PATH=/bin",
            tar.to_str().unwrap(),
            "nook.test/busybox",
        ]);
        ok(&out, "podman import");
        let images = ok(&p.podman(&["images", "--format", "{{.Repository}}:{{.Tag}}"]), "podman images");
        assert!(images.lines().any(|l| l == IMAGE), "{IMAGE} not imported: {images}");
        p
    }

    /// `podman <private global flags> <args>`, stdin /dev/null.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let d = &self.dir;
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", d.join("containers.conf"))
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("runroot"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(["--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "file"])
            .arg("--runtime")
            .arg(runtime())
            .args(args)
            .stdin(Stdio::null());
        c
    }

    pub fn podman(&self, args: &[&str]) -> Output {
        output_via_files(self.cmd(args))
    }

    /// The args of `podman run <opts> --network none IMAGE <cmd>`.
    pub fn run_args<'a>(opts: &[&'a str], cmd: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec!["run", "--network", "none"];
        a.extend_from_slice(opts);
        a.push(IMAGE);
        a.extend_from_slice(cmd);
        a
    }

    pub fn run(&self, opts: &[&str], cmd: &[&str]) -> Output {
        self.podman(&Self::run_args(opts, cmd))
    }

    /// `podman inspect --format <fmt> <id>`, trimmed.
    pub fn inspect(&self, id: &str, fmt: &str) -> String {
        ok(&self.podman(&["inspect", "--format", fmt, id]), "podman inspect").trim().to_owned()
    }

    /// Nothing of the runtime remains: no container in podman, nothing in
    /// the runtime's state root, no container or conmon cgroup, no conmon
    /// and no process of the runtime binary.
    pub fn assert_clean(&self) {
        assert_eq!(ok(&self.podman(&["ps", "-a", "-q"]), "podman ps").trim(), "");
        let entries = |p: &Path| -> Vec<String> {
            std::fs::read_dir(p)
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
                .unwrap_or_default()
        };
        // nook keeps one empty directory in its root by design: `.seal`, the
        // bottom layer of the read-only overlay it re-executes from
        // (src/seal.rs); nothing else may stay.
        let root = runtime_root();
        let left: Vec<String> = entries(&root).into_iter().filter(|e| e != ".seal").collect();
        assert_eq!(left, Vec::<String>::new(), "left in the runtime root {}", root.display());
        assert!(entries(&root.join(".seal")).is_empty(), "{}/.seal not empty", root.display());
        // podman keeps `conmon`, the cgroup all conmons share, as it keeps
        // libpod_parent (with runc too); it must be empty.
        let parent = Path::new(CGROUP_PARENT);
        let cgroups: Vec<String> =
            entries(parent).into_iter().filter(|e| parent.join(e).is_dir() && e != "conmon").collect();
        assert_eq!(cgroups, Vec::<String>::new(), "cgroups left under {CGROUP_PARENT}");
        let conmons = parent.join("conmon/cgroup.procs");
        wait_until("no process in libpod_parent/conmon", PATIENCE, || {
            std::fs::read_to_string(&conmons).unwrap_or_default().trim().is_empty()
        });
        let rt = std::fs::canonicalize(runtime()).unwrap();
        let conmon = std::fs::canonicalize("/usr/bin/conmon").unwrap();
        wait_until("no conmon or runtime process", PATIENCE, || {
            !std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()).any(|e| {
                let exe = std::fs::read_link(e.path().join("exe")).ok();
                exe.is_some_and(|x| x == rt || x == conmon)
            })
        });
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Whatever a failed test left: remove it through podman (which
        // stops it through the runtime, and conmon exits with it).
        let _ = self.podman(&["rm", "-a", "-f", "-t", "0"]);
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A tar of a busybox rootfs (bin/busybox and its applets, empty proc, sys,
/// dev, tmp, etc), for `podman import`.
pub fn build_rootfs_tar(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs");
    for d in ["bin", "proc", "sys", "dev", "tmp", "etc"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("busybox-static");
    for a in APPLETS {
        std::fs::hard_link(rootfs.join("bin/busybox"), rootfs.join("bin").join(a)).unwrap();
    }
    let out = dir.join("rootfs.tar");
    let st = Command::new("tar")
        .args(["--sort=name", "--numeric-owner", "--owner=0", "--group=0", "--mtime=@0", "-C"])
        .arg(&rootfs)
        .arg("-cf")
        .arg(&out)
        .args(["bin", "dev", "etc", "proc", "sys", "tmp"])
        .status()
        .unwrap();
    assert!(st.success(), "tar");
    out
}
