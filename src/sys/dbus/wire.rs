//! The D-Bus wire format (the "marshalling" chapter of the D-Bus
//! specification): values, their signatures, and whole messages, little
//! endian on the way out, either endianness on the way in. Alignment is
//! counted from the start of the message; the body starts 8-aligned, so it
//! can be encoded on its own.

use super::DbusError;

/// Longest message accepted (the specification's limit, 128 MiB).
const MAX_MESSAGE: usize = 1 << 27;
/// Deepest nesting of containers accepted in a signature.
const MAX_DEPTH: usize = 32;

/// One D-Bus value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Double(f64),
    /// A unix fd, as its index into the message's fds.
    Fd(u32),
    Str(String),
    Path(String),
    Sig(String),
    /// An array: the element signature (so an empty array has a type) and
    /// the elements.
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    /// `{kv}`, only as an array element.
    DictEntry(Box<Value>, Box<Value>),
    Variant(Box<Value>),
}

impl Value {
    /// This value's type signature.
    pub fn signature(&self) -> String {
        let basic = |c: &str| c.to_owned();
        match self {
            Value::Byte(_) => basic("y"),
            Value::Bool(_) => basic("b"),
            Value::I16(_) => basic("n"),
            Value::U16(_) => basic("q"),
            Value::I32(_) => basic("i"),
            Value::U32(_) => basic("u"),
            Value::I64(_) => basic("x"),
            Value::U64(_) => basic("t"),
            Value::Double(_) => basic("d"),
            Value::Fd(_) => basic("h"),
            Value::Str(_) => basic("s"),
            Value::Path(_) => basic("o"),
            Value::Sig(_) => basic("g"),
            Value::Array(elem, _) => format!("a{elem}"),
            Value::Struct(fields) => format!("({})", fields.iter().map(Value::signature).collect::<String>()),
            Value::DictEntry(k, v) => format!("{{{}{}}}", k.signature(), v.signature()),
            Value::Variant(_) => basic("v"),
        }
    }

    /// A string.
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// An `as`.
    pub fn strings<S: AsRef<str>>(items: &[S]) -> Value {
        Value::Array("s".into(), items.iter().map(|s| Value::str(s.as_ref())).collect())
    }

    /// A `(sv)`: one property as systemd's transient unit calls take them.
    pub fn prop(name: &str, value: Value) -> Value {
        Value::Struct(vec![Value::str(name), Value::Variant(Box::new(value))])
    }

    /// The string inside a `s`, `o` or `g`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) | Value::Sig(s) => Some(s),
            _ => None,
        }
    }
}

/// How a type with this signature is aligned.
fn alignment(sig: &str) -> usize {
    match sig.as_bytes().first() {
        Some(b'n' | b'q') => 2,
        Some(b'b' | b'i' | b'u' | b'h' | b's' | b'o' | b'a') => 4,
        Some(b'x' | b't' | b'd' | b'(' | b'{') => 8,
        _ => 1,
    }
}

/// Splits the first complete type off `sig`: ("a(sv)", "u") for "a(sv)u".
pub fn split_type(sig: &str) -> Result<(&str, &str), DbusError> {
    let bad = || DbusError::Protocol(format!("invalid signature {sig:?}"));
    let b = sig.as_bytes();
    let mut i = 0;
    let mut depth = 0usize;
    loop {
        let c = *b.get(i).ok_or_else(bad)?;
        i += 1;
        match c {
            b'a' => continue,
            b'(' | b'{' => depth += 1,
            b')' | b'}' => depth = depth.checked_sub(1).ok_or_else(bad)?,
            b'y' | b'b' | b'n' | b'q' | b'i' | b'u' | b'x' | b't' | b'd' | b'h' | b's' | b'o' | b'g' | b'v' => {}
            _ => return Err(bad()),
        }
        if depth > MAX_DEPTH || i > 255 {
            return Err(bad());
        }
        if depth == 0 {
            return Ok((&sig[..i], &sig[i..]));
        }
    }
}

/// The complete types of a signature, in order.
pub fn split_signature(mut sig: &str) -> Result<Vec<&str>, DbusError> {
    let mut out = Vec::new();
    while !sig.is_empty() {
        let (one, rest) = split_type(sig)?;
        out.push(one);
        sig = rest;
    }
    Ok(out)
}

/// Writes values, aligning from the start of `buf`.
#[derive(Default)]
pub struct Encoder {
    pub buf: Vec<u8>,
}

impl Encoder {
    fn pad(&mut self, align: usize) {
        while self.buf.len() % align != 0 {
            self.buf.push(0);
        }
    }

    fn u32_at(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn put(&mut self, v: &Value) -> Result<(), DbusError> {
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.u32_at(*b as u32),
            Value::I16(n) => {
                self.pad(2);
                self.buf.extend_from_slice(&n.to_le_bytes())
            }
            Value::U16(n) => {
                self.pad(2);
                self.buf.extend_from_slice(&n.to_le_bytes())
            }
            Value::I32(n) => self.u32_at(*n as u32),
            Value::U32(n) | Value::Fd(n) => self.u32_at(*n),
            Value::I64(n) => {
                self.pad(8);
                self.buf.extend_from_slice(&n.to_le_bytes())
            }
            Value::U64(n) => {
                self.pad(8);
                self.buf.extend_from_slice(&n.to_le_bytes())
            }
            Value::Double(d) => {
                self.pad(8);
                self.buf.extend_from_slice(&d.to_le_bytes())
            }
            Value::Str(s) | Value::Path(s) => {
                if s.contains('\0') {
                    return Err(DbusError::Protocol(format!("a string with a NUL byte: {s:?}")));
                }
                self.u32_at(s.len() as u32);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Sig(s) => {
                split_signature(s)?;
                self.buf.push(s.len() as u8);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Array(elem, items) => {
                split_type(elem)
                    .ok()
                    .filter(|(_, rest)| rest.is_empty())
                    .ok_or_else(|| DbusError::Protocol(format!("invalid array element signature {elem:?}")))?;
                self.u32_at(0);
                let len_at = self.buf.len() - 4;
                // The padding to the first element is not part of the length.
                self.pad(alignment(elem));
                let start = self.buf.len();
                for item in items {
                    if item.signature() != *elem {
                        return Err(DbusError::Protocol(format!("array of {elem:?} holds a {:?}", item.signature())));
                    }
                    self.put(item)?;
                }
                let len = (self.buf.len() - start) as u32;
                self.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
            }
            Value::Struct(fields) => {
                self.pad(8);
                for f in fields {
                    self.put(f)?;
                }
            }
            Value::DictEntry(k, v) => {
                self.pad(8);
                self.put(k)?;
                self.put(v)?;
            }
            Value::Variant(inner) => {
                self.put(&Value::Sig(inner.signature()))?;
                self.put(inner)?;
            }
        }
        Ok(())
    }
}

/// Reads values from `buf`, aligning from its start.
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    big_endian: bool,
}

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a [u8], big_endian: bool) -> Self {
        Decoder { buf, pos: 0, big_endian }
    }

    pub fn at(buf: &'a [u8], pos: usize, big_endian: bool) -> Self {
        Decoder { buf, pos, big_endian }
    }

    fn truncated() -> DbusError {
        DbusError::Protocol("truncated message".into())
    }

    fn pad(&mut self, align: usize) -> Result<(), DbusError> {
        let to = self.pos.div_ceil(align) * align;
        if to > self.buf.len() {
            return Err(Self::truncated());
        }
        self.pos = to;
        Ok(())
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], DbusError> {
        self.pad(N.min(8))?;
        let b = self.buf.get(self.pos..self.pos + N).ok_or_else(Self::truncated)?;
        self.pos += N;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        if self.big_endian {
            out.reverse();
        }
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, DbusError> {
        Ok(u32::from_le_bytes(self.take()?))
    }

    fn text(&mut self, len: usize) -> Result<String, DbusError> {
        let b = self.buf.get(self.pos..self.pos + len + 1).ok_or_else(Self::truncated)?;
        if b[len] != 0 {
            return Err(DbusError::Protocol("string not NUL-terminated".into()));
        }
        self.pos += len + 1;
        String::from_utf8(b[..len].to_vec()).map_err(|_| DbusError::Protocol("string is not UTF-8".into()))
    }

    /// Reads one value of the single complete type `sig`.
    pub fn get(&mut self, sig: &str) -> Result<Value, DbusError> {
        self.get_depth(sig, 0)
    }

    fn get_depth(&mut self, sig: &str, depth: usize) -> Result<Value, DbusError> {
        if depth > MAX_DEPTH {
            return Err(DbusError::Protocol("values nested too deeply".into()));
        }
        let b = sig.as_bytes();
        Ok(match b.first().copied().unwrap_or(0) {
            b'y' => {
                let v = *self.buf.get(self.pos).ok_or_else(Self::truncated)?;
                self.pos += 1;
                Value::Byte(v)
            }
            b'b' => match self.u32()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                n => return Err(DbusError::Protocol(format!("boolean {n}"))),
            },
            b'n' => Value::I16(i16::from_le_bytes(self.take()?)),
            b'q' => Value::U16(u16::from_le_bytes(self.take()?)),
            b'i' => Value::I32(i32::from_le_bytes(self.take()?)),
            b'u' => Value::U32(self.u32()?),
            b'h' => Value::Fd(self.u32()?),
            b'x' => Value::I64(i64::from_le_bytes(self.take()?)),
            b't' => Value::U64(u64::from_le_bytes(self.take()?)),
            b'd' => Value::Double(f64::from_le_bytes(self.take()?)),
            b's' | b'o' => {
                let len = self.u32()? as usize;
                let s = self.text(len)?;
                if b[0] == b's' {
                    Value::Str(s)
                } else {
                    Value::Path(s)
                }
            }
            b'g' => {
                let len = *self.buf.get(self.pos).ok_or_else(Self::truncated)? as usize;
                self.pos += 1;
                Value::Sig(self.text(len)?)
            }
            b'v' => {
                let Value::Sig(inner) = self.get_depth("g", depth)? else { unreachable!() };
                let (one, rest) = split_type(&inner)?;
                if !rest.is_empty() {
                    return Err(DbusError::Protocol(format!("variant signature {inner:?} is not one type")));
                }
                Value::Variant(Box::new(self.get_depth(one, depth + 1)?))
            }
            b'a' => {
                let elem = &sig[1..];
                let len = self.u32()? as usize;
                if len > MAX_MESSAGE {
                    return Err(DbusError::Protocol(format!("array of {len} bytes")));
                }
                self.pad(alignment(elem))?;
                let end = self.pos + len;
                if end > self.buf.len() {
                    return Err(Self::truncated());
                }
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.get_depth(elem, depth + 1)?);
                }
                if self.pos != end {
                    return Err(DbusError::Protocol("array elements overrun the array's length".into()));
                }
                Value::Array(elem.to_owned(), items)
            }
            open @ (b'(' | b'{') => {
                self.pad(8)?;
                let inner = &sig[1..sig.len() - 1];
                let mut fields = Vec::new();
                for t in split_signature(inner)? {
                    fields.push(self.get_depth(t, depth + 1)?);
                }
                if open == b'(' {
                    Value::Struct(fields)
                } else {
                    let [k, v]: [Value; 2] = fields
                        .try_into()
                        .map_err(|_| DbusError::Protocol(format!("dict entry {sig:?} is not a pair")))?;
                    Value::DictEntry(Box::new(k), Box::new(v))
                }
            }
            _ => return Err(DbusError::Protocol(format!("invalid signature {sig:?}"))),
        })
    }
}

/// The kinds of message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    MethodCall = 1,
    Reply = 2,
    Error = 3,
    Signal = 4,
}

/// Flag: the caller does not want a reply.
pub const NO_REPLY_EXPECTED: u8 = 1;

/// A whole message: the header fields that nook uses, and the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: Kind,
    pub flags: u8,
    pub serial: u32,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub destination: Option<String>,
    pub sender: Option<String>,
    pub body: Vec<Value>,
}

impl Message {
    /// A method call.
    pub fn call(destination: Option<&str>, path: &str, interface: &str, member: &str, body: Vec<Value>) -> Self {
        Message {
            kind: Kind::MethodCall,
            flags: 0,
            serial: 0,
            path: Some(path.into()),
            interface: Some(interface.into()),
            member: Some(member.into()),
            error_name: None,
            reply_serial: None,
            destination: destination.map(Into::into),
            sender: None,
            body,
        }
    }

    /// A signal.
    pub fn signal(path: &str, interface: &str, member: &str, body: Vec<Value>) -> Self {
        Message { kind: Kind::Signal, ..Self::call(None, path, interface, member, body) }
    }

    /// The body's signature.
    pub fn signature(&self) -> String {
        self.body.iter().map(Value::signature).collect()
    }

    /// The message on the wire (little endian), with `serial`.
    pub fn encode(&self, serial: u32) -> Result<Vec<u8>, DbusError> {
        let mut body = Encoder::default();
        for v in &self.body {
            body.put(v)?;
        }
        let field = |code: u8, v: Value| Value::Struct(vec![Value::Byte(code), Value::Variant(Box::new(v))]);
        let mut fields = Vec::new();
        let strings = [(1, &self.path), (2, &self.interface), (3, &self.member), (4, &self.error_name)];
        for (code, v) in strings {
            if let Some(s) = v {
                fields.push(field(code, if code == 1 { Value::Path(s.clone()) } else { Value::str(s) }));
            }
        }
        if let Some(r) = self.reply_serial {
            fields.push(field(5, Value::U32(r)));
        }
        for (code, v) in [(6, &self.destination), (7, &self.sender)] {
            if let Some(s) = v {
                fields.push(field(code, Value::str(s)));
            }
        }
        let sig = self.signature();
        if !sig.is_empty() {
            fields.push(field(8, Value::Sig(sig)));
        }
        let mut e = Encoder::default();
        e.buf.extend_from_slice(&[b'l', self.kind as u8, self.flags, 1]);
        e.u32_at(body.buf.len() as u32);
        e.u32_at(serial);
        e.put(&Value::Array("(yv)".into(), fields))?;
        e.pad(8);
        e.buf.extend_from_slice(&body.buf);
        if e.buf.len() > MAX_MESSAGE {
            return Err(DbusError::Protocol("message too long".into()));
        }
        Ok(e.buf)
    }

    /// The whole length of the message that starts with these 16 bytes.
    pub fn length(head: &[u8; 16]) -> Result<usize, DbusError> {
        let big = match head[0] {
            b'l' => false,
            b'B' => true,
            e => return Err(DbusError::Protocol(format!("unknown endianness {e:#x}"))),
        };
        let mut d = Decoder::new(head, big);
        d.pos = 4;
        let body = d.u32()? as usize;
        d.pos = 12;
        let fields = d.u32()? as usize;
        let total = (16 + fields).div_ceil(8) * 8 + body;
        if fields > MAX_MESSAGE || body > MAX_MESSAGE || total > MAX_MESSAGE {
            return Err(DbusError::Protocol(format!("message of {total} bytes")));
        }
        Ok(total)
    }

    /// Parses one whole message.
    pub fn decode(buf: &[u8]) -> Result<Message, DbusError> {
        let head: &[u8; 16] = buf.get(..16).and_then(|h| h.try_into().ok()).ok_or_else(Decoder::truncated)?;
        if Self::length(head)? != buf.len() {
            return Err(DbusError::Protocol("message length does not match its header".into()));
        }
        let big = buf[0] == b'B';
        let kind = match buf[1] {
            1 => Kind::MethodCall,
            2 => Kind::Reply,
            3 => Kind::Error,
            4 => Kind::Signal,
            k => return Err(DbusError::Protocol(format!("unknown message type {k}"))),
        };
        let mut d = Decoder::at(buf, 8, big);
        let serial = d.u32()?;
        let Value::Array(_, fields) = d.get("a(yv)")? else { unreachable!() };
        d.pad(8)?;
        let mut m = Message {
            kind,
            flags: buf[2],
            serial,
            path: None,
            interface: None,
            member: None,
            error_name: None,
            reply_serial: None,
            destination: None,
            sender: None,
            body: Vec::new(),
        };
        let mut sig = String::new();
        for f in fields {
            let Value::Struct(f) = f else { unreachable!() };
            let (Value::Byte(code), Value::Variant(v)) = (&f[0], &f[1]) else { unreachable!() };
            let text = v.as_str().map(str::to_owned);
            match (code, &**v) {
                (1, _) => m.path = text,
                (2, _) => m.interface = text,
                (3, _) => m.member = text,
                (4, _) => m.error_name = text,
                (5, Value::U32(r)) => m.reply_serial = Some(*r),
                (6, _) => m.destination = text,
                (7, _) => m.sender = text,
                (8, Value::Sig(s)) => sig = s.clone(),
                _ => {} // unknown fields are ignored, as the specification says
            }
        }
        let mut body = Decoder::new(&buf[d.pos..], big);
        for t in split_signature(&sig)? {
            m.body.push(body.get(t)?);
        }
        if body.pos != body.buf.len() {
            return Err(DbusError::Protocol("body longer than its signature".into()));
        }
        Ok(m)
    }
}
