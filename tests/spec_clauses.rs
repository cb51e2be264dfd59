//! runtime-spec 1.3 MUST/SHOULD clauses for Linux that no other suite
//! proves: each test names the clause it shows (see the clause table in
//! docs/conformance.md).

mod common;
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

fn wait_status(b: &Bundle, want: &str) {
    let t = Instant::now();
    while b.status() != want {
        assert!(t.elapsed() < Duration::from_secs(10), "status stayed {} (want {want})", b.status());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run_ok(b: &Bundle) -> String {
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    stdout(&out)
}

fn namespaces(c: &mut serde_json::Value) -> &mut Vec<serde_json::Value> {
    c["linux"]["namespaces"].as_array_mut().unwrap()
}

/// config-linux.md "Namespaces": a listed type without a path is a new
/// namespace; a type not listed is the runtime's own.
#[test]
fn listed_namespaces_are_new_and_unlisted_ones_are_inherited() {
    let kinds = ["pid", "net", "ipc", "uts", "mnt", "cgroup"];
    let script: String = kinds.iter().map(|k| format!("readlink /proc/self/ns/{k}; ")).collect();
    let b = Bundle::new("nsnew", &["sh", "-c", &script]);
    b.edit(|c| namespaces(c).retain(|n| n["type"] != "network"));
    let out = run_ok(&b);
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), kinds.len(), "{out}");
    for (k, inside) in kinds.iter().zip(got) {
        let host = std::fs::read_link(format!("/proc/self/ns/{k}")).unwrap().display().to_string();
        if *k == "net" {
            assert_eq!(inside, host, "an unlisted network namespace must be the runtime's");
        } else {
            assert_ne!(inside, host, "a listed {k} namespace must be new");
        }
    }
    b.assert_clean();
}

/// config-linux.md "Namespaces": a `path` not associated with a namespace of
/// `type` is an error (another type's namespace, or not a namespace).
#[test]
fn a_namespace_path_of_another_type_or_no_namespace_is_refused() {
    let not_a_ns = std::env::temp_dir().join(format!("nook-not-a-ns-{}", std::process::id()));
    std::fs::write(&not_a_ns, "").unwrap();
    let cases = [
        (
            "/proc/self/ns/net".to_owned(),
            "linux.namespaces: uts /proc/self/ns/net: is a network namespace, not a uts one",
        ),
        (not_a_ns.display().to_string(), "not a namespace"),
    ];
    for (path, needle) in cases {
        let b = Bundle::new("nspath", &["true"]);
        b.edit(|c| {
            let nss = namespaces(c);
            nss.retain(|n| n["type"] != "uts");
            nss.push(json!({"type": "uts", "path": path}));
        });
        assert_one_line_error(&b.with_bundle("run", &[]), needle);
        b.assert_clean();
    }
    std::fs::remove_file(not_a_ns).unwrap();
}

/// runtime.md "Lifecycle" step 2 and "Create": changes to config.json
/// after create do not affect the container.
#[test]
fn config_changes_after_create_do_not_affect_the_container() {
    let b = Bundle::new("frozencfg", &["sh", "-c", "echo $(hostname) $0 > /out/seen"]);
    let outdir = b.dir.join("out");
    std::fs::create_dir_all(&outdir).unwrap();
    b.edit(|c| {
        c["hostname"] = "at-create".into();
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/out", "type": "bind", "source": outdir, "options": ["bind"]}));
    });
    assert!(b.with_bundle("create", &[]).status.success());
    b.edit(|c| {
        c["hostname"] = "edited".into();
        c["process"]["args"] = json!(["sh", "-c", "echo edited > /out/seen"]);
    });
    let out = b.nook(&["start", &b.id]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    wait_status(&b, "stopped");
    assert_eq!(std::fs::read_to_string(outdir.join("seen")).unwrap(), "at-create sh\n");
}

/// runtime.md "State" (ociVersion, id, status, pid, bundle as an absolute
/// path, annotations) and config.md "Annotations"/"Extensibility": unknown
/// properties and annotation keys are ignored, not errors.
#[test]
fn state_carries_the_spec_fields_and_unknown_properties_are_ignored() {
    let b = Bundle::new("statefields", &["sleep", "100"]);
    b.edit(|c| {
        c["annotations"] = json!({"org.example.unknown-key": "v1", "another": ""});
        c["x-unknown-top"] = json!({"a": [1, 2]});
        c["process"]["x-unknown"] = true.into();
        c["linux"]["x-unknown"] = "yes".into();
    });
    // A relative bundle path: the state still gives it absolute.
    let mut cmd = b.cmd(&["create", "--bundle", b.dir.file_name().unwrap().to_str().unwrap(), &b.id]);
    cmd.current_dir(b.dir.parent().unwrap());
    let out = output_via_files(cmd);
    assert!(out.status.success(), "create: {}", stderr(&out));
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(b.config()).unwrap()).unwrap();
    let st = b.state();
    assert_eq!(st["ociVersion"], config["ociVersion"]);
    assert_eq!(st["id"], b.id.as_str());
    assert_eq!(st["status"], "created");
    let pid = st["pid"].as_i64().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists(), "pid {pid} is not a live process");
    assert_eq!(st["bundle"], b.dir.to_str().unwrap());
    assert_eq!(st["annotations"], json!({"org.example.unknown-key": "v1", "another": ""}));
    assert!(b.nook(&["start", &b.id]).status.success());
    assert_eq!(b.state()["status"], "running");
}

/// runtime.md "Operations": create, state, start, kill and delete without a
/// container ID are errors.
#[test]
fn operations_without_an_id_are_errors() {
    let b = Bundle::new("noid", &["true"]);
    for verb in ["create", "state", "start", "kill", "delete"] {
        let out = b.nook(&[verb]);
        assert_eq!(out.status.code(), Some(1), "{verb}");
        assert_one_line_error(&out, "nook");
    }
}

/// runtime.md "Start": an error if `process` was not set (nook refuses the
/// config at create, before anything is made).
#[test]
fn a_config_without_process_is_refused() {
    let b = Bundle::new("noprocess", &["true"]);
    b.edit(|c| {
        c.as_object_mut().unwrap().remove("process");
    });
    assert_one_line_error(&b.with_bundle("create", &[]), "process");
    b.assert_clean();
}

/// config.md "POSIX process" rlimits: soft and hard as configured; a type
/// with no kernel resource, or a type given twice, is an error.
#[test]
fn rlimits_are_exact_and_bad_ones_are_refused() {
    let b = Bundle::new("rlimits", &["sh", "-c", "ulimit -n; ulimit -Hn; ulimit -Sc; ulimit -Hc"]);
    b.edit(|c| {
        c["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 1024000}
        ])
    });
    // busybox counts the core size in 512-byte blocks.
    assert_eq!(run_ok(&b), "123\n456\n0\n2000\n");
    b.assert_clean();
    let cases = [
        json!([{"type": "RLIMIT_NOT_A_LIMIT", "soft": 1, "hard": 1}]),
        json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 10}, {"type": "RLIMIT_NOFILE", "soft": 20, "hard": 20}]),
    ];
    for rl in cases {
        let b = Bundle::new("badrlimit", &["true"]);
        b.edit(|c| c["process"]["rlimits"] = rl.clone());
        assert_one_line_error(&b.with_bundle("run", &[]), "process.rlimits");
        b.assert_clean();
    }
}

/// config.md "Linux process" oomScoreAdj: set when given; when not given,
/// the value nook was started with is left as it is.
#[test]
fn oom_score_adj_is_set_or_left_alone() {
    for (given, expect) in [(Some(321), "321"), (None, "17")] {
        let b = Bundle::new("oomadj", &["cat", "/proc/self/oom_score_adj"]);
        b.edit(|c| match given {
            Some(v) => c["process"]["oomScoreAdj"] = v.into(),
            None => {
                c["process"].as_object_mut().unwrap().remove("oomScoreAdj");
            }
        });
        let script = format!(
            "echo 17 > /proc/self/oom_score_adj && exec {NOOK} --root {} run --bundle {} {}",
            b.root.display(),
            b.dir.display(),
            b.id
        );
        let mut c = std::process::Command::new("sh");
        c.args(["-c", &script]).stdin(std::process::Stdio::null());
        let out = output_via_files(c);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out).trim(), expect, "oomScoreAdj {given:?}");
        b.assert_clean();
    }
}

/// config.md "Linux process" noNewPrivileges: the process has no_new_privs
/// exactly when asked.
#[test]
fn no_new_privileges_is_set_only_when_asked() {
    for (nnp, expect) in [(true, "NoNewPrivs:\t1"), (false, "NoNewPrivs:\t0")] {
        let b = Bundle::new("nnp", &["grep", "NoNewPrivs", "/proc/self/status"]);
        b.edit(|c| c["process"]["noNewPrivileges"] = nnp.into());
        assert_eq!(run_ok(&b).trim(), expect);
        b.assert_clean();
    }
}

/// config.md "Process" and "User": uid, gid, additionalGids, umask, cwd
/// and env reach the container's first process, args[0] found on PATH.
#[test]
fn user_umask_cwd_and_env_reach_the_first_process() {
    let b = Bundle::new("user", &["sh", "-c", "id -u; id -g; id -G; umask; pwd; echo $FOO; env | wc -l"]);
    b.edit(|c| {
        c["root"]["readonly"] = false.into();
        c["process"]["user"] = json!({"uid": 1000, "gid": 1001, "additionalGids": [5, 6], "umask": 0o027});
        c["process"]["cwd"] = "/work/here".into();
        c["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz"]);
    });
    let out = run_ok(&b);
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[..6], ["1000", "1001", "1001 5 6", "0027", "/work/here", "bar baz"], "{out}");
    // PATH, FOO, plus the HOME that runc adds when env lacks it (and sh's own PWD/SHLVL).
    assert!(l[6].trim().parse::<u32>().unwrap() <= 5, "{out}");
    b.assert_clean();
}

/// config.md "Process" consoleSize: ignored when terminal is false.
#[test]
fn console_size_is_ignored_without_a_terminal() {
    let b = Bundle::new("consolesize", &["sh", "-c", "test -t 0 || echo no-tty"]);
    b.edit(|c| c["process"]["consoleSize"] = json!({"height": 10, "width": 20}));
    assert_eq!(run_ok(&b).trim(), "no-tty");
    b.assert_clean();
}

/// config.md "Mounts": mounted in the listed order; a relative destination
/// is taken from "/"; a bind source relative to the bundle; options nook
/// does not know go to the filesystem as data.
#[test]
fn mounts_follow_the_listed_order_and_the_path_rules() {
    let script =
        "cat /rel/f; grep -E ' /(m|m/sub|rel) ' /proc/self/mountinfo | grep -oE ' /(m|m/sub|rel) |nr_inodes=[0-9]+'";
    let b = Bundle::new("mountorder", &["sh", "-c", script]);
    std::fs::create_dir_all(b.dir.join("data")).unwrap();
    std::fs::write(b.dir.join("data/f"), "from-the-bundle\n").unwrap();
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/m", "type": "tmpfs", "source": "tmpfs", "options": ["nr_inodes=77"]}));
        m.push(json!({"destination": "/m/sub", "type": "tmpfs", "source": "tmpfs", "options": ["nr_inodes=88"]}));
        m.push(json!({"destination": "rel", "type": "bind", "source": "data", "options": ["rbind", "ro"]}));
    });
    let out = run_ok(&b);
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "from-the-bundle", "{out}");
    // mountinfo lists mounts in the order they were made.
    assert_eq!(l[1..], [" /m ", "nr_inodes=77", " /m/sub ", "nr_inodes=88", " /rel "], "{out}");
    b.assert_clean();
}

/// config.md "Root" readonly: the root filesystem is read-only inside the
/// container when true, writable when false.
#[test]
fn root_readonly_is_honoured() {
    for (ro, expect) in [(true, "read-only"), (false, "writable")] {
        let b = Bundle::new("rootro", &["sh", "-c", "touch /probe 2>/dev/null && echo writable || echo read-only"]);
        b.edit(|c| c["root"]["readonly"] = ro.into());
        assert_eq!(run_ok(&b).trim(), expect);
        b.assert_clean();
    }
}

/// config-linux.md "Devices": each device is made with its type, numbers,
/// mode and owner, also outside /dev.
#[test]
fn devices_are_made_as_listed() {
    let b = Bundle::new("devices", &["stat", "-c", "%n %F %t:%T %a %u:%g", "/dev/fuse", "/opt/zero", "/dev/myfifo"]);
    b.edit(|c| {
        c["root"]["readonly"] = false.into();
        c["linux"]["devices"] = json!([
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640, "uid": 7, "gid": 8},
            {"path": "/opt/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o600},
            {"path": "/dev/myfifo", "type": "p", "fileMode": 0o620}
        ]);
    });
    let out = run_ok(&b);
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(
        l,
        [
            "/dev/fuse character special file a:e5 640 7:8",
            "/opt/zero character special file 1:5 600 0:0",
            "/dev/myfifo fifo 0:0 620 0:0"
        ],
        "{out}"
    );
    b.assert_clean();
}

/// config-linux.md "Devices": a file already at `path` that is not the
/// requested device is an error; one that is the device is kept.
#[test]
fn a_device_path_holding_another_file_is_refused() {
    let b = Bundle::new("devexists", &["true"]);
    std::fs::create_dir_all(b.dir.join("rootfs/opt")).unwrap();
    std::fs::write(b.dir.join("rootfs/opt/zero"), "a regular file").unwrap();
    b.edit(|c| c["linux"]["devices"] = json!([{"path": "/opt/zero", "type": "c", "major": 1, "minor": 5}]));
    assert_one_line_error(&b.with_bundle("run", &[]), "device /opt/zero: a file that is not the requested device");
    b.assert_clean();
    assert_eq!(std::fs::read_to_string(b.dir.join("rootfs/opt/zero")).unwrap(), "a regular file");

    // The same device already there is fine.
    std::fs::remove_file(b.dir.join("rootfs/opt/zero")).unwrap();
    let made = std::process::Command::new("mknod").arg(b.dir.join("rootfs/opt/zero")).args(["c", "1", "5"]).status();
    assert!(made.unwrap().success());
    b.edit(|c| c["process"]["args"] = json!(["stat", "-c", "%F %t:%T", "/opt/zero"]));
    assert_eq!(run_ok(&b).trim(), "character special file 1:5");
}

/// config-linux.md "Default Devices" and "Default Filesystems",
/// runtime-linux.md "Dev symbolic links".
#[test]
fn default_devices_filesystems_and_dev_symlinks() {
    let script = "stat -c '%n %F %t:%T' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; \
                  for l in fd stdin stdout stderr ptmx; do echo /dev/$l $(readlink /dev/$l); done; \
                  test -c /dev/ptmx && echo ptmx-usable; \
                  stat -f -c '%T' /proc /sys /dev/pts /dev/shm";
    let b = Bundle::new("defdev", &["sh", "-c", script]);
    let out = run_ok(&b);
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(
        l,
        [
            "/dev/null character special file 1:3",
            "/dev/zero character special file 1:5",
            "/dev/full character special file 1:7",
            "/dev/random character special file 1:8",
            "/dev/urandom character special file 1:9",
            "/dev/tty character special file 5:0",
            "/dev/fd /proc/self/fd",
            "/dev/stdin /proc/self/fd/0",
            "/dev/stdout /proc/self/fd/1",
            "/dev/stderr /proc/self/fd/2",
            "/dev/ptmx pts/ptmx",
            "ptmx-usable",
            "proc",
            "sysfs",
            "devpts",
            "tmpfs"
        ],
        "{out}"
    );
    b.assert_clean();
}

/// config-linux.md "Rootfs Mount Propagation": the container's / is
/// shared, private or unbindable as asked.
#[test]
fn rootfs_propagation_is_applied_to_the_root() {
    let cases = [
        ("shared", Some("shared:")),
        ("private", None),
        ("unbindable", Some("unbindable")),
        ("rshared", Some("shared:")),
    ];
    for (prop, want) in cases {
        let b =
            Bundle::new("rootprop", &["sh", "-c", "grep -E '^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ / ' /proc/self/mountinfo"]);
        b.edit(|c| c["linux"]["rootfsPropagation"] = prop.into());
        let out = run_ok(&b);
        let line = out.lines().next().unwrap_or_default();
        let optional = line.split(" - ").next().unwrap().split(' ').skip(6).collect::<Vec<_>>().join(" ");
        match want {
            Some(tag) => assert!(optional.contains(tag), "{prop}: {line}"),
            None => assert!(optional.is_empty(), "{prop}: {line}"),
        }
        b.assert_clean();
    }
}

/// config-linux.md "User namespace mappings": the runtime SHOULD NOT chown
/// the filesystems it uses to realise a mapping.
#[test]
fn a_mapping_does_not_chown_the_rootfs() {
    use std::os::unix::fs::MetadataExt;
    let b = Bundle::new("nochown", &["id", "-u"]);
    b.edit(|c| {
        c["root"]["readonly"] = false.into();
        namespaces(c).push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        // sysfs needs the network namespace's owner; keep the rest of runc's spec.
        namespaces(c).retain(|n| n["type"] != "network");
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["destination"] != "/sys" && m["destination"] != "/sys/fs/cgroup");
    });
    // The mount points exist already: root in the container is not root on the host.
    for d in ["proc", "dev"] {
        std::fs::create_dir_all(b.dir.join("rootfs").join(d)).unwrap();
    }
    let before: Vec<(u32, u32)> = ["rootfs", "rootfs/bin", "rootfs/bin/busybox"]
        .iter()
        .map(|p| std::fs::metadata(b.dir.join(p)).map(|m| (m.uid(), m.gid())).unwrap())
        .collect();
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "0");
    let after: Vec<(u32, u32)> = ["rootfs", "rootfs/bin", "rootfs/bin/busybox"]
        .iter()
        .map(|p| std::fs::metadata(b.dir.join(p)).map(|m| (m.uid(), m.gid())).unwrap())
        .collect();
    assert_eq!(before, after);
    b.assert_clean();
}

/// config.md "POSIX-platform Hooks": a hook's env is its environ (nothing
/// of nook's own environment), and its path must be absolute.
#[test]
fn a_hooks_env_is_exactly_its_own_and_its_path_must_be_absolute() {
    let b = Bundle::new("hookenv", &["true"]);
    let log = b.dir.join("hook.env");
    b.edit(|c| {
        c["hooks"] = json!({"createRuntime": [{
            "path": "/bin/sh", "args": ["sh", "-c", format!("env > {}", log.display())], "env": ["HOOKVAR=x"]
        }]})
    });
    let mut cmd = b.cmd(&["run", "--bundle", b.dir.to_str().unwrap(), &b.id]);
    cmd.env("NOOK_CALLER_ONLY", "leak");
    let out = output_via_files(cmd);
    assert!(out.status.success(), "{}", stderr(&out));
    let env = std::fs::read_to_string(&log).unwrap();
    assert!(env.lines().any(|l| l == "HOOKVAR=x"), "{env}");
    assert!(!env.contains("NOOK_CALLER_ONLY"), "nook's environment leaked into the hook: {env}");
    b.assert_clean();

    let b = Bundle::new("hookrel", &["true"]);
    b.edit(|c| c["hooks"] = json!({"createRuntime": [{"path": "bin/sh", "args": ["sh", "-c", "true"]}]}));
    assert_one_line_error(&b.with_bundle("run", &[]), "hooks.createRuntime[0]");
    b.assert_clean();
}

/// runtime.md "Lifecycle" step 7: a failing startContainer hook makes
/// `start` fail with its error, stops the container, and its program never
/// runs. (runc's `start` succeeds there; nook's waits for init to exec.)
#[test]
fn a_failing_start_container_hook_stops_the_container_before_its_program() {
    let b = Bundle::new("starthook", &["sh", "-c", "echo ran > /out/ran"]);
    let outdir = b.dir.join("out");
    std::fs::create_dir_all(&outdir).unwrap();
    b.edit(|c| {
        c["hooks"] = json!({"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 5"]}]});
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/out", "type": "bind", "source": outdir, "options": ["bind"]}));
    });
    assert!(b.with_bundle("create", &[]).status.success());
    assert_one_line_error(&b.nook(&["start", &b.id]), "hooks.startContainer[0] /bin/sh: exited with status 5");
    wait_status(&b, "stopped");
    assert!(!outdir.join("ran").exists(), "the program ran after its startContainer hook failed");
    assert!(b.nook(&["delete", &b.id]).status.success());
    b.assert_clean();
}

/// config-linux.md "Seccomp": errnoRet on an action that takes no errno is
/// an error; a listenerPath that cannot be reached is an error.
#[test]
fn seccomp_errno_and_listener_errors() {
    let cases = [
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}),
            "linux.seccomp",
        ),
        (json!({"defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 1}), "linux.seccomp"),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/nonexistent/nook.sock",
                   "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_NOTIFY"}]}),
            // runc's words, and the path.
            "failed to connect with seccomp agent specified in the seccomp profile: /nonexistent/nook.sock",
        ),
    ];
    for (seccomp, needle) in cases {
        let b = Bundle::new("seccomperr", &["true"]);
        b.edit(|c| c["linux"]["seccomp"] = seccomp.clone());
        assert_one_line_error(&b.with_bundle("run", &[]), needle);
        b.assert_clean();
    }
}

/// An exec that fails after `start` (a program the kernel cannot run) is
/// `start`'s error too, and `run`'s, with nothing left behind.
#[test]
fn an_exec_that_fails_after_start_fails_start() {
    let b = Bundle::new("badexec", &["/bin/notaprogram"]);
    let bin = b.dir.join("rootfs/bin/notaprogram");
    std::fs::write(&bin, "this is not an executable\n").unwrap();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert!(b.with_bundle("create", &[]).status.success());
    assert_one_line_error(&b.nook(&["start", &b.id]), "Exec format error");
    wait_status(&b, "stopped");
    assert!(b.nook(&["delete", &b.id]).status.success());
    b.assert_clean();
    assert_one_line_error(&b.with_bundle("run", &[]), "Exec format error");
    b.assert_clean();
}
