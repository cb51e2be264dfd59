//! A private containerd for the VM suite (tests/vm_containerd.rs): its own
//! root, state and socket in a temp dir on a tmpfs (overlayfs can't stack
//! on the guest's overlay root), an OCI image built from Debian's
//! busybox-static and imported with `ctr`, and the checks that nothing of
//! the runtime is left afterwards.

use crate::common::clients::{self, busybox_rootfs, ROOTFS_ENTRIES};
pub use crate::common::clients::{ok, PATIENCE};
use crate::common::oci;
use crate::common::{output_via_files, stdout, wait_until};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// ctr's namespace: the shim's runtime root is /run/containerd/runc/<this>.
pub const NS: &str = "nook";
pub const IMAGE: &str = "nook.test/busybox:latest";
const RUNTIME_ROOT: &str = "/run/containerd/runc/nook";
const CGROUP_PARENT: &str = "/sys/fs/cgroup/nook";

/// The runtime binary the shim drives: nook, or another (runc, for
/// comparison) named by NOOK_CTRD_RUNTIME.
pub fn runtime() -> String {
    clients::runtime("NOOK_CTRD_RUNTIME")
}

pub struct Containerd {
    pub dir: PathBuf,
    pub sock: PathBuf,
    child: Option<Child>,
}

impl Containerd {
    /// Starts containerd with a config of its own and waits for its socket;
    /// then imports the busybox image.
    pub fn start() -> Containerd {
        let dir = clients::private_tmpfs("ctrd");
        let sock = dir.join("containerd.sock");
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.opt"]
[grpc]
  address = "{s}"
[ttrpc]
  address = "{s}.ttrpc"
[debug]
  level = "info"
"#,
            d = dir.display(),
            s = sock.display()
        );
        std::fs::write(dir.join("config.toml"), config).unwrap();
        let log = std::fs::File::create(dir.join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("containerd (scripts/deps.sh vm installs it)");
        let mut c = Containerd { dir, sock, child: Some(child) };
        wait_until("containerd's socket", PATIENCE, || {
            if let Some(st) = c.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("containerd exited ({st}):\n{}", c.log());
            }
            std::os::unix::net::UnixStream::connect(&c.sock).is_ok()
        });
        let image = build_image(&c.dir.join("image"));
        let out = c.ctr(&["images", "import", image.to_str().unwrap()]);
        ok(&out, "ctr images import");
        let images = ok(&c.ctr(&["images", "ls", "-q"]), "ctr images ls");
        assert!(images.lines().any(|l| l == IMAGE), "{IMAGE} not imported: {images}");
        c
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
    }

    /// `ctr -a <sock> -n nook <args>`, stdin /dev/null.
    pub fn ctr_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("-a").arg(&self.sock).args(["-n", NS]).args(args).stdin(Stdio::null());
        c
    }

    pub fn ctr(&self, args: &[&str]) -> Output {
        output_via_files(self.ctr_cmd(args))
    }

    /// `ctr run --runc-binary <runtime> <opts> IMAGE <id> <cmd>`.
    pub fn run(&self, opts: &[&str], id: &str, cmd: &[&str]) -> Output {
        output_via_files(self.run_cmd(opts, id, cmd))
    }

    pub fn run_cmd(&self, opts: &[&str], id: &str, cmd: &[&str]) -> Command {
        let rt = runtime();
        let mut a = vec!["run", "--runc-binary", &rt];
        a.extend_from_slice(opts);
        a.extend_from_slice(&[IMAGE, id]);
        a.extend_from_slice(cmd);
        self.ctr_cmd(&a)
    }

    /// The task's row in `ctr task ls`: (pid, status).
    pub fn task(&self, id: &str) -> Option<(u32, String)> {
        let out = ok(&self.ctr(&["task", "ls"]), "ctr task ls");
        out.lines().skip(1).find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&id)).then(|| (f[1].parse().unwrap(), f[2].to_owned()))
        })
    }

    pub fn status(&self, id: &str) -> String {
        self.task(id).unwrap_or_else(|| panic!("no task {id}")).1
    }

    /// Nothing of the runtime remains: no task or container in containerd,
    /// nothing in the shim's runtime root, no container cgroup, no shim and
    /// no process of the runtime binary.
    pub fn assert_clean(&self) {
        assert_eq!(ok(&self.ctr(&["task", "ls", "-q"]), "task ls").trim(), "");
        assert_eq!(ok(&self.ctr(&["containers", "ls", "-q"]), "containers ls").trim(), "");
        clients::assert_runtime_root_clean(Path::new(RUNTIME_ROOT));
        clients::assert_no_cgroups_under(Path::new(CGROUP_PARENT), &[]);
        clients::wait_no_process_of(&[&runtime(), "/usr/bin/containerd-shim-runc-v2"]);
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Whatever a failed test left: kill and delete through containerd,
        // so the shims go too, then stop containerd itself.
        let tasks = stdout(&self.ctr(&["task", "ls", "-q"]));
        for id in tasks.lines() {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", id]);
            let _ = self.ctr(&["task", "delete", "-f", id]);
        }
        for id in stdout(&self.ctr(&["containers", "ls", "-q"])).lines() {
            let _ = self.ctr(&["containers", "delete", id]);
        }
        if let Some(child) = self.child.take() {
            clients::stop(child, Duration::from_secs(30));
        }
        if std::thread::panicking() {
            eprintln!("---- containerd's log ----\n{}", self.log());
        }
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An OCI image archive with one layer holding bin/busybox and its applets,
/// named IMAGE.
pub fn build_image(dir: &Path) -> PathBuf {
    let rootfs = busybox_rootfs(dir);
    let config = json!({"Env": ["PATH=/bin"], "Cmd": ["sh"], "WorkingDir": "/"});
    oci::archive(dir, IMAGE, &rootfs, ROOTFS_ENTRIES, config)
}
