//! One test's view of the suite's containerd: a CRI client, the pods the
//! test made (removed as kubelet removes them: stop, remove, then the pod's
//! cgroup and log directory), helpers for the calls every test makes, and
//! the check that nothing of the runtime is left. Tests take turns (a lock),
//! since each ends by checking the whole node is clean.

use super::client::Client;
use super::{containerd, enable_controllers, mounts_under, Containerd, CGROUP_ROOT, HANDLER, IMAGE};
use crate::common::clients::{self, PATIENCE};
use crate::common::wait_until;
use k8s_cri::v1::*;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

static TURN: Mutex<()> = Mutex::new(());

pub struct Pod {
    pub id: String,
    pub config: PodSandboxConfig,
    /// The pod's cgroup (its containers' cgroups are `<this>/<container id>`).
    pub cgroup: PathBuf,
    pub logs: PathBuf,
}

pub struct Cri {
    pub ctrd: &'static Containerd,
    pub client: Client,
    pods: Vec<Pod>,
    _turn: MutexGuard<'static, ()>,
}

impl Cri {
    pub fn new() -> Cri {
        let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let ctrd = containerd();
        let client = Client::connect(&ctrd.sock).expect("connect to the CRI socket");
        Cri { ctrd, client, pods: vec![], _turn: turn }
    }

    /// A pod as kubelet describes one: its own network, IPC and UTS
    /// namespaces, a pid namespace per container (kubelet's default), its
    /// cgroup under CGROUP_ROOT, its logs in a directory of its own.
    pub fn pod_config(&self, name: &str) -> PodSandboxConfig {
        let ns = NamespaceOption {
            network: NamespaceMode::Pod as i32,
            pid: NamespaceMode::Container as i32,
            ipc: NamespaceMode::Pod as i32,
            ..Default::default()
        };
        PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: name.into(),
                uid: format!("uid-{name}"),
                namespace: "nook-cri".into(),
                attempt: 0,
            }),
            hostname: name.into(),
            log_directory: self.ctrd.dir.join("pods").join(name).display().to_string(),
            dns_config: Some(DnsConfig { servers: vec!["127.0.0.1".into()], ..Default::default() }),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: format!("/nook-cri/pod-{name}"),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(ns),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// RunPodSandbox on the `nook` handler, after making the pod's cgroup
    /// and log directory as kubelet does.
    pub fn run_pod(&mut self, config: PodSandboxConfig) -> &Pod {
        let parent = &config.linux.as_ref().unwrap().cgroup_parent;
        let cgroup = Path::new("/sys/fs/cgroup").join(parent.trim_start_matches('/'));
        assert!(cgroup.starts_with(CGROUP_ROOT), "{}", cgroup.display());
        std::fs::create_dir_all(&cgroup).unwrap();
        enable_controllers(&cgroup);
        let logs = PathBuf::from(&config.log_directory);
        std::fs::create_dir_all(&logs).unwrap();
        let id = match self.client.run_pod_sandbox(&config, HANDLER) {
            Ok(id) => id,
            Err(e) => {
                let _ = std::fs::remove_dir(&cgroup);
                panic!("RunPodSandbox: {e:?}");
            }
        };
        self.pods.push(Pod { id, config, cgroup, logs });
        self.pods.last().unwrap()
    }

    /// A container of the busybox image running `command`, logging to
    /// `<name>/0.log` in its pod's log directory (kubelet's layout).
    pub fn container_config(name: &str, command: &[&str]) -> ContainerConfig {
        ContainerConfig {
            metadata: Some(ContainerMetadata { name: name.into(), attempt: 0 }),
            image: Some(ImageSpec { image: IMAGE.into(), ..Default::default() }),
            command: command.iter().map(|s| s.to_string()).collect(),
            log_path: format!("{name}/0.log"),
            linux: Some(LinuxContainerConfig {
                resources: Some(LinuxContainerResources::default()),
                security_context: Some(LinuxContainerSecurityContext::default()),
            }),
            ..Default::default()
        }
    }

    /// CreateContainer in `pod` (its log directory made first, as kubelet
    /// does); the container's id.
    pub fn create(&mut self, pod: &str, config: &ContainerConfig) -> String {
        let p = self.pod(pod);
        let log = p.logs.join(&config.log_path);
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        let pod_config = p.config.clone();
        self.client.create_container(pod, config, &pod_config).unwrap_or_else(|e| panic!("CreateContainer: {e:?}"))
    }

    /// CreateContainer and StartContainer.
    pub fn create_and_start(&mut self, pod: &str, config: &ContainerConfig) -> String {
        let id = self.create(pod, config);
        self.client.start_container(&id).unwrap_or_else(|e| panic!("StartContainer: {e:?}"));
        id
    }

    pub fn pod(&self, id: &str) -> &Pod {
        self.pods.iter().find(|p| p.id == id).unwrap_or_else(|| panic!("no pod {id} of this test"))
    }

    /// ContainerStatus, failing the test on an error.
    pub fn status(&mut self, id: &str) -> ContainerStatus {
        self.client.container_status(id).unwrap_or_else(|e| panic!("ContainerStatus {id}: {e:?}"))
    }

    /// Waits for the container to exit; its status.
    pub fn wait_exited(&mut self, id: &str) -> ContainerStatus {
        wait_until(&format!("container {id} to exit"), PATIENCE, || {
            self.status(id).state == ContainerState::ContainerExited as i32
        });
        self.status(id)
    }

    /// ExecSync of `sh -c script`: (exit code, stdout, stderr).
    pub fn sh(&mut self, id: &str, script: &str) -> (i32, String, String) {
        let r = self.client.exec_sync(id, &["sh", "-c", script], 120).unwrap_or_else(|e| panic!("ExecSync: {e:?}"));
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (r.exit_code, text(&r.stdout), text(&r.stderr))
    }

    /// ExecSync of `sh -c script` that must succeed; its stdout.
    pub fn sh_ok(&mut self, id: &str, script: &str) -> String {
        let (code, out, err) = self.sh(id, script);
        assert_eq!(code, 0, "{script}: stdout {out:?} stderr {err:?}");
        out
    }

    /// StopContainer (SIGKILL after `timeout` s) and RemoveContainer.
    pub fn stop_and_remove(&mut self, id: &str, timeout: i64) {
        self.client.stop_container(id, timeout).unwrap_or_else(|e| panic!("StopContainer {id}: {e:?}"));
        self.client.remove_container(id).unwrap_or_else(|e| panic!("RemoveContainer {id}: {e:?}"));
    }

    /// StopPodSandbox and RemovePodSandbox, then what kubelet removes: the
    /// pod's cgroup (which the runtime must have emptied: no container's
    /// cgroup left in it) and its log directory.
    pub fn remove_pod(&mut self, id: &str) {
        self.client.stop_pod_sandbox(id).unwrap_or_else(|e| panic!("StopPodSandbox: {e:?}"));
        self.client.remove_pod_sandbox(id).unwrap_or_else(|e| panic!("RemovePodSandbox: {e:?}"));
        let i = self.pods.iter().position(|p| p.id == id).unwrap();
        let pod = self.pods.remove(i);
        clients::assert_no_cgroups_under(&pod.cgroup, &[]);
        std::fs::remove_dir(&pod.cgroup).unwrap_or_else(|e| panic!("rmdir {}: {e}", pod.cgroup.display()));
        std::fs::remove_dir_all(&pod.logs).unwrap();
    }

    /// Nothing of the runtime is left: no pod or container in the CRI, no
    /// process of the shim or the runtime, nothing in the runtime's state
    /// root, no cgroup under CGROUP_ROOT, no mount, network namespace or
    /// CNI address beyond those there when containerd came up.
    pub fn assert_clean(&mut self) {
        assert!(self.pods.is_empty(), "the test left pods");
        assert_eq!(self.client.list_pod_sandbox().unwrap().len(), 0, "pods left in the CRI");
        assert_eq!(self.client.list_containers().unwrap().len(), 0, "containers left in the CRI");
        let programs: Vec<&str> = self.ctrd.handler.programs.iter().map(String::as_str).collect();
        clients::wait_no_process_of(&programs);
        if let Some(root) = &self.ctrd.handler.state_root {
            clients::assert_runtime_root_clean(root);
        }
        clients::assert_no_cgroups_under(Path::new(CGROUP_ROOT), &[]);
        assert_eq!(mounts_under(&self.ctrd.dir), self.ctrd.baseline_mounts, "mounts left");
        assert_eq!(clients::entries(Path::new("/run/netns")), Vec::<String>::new(), "network namespaces left");
        let ipam = self.ctrd.dir.join("cni-ipam/nook-cri");
        let addresses: Vec<String> =
            clients::entries(&ipam).into_iter().filter(|e| e.starts_with(super::SUBNET_PREFIX)).collect();
        assert_eq!(addresses, Vec::<String>::new(), "CNI addresses left in {}", ipam.display());
    }
}

impl Drop for Cri {
    /// After a failed test: remove what it left, so the next test starts
    /// clean, and show the end of containerd's log.
    fn drop(&mut self) {
        if self.pods.is_empty() {
            return;
        }
        for pod in std::mem::take(&mut self.pods) {
            let _ = self.client.stop_pod_sandbox(&pod.id);
            let _ = self.client.remove_pod_sandbox(&pod.id);
            let _ = std::fs::remove_dir(&pod.cgroup);
            let _ = std::fs::remove_dir_all(&pod.logs);
        }
        if std::thread::panicking() {
            eprintln!("---- containerd's log (end) ----\n{}", self.ctrd.log_tail(80));
        }
    }
}

/// One entry of a CRI log file: `<RFC 3339 time> <stdout|stderr> <P|F> <text>`.
#[derive(Debug, PartialEq)]
pub struct LogEntry {
    pub stream: String,
    pub tag: String,
    pub text: String,
}

/// The entries of the CRI log file at `path`, each line checked for the
/// format.
pub fn log_entries(path: &Path) -> Vec<LogEntry> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| {
            let mut f = l.splitn(4, ' ');
            let (time, stream, tag) = (f.next().unwrap(), f.next().unwrap_or(""), f.next().unwrap_or(""));
            let b = time.as_bytes();
            let rfc3339 = b.len() >= 20
                && b[4] == b'-'
                && b[7] == b'-'
                && b[10] == b'T'
                && b[13] == b':'
                && b[16] == b':'
                && (time.ends_with('Z') || time[19..].contains(['+', '-']));
            assert!(rfc3339, "not an RFC 3339 time in {l:?}");
            assert!(["stdout", "stderr"].contains(&stream) && ["P", "F"].contains(&tag), "not a CRI log line: {l:?}");
            LogEntry { stream: stream.into(), tag: tag.into(), text: f.next().unwrap_or("").into() }
        })
        .collect()
}

/// The lines a container wrote to `stream`, partial entries joined.
pub fn log_text(entries: &[LogEntry], stream: &str) -> Vec<String> {
    let mut lines = vec![];
    let mut cur = String::new();
    for e in entries.iter().filter(|e| e.stream == stream) {
        cur.push_str(&e.text);
        if e.tag == "F" {
            lines.push(std::mem::take(&mut cur));
        }
    }
    lines
}
