//! `events`: runc's event stream for a container: `stats` events (the
//! cgroup's statistics in runc's shape) every interval, and an `oom` event
//! whenever memory.events' oom_kill count grows; it ends when the container
//! stops. `--stats` is a single stats event.

use super::{load, ContainerError, Result};
use crate::cgroups::{Cgroup, Stats};
use crate::state::{self, Status};
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// One event, as runc prints it (`data` only on stats events).
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

/// How often the stream checks for OOM kills and for the container's end.
const POLL: Duration = Duration::from_millis(100);

/// Calls `emit` with one stats event (`once`), or with every event until
/// the container stops. The container is not kept locked meanwhile.
pub fn events(
    root: &Path,
    id: &str,
    once: bool,
    interval: Duration,
    mut emit: impl FnMut(&Event) -> Result<()>,
) -> Result<()> {
    let c = load(root, id)?;
    if matches!(c.status, Status::Stopped | Status::Creating) {
        return Err(ContainerError::WrongState { id: id.into(), status: c.status, msg: "container not running" });
    }
    let cg = super::pause::cgroup_of(&c)?;
    let st = c.state;
    drop(c.dir);
    let stats = |cg: &Cgroup| Event { kind: "stats", id, data: Some(cg.stats()) };
    if once {
        return emit(&stats(&cg));
    }
    let mut ooms = cg.oom_events().oom_kill;
    let mut next = Instant::now() + interval;
    loop {
        // OOM kills first: the kill may well be what ends the container.
        let now = cg.oom_events().oom_kill;
        for _ in ooms..now {
            emit(&Event { kind: "oom", id, data: None })?;
        }
        ooms = ooms.max(now);
        if !state::init_alive(&st) || !cg.path().exists() {
            return Ok(());
        }
        if Instant::now() >= next {
            emit(&stats(&cg))?;
            next += interval;
        }
        std::thread::sleep(POLL.min(next.saturating_duration_since(Instant::now())).max(Duration::from_millis(1)));
    }
}

/// Parses a Go duration as runc's `--interval` takes it ("5s", "100ms",
/// "1m30s", "1.5h"); it must be positive.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let bad = || format!("invalid duration {s:?} (e.g. 5s, 500ms, 1m30s)");
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let num: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = &rest[u..];
        total += num * scale;
    }
    if !(total > 0.0 && total < 1e9) {
        return Err(format!("invalid duration {s:?}: must be positive"));
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        for bad in ["", "5", "s", "0s", "-1s", "5x", "1..2s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn events_serialize_like_runc() {
        let oom = Event { kind: "oom", id: "c", data: None };
        assert_eq!(serde_json::to_string(&oom).unwrap(), r#"{"type":"oom","id":"c"}"#);
        let s = serde_json::to_value(Event { kind: "stats", id: "c", data: Some(Stats::default()) }).unwrap();
        assert_eq!(s["type"], "stats");
        assert!(s["data"]["memory"].is_object());
    }
}
