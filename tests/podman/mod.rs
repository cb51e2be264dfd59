//! A private podman for the VM suite (tests/vm_podman.rs): its storage
//! (`--root`, `--runroot`, `--tmpdir`) in a temp dir on a tmpfs (overlayfs
//! can't stack on the guest's overlay root, but can on a tmpfs), its own
//! containers.conf (cgroupfs, file events, k8s-file logs), a busybox image
//! imported from a rootfs tar built from Debian's busybox-static, and the
//! checks that nothing of the runtime is left afterwards. podman drives the
//! runtime through conmon, exactly as CRI-O does.

use crate::common::clients;
use crate::common::clients::busybox_rootfs_tar;
pub use crate::common::clients::{ok, PATIENCE};
use crate::common::{output_via_files, wait_until};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const IMAGE: &str = "nook.test/busybox:latest";
/// podman's cgroup parent with the cgroupfs manager; each container gets
/// `libpod-<id>` below it, and conmons share `conmon`.
pub const CGROUP_PARENT: &str = "/sys/fs/cgroup/libpod_parent";

/// The runtime conmon drives: nook, or another (runc, for comparison)
/// named by NOOK_PODMAN_RUNTIME.
pub fn runtime() -> String {
    clients::runtime("NOOK_PODMAN_RUNTIME")
}

/// The runtime's state root: podman passes no `--root`, so it is the
/// runtime's own default, /run/<name> (/run/nook, /run/runc).
pub fn runtime_root() -> PathBuf {
    let rt = runtime();
    Path::new("/run").join(Path::new(&rt).file_name().unwrap())
}

pub struct Podman {
    pub dir: PathBuf,
}

impl Podman {
    /// A tmpfs for podman's storage and config, and the busybox image
    /// imported into it.
    pub fn new() -> Podman {
        let dir = clients::private_tmpfs("podman");
        let p = Podman { dir };
        std::fs::write(
            p.dir.join("containers.conf"),
            "[containers]\nlog_driver = \"k8s-file\"\n[engine]\ncgroup_manager = \"cgroupfs\"\n\
             events_logger = \"file\"\n",
        )
        .unwrap();
        let tar = busybox_rootfs_tar(&p.dir.join("image"));
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
        clients::assert_runtime_root_clean(&runtime_root());
        // podman keeps `conmon`, the cgroup all conmons share, as it keeps
        // libpod_parent (with runc too); it must be empty.
        let parent = Path::new(CGROUP_PARENT);
        clients::assert_no_cgroups_under(parent, &["conmon"]);
        let conmons = parent.join("conmon/cgroup.procs");
        wait_until("no process in libpod_parent/conmon", PATIENCE, || {
            std::fs::read_to_string(&conmons).unwrap_or_default().trim().is_empty()
        });
        clients::wait_no_process_of(&[&runtime(), "/usr/bin/conmon"]);
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
