//! Kubernetes' pod lifecycle on nook: containerd 1.6's CRI plugin, driven
//! through its gRPC socket as kubelet drives it (a CRI client in
//! tests/cri/client.rs on the k8s-cri crate; Exec and Attach over the
//! streaming URL the CRI returns, tests/cri/stream.rs). One containerd
//! serves the whole binary (tests/cri/mod.rs); each test runs its pods and
//! ends by checking that nothing of them is left. containerd needs a whole
//! machine with cgroup v2, so these run in the test VM
//! (`integration/vm/cargo-test-in-vm --test vm_cri -- --include-ignored`,
//! part of `make test-vm`) and are ignored on the host.
//!
//! The runtime handler is containerd's runc v2 shim running nook as its
//! `BinaryName`; `NOOK_CRI_RUNTIME=/usr/sbin/runc` (through `NOOK_VM_ENV`)
//! runs the same suite on Debian's runc, to prove it tests the CRI contract,
//! and `NOOK_CRI_SHIM=nook` on nook's own shim (see `cri::handler`).

mod common;
mod cri;
use common::clients::PATIENCE;
use common::wait_until;
use cri::probe::{facts, host_namespaces, namespaces, DEFAULT_CAPS, FACTS, NS_SCRIPT};
use cri::session::{log_entries, log_text, Cri};
use cri::stream::{Outcome, Stream, STDIN};
use k8s_cri::v1::*;
use std::collections::HashMap;

#[test]
#[ignore = "runs containerd's CRI plugin: runs in the test VM (make test-vm)"]
fn a_pod_and_its_container_go_through_kubelets_lifecycle() {
    let mut t = Cri::new();
    let config = t.pod_config("life");
    let pod = t.run_pod(config).id.clone();
    let st = t.client.pod_sandbox_status(&pod).unwrap();
    assert_eq!(st.state, PodSandboxState::SandboxReady as i32);
    assert_eq!(st.runtime_handler, cri::HANDLER);
    let ip = st.network.unwrap_or_default().ip;
    assert!(ip.starts_with(cri::SUBNET_PREFIX), "no address from the CNI bridge: {ip:?}");

    // The init writes to both streams and a line longer than the CRI's
    // log line, waits on a fifo (ignoring SIGTERM), writes again and sleeps.
    let init = format!(
        "trap '' TERM; mkfifo /tmp/go; echo out-1; echo err-1 >&2; head -c {n} /dev/zero | tr '\\0' x; echo; \
         read l < /tmp/go; echo out-2; exec sleep 100000",
        n = 2 * cri::LOG_LINE + 100
    );
    let cfg = Cri::container_config("main", &["sh", "-c", &init]);
    let id = t.create(&pod, &cfg);
    assert_eq!(t.status(&id).state, ContainerState::ContainerCreated as i32);
    t.client.start_container(&id).unwrap();
    let st = t.status(&id);
    assert_eq!(st.state, ContainerState::ContainerRunning as i32, "{st:?}");
    assert!(st.started_at > 0 && st.started_at >= st.created_at, "{st:?}");
    assert_eq!(st.image.unwrap().image, cri::IMAGE);
    let log = t.pod(&pod).logs.join("main/0.log");
    assert_eq!(st.log_path, log.display().to_string());

    // Logs in the CRI format: the long line split into partial entries.
    wait_until("the init's output in its log", PATIENCE, || {
        let e = log_entries(&log);
        log_text(&e, "stdout").len() == 2 && log_text(&e, "stderr").len() == 1
    });
    let entries = log_entries(&log);
    let long = "x".repeat(2 * cri::LOG_LINE + 100);
    assert_eq!(log_text(&entries, "stdout"), ["out-1", long.as_str()]);
    assert_eq!(log_text(&entries, "stderr"), ["err-1"]);
    let tags: Vec<&str> = entries.iter().filter(|e| e.stream == "stdout").map(|e| e.tag.as_str()).collect();
    assert_eq!(tags, ["F", "P", "P", "F"], "{entries:?}");

    // ExecSync: both streams and the exit code.
    let (code, out, err) = t.sh(&id, "echo exec-out; echo exec-err >&2; cat /etc/hostname; exit 3");
    assert_eq!((code, out.as_str(), err.as_str()), (3, "exec-out\nlife\n", "exec-err\n"));

    // ContainerStats, from the container's cgroup.
    let stats = t.client.container_stats(&id).unwrap();
    assert_eq!(stats.attributes.unwrap().id, id);
    let mem = stats.memory.unwrap().working_set_bytes.unwrap().value;
    let cpu = stats.cpu.unwrap().usage_core_nano_seconds.unwrap().value;
    assert!(mem > 0 && cpu > 0, "memory {mem}, cpu {cpu}");

    // UpdateContainerResources reaches the container's cgroup.
    let cg = t.pod(&pod).cgroup.join(&id);
    let read = |f: &str| std::fs::read_to_string(cg.join(f)).unwrap().trim().to_owned();
    assert_eq!(read("memory.max"), "max");
    let update = LinuxContainerResources {
        memory_limit_in_bytes: 96 << 20,
        cpu_period: 100_000,
        cpu_quota: 50_000,
        cpu_shares: 512,
        ..Default::default()
    };
    t.client.update_container_resources(&id, update).unwrap();
    assert_eq!(read("memory.max"), (96u64 << 20).to_string());
    assert_eq!(read("cpu.max"), "50000 100000");

    // Log rotation as kubelet does it: rename, ReopenContainerLog; what the
    // container writes next goes to the new file.
    let rotated = log.with_extension("log.1");
    std::fs::rename(&log, &rotated).unwrap();
    t.client.reopen_container_log(&id).unwrap();
    t.sh_ok(&id, "echo go > /tmp/go");
    wait_until("out-2 in the reopened log", PATIENCE, || {
        log.exists() && log_text(&log_entries(&log), "stdout") == ["out-2"]
    });
    assert_eq!(log_text(&log_entries(&rotated), "stdout"), ["out-1", long.as_str()]);

    // StopContainer: the init ignores SIGTERM, so SIGKILL after the grace period.
    t.client.stop_container(&id, 2).unwrap();
    let st = t.status(&id);
    assert_eq!((st.state, st.exit_code), (ContainerState::ContainerExited as i32, 137), "{st:?}");
    assert!(st.finished_at >= st.started_at);
    assert!(!cg.exists(), "the container's cgroup is left after StopContainer");
    t.client.remove_container(&id).unwrap();
    let gone = t.client.container_status(&id).unwrap_err();
    assert_eq!(gone.code(), tonic::Code::NotFound, "{gone:?}");
    t.remove_pod(&pod);
    t.assert_clean();
}

#[test]
#[ignore = "runs containerd's CRI plugin: runs in the test VM (make test-vm)"]
fn exec_and_attach_stream_over_the_url_the_cri_returns() {
    let mut t = Cri::new();
    let config = t.pod_config("stream");
    let pod = t.run_pod(config).id.clone();
    // An init that answers each line of its stdin on both streams, and one
    // on a terminal that answers with the terminal's size.
    let mut cfg = Cri::container_config("echo", &["sh", "-c", "while read l; do echo got $l; echo err $l >&2; done"]);
    cfg.stdin = true;
    let echo = t.create_and_start(&pod, &cfg);
    let mut cfg = Cri::container_config("tty", &["sh", "-c", "while read l; do echo \"[$l] $(stty size)\"; done"]);
    (cfg.stdin, cfg.tty) = (true, true);
    let tty = t.create_and_start(&pod, &cfg);
    let exec = |id: &str, cmd: &[&str], tty: bool| ExecRequest {
        container_id: id.into(),
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        tty,
        stdin: true,
        stdout: true,
        stderr: !tty,
    };

    // Exec: a shell reading its script from stdin; output and exit code
    // come back on their channels.
    let url = t.client.exec(exec(&echo, &["sh"], false)).unwrap();
    let mut s = Stream::open(&url, PATIENCE);
    s.send(STDIN, b"echo exec-out; echo exec-err >&2; exit 3\n");
    let o = s.collect();
    assert_eq!((o.stdout.as_str(), o.stderr.as_str(), o.exit_code()), ("exec-out\n", "exec-err\n", Some(3)), "{o:?}");
    let url = t.client.exec(exec(&echo, &["true"], false)).unwrap();
    assert_eq!(Stream::open(&url, PATIENCE).collect().exit_code(), Some(0));

    // Exec on a terminal, resized by the client.
    let script = "test -t 0 && test -t 1 && echo on-a-tty; \
                  for i in 1 2 3 4 5 6 7 8 9 10; do [ \"$(stty size)\" = '33 99' ] && break; sleep 1; done; \
                  echo size $(stty size); exit 5";
    let url = t.client.exec(exec(&echo, &["sh", "-c", script], true)).unwrap();
    let mut s = Stream::open(&url, PATIENCE);
    s.resize(99, 33);
    let o = s.collect();
    assert!(o.stdout.contains("on-a-tty\r\n") && o.stdout.contains("size 33 99\r\n"), "{o:?}");
    assert_eq!(o.exit_code(), Some(5), "{o:?}");

    // Attach to the init's stdio; detaching leaves it running, and a second
    // attach finds it again.
    for word in ["one", "two"] {
        let url = t
            .client
            .attach(AttachRequest { container_id: echo.clone(), stdin: true, tty: false, stdout: true, stderr: true })
            .unwrap();
        let mut s = Stream::open(&url, PATIENCE);
        s.send(STDIN, format!("{word}\n").as_bytes());
        let mut o = Outcome::default();
        let (out, err) = (format!("got {word}\n"), format!("err {word}\n"));
        s.read_until(&mut o, "the init's answer", |o| o.stdout.contains(&out) && o.stderr.contains(&err));
        s.close();
        assert_eq!(t.status(&echo).state, ContainerState::ContainerRunning as i32);
    }

    // Attach to a terminal and resize it: the init sees the new size (the
    // resize and the input travel apart, so ask until it has arrived).
    let url = t
        .client
        .attach(AttachRequest { container_id: tty.clone(), stdin: true, tty: true, stdout: true, stderr: false })
        .unwrap();
    let mut s = Stream::open(&url, PATIENCE);
    s.resize(77, 22);
    let mut o = Outcome::default();
    let sized = (0..20).any(|i| {
        s.send(STDIN, format!("{i}\n").as_bytes());
        let tag = format!("[{i}]");
        s.read_until(&mut o, &tag, |o| o.stdout.lines().any(|l| l.starts_with(&tag)));
        let line = o.stdout.lines().find(|l| l.starts_with(&tag)).unwrap().to_owned();
        line.trim_end() == format!("{tag} 22 77") || {
            std::thread::sleep(std::time::Duration::from_millis(500));
            false
        }
    });
    assert!(sized, "the terminal never got 22x77: {o:?}");
    s.close();

    t.stop_and_remove(&echo, 1);
    t.stop_and_remove(&tty, 1);
    t.remove_pod(&pod);
    t.assert_clean();
}

#[test]
#[ignore = "runs containerd's CRI plugin: runs in the test VM (make test-vm)"]
fn security_contexts_reach_the_containers() {
    let mut t = Cri::new();
    let mut config = t.pod_config("secure");
    // A privileged container needs a privileged pod.
    config.linux.as_mut().unwrap().security_context.as_mut().unwrap().privileged = true;
    let pod = t.run_pod(config).id.clone();
    let runtime_default = Some(SecurityProfile {
        profile_type: security_profile::ProfileType::RuntimeDefault as i32,
        ..Default::default()
    });
    let unconfined =
        Some(SecurityProfile { profile_type: security_profile::ProfileType::Unconfined as i32, ..Default::default() });
    let contexts = [
        (
            "user",
            LinuxContainerSecurityContext {
                run_as_user: Some(Int64Value { value: 1000 }),
                run_as_group: Some(Int64Value { value: 1001 }),
                supplemental_groups: vec![1002],
                no_new_privs: true,
                seccomp: runtime_default.clone(),
                apparmor: runtime_default,
                ..Default::default()
            },
        ),
        (
            "caps",
            LinuxContainerSecurityContext {
                capabilities: Some(Capability {
                    add_capabilities: vec!["NET_ADMIN".into()],
                    drop_capabilities: vec!["CHOWN".into()],
                    ..Default::default()
                }),
                readonly_rootfs: true,
                seccomp: unconfined.clone(),
                apparmor: unconfined,
                ..Default::default()
            },
        ),
        (
            "paths",
            LinuxContainerSecurityContext {
                masked_paths: vec!["/etc/secret".into(), "/proc/kcore".into()],
                readonly_paths: vec!["/etc/ro".into()],
                ..Default::default()
            },
        ),
        ("privileged", LinuxContainerSecurityContext { privileged: true, ..Default::default() }),
    ];
    let mut ids = vec![];
    for (name, sc) in contexts {
        let mut cfg = Cri::container_config(name, &["sh", "-c", FACTS]);
        cfg.linux.as_mut().unwrap().security_context = Some(sc);
        ids.push((name, t.create_and_start(&pod, &cfg)));
    }
    let mut seen = HashMap::new();
    for (name, id) in &ids {
        let st = t.wait_exited(id);
        assert_eq!(st.exit_code, 0, "{name}: {st:?}");
        let log = t.pod(&pod).logs.join(format!("{name}/0.log"));
        seen.insert(*name, facts(&log_text(&log_entries(&log), "stdout").join("\n")));
    }
    let all_caps = {
        let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap().trim().parse().unwrap();
        (1u64 << (last + 1)) - 1
    };
    let caps = |v: u64| format!("{v:016x}");
    // The guest's AppArmor is on (its /init mounts securityfs), so
    // containerd loads its profile and gives it by default.
    assert!(std::path::Path::new("/sys/kernel/security/apparmor").exists(), "AppArmor is off");
    let profile = |name: &str| seen[name]["apparmor"].clone();
    assert_eq!(profile("user"), "cri-containerd.apparmor.d (enforce)");
    assert_eq!(profile("caps"), "unconfined");
    assert_eq!(profile("paths"), "cri-containerd.apparmor.d (enforce)", "the default");
    assert_eq!(profile("privileged"), "unconfined");
    let f = &seen["user"];
    assert_eq!((f["uid"].as_str(), f["gid"].as_str()), ("1000", "1001"), "{f:?}");
    let mut groups: Vec<&str> = f["groups"].split(' ').collect();
    groups.sort();
    groups.dedup();
    assert_eq!(groups, ["1001", "1002"], "{f:?}");
    assert_eq!((f["CapEff"].as_str(), f["NoNewPrivs"].as_str(), f["Seccomp"].as_str()), (caps(0).as_str(), "1", "2"));
    let f = &seen["caps"];
    assert_eq!((f["uid"].as_str(), f["gid"].as_str()), ("0", "0"), "{f:?}");
    assert_eq!(f["CapEff"], caps(DEFAULT_CAPS & !1 | 1 << 12), "less CHOWN (0), plus NET_ADMIN (12)");
    assert_eq!((f["NoNewPrivs"].as_str(), f["Seccomp"].as_str(), f["rootfs"].as_str()), ("0", "0", "ro"));
    let f = &seen["paths"];
    assert_eq!(f["CapEff"], caps(DEFAULT_CAPS), "{f:?}");
    assert_eq!((f["secret"].as_str(), f["kcore-masked"].as_str()), ("[]", "1"), "{f:?}");
    assert_eq!((f["etc-ro"].as_str(), f["rootfs"].as_str(), f["sys"].as_str()), ("ro", "rw", "ro"), "{f:?}");
    let f = &seen["privileged"];
    assert_eq!((f["CapEff"].as_str(), f["Seccomp"].as_str()), (caps(all_caps).as_str(), "0"), "{f:?}");
    assert_eq!((f["secret"].as_str(), f["kcore-masked"].as_str(), f["sys"].as_str()), ("[secret]", "0", "rw"), "{f:?}");

    for (_, id) in &ids {
        t.client.remove_container(id).unwrap();
    }
    t.remove_pod(&pod);
    t.assert_clean();
}

#[test]
#[ignore = "runs containerd's CRI plugin: runs in the test VM (make test-vm)"]
fn a_pod_on_the_nodes_namespaces_shares_them() {
    let mut t = Cri::new();
    let mut config = t.pod_config("host");
    // kubelet gives a pod on the node's network no hostname of its own (a
    // hostname needs a UTS namespace, and the pod has the node's).
    config.hostname = String::new();
    let sc = config.linux.as_mut().unwrap().security_context.as_mut().unwrap();
    sc.namespace_options = Some(NamespaceOption {
        network: NamespaceMode::Node as i32,
        pid: NamespaceMode::Node as i32,
        ipc: NamespaceMode::Node as i32,
        ..Default::default()
    });
    let pod = t.run_pod(config).id.clone();
    let id = t.create_and_start(&pod, &Cri::container_config("main", &["sleep", "100000"]));
    let host = host_namespaces();
    let inside = namespaces(&t.sh_ok(&id, NS_SCRIPT));
    for n in ["net", "ipc", "pid"] {
        assert_eq!(inside[n], host[n], "{n}");
    }
    assert_ne!(inside["mnt"], host["mnt"]);
    // The node's processes are visible: this test among them.
    let me = std::process::id();
    assert_eq!(t.sh_ok(&id, &format!("cat /proc/{me}/comm")), std::fs::read_to_string("/proc/self/comm").unwrap());
    t.stop_and_remove(&id, 0);
    t.remove_pod(&pod);
    t.assert_clean();
}

#[test]
#[ignore = "runs containerd's CRI plugin: runs in the test VM (make test-vm)"]
fn containers_in_a_pod_share_its_namespaces() {
    let mut t = Cri::new();
    let mut config = t.pod_config("shared");
    let sc = config.linux.as_mut().unwrap().security_context.as_mut().unwrap();
    sc.namespace_options.as_mut().unwrap().pid = NamespaceMode::Pod as i32;
    let pod = t.run_pod(config).id.clone();
    let a = t.create_and_start(&pod, &Cri::container_config("a", &["sleep", "100001"]));
    let b = t.create_and_start(&pod, &Cri::container_config("b", &["sleep", "100002"]));
    let host = host_namespaces();
    let (na, nb) = (namespaces(&t.sh_ok(&a, NS_SCRIPT)), namespaces(&t.sh_ok(&b, NS_SCRIPT)));
    for n in ["net", "ipc", "uts", "pid"] {
        assert_eq!(na[n], nb[n], "{n} is the pod's");
        assert_ne!(na[n], host[n], "{n} is not the node's");
    }
    assert_ne!(na["mnt"], nb["mnt"], "each container has its own mount namespace");
    // The pod's pid namespace: its init is the pause process, and a sees b.
    let ps = "cat /proc/1/comm; hostname; for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done";
    let out = t.sh_ok(&a, ps);
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines[..2], ["pause", "shared"], "{out}");
    assert!(lines.contains(&"sleep 100002"), "b's init is not visible from a: {out}");
    // pause reaps the orphans the namespace hands it: a background sleep
    // whose shell is gone has pause (pid 1) as its parent, and once it
    // ends it does not stay a zombie.
    let orphan = "(sleep 3 & echo $! > /tmp/orphan); o=$(cat /tmp/orphan); \
                  echo parent $(cut -d' ' -f4 /proc/$o/stat); \
                  i=0; while [ -e /proc/$o ] && [ $i -lt 30 ]; do sleep 1; i=$((i+1)); done; \
                  echo left $(grep -s '^State:' /proc/$o/status)";
    assert_eq!(t.sh_ok(&a, orphan), "parent 1\nleft\n", "pause did not take and reap the orphan");
    t.stop_and_remove(&a, 0);
    t.stop_and_remove(&b, 0);
    t.remove_pod(&pod);
    t.assert_clean();
}

/// Runs `script` on the node (as kubelet's host side would).
fn node(script: &str) {
    let st = std::process::Command::new("sh").args(["-c", script]).status().unwrap();
    assert!(st.success(), "{script}");
}

/// Unmounts everything at and below a path when dropped.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-R").arg("-l").arg(&self.0).status();
    }
}

#[test]
#[ignore = "runs containerd's CRI plugin: runs in the test VM (make test-vm)"]
fn volumes_reach_the_container_with_their_propagation() {
    let mut t = Cri::new();
    // Host paths under a shared mount, as on a node where systemd makes /
    // shared (containerd refuses the propagation a mount's peer group
    // cannot carry).
    let vol = t.ctrd.dir.join("volumes");
    for d in ["data", "slave", "shared"] {
        std::fs::create_dir_all(vol.join(d).join("sub")).unwrap();
    }
    std::fs::write(vol.join("data/file"), "from the node\n").unwrap();
    let v = vol.display();
    node(&format!("mount --bind {v} {v} && mount --make-rshared {v}"));
    let unmount = Unmount(vol.clone());
    let mut config = t.pod_config("volumes");
    // Mounting inside the container (for Bidirectional) needs privilege.
    config.linux.as_mut().unwrap().security_context.as_mut().unwrap().privileged = true;
    let pod = t.run_pod(config).id.clone();
    let mount = |at: &str, from: &str, readonly: bool, propagation: MountPropagation| Mount {
        container_path: at.into(),
        host_path: vol.join(from).display().to_string(),
        readonly,
        propagation: propagation as i32,
        ..Default::default()
    };
    let mut cfg = Cri::container_config("main", &["sleep", "100000"]);
    cfg.mounts = vec![
        mount("/data", "data", true, MountPropagation::PropagationPrivate),
        mount("/slave", "slave", false, MountPropagation::PropagationHostToContainer),
        mount("/shared", "shared", false, MountPropagation::PropagationBidirectional),
    ];
    let sc = LinuxContainerSecurityContext { privileged: true, ..Default::default() };
    cfg.linux.as_mut().unwrap().security_context = Some(sc);
    let id = t.create_and_start(&pod, &cfg);

    // A read-only volume.
    let (code, out, err) = t.sh(&id, "cat /data/file; touch /data/new");
    assert_eq!(out, "from the node\n");
    assert!(code != 0 && err.contains("Read-only file system"), "wrote to a read-only volume: {code} {err}");
    // Mounts the node makes after the start: they reach the container
    // through HostToContainer (rslave), not through a private volume.
    for d in ["data", "slave"] {
        node(&format!("mount -t tmpfs tmpfs {v}/{d}/sub && echo node > {v}/{d}/sub/file"));
    }
    assert_eq!(t.sh_ok(&id, "cat /slave/sub/file"), "node\n");
    assert_ne!(t.sh(&id, "cat /data/sub/file").0, 0, "a node mount crossed into a private volume");
    // A mount the container makes reaches the node through Bidirectional
    // (rshared).
    t.sh_ok(&id, "mount -t tmpfs tmpfs /shared/sub && echo pod > /shared/sub/file");
    assert_eq!(std::fs::read_to_string(vol.join("shared/sub/file")).unwrap(), "pod\n");

    node(&format!("umount {v}/data/sub {v}/slave/sub {v}/shared/sub"));
    t.stop_and_remove(&id, 0);
    t.remove_pod(&pod);
    drop(unmount);
    t.assert_clean();
}

#[test]
#[ignore = "runs containerd's CRI plugin: runs in the test VM (make test-vm)"]
fn an_oom_kill_reaches_the_container_status() {
    let mut t = Cri::new();
    let config = t.pod_config("oom");
    let pod = t.run_pod(config).id.clone();
    // The init allocates 64M once told to (after StartContainer returned,
    // so the shim watches its cgroup's memory.events by then).
    let hog = "mkfifo /tmp/go; read l < /tmp/go; exec dd if=/dev/zero of=/dev/null bs=64M count=1";
    let mut cfg = Cri::container_config("hog", &["sh", "-c", hog]);
    cfg.linux.as_mut().unwrap().resources.as_mut().unwrap().memory_limit_in_bytes = 32 << 20;
    let id = t.create_and_start(&pod, &cfg);
    let cg = t.pod(&pod).cgroup.join(&id);
    assert_eq!(std::fs::read_to_string(cg.join("memory.max")).unwrap().trim(), (32u64 << 20).to_string());
    t.sh_ok(&id, "echo go > /tmp/go");
    let st = t.wait_exited(&id);
    assert_eq!((st.exit_code, st.reason.as_str()), (137, "OOMKilled"), "{st:?}");
    t.client.remove_container(&id).unwrap();
    t.remove_pod(&pod);
    t.assert_clean();
}

#[test]
#[ignore = "runs containerd's CRI plugin: runs in the test VM (make test-vm)"]
fn a_container_that_cannot_start_says_why() {
    let mut t = Cri::new();
    let config = t.pod_config("bad");
    let pod = t.run_pod(config).id.clone();
    let id = t.create(&pod, &Cri::container_config("missing", &["/bin/nonesuch"]));
    let err = t.client.start_container(&id).unwrap_err();
    assert!(err.message().contains("/bin/nonesuch"), "{err:?}");
    let st = t.status(&id);
    assert_eq!((st.state, st.exit_code), (ContainerState::ContainerExited as i32, 128), "{st:?}");
    assert_eq!(st.reason, "StartError");
    assert!(st.message.contains("/bin/nonesuch"), "{st:?}");
    t.client.remove_container(&id).unwrap();
    t.remove_pod(&pod);
    t.assert_clean();
}
