//! nook's D-Bus client against a real bus: a private `dbus-daemon` started
//! for each test (its own config and socket in a temp dir, killed at the
//! end). dbus-daemon checks every message it routes against its
//! signature, so a message that comes back intact was marshalled right.

use nook::sys::dbus::{Connection, DbusError, Kind, Message, Value, BUS_NAME, BUS_PATH};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Bus {
    child: Child,
    socket: PathBuf,
    dir: PathBuf,
}

impl Bus {
    fn start() -> Bus {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir =
            PathBuf::from(format!("/tmp/nook-tests/dbus-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("bus");
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .unwrap();
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("dbus-daemon (package dbus-daemon) is installed");
        // The address is printed once the socket listens.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(line.contains(socket.to_str().unwrap()), "dbus-daemon printed {line:?}");
        Bus { child, socket, dir }
    }

    fn connect(&self) -> Connection {
        Connection::connect(&self.socket, true, Duration::from_secs(10)).unwrap()
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn bus_call(member: &str, body: Vec<Value>) -> Message {
    Message::call(Some(BUS_NAME), BUS_PATH, BUS_NAME, member, body)
}

#[test]
fn hello_and_a_method_call_with_a_reply() {
    let bus = Bus::start();
    let mut c = bus.connect();
    let me = c.unique_name().expect("Hello gave a unique name").to_owned();
    assert!(me.starts_with(':'), "{me}");
    let reply = c.call(bus_call("ListNames", vec![])).unwrap();
    assert_eq!(reply.kind, Kind::Reply);
    let Some(Value::Array(elem, names)) = reply.body.first() else { panic!("{reply:?}") };
    assert_eq!(elem, "s");
    assert!(names.contains(&Value::str(BUS_NAME)), "{names:?}");
    assert!(names.contains(&Value::str(&me)), "{names:?}");
    let owner = c.call(bus_call("GetNameOwner", vec![Value::str(BUS_NAME)])).unwrap();
    assert_eq!(owner.body, [Value::str(BUS_NAME)]);
}

#[test]
fn an_error_reply_is_decoded_to_its_name_and_message() {
    let bus = Bus::start();
    let mut c = bus.connect();
    let e = c.call(bus_call("GetNameOwner", vec![Value::str("org.nook.Nobody")])).unwrap_err();
    assert_eq!(e.name(), Some("org.freedesktop.DBus.Error.NameHasNoOwner"), "{e}");
    assert!(e.to_string().starts_with("org.freedesktop.DBus.Error.NameHasNoOwner: "), "{e}");
    assert!(e.to_string().contains("org.nook.Nobody"), "{e}");
    // A body the method does not take.
    let e = c.call(bus_call("GetNameOwner", vec![Value::U32(1)])).unwrap_err();
    assert_eq!(e.name(), Some("org.freedesktop.DBus.Error.InvalidArgs"), "{e}");
    // The connection is still good afterwards.
    c.call(bus_call("ListNames", vec![])).unwrap();
}

#[test]
fn signals_arrive_after_add_match() {
    let bus = Bus::start();
    let mut watcher = bus.connect();
    let mut other = bus.connect();
    watcher.add_match("type='signal',interface='org.nook.Test'").unwrap();
    watcher.add_match("type='signal',member='NameOwnerChanged'").unwrap();
    // A signal with the body types systemd's calls use, through the daemon
    // (which validates it) and back.
    let body = vec![
        Value::U32(7),
        Value::Path("/org/freedesktop/systemd1/job/7".into()),
        Value::str("nook-x.scope"),
        Value::Array(
            "(sv)".into(),
            vec![
                Value::prop("Delegate", Value::Bool(true)),
                Value::prop("PIDs", Value::Array("u".into(), vec![Value::U32(42)])),
                Value::prop("MemoryMax", Value::U64(1 << 30)),
                Value::prop("Wants", Value::strings(&["a.slice"])),
                Value::prop("CPUWeight", Value::I32(-1)),
            ],
        ),
        Value::Array("(sa(sv))".into(), vec![]),
    ];
    other.send(&Message::signal("/org/nook/Test", "org.nook.Test", "Thing", body.clone())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    // The bus tells each new connection NameAcquired (its unique name) first.
    let first = watcher.next_signal(deadline).unwrap();
    assert_eq!(first.member.as_deref(), Some("NameAcquired"));
    assert_eq!(first.body.first().and_then(Value::as_str), watcher.unique_name());
    let s = watcher.next_signal(deadline).unwrap();
    assert_eq!((s.interface.as_deref(), s.member.as_deref()), (Some("org.nook.Test"), Some("Thing")));
    assert_eq!(s.sender.as_deref(), other.unique_name());
    assert_eq!(s.body, body);
    // The bus's own signal, about a name the other connection takes.
    other.call(bus_call("RequestName", vec![Value::str("org.nook.Taken"), Value::U32(0)])).unwrap();
    let s = loop {
        let s = watcher.next_signal(deadline).unwrap();
        if s.member.as_deref() == Some("NameOwnerChanged") && s.body.first() == Some(&Value::str("org.nook.Taken")) {
            break s;
        }
    };
    assert_eq!(s.body[2].as_str(), other.unique_name());
    // Nothing more: waiting ends at the deadline.
    let e = watcher.next_signal(Instant::now() + Duration::from_millis(200)).unwrap_err();
    assert!(matches!(e, DbusError::Timeout(_)), "{e}");
}

#[test]
fn a_call_to_ourselves_arrives_as_sent() {
    let bus = Bus::start();
    let mut c = bus.connect();
    let me = c.unique_name().unwrap().to_owned();
    let body = vec![Value::Variant(Box::new(Value::Struct(vec![Value::Byte(1), Value::I64(-2), Value::Double(0.5)])))];
    let call = Message::call(Some(&me), "/x", "org.nook.Test", "Echo", body.clone());
    let serial = c.send(&call).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let got = loop {
        let m = c.receive(deadline).unwrap();
        if m.kind != Kind::Signal {
            break m; // NameAcquired comes first
        }
    };
    assert_eq!(got.kind, Kind::MethodCall);
    assert_eq!(got.serial, serial);
    assert_eq!(got.member.as_deref(), Some("Echo"));
    assert_eq!(got.body, body);
}

#[test]
fn a_socket_that_is_not_there_is_a_clear_error() {
    let e = Connection::connect(std::path::Path::new("/nonexistent/bus"), true, Duration::from_secs(1)).err().unwrap();
    assert_eq!(e.to_string(), "connect /nonexistent/bus: No such file or directory (os error 2)");
}
