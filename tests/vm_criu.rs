//! Checkpoint and restore with CRIU (Debian's 3.17), which works on the
//! test VM's 6.1 kernel and not on this host's: a busybox container that
//! counts is checkpointed (killed, or left running, or pre-dumped first)
//! and restored, and goes on counting from where it was with the same
//! token in its memory and the same file open; a terminal container comes
//! back on a new pty sent to the console socket; a foreground restore
//! hands the stdio pipes over, runs the hooks and exits with the program's
//! code. Then the same through podman (conmon) and containerd (its runc
//! shim). Ignored on the host; `make test-vm` runs it in its own guest
//! (`integration/vm/cargo-test-in-vm --test vm_criu -- --include-ignored`).
//! NOOK_CRIU_RUNTIME, NOOK_PODMAN_RUNTIME and NOOK_CTRD_RUNTIME
//! (=/usr/sbin/runc, through NOOK_VM_ENV) run the same tests on runc.

mod common;
mod containerd;
mod criu;
mod podman;
use common::clients::{self, PATIENCE};
use common::*;
use criu::*;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// The process is gone (or a zombie nobody reaped yet).
fn gone(pid: i64) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit(')').next().is_none_or(|r| r.trim_start().starts_with('Z') || r.trim().is_empty())
}

fn wait_gone(pid: i64) {
    wait_until(&format!("process {pid} to go"), PATIENCE, || gone(pid));
}

#[test]
#[ignore = "needs CRIU on a kernel it works on: runs in the test VM (make test-vm)"]
fn checkpoint_and_restore_twice_and_the_counter_goes_on_with_its_memory_and_open_file() {
    let c = Counter::new("cr");
    c.run_detached();
    let first = c.wait_lines(2);
    let tok = first[0].0.clone();
    for round in 0..2 {
        let (status, pid) = c.status_pid();
        assert_eq!(status, "running");
        let img = c.b.dir.join(format!("img{round}"));
        c.checkpoint(&img, &["--work-path", c.b.dir.join(format!("work{round}")).to_str().unwrap()]);
        // The container is gone, as with runc: killed by CRIU, deleted.
        assert!(c.state().is_none(), "round {round}: still known after the checkpoint");
        wait_gone(pid);
        assert!(!c.b.cgroup_dir().exists(), "round {round}: its cgroup is left");
        let before = c.lines();
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(c.lines().len(), before.len(), "round {round}: still counting after the checkpoint");
        let last = before.last().unwrap().1;

        c.restore_detached(&img, &[]);
        let (status, new_pid) = c.status_pid();
        assert_eq!(status, "running", "round {round}");
        assert_ne!(new_pid, pid, "round {round}: the restored init has a new pid");
        assert!(c.b.cgroup_dir().join("cgroup.procs").exists(), "round {round}: no cgroup");
        let procs = std::fs::read_to_string(c.b.cgroup_dir().join("cgroup.procs")).unwrap();
        assert!(procs.lines().any(|l| l == new_pid.to_string()), "round {round}: init not in its cgroup: {procs}");
        let lines = c.wait_lines(before.len() + 1);
        assert_goes_on(&lines, before.len(), &tok, last);
        // exec joins the restored init's namespaces, the time namespace
        // CRIU restores into among them.
        let mut exec = c.cmd(&["exec", &c.b.id, "sh", "-c", "readlink /proc/1/ns/time; readlink /proc/self/ns/time"]);
        let out = exec.stdout(Stdio::piped()).stderr(Stdio::piped()).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let ns: Vec<&str> = text.lines().collect();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && ns.len() == 2 && ns[0] == ns[1], "round {round}: exec: {text:?} {err}");
        let ours = std::fs::read_link("/proc/self/ns/time").unwrap();
        assert_ne!(Path::new(ns[0]), ours, "round {round}: CRIU restores into a time namespace of its own");
    }
    c.finish();
}

#[test]
#[ignore = "needs CRIU on a kernel it works on: runs in the test VM (make test-vm)"]
fn a_pre_dump_then_a_leave_running_dump_and_a_restore_goes_back_to_the_checkpoint() {
    let c = Counter::new("predump");
    c.run_detached();
    let tok = c.wait_lines(1)[0].0.clone();
    let (_, pid) = c.status_pid();
    let (pre, full) = (c.b.dir.join("img/pre"), c.b.dir.join("img/full"));
    c.checkpoint(&pre, &["--pre-dump"]);
    assert_eq!(c.status_pid(), ("running".to_owned(), pid), "a pre-dump leaves it running");
    let before = c.lines().last().unwrap().1;
    c.checkpoint(&full, &["--leave-running", "--parent-path", "../pre"]);
    let after = c.lines().last().unwrap().1;
    assert_eq!(c.status_pid(), ("running".to_owned(), pid), "--leave-running leaves it running");
    let parent = std::fs::read_link(full.join("parent")).expect("the dump names its parent");
    assert_eq!(parent, Path::new("../pre"));
    let n = c.lines().len();
    c.wait_lines(n + 1);

    c.ok(&["delete", "--force", &c.b.id]);
    wait_gone(pid);
    let n = c.lines().len();
    c.restore_detached(&full, &[]);
    let lines = c.wait_lines(n + 1);
    // Back to the moment of the dump: a count from between the two.
    let (t, v) = &lines[n];
    assert_eq!(t, &tok);
    assert!(before < *v && *v <= after + 1, "{before} < {v} <= {after} + 1: {lines:?}");
    assert_goes_on(&lines, n, &tok, v - 1);
    c.finish();
}

#[test]
#[ignore = "needs CRIU on a kernel it works on: runs in the test VM (make test-vm)"]
fn a_terminal_container_comes_back_on_a_new_pty_sent_to_the_console_socket_or_relayed() {
    let script =
        "tok=$RANDOM$RANDOM; i=0; while test ! -e /out/stop; do i=$((i+1)); echo \"$tok $i\"; sleep 0.3; done; exit 5";
    let c = Counter::with_program("tty", script);
    c.b.edit(|cfg| cfg["process"]["terminal"] = true.into());
    let sock = ConsoleSocket::new(&c.b.dir, "console.sock");
    let s = sock.path.to_str().unwrap();
    c.ok(&["run", "-d", "--console-socket", s, "--bundle", c.b.dir.to_str().unwrap(), &c.b.id]);
    let mut master = sock.receive();
    let seen = read_until(&mut master, "three lines on the terminal", |t| parse(t).len() >= 3);
    let lines = parse(&seen);
    let (tok, last) = lines.last().unwrap().clone();

    c.checkpoint(&c.b.dir.join("img"), &[]);
    drop(master);
    let sock2 = ConsoleSocket::new(&c.b.dir, "console2.sock");
    c.restore_detached(&c.b.dir.join("img"), &["--console-socket", sock2.path.to_str().unwrap()]);
    let mut master = sock2.receive();
    let seen = read_until(&mut master, "two lines on the new terminal", |t| parse(t).len() >= 2);
    let lines = parse(&seen);
    // Lines the old terminal held unread when it went are lost with it.
    assert!(lines[0].1 > last, "{last} then {lines:?}");
    assert_goes_on(&lines, 0, &tok, lines[0].1 - 1);
    let last = lines.last().unwrap().1;

    // Once more, restored in the foreground without a console socket: the
    // runtime relays the new pty to its own terminal, and exits with the
    // program's code.
    c.checkpoint(&c.b.dir.join("img2"), &[]);
    drop(master);
    let img2 = c.b.dir.join("img2");
    let mut restore = c.cmd(&["restore", "--image-path", img2.to_str().unwrap()]);
    restore.args(["--bundle", c.b.dir.to_str().unwrap(), &c.b.id]);
    let stopper = {
        let (out, state) = (c.out.clone(), c.cmd(&["state", &c.b.id]));
        std::thread::spawn(move || stop_once_running(state, &out))
    };
    let (code, text) = clients::run_on_a_pty(restore, 24, 80);
    stopper.join().unwrap();
    assert_eq!(code, Some(5), "{text}");
    let lines = parse(&text);
    assert!(!lines.is_empty() && lines[0].1 > last, "{last} then {text:?}");
    assert_goes_on(&lines, 0, &tok, lines[0].1 - 1);
    assert!(c.state().is_none(), "a foreground restore deletes the container once it exits");
    c.b.assert_clean();
}

/// Waits until `state` says the container runs, lets it count a while,
/// then asks it to stop (/out/stop).
fn stop_once_running(mut state: std::process::Command, out: &Path) {
    state.stdout(Stdio::piped());
    wait_until("the restored container to run", PATIENCE, || {
        let o = state.output().unwrap();
        String::from_utf8_lossy(&o.stdout).contains("\"running\"")
    });
    std::thread::sleep(Duration::from_secs(2));
    std::fs::write(out.join("stop"), "").unwrap();
}

#[test]
#[ignore = "needs CRIU on a kernel it works on: runs in the test VM (make test-vm)"]
fn a_foreground_restore_hands_the_pipes_over_runs_the_hooks_and_exits_with_the_code() {
    let script =
        "tok=$RANDOM$RANDOM; i=0; while test ! -e /out/stop; do i=$((i+1)); echo \"$tok $i\"; sleep 0.3; done; exit 7";
    let c = Counter::with_program("fg", script);
    let out = c.out.display().to_string();
    c.b.edit(|cfg| {
        let hook = |name: &str| serde_json::json!([{"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {out}/{name}.json")]}]);
        cfg["hooks"] = serde_json::json!({"prestart": hook("prestart"), "createRuntime": hook("createRuntime")});
    });
    let mut run = c.cmd(&["run", "-d", "--bundle", c.b.dir.to_str().unwrap(), &c.b.id]);
    let mut run = run.stdout(Stdio::piped()).spawn().unwrap();
    let mut pipe = std::fs::File::from(std::os::fd::OwnedFd::from(run.stdout.take().unwrap()));
    assert!(run.wait().unwrap().success(), "{}", std::fs::read_to_string(&c.log).unwrap_or_default());
    let seen = read_until(&mut pipe, "three lines on the stdout pipe", |t| parse(t).len() >= 3);
    let (tok, _) = parse(&seen)[0].clone();
    std::fs::remove_file(c.out.join("prestart.json")).unwrap();
    std::fs::remove_file(c.out.join("createRuntime.json")).unwrap();

    c.checkpoint(&c.b.dir.join("img"), &[]);
    // Everything the process wrote before it went, to the end of the pipe.
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut pipe, &mut rest).unwrap();
    let last = parse(&(seen + &rest)).last().unwrap().1;

    let pid_file = c.b.dir.join("pid");
    let img = c.b.dir.join("img");
    let mut restore =
        c.cmd(&["restore", "--image-path", img.to_str().unwrap(), "--pid-file", pid_file.to_str().unwrap()]);
    let mut restore =
        restore.args(["--bundle", c.b.dir.to_str().unwrap(), &c.b.id]).stdout(Stdio::piped()).spawn().unwrap();
    let mut pipe = std::fs::File::from(std::os::fd::OwnedFd::from(restore.stdout.take().unwrap()));
    let seen = read_until(&mut pipe, "two lines on the new pipe", |t| parse(t).len() >= 2);
    assert_goes_on(&parse(&seen), 0, &tok, last);

    let (status, pid) = c.status_pid();
    assert_eq!(status, "running");
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap().trim(), pid.to_string());
    for hook in ["prestart", "createRuntime"] {
        let s: serde_json::Value =
            serde_json::from_slice(&std::fs::read(c.out.join(format!("{hook}.json"))).expect(hook)).unwrap();
        assert_eq!(s["id"], c.b.id.as_str(), "{hook}: {s}");
        assert_eq!(s["pid"], pid, "{hook}: the restored init's pid: {s}");
    }
    std::fs::write(c.out.join("stop"), "").unwrap();
    let st = restore.wait().unwrap();
    assert_eq!(st.code(), Some(7), "{}", std::fs::read_to_string(&c.log).unwrap_or_default());
    assert!(c.state().is_none(), "a foreground restore deletes the container once it exits");
    c.b.assert_clean();
}

#[test]
#[ignore = "needs CRIU on a kernel it works on: runs in the test VM (make test-vm)"]
fn a_lazy_restore_takes_the_pages_from_the_checkpoints_page_server() {
    // runc's lazy migration: the dump serves the memory pages (page server
    // on loopback) and says so on --status-fd; CRIU's lazy-pages daemon
    // fetches them for a restore under another id, which starts at once.
    use std::os::fd::OwnedFd;
    let c = Counter::new("lazy");
    c.run_detached();
    let tok = c.wait_lines(1)[0].0.clone();
    let (_, pid) = c.status_pid();
    let img = c.b.dir.join("img");
    let (r, w): (OwnedFd, OwnedFd) = nix::unistd::pipe().unwrap();
    let mut cmd = c.cmd(&["checkpoint", "--lazy-pages", "--page-server", "127.0.0.1:27277", "--status-fd", "5"]);
    cmd.args(["--image-path", img.to_str().unwrap(), &c.b.id]);
    nook::sys::fds::place_on_exec(&mut cmd, vec![(w, 5)]);
    let mut ck = cmd.spawn().unwrap();
    // Our copy of the pipe's write end goes with the command.
    drop(cmd);
    let mut status = std::fs::File::from(r);
    let ready = read_until(&mut status, "the status fd's \\0", |t| !t.is_empty());
    assert_eq!(ready.as_bytes(), b"\0");
    assert!(img.join("inventory.img").exists());
    let mut daemon = std::process::Command::new("criu")
        .args(["lazy-pages", "--page-server", "--address", "127.0.0.1", "--port", "27277", "-D"])
        .arg(&img)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let n = c.lines().len();
    let id = format!("{}-lazy", c.b.id);
    c.ok(&[
        "restore",
        "-d",
        "--lazy-pages",
        "--image-path",
        img.to_str().unwrap(),
        "--bundle",
        c.b.dir.to_str().unwrap(),
        &id,
    ]);
    assert!(ck.wait().unwrap().success(), "{}", std::fs::read_to_string(&c.log).unwrap_or_default());
    assert!(daemon.wait().unwrap().success(), "criu lazy-pages failed");
    wait_gone(pid);
    assert!(c.state().is_none(), "the checkpointed container is deleted once its pages are gone");
    let lines = c.wait_lines(n + 1);
    assert_goes_on(&lines, n, &tok, lines[n].1 - 1);
    assert!(lines[n].1 <= lines[n - 1].1 + 1, "{lines:?}");
    // The restored tree is in the new container's cgroup, not the old one's.
    let mut state = c.cmd(&["state", &id]);
    let state: serde_json::Value =
        serde_json::from_slice(&state.stdout(Stdio::piped()).output().unwrap().stdout).unwrap();
    let cg = clients::cgroup_of(state["pid"].as_i64().unwrap());
    assert_eq!(cg, c.b.cgroup_dir().with_file_name(&id), "the restored init's cgroup");
    c.ok(&["delete", "--force", &id]);
    assert!(!c.b.cgroup_dir().with_file_name(&id).exists(), "the restored container's cgroup is left");
    c.b.assert_clean();
}

#[test]
#[ignore = "needs CRIU and systemd as PID 1: runs in the test VM booted with systemd (make test-vm)"]
fn with_the_systemd_driver_the_restored_container_gets_a_transient_unit_again() {
    assert!(Path::new("/run/systemd/system").is_dir(), "needs systemd as PID 1 (run-in-vm --systemd)");
    let mut c = Counter::new("sd");
    c.systemd = true;
    let unit = format!("nook-{}.scope", c.b.id);
    let cg = Path::new("/sys/fs/cgroup/system.slice").join(&unit);
    c.run_detached();
    let tok = c.wait_lines(1)[0].0.clone();
    let (_, pid) = c.status_pid();
    assert_eq!(clients::cgroup_of(pid), cg);
    c.checkpoint(&c.b.dir.join("img"), &[]);
    wait_gone(pid);
    wait_until("the unit's cgroup to go", PATIENCE, || !cg.exists());
    let n = c.lines().len();
    let last = c.lines().last().unwrap().1;

    c.restore_detached(&c.b.dir.join("img"), &[]);
    let (status, pid) = c.status_pid();
    assert_eq!(status, "running");
    assert_eq!(clients::cgroup_of(pid), cg, "the restored init is in the unit systemd made again");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(c.b.root.join(&c.b.id).join("state.json")).unwrap()).unwrap();
    assert_eq!(saved["systemdUnit"], unit.as_str(), "state.json: {saved}");
    let lines = c.wait_lines(n + 1);
    assert_goes_on(&lines, n, &tok, last);
    c.ok(&["delete", "--force", &c.b.id]);
    wait_until("the unit's cgroup to go", PATIENCE, || !cg.exists());
    c.b.assert_clean();
}

#[test]
#[ignore = "runs podman and conmon: runs in the test VM (make test-vm)"]
fn podman_checkpoints_and_restores_a_container() {
    criu_ready();
    let p = podman::Podman::new();
    let out = p.run(&["-d", "--name", "cr"], &["sh", "-c", &counter("", "")]);
    clients::ok(&out, "podman run -d");
    let logs = || parse(&stdout(&p.podman(&["logs", "cr"])));
    wait_until("two lines in the logs", PATIENCE, || logs().len() >= 2);
    let tok = logs()[0].0.clone();

    clients::ok(&p.podman(&["container", "checkpoint", "cr"]), "podman container checkpoint");
    assert_eq!(p.inspect("cr", "{{.State.Status}}"), "exited");
    let before = logs();
    let last = before.last().unwrap().1;
    clients::ok(&p.podman(&["container", "restore", "cr"]), "podman container restore");
    assert_eq!(p.inspect("cr", "{{.State.Status}}"), "running");
    wait_until("lines after the restore", PATIENCE, || logs().len() > before.len() + 1);
    assert_goes_on(&logs(), before.len(), &tok, last);
    clients::ok(&p.podman(&["rm", "-f", "-t", "0", "cr"]), "podman rm");
    p.assert_clean();
}

#[test]
#[ignore = "starts containerd: runs in the test VM (make test-vm)"]
fn containerd_checkpoints_a_task_and_restores_it_through_the_runc_shim() {
    criu_ready();
    let c = containerd::Containerd::start();
    let dir = c.dir.join("out");
    std::fs::create_dir_all(&dir).unwrap();
    let mount = format!("type=bind,src={},dst=/out,options=rbind:rw", dir.display());
    let script = counter("exec 3>>/out/log;", " >&3");
    let out = c.run(&["-d", "--null-io", "--mount", &mount], "cr", &["sh", "-c", &script]);
    clients::ok(&out, "ctr run -d");
    let lines = || parse(&std::fs::read_to_string(dir.join("log")).unwrap_or_default());
    wait_until("two lines in the log", PATIENCE, || lines().len() >= 2);
    let tok = lines()[0].0.clone();
    let (pid, _) = c.task("cr").unwrap();

    // A container checkpoint (ctr pauses the task, the runtime dumps it
    // and leaves it running, ctr resumes it) with the spec, image and rw
    // layer, to restore from.
    let ck = ["containers", "checkpoint", "--task", "--image", "--rw", "cr", "nook.test/cr:1"];
    eprintln!("ctr containers checkpoint --task");
    clients::ok(&c.ctr(&ck), "ctr containers checkpoint --task");
    let after = lines().last().unwrap().1;
    assert_eq!(c.status("cr"), "RUNNING");
    clients::ok(&c.ctr(&["task", "kill", "-s", "SIGKILL", "cr"]), "ctr task kill");
    wait_until("the task to stop", PATIENCE, || c.status("cr") == "STOPPED");
    clients::ok(&c.ctr(&["task", "delete", "cr"]), "ctr task delete");
    clients::ok(&c.ctr(&["containers", "delete", "cr"]), "ctr containers delete");
    wait_gone(pid as i64);
    let n = lines().len();

    // The shim restores it (runtime restore --detach -no-subreaper …).
    eprintln!("ctr containers restore --live");
    clients::ok(&c.ctr(&["containers", "restore", "--live", "--rw", "cr", "nook.test/cr:1"]), "ctr c restore");
    let (new_pid, status) = c.task("cr").expect("a restored task");
    assert_eq!(status, "RUNNING");
    assert_ne!(new_pid, pid);
    wait_until("lines after the restore", PATIENCE, || lines().len() > n + 1);
    let l = lines();
    assert!(l[n].1 <= after + 1, "back to the checkpoint: {after} then {l:?}");
    assert_goes_on(&l, n, &tok, l[n].1 - 1);

    // ctr task checkpoint --exit: the restored task is dumped again (into
    // a directory: into the content store would clash with the container
    // checkpoint's identical spec blob), and ends.
    eprintln!("ctr task checkpoint --exit");
    let img = c.dir.join("task-img");
    let out = c.ctr(&["task", "checkpoint", "--exit", "--image-path", img.to_str().unwrap(), "cr"]);
    clients::ok(&out, "ctr task checkpoint --exit");
    assert!(img.join("inventory.img").exists() && img.join("descriptors.json").exists(), "no images in {img:?}");
    wait_until("the task to stop", PATIENCE, || c.status("cr") == "STOPPED");
    wait_gone(new_pid as i64);
    clients::ok(&c.ctr(&["task", "delete", "cr"]), "ctr task delete");
    clients::ok(&c.ctr(&["containers", "delete", "cr"]), "ctr containers delete");
    c.assert_clean();
}
