//! The CRI's streaming protocol for Exec and Attach, client side, over the
//! URL those calls return. containerd 1.6's streaming server
//! (pkg/cri/streaming, Kubernetes' kubelet server) takes SPDY/3.1 (what
//! crictl and the API server's proxy speak) and WebSocket; this is the
//! WebSocket one (RFC 6455) with the subprotocol `v4.channel.k8s.io`, the
//! newest 1.6 has (`v5.channel.k8s.io`, which can half-close stdin, came in
//! later servers). Every message starts with its channel: 0 stdin, 1 stdout,
//! 2 stderr, 3 errors (when the command ends: a JSON metav1.Status with its
//! exit code), 4 terminal resize (JSON `{"Width":w,"Height":h}`). v4 cannot
//! close stdin alone, so the tests' commands end by themselves.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const ERROR: u8 = 3;
pub const RESIZE: u8 = 4;

const PROTOCOL: &str = "v4.channel.k8s.io";

/// WebSocket opcodes.
const CONTINUATION: u8 = 0;
const BINARY: u8 = 2;
const CLOSE: u8 = 8;
const PING: u8 = 9;
const PONG: u8 = 10;

/// What a session brought back, by channel.
#[derive(Debug, Default)]
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    /// The error channel's JSON status, if the server sent one.
    pub status: Option<Value>,
}

impl Outcome {
    /// The exit code in the v4 status: 0 for Success, else the `ExitCode`
    /// cause of a NonZeroExitCode failure.
    pub fn exit_code(&self) -> Option<i32> {
        let s = self.status.as_ref()?;
        if s["status"] == "Success" {
            return Some(0);
        }
        let causes = s["details"]["causes"].as_array()?;
        causes.iter().find(|c| c["reason"] == "ExitCode")?["message"].as_str()?.parse().ok()
    }
}

pub struct Stream {
    r: BufReader<TcpStream>,
    w: TcpStream,
    mask_seed: u32,
}

/// Standard base64 (the handshake's key).
fn base64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n = c.iter().enumerate().fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            s.push(if i <= c.len() { A[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    s
}

impl Stream {
    /// Opens the WebSocket at `url` (`http://host:port/path`, as the CRI
    /// returns it) and checks the server took `v4.channel.k8s.io`.
    pub fn open(url: &str, patience: Duration) -> Stream {
        let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("not a plain http URL: {url}"));
        let (host, path) = rest.split_once('/').map_or((rest, "".into()), |(h, p)| (h, format!("/{p}")));
        let w = TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
        w.set_read_timeout(Some(patience)).unwrap();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let seed = now.subsec_nanos() ^ std::process::id();
        let key = base64(&[seed.to_le_bytes(), seed.rotate_left(7).to_be_bytes(), *b"nook", *b"cri!"].concat());
        let mut s = Stream { r: BufReader::new(w.try_clone().unwrap()), w, mask_seed: seed | 1 };
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {PROTOCOL}\r\n\r\n"
        );
        s.w.write_all(req.as_bytes()).unwrap();
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            assert!(s.r.read_line(&mut line).unwrap() > 0, "the streaming server closed during the handshake");
            if line == "\r\n" {
                break;
            }
            head.push(line.trim_end().to_owned());
        }
        assert!(head[0].starts_with("HTTP/1.1 101"), "no upgrade to WebSocket at {url}: {head:?}");
        let protocol = head.iter().find_map(|h| {
            let (k, v) = h.split_once(':')?;
            k.eq_ignore_ascii_case("Sec-WebSocket-Protocol").then(|| v.trim().to_owned())
        });
        assert_eq!(protocol.as_deref(), Some(PROTOCOL), "{head:?}");
        s
    }

    fn write_frame(&mut self, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
        // Client frames are masked (RFC 6455 5.3); an xorshift step per frame.
        let mut m = self.mask_seed;
        m ^= m << 13;
        m ^= m >> 17;
        m ^= m << 5;
        self.mask_seed = m;
        let mask = m.to_be_bytes();
        let mut f = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n if n <= 0xffff => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.w.write_all(&f)
    }

    /// One frame: (fin, opcode, payload). The server's are not masked.
    fn read_frame(&mut self) -> std::io::Result<(bool, u8, Vec<u8>)> {
        let mut h = [0u8; 2];
        self.r.read_exact(&mut h)?;
        let len = match h[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                self.r.read_exact(&mut b)?;
                u16::from_be_bytes(b) as usize
            }
            127 => {
                let mut b = [0u8; 8];
                self.r.read_exact(&mut b)?;
                u64::from_be_bytes(b) as usize
            }
            n => n as usize,
        };
        let mut mask = [0u8; 4];
        if h[1] & 0x80 != 0 {
            self.r.read_exact(&mut mask)?;
        }
        let mut payload = vec![0u8; len];
        self.r.read_exact(&mut payload)?;
        payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= mask[i % 4]);
        Ok((h[0] & 0x80 != 0, h[0] & 0x0f, payload))
    }

    /// Sends `data` on `channel`.
    pub fn send(&mut self, channel: u8, data: &[u8]) {
        let msg = [&[channel], data].concat();
        self.write_frame(BINARY, &msg).expect("write to the streaming server");
    }

    /// Sets the terminal's size.
    pub fn resize(&mut self, width: u16, height: u16) {
        self.send(RESIZE, format!(r#"{{"Width":{width},"Height":{height}}}"#).as_bytes());
    }

    /// The next message, (channel, data); None once the server has closed.
    /// A read past the stream's patience fails the test.
    pub fn recv(&mut self) -> Option<(u8, Vec<u8>)> {
        let mut msg = Vec::new();
        loop {
            let (fin, op, payload) = match self.read_frame() {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("reading from the streaming server: {e}"),
            };
            match op {
                CLOSE => {
                    let _ = self.write_frame(CLOSE, &payload);
                    return None;
                }
                PING => self.write_frame(PONG, &payload).expect("pong"),
                PONG => {}
                CONTINUATION | BINARY | 1 => {
                    msg.extend_from_slice(&payload);
                    if fin && !msg.is_empty() {
                        return Some((msg[0], msg.split_off(1)));
                    }
                }
                other => panic!("unexpected WebSocket opcode {other}"),
            }
        }
    }

    /// Reads until the server closes the session.
    pub fn collect(mut self) -> Outcome {
        let mut o = Outcome::default();
        while self.recv_into(&mut o) {}
        o
    }

    /// Reads into `o` until `done(o)`; fails the test if the session ends
    /// first.
    pub fn read_until(&mut self, o: &mut Outcome, what: &str, done: impl Fn(&Outcome) -> bool) {
        while !done(o) {
            assert!(self.recv_into(o), "the session ended before {what}: {o:?}");
        }
    }

    /// One message into `o`; false once the server has closed.
    fn recv_into(&mut self, o: &mut Outcome) -> bool {
        let Some((ch, data)) = self.recv() else { return false };
        let text = String::from_utf8_lossy(&data);
        match ch {
            STDOUT => o.stdout.push_str(&text),
            STDERR => o.stderr.push_str(&text),
            ERROR if !data.is_empty() => {
                o.status = Some(serde_json::from_slice(&data).unwrap_or_else(|e| panic!("status {text:?}: {e}")))
            }
            _ => {}
        }
        true
    }

    /// Ends the session from this side (a close frame, then the socket).
    pub fn close(mut self) {
        let _ = self.write_frame(CLOSE, &1000u16.to_be_bytes());
        let _ = self.w.shutdown(std::net::Shutdown::Write);
        // Drain until the server's close (or EOF), so it sees a clean end.
        while self.recv().is_some() {}
    }
}
