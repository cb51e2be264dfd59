//! `org.systemd.property.<Name>` annotations: extra properties for the
//! container's unit, as runc takes them (docs/systemd.md of runc). The
//! value is GVariant text; nook reads the part of that format unit
//! properties use: booleans, numbers (bare, or typed: `uint64 5`,
//! `@t 5`), strings (`'x'`, `"x"`, typed `objectpath`/`signature`), and
//! arrays of those (`['a', 'b']`, `@as []`). A name ending in a lowercase
//! letter and `Sec` (`TimeoutStopSec`) is renamed to `...USec` and its
//! number of seconds turned into µs, as runc does.

use std::collections::HashMap;

use super::props::Property;
use crate::sys::dbus::Value;

/// The annotation prefix.
pub const PREFIX: &str = "org.systemd.property.";

/// An annotation nook cannot turn into a property.
#[derive(Debug, thiserror::Error)]
#[error("annotation {key}: {reason}")]
pub struct AnnotationError {
    pub key: String,
    pub reason: String,
}

/// The properties from the spec's annotations, by name.
pub fn properties(annotations: &HashMap<String, String>) -> Result<Vec<Property>, AnnotationError> {
    let mut keys: Vec<&String> = annotations.keys().filter(|k| k.starts_with(PREFIX)).collect();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            property(&k[PREFIX.len()..], &annotations[k]).map_err(|reason| AnnotationError { key: k.clone(), reason })
        })
        .collect()
}

fn property(name: &str, text: &str) -> Result<Property, String> {
    if name.len() < 3 || !name.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!("property name {name:?} must be at least 3 ASCII letters"));
    }
    let value = parse(text).map_err(|e| format!("cannot parse {text:?} as a GVariant value: {e}"))?;
    let stem = name.strip_suffix("Sec").filter(|s| s.ends_with(|c: char| c.is_ascii_lowercase()));
    match stem {
        Some(stem) => Ok(Property::new(&format!("{stem}USec"), Value::U64(seconds_to_usec(&value)?))),
        None => Ok(Property::new(name, value)),
    }
}

fn seconds_to_usec(v: &Value) -> Result<u64, String> {
    const M: u64 = 1_000_000;
    let int = |n: i128| u64::try_from(n).ok().and_then(|n| n.checked_mul(M));
    let us = match *v {
        Value::Byte(n) => int(n.into()),
        Value::I16(n) => int(n.into()),
        Value::U16(n) => int(n.into()),
        Value::I32(n) => int(n.into()),
        Value::U32(n) => int(n.into()),
        Value::I64(n) => int(n.into()),
        Value::U64(n) => int(n.into()),
        Value::Double(d) if d >= 0.0 && d * 1e6 < u64::MAX as f64 => Some((d * 1e6) as u64),
        _ => return Err("a ...Sec property takes a number of seconds".into()),
    };
    us.ok_or_else(|| "seconds out of range".into())
}

/// Parses one GVariant text value (the subset described above).
pub fn parse(text: &str) -> Result<Value, String> {
    let mut p = Parser { s: text, i: 0 };
    let v = p.value(None)?;
    p.ws();
    match p.rest() {
        "" => Ok(v),
        rest => Err(format!("unexpected {rest:?}")),
    }
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

const KEYWORDS: [(&str, &str); 12] = [
    ("boolean", "b"),
    ("byte", "y"),
    ("int16", "n"),
    ("uint16", "q"),
    ("int32", "i"),
    ("uint32", "u"),
    ("int64", "x"),
    ("uint64", "t"),
    ("double", "d"),
    ("string", "s"),
    ("objectpath", "o"),
    ("signature", "g"),
];

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.i..]
    }

    fn ws(&mut self) {
        self.i = self.s.len() - self.rest().trim_start().len();
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &str {
        let start = self.i;
        self.i += self.rest().find(|c| !f(c)).unwrap_or(self.rest().len());
        &self.s[start..self.i]
    }

    /// A value, of type `want` if given (from `@T` or a keyword).
    fn value(&mut self, want: Option<&str>) -> Result<Value, String> {
        self.ws();
        let Some(c) = self.rest().chars().next() else { return Err("no value".into()) };
        match c {
            '@' => {
                self.i += 1;
                let sig = self.take_while(|c| c.is_ascii_lowercase()).to_owned();
                let basic = |t: &str| t.len() == 1 && "ybnqiuxtdsog".contains(t);
                if !(basic(&sig) || sig.strip_prefix('a').is_some_and(basic)) || want.is_some() {
                    return Err(format!("unsupported type annotation @{sig}"));
                }
                self.value(Some(&sig))
            }
            '\'' | '"' => {
                let s = self.string(c)?;
                match want.unwrap_or("s") {
                    "s" => Ok(Value::Str(s)),
                    "o" => Ok(Value::Path(s)),
                    "g" => Ok(Value::Sig(s)),
                    t => Err(format!("a string is not a {t:?}")),
                }
            }
            '[' => self.array(want),
            c if c.is_ascii_digit() || matches!(c, '-' | '+' | '.') => {
                let n = self.take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.')).to_owned();
                number(&n, want)
            }
            c if c.is_ascii_alphabetic() => {
                let word = self.take_while(|c| c.is_ascii_alphanumeric()).to_owned();
                match (word.as_str(), want) {
                    ("true" | "false", None | Some("b")) => Ok(Value::Bool(word == "true")),
                    (w, None) => match KEYWORDS.iter().find(|(k, _)| *k == w) {
                        Some((_, sig)) => self.value(Some(*sig)),
                        None => Err(format!("unknown word {w:?}")),
                    },
                    (w, Some(t)) => Err(format!("{w:?} is not a {t:?}")),
                }
            }
            c => Err(format!("unexpected {c:?}")),
        }
    }

    fn string(&mut self, quote: char) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        let text: &str = self.s;
        let mut chars = text[self.i..].char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.i += at + 1;
                    return Ok(out);
                }
                '\\' => match chars.next().map(|(_, c)| c) {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(c @ ('\\' | '\'' | '"')) => out.push(c),
                    other => return Err(format!("unknown escape \\{}", other.unwrap_or(' '))),
                },
                c => out.push(c),
            }
        }
        Err("unterminated string".into())
    }

    fn array(&mut self, want: Option<&str>) -> Result<Value, String> {
        let elem = match want {
            None => None,
            Some(t) => Some(t.strip_prefix('a').ok_or_else(|| format!("an array is not a {t:?}"))?.to_owned()),
        };
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.rest().starts_with(']') && items.is_empty() {
                self.i += 1;
                break;
            }
            let v = self.value(elem.as_deref())?;
            if let Some(first) = items.first() {
                if v.signature() != Value::signature(first) {
                    return Err("array elements of different types".into());
                }
            }
            items.push(v);
            self.ws();
            match self.rest().chars().next() {
                Some(',') => self.i += 1,
                Some(']') => {
                    self.i += 1;
                    break;
                }
                _ => return Err("expected ',' or ']' in an array".into()),
            }
        }
        let sig = match (elem, items.first()) {
            (Some(e), _) => e,
            (None, Some(v)) => v.signature(),
            (None, None) => return Err("an empty array needs a type, as in @as []".into()),
        };
        Ok(Value::Array(sig, items))
    }
}

/// A number token as `want` (default: int32, or double with a point or
/// an exponent, as GVariant text has it).
fn number(n: &str, want: Option<&str>) -> Result<Value, String> {
    let float = n.contains(['.', 'e', 'E']);
    Ok(match want.unwrap_or(if float { "d" } else { "i" }) {
        "d" => Value::Double(n.parse().map_err(|_| format!("{n:?} is not a valid double"))?),
        "y" => Value::Byte(int(n, "byte")?),
        "n" => Value::I16(int(n, "int16")?),
        "q" => Value::U16(int(n, "uint16")?),
        "i" => Value::I32(int(n, "int32")?),
        "u" => Value::U32(int(n, "uint32")?),
        "x" => Value::I64(int(n, "int64")?),
        "t" => Value::U64(int(n, "uint64")?),
        t => return Err(format!("a number is not a {t:?}")),
    })
}

fn int<T: TryFrom<i128>>(n: &str, t: &str) -> Result<T, String> {
    let bad = || format!("{n:?} is not a valid {t}");
    T::try_from(n.parse::<i128>().map_err(|_| bad())?).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(k: &str, v: &str) -> Result<Vec<Property>, String> {
        let a = HashMap::from([(format!("{PREFIX}{k}"), v.to_owned()), ("other".into(), "x".into())]);
        properties(&a).map_err(|e| e.to_string())
    }

    #[test]
    fn runc_documented_forms() {
        // runc's docs/systemd.md examples.
        assert_eq!(
            one("TimeoutStopUSec", "uint64 123456789").unwrap(),
            [Property::new("TimeoutStopUSec", Value::U64(123_456_789))]
        );
        assert_eq!(
            one("CollectMode", "'inactive-or-failed'").unwrap(),
            [Property::new("CollectMode", Value::str("inactive-or-failed"))]
        );
    }

    #[test]
    fn values() {
        let v = |t: &str| parse(t).unwrap();
        assert_eq!(v("true"), Value::Bool(true));
        assert_eq!(v(" false "), Value::Bool(false));
        assert_eq!(v("boolean true"), Value::Bool(true));
        assert_eq!(v("42"), Value::I32(42));
        assert_eq!(v("-7"), Value::I32(-7));
        assert_eq!(v("1.5"), Value::Double(1.5));
        assert_eq!(v("@t 5"), Value::U64(5));
        assert_eq!(v("uint32 7"), Value::U32(7));
        assert_eq!(v("int64 -9"), Value::I64(-9));
        assert_eq!(v("byte 255"), Value::Byte(255));
        assert_eq!(v("\"a 'b'\""), Value::str("a 'b'"));
        assert_eq!(v(r"'it\'s'"), Value::str("it's"));
        assert_eq!(v("objectpath '/a'"), Value::Path("/a".into()));
        assert_eq!(v("['a.service', 'b.service']"), Value::strings(&["a.service", "b.service"]));
        assert_eq!(v("@as []"), Value::Array("s".into(), vec![]));
        assert_eq!(v("@at [1, 2]"), Value::Array("t".into(), vec![Value::U64(1), Value::U64(2)]));
        assert_eq!(v("[1, 2]"), Value::Array("i".into(), vec![Value::I32(1), Value::I32(2)]));
    }

    #[test]
    fn bad_values_are_refused() {
        for t in [
            "",
            "uint64",
            "uint64 -1",
            "byte 256",
            "soon",
            "'open",
            "[]",
            "[1, 'a']",
            "@v 1",
            "@(ss) 1",
            "1 2",
            "@t 'x'",
            "uint64 12x",
            "[1 2]",
            r"'\q'",
            "3000000000",
        ] {
            assert!(parse(t).is_err(), "{t:?} parsed as {:?}", parse(t));
        }
    }

    #[test]
    fn sec_becomes_usec() {
        let usec = |n: u64| vec![Property::new("TimeoutStopUSec", Value::U64(n))];
        assert_eq!(one("TimeoutStopSec", "5").unwrap(), usec(5_000_000));
        assert_eq!(one("TimeoutStopSec", "uint64 2").unwrap(), usec(2_000_000));
        assert_eq!(one("TimeoutStopSec", "0.25").unwrap(), usec(250_000));
        // Only after a lowercase letter ("USec" is already µs).
        assert_eq!(one("TimeoutStopUSec", "5").unwrap(), [Property::new("TimeoutStopUSec", Value::I32(5))]);
        let e = one("TimeoutStopSec", "'soon'").unwrap_err();
        assert!(e.contains("seconds"), "{e}");
        assert!(one("TimeoutStopSec", "-1").is_err());
    }

    #[test]
    fn errors_name_the_annotation() {
        let e = one("TimeoutStopUSec", "uint64 soon").unwrap_err();
        assert!(e.starts_with("annotation org.systemd.property.TimeoutStopUSec: cannot parse"), "{e}");
        for bad in ["Ab", "Timeout1", "Time-out", "Tïmeout"] {
            let e = one(bad, "true").unwrap_err();
            assert!(e.contains("must be at least 3 ASCII letters"), "{bad}: {e}");
        }
        assert!(!e.contains('\n'));
    }

    #[test]
    fn sorted_by_name_and_other_annotations_ignored() {
        let a = HashMap::from([
            (format!("{PREFIX}Zzz"), "true".to_owned()),
            (format!("{PREFIX}Aaa"), "false".to_owned()),
            ("org.systemd.propertyX".to_owned(), "junk".to_owned()),
        ]);
        let names: Vec<String> = properties(&a).unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["Aaa", "Zzz"]);
    }
}
