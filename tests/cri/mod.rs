//! containerd 1.6 with its CRI plugin for the CRI suite (tests/vm_cri.rs),
//! one per test binary: its start takes 10–20 s under TCG, so the first test
//! starts it and it is stopped when the binary exits. It runs on a private
//! root, state and socket in a tmpfs (overlayfs can't stack on the guest's
//! overlay root), with CNI's bridge, host-local and loopback plugins from
//! Debian's containernetworking-plugins, a pause image and a busybox image
//! that the test builds and imports (nothing is pulled), and one runtime
//! handler, `nook`, whose containerd config comes from [`handler`].

pub mod client;
pub mod image;
pub mod pause;
pub mod probe;
pub mod session;
pub mod stream;

use crate::common::clients::{self, ok, PATIENCE};
use crate::common::{output_via_files, wait_until, NOOK};
use client::Client;
pub use image::{IMAGE, PAUSE_IMAGE};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The runtime handler the pods ask for (a RuntimeClass's `handler`).
pub const HANDLER: &str = "nook";
/// The pods' cgroups go below this (kubelet's `kubepods`, cgroupfs driver).
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup/nook-cri";
/// The CNI network: a bridge with host-local addresses from this subnet.
pub const SUBNET_PREFIX: &str = "10.88.";
/// containerd's namespace for the CRI.
const NS: &str = "k8s.io";
/// Longest line the CRI writes to a log as one entry: longer ones are split
/// into partial (P) entries ending with a full (F) one.
pub const LOG_LINE: usize = 1024;

/// How containerd runs the `nook` handler's containers: its entry in
/// containerd's config, and what of it must be gone after each test.
pub struct Handler {
    /// containerd's `runtime_type` (`io.containerd.<name>.v2` runs the shim
    /// `containerd-shim-<name>-v2` from containerd's PATH).
    pub runtime_type: &'static str,
    /// Its `options` table, TOML `key = value` lines.
    pub options: Vec<String>,
    /// A directory put first on containerd's PATH (where the shim is).
    pub path: Option<PathBuf>,
    /// Programs no process of which may outlive a pod: the shim, and the
    /// runtime it runs.
    pub programs: Vec<String>,
    /// Where the runtime keeps its containers' state: nothing in it but
    /// nook's empty `.seal` after a test.
    pub state_root: Option<PathBuf>,
}

/// The handler `NOOK_CRI_SHIM` names, for containerd's files in `dir`:
/// - `runc` (the default): containerd's runc v2 shim
///   (`io.containerd.runc.v2`) running the binary `NOOK_CRI_RUNTIME` names
///   as its `BinaryName`: nook by default, `/usr/sbin/runc` to see what the
///   CRI expects;
/// - `nook`: nook's own shim (`io.containerd.nook.v2`), the
///   `containerd-shim-nook-v2` built beside the `nook` binary (issue 19);
///   its state root is for whoever builds it to fill in.
pub fn handler(dir: &Path) -> Handler {
    match std::env::var("NOOK_CRI_SHIM").as_deref().unwrap_or("runc") {
        "runc" => {
            let runtime = clients::runtime("NOOK_CRI_RUNTIME");
            let root = dir.join("runc");
            Handler {
                runtime_type: "io.containerd.runc.v2",
                options: vec![
                    format!("BinaryName = {runtime:?}"),
                    format!("Root = {:?}", root.display().to_string()),
                    "SystemdCgroup = false".into(),
                ],
                path: None,
                programs: vec!["/usr/bin/containerd-shim-runc-v2".into(), runtime],
                // The shim keeps each namespace's containers in Root/<ns>.
                state_root: Some(root.join(NS)),
            }
        }
        "nook" => {
            let shim = Path::new(NOOK).with_file_name("containerd-shim-nook-v2");
            assert!(shim.exists(), "NOOK_CRI_SHIM=nook: no {} (cargo build builds it)", shim.display());
            Handler {
                runtime_type: "io.containerd.nook.v2",
                options: vec![],
                path: Some(shim.parent().unwrap().to_owned()),
                programs: vec![shim.display().to_string()],
                state_root: None,
            }
        }
        other => panic!("NOOK_CRI_SHIM={other}: runc or nook"),
    }
}

pub struct Containerd {
    pub dir: PathBuf,
    pub sock: PathBuf,
    pub handler: Handler,
    /// The mount points under `dir` and /run/netns once it was up.
    pub baseline_mounts: Vec<String>,
}

static CONTAINERD: OnceLock<Containerd> = OnceLock::new();
static CHILD: Mutex<Option<(Child, PathBuf)>> = Mutex::new(None);

/// The suite's containerd, started on first use (once: a start that
/// failed fails the tests after it at once).
pub fn containerd() -> &'static Containerd {
    static TRIED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    CONTAINERD.get_or_init(|| {
        assert!(
            !TRIED.swap(true, std::sync::atomic::Ordering::SeqCst),
            "containerd failed to start in an earlier test"
        );
        Containerd::start()
    })
}

/// At exit: stop containerd, then remove its tmpfs and the pods' cgroup
/// root (the tests leave nothing in either).
extern "C" fn stop_at_exit() {
    let Ok(mut child) = CHILD.try_lock() else { return };
    if let Some((child, dir)) = child.take() {
        clients::stop(child, std::time::Duration::from_secs(30));
        let _ = std::fs::remove_dir(CGROUP_ROOT);
        let _ = Command::new("umount").arg("-l").arg(&dir).status();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Mount points under `dir` or /run/netns.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = format!("{}/", dir.display());
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut v: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&dir) || m.starts_with("/run/netns/") || *m == "/run/netns")
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

impl Containerd {
    fn start() -> Containerd {
        let dir = clients::private_tmpfs("cri");
        let sock = dir.join("containerd.sock");
        let handler = handler(&dir);
        // What kubelet's node set-up does: the CNI bridge's modules, and the
        // pods' parent cgroup with every controller passed down.
        let st = Command::new("modprobe").args(["-a", "bridge", "veth", "br_netfilter"]).status().unwrap();
        assert!(st.success(), "modprobe bridge veth br_netfilter");
        std::fs::create_dir_all(CGROUP_ROOT).unwrap();
        enable_controllers(Path::new(CGROUP_ROOT));
        std::fs::create_dir_all(dir.join("cni")).unwrap();
        std::fs::write(dir.join("cni/10-nook.conflist"), cni_config(&dir)).unwrap();
        std::fs::write(dir.join("config.toml"), config(&dir, &sock, &handler)).unwrap();

        let log = std::fs::File::create(dir.join("containerd.log")).unwrap();
        let mut cmd = Command::new("containerd");
        cmd.arg("--config").arg(dir.join("config.toml")).stdin(Stdio::null());
        cmd.stdout(log.try_clone().unwrap()).stderr(log);
        if let Some(p) = &handler.path {
            cmd.env("PATH", format!("{}:{}", p.display(), std::env::var("PATH").unwrap_or_default()));
        }
        let child = cmd.spawn().expect("containerd (scripts/deps.sh vm installs it)");
        *CHILD.lock().unwrap() = Some((child, dir.clone()));
        // SAFETY: registers a plain extern "C" fn.
        unsafe { libc::atexit(stop_at_exit) };

        let mut c = Containerd { dir, sock, handler, baseline_mounts: vec![] };
        wait_until("containerd's socket", PATIENCE, || {
            if let Some((child, _)) = CHILD.lock().unwrap().as_mut() {
                if let Some(st) = child.try_wait().unwrap() {
                    panic!("containerd exited ({st}):\n{}", c.log_tail(60));
                }
            }
            std::os::unix::net::UnixStream::connect(&c.sock).is_ok()
        });
        let mut client = Client::connect(&c.sock).expect("connect to the CRI socket");
        let v = client.version().expect("CRI Version");
        assert_eq!(v.runtime_api_version, "v1", "{v:?}");
        // Ready as kubelet waits for it: the runtime, and the network (the
        // CNI config loaded).
        wait_until("the CRI's RuntimeReady and NetworkReady", PATIENCE, || {
            let st = client.status().expect("CRI Status");
            st.conditions.iter().filter(|c| c.status).count() == 2
        });
        for image in [image::pause_image(&c.dir), image::test_image(&c.dir)] {
            ok(&c.ctr(&["images", "import", image.to_str().unwrap()]), "ctr images import");
        }
        for name in [PAUSE_IMAGE, IMAGE] {
            wait_until(&format!("the CRI to see {name}"), PATIENCE, || {
                client.image_status(name).expect("ImageStatus").is_some()
            });
        }
        c.baseline_mounts = mounts_under(&c.dir);
        c
    }

    /// `ctr -a <sock> -n k8s.io <args>`.
    pub fn ctr(&self, args: &[&str]) -> std::process::Output {
        let mut c = Command::new("ctr");
        c.arg("-a").arg(&self.sock).args(["-n", NS]).args(args).stdin(Stdio::null());
        output_via_files(c)
    }

    /// The last `n` lines of containerd's log.
    pub fn log_tail(&self, n: usize) -> String {
        let log = std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// Passes every controller `cg` has down to its children, as kubelet does
/// for the cgroups it makes.
pub fn enable_controllers(cg: &Path) {
    let have = std::fs::read_to_string(cg.join("cgroup.controllers")).unwrap();
    for c in have.split_whitespace() {
        std::fs::write(cg.join("cgroup.subtree_control"), format!("+{c}"))
            .unwrap_or_else(|e| panic!("+{c} in {}: {e}", cg.display()));
    }
}

/// A bridge network with host-local addresses (their state in `dir`);
/// containerd adds the loopback plugin itself.
fn cni_config(dir: &Path) -> String {
    serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "nook-cri",
        "plugins": [{
            "type": "bridge", "bridge": "nookcri0", "isGateway": true, "ipMasq": false,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": format!("{SUBNET_PREFIX}0.0/16")}]],
                "dataDir": dir.join("cni-ipam").display().to_string(),
            },
        }],
    })
    .to_string()
}

/// containerd's config: private paths, only the overlayfs snapshotter, the
/// CRI's streaming server on loopback, the local pause image as the
/// sandbox image, CNI from Debian's plugins, and the handler.
fn config(dir: &Path, sock: &Path, h: &Handler) -> String {
    // The CRI plugin's table headers, less their closing bracket.
    let cri = r#"[plugins."io.containerd.grpc.v1.cri""#;
    let options: String = h.options.iter().map(|o| format!("    {o}\n")).collect();
    format!(
        r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.opt"]
[grpc]
  address = "{s}"
[ttrpc]
  address = "{s}.ttrpc"
[debug]
  level = "info"
{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  max_container_log_line_size = {LOG_LINE}
{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "{HANDLER}"
{cri}.containerd.runtimes.{HANDLER}]
  runtime_type = "{rt}"
{cri}.containerd.runtimes.{HANDLER}.options]
{options}{cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{d}/cni"
  max_conf_num = 1
"#,
        d = dir.display(),
        s = sock.display(),
        rt = h.runtime_type,
    )
}
