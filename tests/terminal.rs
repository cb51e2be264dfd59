//! Terminals: `process.terminal` with `--console-socket` (the receiver is
//! this test, as containerd's or conmon's would be), foreground `run` and
//! `exec -t` relaying the pty themselves, and an interactive session in
//! tmux (raw mode, window size changes).

mod common;
use common::*;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde_json::json;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// A `--console-socket` receiver.
struct ConsoleSocket {
    path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    fn new(b: &Bundle) -> ConsoleSocket {
        Self::named(b, "console.sock")
    }

    fn named(b: &Bundle, name: &str) -> ConsoleSocket {
        let path = b.dir.join(name);
        let listener = UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        ConsoleSocket { path, listener }
    }

    fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Accepts nook's connection and receives the pty master: (the name
    /// sent with it, the fd).
    fn receive(&self) -> (String, std::fs::File) {
        let t = Instant::now();
        let (conn, _) = loop {
            match self.listener.accept() {
                Ok(c) => break c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(t.elapsed() < Duration::from_secs(5), "nook never connected to the console socket");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        conn.set_nonblocking(false).unwrap();
        let mut buf = [0u8; 4096];
        let (n, fd) = nook::sys::recv_with_fd(std::os::fd::AsFd::as_fd(&conn), &mut buf).unwrap();
        let fd = fd.expect("expected the pty master");
        (String::from_utf8_lossy(&buf[..n]).into_owned(), fd.into())
    }
}

/// Writes `input` to the pty master and reads until `needle` shows up.
fn converse(master: &mut std::fs::File, input: &str, needle: &str) -> String {
    master.write_all(input.as_bytes()).unwrap();
    let mut seen = Vec::new();
    let t = Instant::now();
    while !String::from_utf8_lossy(&seen).contains(needle) {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{needle:?} never came; got {:?}",
            String::from_utf8_lossy(&seen)
        );
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::from(100u16)).unwrap() == 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        let n = nix::unistd::read(&*master, &mut buf).unwrap();
        assert!(n > 0, "the terminal closed; got {:?}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// Counts the shell's fds that are not its terminal (0, 1, 2, and ash's
/// own /dev/tty) or the pipe of the command substitution.
const LEAKS: &str =
    "echo leaks=$(for f in /proc/$$/fd/*; do readlink $f; done | grep -c -v -e /dev/pts/0 -e /dev/tty -e pipe:)\n";

fn with_terminal(name: &str, args: &[&str]) -> Bundle {
    let b = Bundle::new(name, args);
    b.edit(|c| {
        c["process"]["terminal"] = true.into();
        c["process"]["consoleSize"] = json!({"height": 25, "width": 91});
    });
    b
}

#[test]
fn create_sends_a_working_pty_to_the_console_socket() {
    let b = with_terminal("tty-create", &["sh"]);
    let sock = ConsoleSocket::new(&b);
    let out = b.with_bundle("create", &["--console-socket", sock.arg()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (name, mut master) = sock.receive();
    assert_eq!(name, "/dev/ptmx", "runc's receivers expect the master's name");
    // The receiver gets the pty as the kernel made it, ONLCR on: runc 1.1
    // leaves it so for --console-socket (its own relay clears it).
    let onlcr = nix::sys::termios::OutputFlags::ONLCR;
    assert!(nix::sys::termios::tcgetattr(&master).unwrap().output_flags.contains(onlcr));
    assert!(b.nook(&["start", &b.id]).status.success());
    converse(&mut master, "echo hi-$((1+2))\n", "hi-3\r\n");
    converse(&mut master, "stty size\n", "25 91");
    converse(&mut master, "tty\n", "/dev/pts/0");
    // The init's terminal is the container's /dev/console (136:0, hex).
    converse(&mut master, "stat -c console=%t:%T /dev/console\n", "console=88:0");
    // No master, nothing of nook's.
    converse(&mut master, LEAKS, "leaks=0");
    converse(
        &mut master,
        "echo stdio=$(readlink /proc/$$/fd/0):$(readlink /proc/$$/fd/2)\n",
        "stdio=/dev/pts/0:/dev/pts/0",
    );
    // The shell is the session leader and the terminal is its controlling one.
    // (/proc/1/stat: session 1, tty_nr 136:0.)
    converse(&mut master, "read a b c d e s t r < /proc/1/stat; echo ctty=$s:$t\n", "ctty=1:34816");
    master.write_all(b"exit\n").unwrap();
    let t = Instant::now();
    while b.status() != "stopped" {
        assert!(t.elapsed() < Duration::from_secs(5), "the shell did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(b.nook(&["delete", &b.id]).status.success());
    b.assert_clean();
}

#[test]
fn exec_tty_sends_a_pty_owned_by_the_process_user() {
    let b = Bundle::new("tty-exec", &["sleep", "1000"]);
    let out = b.with_bundle("run", &["--detach"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sock = ConsoleSocket::new(&b);
    let pj = b.dir.join("process.json");
    let process = json!({
        "terminal": true, "consoleSize": {"height": 12, "width": 34},
        "args": ["sh"], "cwd": "/", "user": {"uid": 1000, "gid": 1000}, "env": ["PATH=/bin"]
    });
    std::fs::write(&pj, process.to_string()).unwrap();
    let out = b.nook(&["exec", "-d", "--console-socket", sock.arg(), "--process", pj.to_str().unwrap(), &b.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, mut master) = sock.receive();
    converse(&mut master, "echo hi-$((1+2))\n", "hi-3");
    converse(&mut master, "stty size\n", "12 34");
    converse(&mut master, "tty\n", "/dev/pts/0");
    // The terminal is the process's (uid; the group stays devpts' gid=5);
    // shared device nodes are never chowned.
    converse(&mut master, "stat -c %u:%g /dev/pts/0\n", "1000:5");
    converse(&mut master, "stat -c null=%u:%g:%a /dev/null\n", "null=0:0:666");
    // Only an init's terminal becomes /dev/console (this init has none).
    converse(&mut master, "test -e /dev/console || echo no-console\n", "\nno-console");
    converse(&mut master, LEAKS, "leaks=0");

    master.write_all(b"exit\n").unwrap();

    // exec -t from the command line, in the foreground with a console
    // socket: nook waits and passes the exit code on.
    let sock = ConsoleSocket::named(&b, "console2.sock");
    let mut child = b
        .cmd(&["exec", "-t", "--console-socket", sock.arg(), &b.id, "sh", "-c", "read x; echo got-$x; exit 6"])
        .spawn()
        .unwrap();
    let (_, mut master) = sock.receive();
    converse(&mut master, "abc\n", "got-abc");
    assert_eq!(child.wait().unwrap().code(), Some(6));
}

/// runc's line endings: the pty nook relays itself (`run`, `exec -t` in
/// the foreground) has ONLCR off, as runc makes the one it relays, so the
/// program's "\n" reaches nook's stdout as "\n" (runc's tests compare
/// such output line by line); the terminal nook writes to turns it into
/// "\r\n" if it is one (see an_interactive_run_in_tmux).
#[test]
fn foreground_run_and_exec_relay_the_terminal() {
    // stdin is /dev/null (not a terminal): nook relays without raw mode.
    let b = with_terminal("tty-fg", &["sh", "-c", "tty; stty size; stat -c %a /; echo done; exit 5"]);
    let out = b.with_bundle("run", &[]);
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(5), "{s} {}", stderr(&out));
    assert_eq!(s, "/dev/pts/0\n25 91\n755\ndone\n");
    b.assert_clean();

    let b = Bundle::new("tty-fg-exec", &["sleep", "1000"]);
    assert!(b.with_bundle("run", &["--detach"]).status.success());
    let out = b.nook(&["exec", "-t", &b.id, "sh", "-c", "tty; test -t 0 && test -t 2 && echo yes; exit 4"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(stdout(&out), "/dev/pts/0\nyes\n");
    // Without -t, no terminal.
    let out = b.nook(&["exec", &b.id, "sh", "-c", "tty; true"]);
    assert!(stdout(&out).contains("not a tty"), "{:?}", stdout(&out));
}

#[test]
fn a_detached_terminal_needs_a_console_socket() {
    let b = with_terminal("tty-nosock", &["sh"]);
    for args in [&["create"][..], &["run", "--detach"]] {
        let out = b.with_bundle(args[0], &args[1..]);
        assert_one_line_error(&out, "cannot allocate a terminal when nook detaches without --console-socket");
        b.assert_clean();
    }
    // A console socket without a terminal would wait forever.
    let b2 = Bundle::new("tty-sock-noterm", &["true"]);
    let sock = ConsoleSocket::new(&b2);
    assert_one_line_error(&b2.with_bundle("create", &["--console-socket", sock.arg()]), "--console-socket");
    b2.assert_clean();
    // A socket nobody listens on.
    let out = b.with_bundle("create", &["--console-socket", "/tmp/nook-tests/no-such.sock"]);
    assert_one_line_error(&out, "--console-socket");
    b.assert_clean();

    let r = Bundle::new("tty-exec-nosock", &["sleep", "1000"]);
    assert!(r.with_bundle("run", &["--detach"]).status.success());
    assert_one_line_error(&r.nook(&["exec", "-d", "-t", &r.id, "sh"]), "without --console-socket");
    assert_one_line_error(&r.nook(&["exec", "--console-socket", sock.arg(), &r.id, "true"]), "--console-socket");
}

/// A tmux server of this test's own (its socket in the bundle directory,
/// removed with it).
struct Tmux(PathBuf);

impl Tmux {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux").arg("-S").arg(&self.0).args(args).env("TERM", "xterm").output().unwrap()
    }

    fn pane(&self) -> String {
        stdout(&self.cmd(&["capture-pane", "-p", "-t", "t"]))
    }

    fn wait_for(&self, pred: impl Fn(&str) -> bool, what: &str) -> String {
        let t = Instant::now();
        loop {
            let p = self.pane();
            if pred(&p) {
                return p;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "{what} never showed; pane:\n{p}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

#[test]
fn an_interactive_run_in_tmux() {
    let b = Bundle::new("tty-tmux", &["sh"]);
    b.edit(|c| c["process"]["terminal"] = true.into());
    let tmux = Tmux(b.dir.join("tmux.sock"));
    let before = b.dir.join("stty.before");
    let after = b.dir.join("stty.after");
    let script = format!(
        "stty -g > {before}; {nook} --root {root} run --bundle {bundle} {id}; stty -g > {after}",
        before = before.display(),
        after = after.display(),
        nook = NOOK,
        root = b.root.display(),
        bundle = b.dir.display(),
        id = b.id
    );
    let out = tmux.cmd(&["new-session", "-d", "-s", "t", "-x", "100", "-y", "30", &script]);
    assert!(out.status.success(), "tmux: {}", stderr(&out));
    tmux.wait_for(|p| p.contains("/ #"), "the prompt");
    tmux.cmd(&["send-keys", "-t", "t", "echo $((6*7))", "Enter"]);
    // At the start of its line: tmux's terminal does the "\r" (OPOST kept
    // in raw mode, as runc's), the container's pty sends "\n" alone.
    tmux.wait_for(|p| p.lines().any(|l| l == "42"), "42");
    tmux.cmd(&["send-keys", "-t", "t", "stty size", "Enter"]);
    tmux.wait_for(|p| p.lines().any(|l| l.trim() == "30 100"), "30 100");
    // A window size change reaches the container's terminal (SIGWINCH).
    let out = tmux.cmd(&["resize-window", "-t", "t", "-x", "120", "-y", "40"]);
    assert!(out.status.success(), "tmux: {}", stderr(&out));
    std::thread::sleep(Duration::from_millis(200));
    tmux.cmd(&["send-keys", "-t", "t", "stty size", "Enter"]);
    tmux.wait_for(|p| p.lines().any(|l| l.trim() == "40 120"), "40 120");
    // ^C goes to the container's shell (raw mode), not to nook.
    tmux.cmd(&["send-keys", "-t", "t", "sleep 100", "Enter"]);
    std::thread::sleep(Duration::from_millis(200));
    tmux.cmd(&["send-keys", "-t", "t", "C-c"]);
    tmux.cmd(&["send-keys", "-t", "t", "echo still-$((2+3))", "Enter"]);
    tmux.wait_for(|p| p.lines().any(|l| l.trim() == "still-5"), "still-5");
    tmux.cmd(&["send-keys", "-t", "t", "exit", "Enter"]);
    let t = Instant::now();
    while tmux.cmd(&["has-session", "-t", "t"]).status.success() {
        assert!(t.elapsed() < Duration::from_secs(10), "the session did not end; pane:\n{}", tmux.pane());
        std::thread::sleep(Duration::from_millis(50));
    }
    // nook put its terminal back as it found it.
    let (before, after) = (std::fs::read_to_string(before).unwrap(), std::fs::read_to_string(after).unwrap());
    assert_eq!(before, after, "the terminal was not restored");
    b.assert_clean();
}

#[test]
fn a_fake_ptmx_is_refused() {
    // /dev/pts is a tmpfs holding the null device under the name ptmx: the
    // pty must come from a real devpts, or not at all.
    let b = with_terminal("tty-fake", &["true"]);
    b.edit(|c| {
        for m in c["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/dev/pts" {
                *m = json!({"destination": "/dev/pts", "type": "tmpfs", "source": "tmpfs"});
            }
        }
        c["linux"]["devices"] = json!([{"path": "/dev/pts/ptmx", "type": "c", "major": 1, "minor": 3}]);
    });
    assert_one_line_error(&b.with_bundle("run", &[]), "not the ptmx of a devpts filesystem");
    b.assert_clean();
}
