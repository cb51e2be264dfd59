//! A private dockerd for the VM suite (tests/vm_docker.rs): its data root,
//! exec root, socket and pid file in a temp dir on a tmpfs (overlay2 can't
//! stack on the guest's overlay root), no network (`--bridge=none`, no
//! iptables), nook added as the runtime `nook`, a busybox image imported
//! from a rootfs tar built from Debian's busybox-static, and the checks
//! that nothing of the runtime is left afterwards. The test starts the
//! containerd dockerd uses (`--containerd`), with its own root, state and
//! socket: the one dockerd would start itself has 10 s to come up, too
//! little under TCG. Its runc shim drives the runtime with `--root <exec
//! root>/runtime-runc/moby`.

use crate::common::clients::{self, busybox_rootfs_tar};
pub use crate::common::clients::{ok, PATIENCE};
use crate::common::{output_via_files, stdout, wait_until};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub const IMAGE: &str = "nook.test/busybox:latest";
/// Debian's client, not whatever else is first on PATH.
const DOCKER: &str = "/usr/bin/docker";
const CGROUP_PARENT: &str = "/sys/fs/cgroup/docker";

/// The runtime binary dockerd gets as `nook`: nook, or another (runc, for
/// comparison) named by NOOK_DOCKER_RUNTIME.
pub fn runtime() -> String {
    clients::runtime("NOOK_DOCKER_RUNTIME")
}

pub struct Dockerd {
    pub dir: PathBuf,
    child: Option<Child>,
    containerd: Option<Child>,
}

impl Dockerd {
    /// Starts dockerd and waits until `docker info` answers; then imports
    /// the busybox image.
    pub fn start() -> Dockerd {
        let dir = clients::private_tmpfs("docker");
        let ctrd = dir.join("containerd");
        std::fs::create_dir_all(&ctrd).unwrap();
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.opt"]
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
"#,
            d = ctrd.display()
        );
        std::fs::write(ctrd.join("config.toml"), config).unwrap();
        let log = std::fs::File::create(dir.join("containerd.log")).unwrap();
        let containerd = Command::new("containerd")
            .arg("--config")
            .arg(ctrd.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("containerd");
        let mut d = Dockerd { dir, child: None, containerd: Some(containerd) };
        wait_until("containerd's socket", PATIENCE, || {
            if let Some(st) = d.containerd.as_mut().unwrap().try_wait().unwrap() {
                panic!("containerd exited ({st}):\n{}", d.log());
            }
            std::os::unix::net::UnixStream::connect(ctrd.join("containerd.sock")).is_ok()
        });
        let dir = d.dir.clone();
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("-H")
            .arg(format!("unix://{}", dir.join("docker.sock").display()))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .arg("--containerd")
            .arg(ctrd.join("containerd.sock"))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false", "--storage-driver", "overlay2"])
            .arg("--add-runtime")
            .arg(format!("nook={}", runtime()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("dockerd (scripts/deps.sh vm installs docker.io)");
        d.child = Some(child);
        wait_until("dockerd to answer", PATIENCE, || {
            if let Some(st) = d.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("dockerd exited ({st}):\n{}", d.log());
            }
            d.dir.join("docker.sock").exists() && d.docker(&["info", "-f", "{{.ServerVersion}}"]).status.success()
        });
        let rootfs = busybox_rootfs_tar(&d.dir.join("image"));
        ok(&d.docker(&["import", "-c", "ENV PATH=/bin", rootfs.to_str().unwrap(), IMAGE]), "docker import");
        d
    }

    /// containerd's log, then dockerd's.
    pub fn log(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        format!("---- containerd ----\n{}---- dockerd ----\n{}", read("containerd.log"), read("dockerd.log"))
    }

    /// `docker -H unix://<sock> <args>`, stdin /dev/null.
    pub fn docker_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(DOCKER);
        c.arg("-H").arg(format!("unix://{}", self.dir.join("docker.sock").display())).args(args).stdin(Stdio::null());
        c
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        output_via_files(self.docker_cmd(args))
    }

    /// `docker run --runtime nook --network none <opts> IMAGE <cmd>`.
    pub fn run_cmd(&self, opts: &[&str], cmd: &[&str]) -> Command {
        let mut a = vec!["run", "--runtime", "nook", "--network", "none"];
        a.extend_from_slice(opts);
        a.push(IMAGE);
        a.extend_from_slice(cmd);
        self.docker_cmd(&a)
    }

    pub fn run(&self, opts: &[&str], cmd: &[&str]) -> Output {
        output_via_files(self.run_cmd(opts, cmd))
    }

    /// `docker inspect -f <format> <id>`, trimmed.
    pub fn inspect(&self, id: &str, format: &str) -> String {
        ok(&self.docker(&["inspect", "-f", format, id]), "docker inspect").trim().to_owned()
    }

    /// The shim's runtime root: where nook keeps the containers' state.
    pub fn runtime_root(&self) -> PathBuf {
        self.dir.join("exec/runtime-runc/moby")
    }

    /// Nothing of the runtime remains: no container in docker, nothing in
    /// the shim's runtime root (nor in containerd's default one), no
    /// container cgroup, no shim and no process of the runtime binary.
    pub fn assert_clean(&self) {
        assert_eq!(ok(&self.docker(&["ps", "-aq"]), "docker ps").trim(), "");
        clients::assert_runtime_root_clean(&self.runtime_root());
        assert_eq!(clients::entries(Path::new("/run/containerd/runc/moby")), Vec::<String>::new());
        clients::assert_no_cgroups_under(Path::new(CGROUP_PARENT), &[]);
        clients::wait_no_process_of(&[&runtime(), "/usr/bin/containerd-shim-runc-v2"]);
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // Whatever a failed test left: remove it through docker, so the
        // shims go too, then stop dockerd (which stops its containerd).
        let ids = stdout(&self.docker(&["ps", "-aq"]));
        for id in ids.lines() {
            let _ = self.docker(&["rm", "-f", id]);
        }
        for child in [self.child.take(), self.containerd.take()].into_iter().flatten() {
            clients::stop(child, Duration::from_secs(60));
        }
        if std::thread::panicking() {
            eprintln!("{}", self.log());
        }
        let _ = Command::new("umount").arg("-R").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
