//! Logging as runc does it: to stderr, or to `--log FILE`, in `text`
//! (logrus style: `time="…" level=error msg="…"`) or `json` lines
//! (`{"level":"error","msg":"…","time":"…"}`), which containerd reads.
//! Debug lines (with `--debug`) carry the time since nook started, which is
//! how docs/performance.md breaks a run down by phase.

use std::io::Write;
use std::os::fd::AsFd;
use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Text,
    Json,
}

struct Logger {
    file: Option<std::fs::File>,
    format: Format,
    debug: bool,
    /// CLOCK_MONOTONIC nanoseconds when nook started (before a sealing
    /// re-exec, if there was one: see `seal`).
    start_ns: u64,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// In a clone of nook that will give its stdio to the container (init, an
/// exec'd process): nook's stderr, kept aside (see [`keep_stderr`]).
static KEPT_STDERR: OnceLock<std::fs::File> = OnceLock::new();

/// Sets up logging once, at start-up. A log file that cannot be opened is
/// an error (naming the file).
pub fn init(path: Option<&std::path::Path>, format: Format, debug: bool) -> std::io::Result<()> {
    let file = match path {
        Some(p) => Some(
            std::fs::File::options()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| std::io::Error::new(e.kind(), format!("--log {}: {e}", p.display())))?,
        ),
        None => None,
    };
    let start_ns = crate::seal::first_image_start().unwrap_or_else(crate::sys::monotonic_ns);
    let _ = LOGGER.set(Logger { file, format, debug, start_ns });
    Ok(())
}

/// In a clone of nook whose stderr will become the container's (a pty, or
/// the program's own): with --debug and no --log file, its debug lines go
/// to a copy of nook's stderr taken now (close-on-exec), as runc's init
/// sends them over its log pipe, never into the container's output.
pub fn keep_stderr() {
    let Some(l) = LOGGER.get() else { return };
    if l.debug && l.file.is_none() {
        if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
            let _ = KEPT_STDERR.set(fd.into());
        }
    }
}

/// Formats one log line (without the newline).
pub fn format_line(format: Format, level: &str, msg: &str, time: &str) -> String {
    format_fields(format, level, msg, time, &[])
}

/// Formats one log line with extra fields, as logrus does (sorted by key,
/// after `msg` in text; JSON keys sorted).
pub fn format_fields(format: Format, level: &str, msg: &str, time: &str, fields: &[(&str, String)]) -> String {
    match format {
        Format::Json => {
            let mut v = serde_json::json!({"level": level, "msg": msg, "time": time});
            for (k, val) in fields {
                v[*k] = val.parse::<i64>().map(Into::into).unwrap_or_else(|_| val.as_str().into());
            }
            v.to_string()
        }
        Format::Text => {
            let mut line = format!("time={time:?} level={level} msg={msg:?}");
            let mut fields = fields.to_vec();
            fields.sort_by(|a, b| a.0.cmp(b.0));
            for (k, v) in fields {
                let plain = !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "-._/+".contains(c));
                line += &if plain { format!(" {k}={v}") } else { format!(" {k}={v:?}") };
            }
            line
        }
    }
}

/// A message as nook prints it on stderr: always one line. Control
/// characters that came from the input (a `\n` inside a JSON string that
/// an error quotes) are escaped.
pub fn one_line(msg: &str) -> std::borrow::Cow<'_, str> {
    if !msg.chars().any(char::is_control) {
        return msg.into();
    }
    msg.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

fn write(level: &str, msg: &str, fields: &[(&str, String)]) {
    let Some(l) = LOGGER.get() else {
        let _ = writeln!(std::io::stderr(), "nook: {}", one_line(msg));
        return;
    };
    let time = crate::state::rfc3339(std::time::SystemTime::now());
    let line = format_fields(l.format, level, msg, &time, fields);
    // On stderr, the CLI prints errors itself (one line, see `cli`).
    if level == "error" && l.file.is_none() {
        return;
    }
    match l.file.as_ref().or(KEPT_STDERR.get()) {
        Some(mut f) => {
            let _ = writeln!(f, "{line}");
        }
        None => {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }
}

/// Logs an error. The one-line message on stderr is printed by the CLI.
pub fn error(msg: &str) {
    write("error", msg, &[]);
}

pub fn warn(msg: &str) {
    write("warning", msg, &[]);
}

/// Logs `msg()` with the milliseconds since start-up, if --debug is on.
pub fn debug(msg: impl FnOnce() -> String) {
    debug_fields(msg, &[]);
}

/// [`debug`] with logrus-style fields (`pid=1 status=0`).
pub fn debug_fields(msg: impl FnOnce() -> String, fields: &[(&str, String)]) {
    if let Some(l) = LOGGER.get().filter(|l| l.debug) {
        let ms = crate::sys::monotonic_ns().saturating_sub(l.start_ns) as f64 / 1e6;
        write("debug", &format!("[{ms:.3} ms] {}", msg()), fields);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_errors_are_one_line() {
        assert_eq!(one_line("plain"), "plain");
        assert_eq!(one_line("a\nb\tc\u{1b}"), "a\\nb\\tc\\u{1b}");
    }

    #[test]
    fn lines_look_like_runcs() {
        let j = format_line(Format::Json, "error", "container \"x\" does not exist", "2026-01-01T00:00:00Z");
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "container \"x\" does not exist");
        assert_eq!(v["time"], "2026-01-01T00:00:00Z");
        let t = format_line(Format::Text, "debug", "hi", "T");
        assert_eq!(t, r#"time="T" level=debug msg="hi""#);
        let fields = [("status", "0".to_owned()), ("pid", "42".to_owned())];
        let t = format_fields(Format::Text, "debug", "process exited", "T", &fields);
        assert_eq!(t, r#"time="T" level=debug msg="process exited" pid=42 status=0"#);
        let j: serde_json::Value =
            serde_json::from_str(&format_fields(Format::Json, "debug", "process exited", "T", &fields)).unwrap();
        assert_eq!(j["pid"], 42);
        assert_eq!(j["status"], 0);
    }
}
