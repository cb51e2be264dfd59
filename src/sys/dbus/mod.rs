//! A minimal D-Bus client, just enough for systemd's cgroup driver: SASL
//! `EXTERNAL` authentication over a unix socket, method calls and their
//! replies or errors, and signals. Blocking, one connection, no fds, no
//! threads: nook talks to the bus for a few calls and goes away, which is
//! why this is a few hundred lines here rather than a D-Bus crate (and
//! its async runtime) in the binary.

pub mod wire;

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

pub use wire::{Kind, Message, Value};

/// The bus daemon's own name, path and interface.
pub const BUS_NAME: &str = "org.freedesktop.DBus";
pub const BUS_PATH: &str = "/org/freedesktop/DBus";

/// Errors of the D-Bus client.
#[derive(Debug, thiserror::Error)]
pub enum DbusError {
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    /// An error reply: its D-Bus error name and message.
    #[error("{name}: {message}")]
    Remote { name: String, message: String },
    #[error("timed out waiting for {0}")]
    Timeout(String),
    #[error("the bus closed the connection")]
    Closed,
}

impl DbusError {
    /// The D-Bus error name of an error reply.
    pub fn name(&self) -> Option<&str> {
        match self {
            DbusError::Remote { name, .. } => Some(name),
            _ => None,
        }
    }
}

type Result<T> = std::result::Result<T, DbusError>;

/// Signals kept while waiting for a reply, at most.
const MAX_QUEUED: usize = 4096;

/// One authenticated connection.
pub struct Connection {
    stream: UnixStream,
    serial: u32,
    buf: Vec<u8>,
    signals: VecDeque<Message>,
    unique_name: Option<String>,
    /// How long a call waits for its reply.
    pub timeout: Duration,
}

impl Connection {
    /// Connects to the socket at `path` and authenticates as our effective
    /// uid. A message bus (dbus-daemon) then wants `Hello` (`hello`);
    /// systemd's private socket is a direct peer and does not know it.
    pub fn connect(path: &Path, hello: bool, timeout: Duration) -> Result<Connection> {
        let stream = UnixStream::connect(path)
            .map_err(|source| DbusError::Io { what: format!("connect {}", path.display()), source })?;
        let mut c =
            Connection { stream, serial: 0, buf: Vec::new(), signals: VecDeque::new(), unique_name: None, timeout };
        c.authenticate()?;
        if hello {
            let reply = c.call(Message::call(Some(BUS_NAME), BUS_PATH, BUS_NAME, "Hello", vec![]))?;
            c.unique_name = reply.body.first().and_then(Value::as_str).map(str::to_owned);
        }
        Ok(c)
    }

    /// The unique name the bus gave us in `Hello`.
    pub fn unique_name(&self) -> Option<&str> {
        self.unique_name.as_deref()
    }

    fn io(what: &str) -> impl FnOnce(io::Error) -> DbusError + '_ {
        move |source| match source.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => DbusError::Timeout(what.into()),
            _ => DbusError::Io { what: what.into(), source },
        }
    }

    fn authenticate(&mut self) -> Result<()> {
        let uid = nix::unistd::geteuid().as_raw().to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        // BEGIN goes with AUTH, as sd-bus sends it: the first message then
        // reaches the server in a read of its own once it runs. (systemd
        // 252's server, given BEGIN and a message in one read after it has
        // sent OK, leaves the message unread until more input comes.)
        let hello = format!("\0AUTH EXTERNAL {hex}\r\nBEGIN\r\n");
        self.stream.write_all(hello.as_bytes()).map_err(Self::io("authentication"))?;
        let deadline = Instant::now() + self.timeout;
        let line = loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 2);
                break line;
            }
            if self.buf.len() > 4096 {
                return Err(DbusError::Auth("overlong line from the server".into()));
            }
            self.fill(deadline, "authentication")?;
        };
        if !line.starts_with("OK ") {
            return Err(DbusError::Auth(format!("the server answered {line:?}")));
        }
        Ok(())
    }

    /// Reads more bytes into the buffer, waiting until `deadline`.
    fn fill(&mut self, deadline: Instant, what: &str) -> Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(DbusError::Timeout(what.into()));
        }
        self.stream.set_read_timeout(Some(left)).map_err(Self::io(what))?;
        let mut chunk = [0u8; 8192];
        let n = loop {
            match self.stream.read(&mut chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r.map_err(Self::io(what))?,
            }
        };
        if n == 0 {
            return Err(DbusError::Closed);
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// The next message from the peer, whatever it is (queued signals
    /// are not looked at).
    pub fn receive(&mut self, deadline: Instant) -> Result<Message> {
        self.read_message(deadline, "a message")
    }

    fn read_message(&mut self, deadline: Instant, what: &str) -> Result<Message> {
        while self.buf.len() < 16 {
            self.fill(deadline, what)?;
        }
        let head: [u8; 16] = self.buf[..16].try_into().expect("16 bytes");
        let len = Message::length(&head)?;
        while self.buf.len() < len {
            self.fill(deadline, what)?;
        }
        let m = Message::decode(&self.buf[..len]);
        self.buf.drain(..len);
        m
    }

    /// Sends `msg` with the next serial, which is returned.
    pub fn send(&mut self, msg: &Message) -> Result<u32> {
        self.serial = self.serial.wrapping_add(1).max(1);
        let bytes = msg.encode(self.serial)?;
        self.stream.write_all(&bytes).map_err(Self::io("sending a message"))?;
        Ok(self.serial)
    }

    /// Calls a method and waits for its reply. An error reply is
    /// [`DbusError::Remote`]. Signals that come meanwhile are kept for
    /// [`Connection::next_signal`].
    pub fn call(&mut self, msg: Message) -> Result<Message> {
        let what = format!("the reply to {}", msg.member.as_deref().unwrap_or("a call"));
        let serial = self.send(&msg)?;
        let deadline = Instant::now() + self.timeout;
        loop {
            let m = self.read_message(deadline, &what)?;
            match m.kind {
                Kind::Reply if m.reply_serial == Some(serial) => return Ok(m),
                Kind::Error if m.reply_serial == Some(serial) => {
                    let message = m.body.first().and_then(Value::as_str).unwrap_or_default().to_owned();
                    return Err(DbusError::Remote { name: m.error_name.unwrap_or_default(), message });
                }
                Kind::Signal => self.queue(m),
                // Replies to calls we gave up on, and calls to us (we
                // export nothing): dropped.
                _ => {}
            }
        }
    }

    fn queue(&mut self, m: Message) {
        if self.signals.len() == MAX_QUEUED {
            self.signals.pop_front();
        }
        self.signals.push_back(m);
    }

    /// The next signal (queued first), waiting until `deadline`.
    pub fn next_signal(&mut self, deadline: Instant) -> Result<Message> {
        loop {
            if let Some(m) = self.signals.pop_front() {
                return Ok(m);
            }
            let m = self.read_message(deadline, "a signal")?;
            if m.kind == Kind::Signal {
                return Ok(m);
            }
        }
    }

    /// `AddMatch` on a message bus: ask for the signals `rule` matches.
    pub fn add_match(&mut self, rule: &str) -> Result<()> {
        self.call(Message::call(Some(BUS_NAME), BUS_PATH, BUS_NAME, "AddMatch", vec![Value::str(rule)])).map(drop)
    }
}

#[cfg(test)]
mod tests;
