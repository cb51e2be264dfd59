//! checkpoint and restore on the host: everything that needs no working
//! CRIU (this host's kernel is too new for Debian's CRIU 3.17, which fails
//! its dumps here: the real checkpoints and restores are in tests/vm_criu.rs).
//! Bad input fails with one line and leaves nothing behind; a CRIU that
//! fails leaves nothing behind either; the flags clients pass are taken.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// A directory that looks like a checkpoint to nook (CRIU would find
/// nothing it can restore in it).
fn fake_images(b: &Bundle) -> PathBuf {
    let img = b.dir.join("img");
    std::fs::create_dir_all(&img).unwrap();
    std::fs::write(img.join("inventory.img"), b"not an image").unwrap();
    std::fs::write(img.join("descriptors.json"), br#"["/dev/null","/dev/null","/dev/null"]"#).unwrap();
    img
}

/// A PATH with everything but CRIU: busybox for the hooks and helpers.
fn path_without_criu(b: &Bundle) -> String {
    let dir = b.dir.join("nocriu");
    std::fs::create_dir_all(&dir).unwrap();
    dir.to_string_lossy().into_owned()
}

fn sleeping(name: &str) -> Bundle {
    let b = Bundle::new(name, &["sleep", "100000"]);
    let out = b.with_bundle("run", &["--detach"]);
    assert!(out.status.success(), "run -d: {}", stderr(&out));
    b
}

fn restore(b: &Bundle, img: &Path, extra: &[&str]) -> std::process::Output {
    let mut a = vec!["restore", "--detach", "--image-path", img.to_str().unwrap()];
    a.extend_from_slice(extra);
    a.extend(["--bundle", b.dir.to_str().unwrap(), &b.id]);
    b.nook(&a)
}

#[test]
fn checkpoint_without_criu_says_so_and_leaves_the_container_running() {
    let b = sleeping("ck-nocriu");
    let pid = b.state()["pid"].as_i64().unwrap();
    let img = b.dir.join("img");
    let mut cmd = b.cmd(&["checkpoint", "--image-path", img.to_str().unwrap(), &b.id]);
    cmd.env("PATH", path_without_criu(&b));
    let out = output_via_files(cmd);
    assert_one_line_error(&out, "criu is not installed (no criu in PATH)");
    assert!(!img.exists(), "the image directory was made");
    assert_eq!(b.status(), "running");
    assert_eq!(b.state()["pid"].as_i64().unwrap(), pid);
    // runc's --criu names the binary: one that is not there is named.
    let out = b.nook(&["--criu", "/nonexistent/criu", "checkpoint", "--image-path", img.to_str().unwrap(), &b.id]);
    assert_one_line_error(&out, "--criu /nonexistent/criu: no such file");
    assert_eq!(b.status(), "running");
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

#[test]
fn only_a_running_container_is_checkpointed() {
    let b = Bundle::new("ck-created", &["true"]);
    assert!(b.with_bundle("create", &[]).status.success());
    let img = b.dir.join("img");
    let out = b.nook(&["checkpoint", "--image-path", img.to_str().unwrap(), &b.id]);
    assert_one_line_error(&out, "is created: cannot checkpoint a container that is not running");
    assert_eq!(b.status(), "created");
    assert!(b.nook(&["delete", &b.id]).status.success());
    let out = b.nook(&["checkpoint", "--image-path", img.to_str().unwrap(), &b.id]);
    assert_one_line_error(&out, "does not exist");
    assert!(!img.exists());
    b.assert_clean();
}

#[test]
fn bad_checkpoint_flags_are_named_before_anything_is_done() {
    let b = sleeping("ck-flags");
    let img = b.dir.join("img");
    let i = img.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["--manage-cgroups-mode", "hard"], "--manage-cgroups-mode \"hard\": not soft, full, strict or ignore"),
        (&["--empty-ns", "ipc"], "--empty-ns \"ipc\": only \"network\" is supported"),
        (&["--page-server", "nocolon"], "--page-server \"nocolon\": not ADDRESS:PORT"),
        (&["--page-server", "10.0.0.1:http"], "invalid port"),
        (&["--status-fd", "97"], "--status-fd 97: Bad file descriptor"),
    ];
    for (flags, want) in cases {
        let mut a = vec!["checkpoint", "--image-path", i];
        a.extend_from_slice(flags);
        a.push(&b.id);
        assert_one_line_error(&b.nook(&a), want);
        assert!(!img.exists(), "{flags:?} made the image directory");
    }
    let out = b.nook(&["checkpoint", "--image-path", i, "--parent-path", "/abs", &b.id]);
    assert_one_line_error(&out, "--parent-path must be relative");
    let out = b.nook(&["checkpoint", "--image-path", i, "--parent-path", "../none", &b.id]);
    assert_one_line_error(&out, "--parent-path");
    assert_eq!(b.status(), "running");
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

#[test]
fn restore_from_a_missing_image_path_leaves_nothing() {
    let b = Bundle::new("rs-noimg", &["true"]);
    let out = restore(&b, &b.dir.join("nonexistent"), &[]);
    assert_one_line_error(&out, "--image-path");
    assert!(stderr(&out).contains("No such file or directory"), "{}", stderr(&out));
    assert!(!b.dir.join("nonexistent").exists(), "the image directory was made");
    // A directory without a checkpoint in it.
    std::fs::create_dir_all(b.dir.join("empty")).unwrap();
    let out = restore(&b, &b.dir.join("empty"), &[]);
    assert_one_line_error(&out, "no checkpoint there (no inventory.img)");
    // runc's default, ./checkpoint, from the caller's directory.
    let mut cmd = b.cmd(&["restore", "-d", "--bundle", b.dir.to_str().unwrap(), &b.id]);
    cmd.current_dir(&b.dir);
    let out = output_via_files(cmd);
    assert_one_line_error(&out, &format!("--image-path {}/checkpoint", b.dir.display()));
    b.assert_clean();
}

#[test]
fn restore_of_an_id_that_exists_leaves_that_container_alone() {
    let b = sleeping("rs-exists");
    let pid = b.state()["pid"].as_i64().unwrap();
    let img = fake_images(&b);
    let out = restore(&b, &img, &[]);
    assert_one_line_error(&out, &format!("container {:?} already exists", b.id));
    assert_eq!(b.status(), "running");
    assert_eq!(b.state()["pid"].as_i64().unwrap(), pid);
    assert!(b.cgroup_dir().exists());
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

#[test]
fn restore_without_criu_says_so_and_leaves_nothing() {
    let b = Bundle::new("rs-nocriu", &["true"]);
    let img = fake_images(&b);
    let mut cmd =
        b.cmd(&["restore", "-d", "--image-path", img.to_str().unwrap(), "-b", b.dir.to_str().unwrap(), &b.id]);
    cmd.env("PATH", path_without_criu(&b));
    assert_one_line_error(&output_via_files(cmd), "criu is not installed (no criu in PATH)");
    b.assert_clean();
}

#[test]
fn bad_restore_flags_are_named_and_leave_nothing() {
    let b = Bundle::new("rs-flags", &["true"]);
    let img = fake_images(&b);
    assert_one_line_error(&restore(&b, &img, &["--manage-cgroups-mode", "x"]), "--manage-cgroups-mode \"x\"");
    assert_one_line_error(&restore(&b, &img, &["--empty-ns", "pid"]), "--empty-ns \"pid\"");
    // A terminal needs somewhere to send the new pty master when detached.
    b.edit(|c| c["process"]["terminal"] = true.into());
    assert_one_line_error(&restore(&b, &img, &[]), "without --console-socket");
    // Without a mount namespace nook's mounts live in the host's, which
    // CRIU does not restore.
    b.edit(|c| {
        c["process"]["terminal"] = false.into();
        c["linux"].as_object_mut().unwrap().remove("namespaces");
        c.as_object_mut().unwrap().remove("hostname");
        c["linux"]["maskedPaths"] = serde_json::json!([]);
        c["linux"]["readonlyPaths"] = serde_json::json!([]);
    });
    assert_one_line_error(&restore(&b, &img, &[]), "a restore needs a mount namespace");
    b.assert_clean();
}

#[test]
fn a_restore_criu_fails_is_undone_and_quotes_crius_log() {
    // CRIU is here but cannot restore these images (nor, on this kernel,
    // anything): the state directory, cgroup and the rootfs bind CRIU was
    // given are all gone afterwards.
    let b = Bundle::new("rs-fails", &["true"]);
    let img = fake_images(&b);
    let work = b.dir.join("work");
    let out = restore(&b, &img, &["--work-path", work.to_str().unwrap()]);
    assert_one_line_error(&out, "criu");
    assert!(stderr(&out).contains(&format!("(see {}/restore.log)", work.display())), "{}", stderr(&out));
    b.assert_clean();
    assert_eq!(std::fs::read_dir(&b.root).map(|d| d.count()).unwrap_or(0), 0, "left in the state root");
}

#[test]
fn the_flags_clients_pass_are_taken() {
    let b = Bundle::new("rs-args", &["true"]);
    std::fs::remove_file(b.config()).unwrap();
    // containerd's go-runc writes -no-subreaper with one dash, and podman
    // may repeat --leave-running: both get past the flags to the bundle
    // (or container) they name.
    let out = b.nook(&["restore", "-no-subreaper", "--no-pivot", "-d", "--bundle", b.dir.to_str().unwrap(), &b.id]);
    assert_one_line_error(&out, "config.json: No such file");
    let out = b.nook(&["checkpoint", "--leave-running", "--leave-running", "--tcp-established", &b.id]);
    assert_one_line_error(&out, "does not exist");
    for help in [["checkpoint", "--help"], ["restore", "--help"]] {
        // podman asks `checkpoint --help` whether a runtime checkpoints.
        assert!(b.nook(&help).status.success(), "{help:?}");
    }
    b.assert_clean();
}

#[test]
fn a_containers_processes_are_session_leaders_as_with_runc() {
    // CRIU dumps only a tree whose sessions are inside it: init and
    // exec'd processes each lead a session of their own (runc's setsid).
    let b = Bundle::new("setsid", &["sleep", "100000"]);
    let out = b.with_bundle("run", &["--detach"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = b.nook(&["exec", &b.id, "sh", "-c", "read p c s pp g sid r < /proc/self/stat; echo $p $sid"]);
    let line = stdout(&out);
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f.len(), 2, "{line} {}", stderr(&out));
    assert_eq!(f[0], f[1], "the exec'd process is not a session leader");
    let out = b.nook(&["exec", &b.id, "sh", "-c", "read p c s pp g sid r < /proc/1/stat; echo $sid"]);
    assert_eq!(stdout(&out).trim(), "1", "init is not a session leader: {}", stderr(&out));
    assert!(b.nook(&["delete", "--force", &b.id]).status.success());
    b.assert_clean();
}

#[test]
fn features_tell_whether_criu_is_there() {
    let b = Bundle::new("features", &["true"]);
    let annotations = |path: Option<String>| {
        let mut cmd = b.cmd(&["features"]);
        if let Some(p) = path {
            cmd.env("PATH", p);
        }
        let out = output_via_files(cmd);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["annotations"].clone()
    };
    let without = annotations(Some(path_without_criu(&b)));
    assert_eq!(without["org.opencontainers.runc.checkpoint.enabled"], "false");
    assert!(without.get("io.github.nook.criu.version").is_none());
    // Debian's criu is installed (scripts/deps.sh): it answers nook's RPC
    // here, even though this kernel is too new for its dumps.
    let with = annotations(None);
    assert_eq!(with["org.opencontainers.runc.checkpoint.enabled"], "true", "{with}");
    let v = with["io.github.nook.criu.version"].as_str().unwrap_or_default();
    assert!(v.starts_with("3."), "{with}");
}

#[test]
fn stdio_on_the_null_device_becomes_the_containers_own_dev_null() {
    // As runc's reOpenDevNull: a detached container's stdin on the host's
    // /dev/null would be a file CRIU cannot dump. Its stdout (a file of
    // the test's) stays what it was.
    let script = "for fd in 0 1; do m=$(grep mnt_id /proc/self/fdinfo/$fd); m=$(echo ${m#*:}); \
                  if grep -q \"^$m \" /proc/self/mountinfo; then echo $fd inside; else echo $fd outside; fi; done";
    let b = Bundle::new("devnull", &["sh", "-c", script]);
    let out = b.with_bundle("run", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), ["0 inside", "1 outside"]);
    b.assert_clean();
}

#[test]
fn a_missing_id_or_an_unknown_flag_is_one_line() {
    let b = Bundle::new("ck-usage", &["true"]);
    // runc's words, and its help on stdout (tests/cli.rs checks the layout).
    assert_one_line_error(&b.nook(&["restore"]), r#""restore" requires exactly 1 argument(s)"#);
    assert_one_line_error(&b.nook(&["checkpoint", "--bogus", &b.id]), "unexpected argument '--bogus'");
    let out = b.nook(&["restore", "--help"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("USAGE:\n   nook restore [command options] <container-id>"), "{}", stdout(&out));
    assert!(stdout(&out).contains("--console-socket"), "{}", stdout(&out));
    b.assert_clean();
}
