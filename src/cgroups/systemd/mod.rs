//! systemd's side of the systemd cgroup driver: a transient unit per
//! container (`StartTransientUnit` with the properties runc sets, the
//! container's limits as unit properties ([`props`]) and those its
//! annotations ask for ([`annotations`])), waiting for its job, and
//! stopping it again, over nook's own D-Bus client. The cgroup files
//! themselves are then written by the cgroupfs driver too, on the
//! directory systemd made (as runc's systemd driver also does).

pub mod annotations;
pub mod props;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;

use super::path::SystemdPath;
use super::CgroupError;
use crate::sys::dbus::{Connection, DbusError, Message, Value};
pub use annotations::AnnotationError;
pub use props::{resource_properties, Property};

const SYSTEMD: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";
/// systemd's own socket: root only, no bus daemon in between (what
/// systemctl uses as root).
const PRIVATE_SOCKET: &str = "/run/systemd/private";
const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";
/// How long a unit's job may take (runc waits 30 s too).
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors of the systemd driver.
#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    #[error(transparent)]
    Dbus(#[from] DbusError),
    #[error("job {job} finished with result {result:?}")]
    JobFailed { job: String, result: String },
    #[error("the unit's cgroup is {actual:?}, not {expected:?}")]
    WrongCgroup { expected: String, actual: String },
}

type Result<T> = std::result::Result<T, SystemdError>;

/// The properties of a container's transient unit, as runc sets them: a
/// scope in its `Slice=` with `Delegate=yes` and init's pid, or a slice
/// that `Wants=` its parent; every accounting on; no default dependencies.
pub fn unit_properties(path: &SystemdPath, description: &str, pid: Option<u32>) -> Vec<Value> {
    let mut p = vec![Value::prop("Description", Value::str(description))];
    if path.unit_name().ends_with(".slice") {
        p.push(Value::prop("Wants", Value::strings(&[&path.slice])));
    } else {
        p.push(Value::prop("Slice", Value::str(&path.slice)));
        p.push(Value::prop("Delegate", Value::Bool(true)));
    }
    if let Some(pid) = pid {
        p.push(Value::prop("PIDs", Value::Array("u".into(), vec![Value::U32(pid)])));
    }
    for a in ["MemoryAccounting", "CPUAccounting", "IOAccounting", "TasksAccounting"] {
        p.push(Value::prop(a, Value::Bool(true)));
    }
    p.push(Value::prop("DefaultDependencies", Value::Bool(false)));
    p
}

/// The properties a container's spec asks for beyond the unit's own: its
/// `org.systemd.property.*` annotations, then its limits (which win over
/// an annotation of the same name, as in runc, which sets them later).
/// Checked before any unit exists.
pub fn spec_properties(
    resources: &LinuxResources,
    spec_annotations: Option<&HashMap<String, String>>,
) -> std::result::Result<Vec<Property>, CgroupError> {
    let mut p = spec_annotations.map(annotations::properties).transpose()?.unwrap_or_default();
    p.extend(resource_properties(resources)?);
    Ok(p)
}

/// The leading number of systemd's version string ("252.22-1~deb12u1",
/// "v245.4-1.fc32", "\"249\"").
pub fn parse_version(v: &str) -> Option<u32> {
    let v = v.trim_start_matches(['"', 'v']);
    let end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    v[..end].parse().ok()
}

/// A connection to systemd's manager.
pub struct Systemd {
    conn: Connection,
}

impl Systemd {
    /// Connects to `/run/systemd/private` as root, else (or if that
    /// fails) to the system bus.
    pub fn connect() -> Result<Systemd> {
        let timeout = Duration::from_secs(10);
        let private = nix::unistd::geteuid().is_root() && Path::new(PRIVATE_SOCKET).exists();
        let conn = match private.then(|| Connection::connect(Path::new(PRIVATE_SOCKET), false, timeout)) {
            Some(Ok(c)) => c,
            failed => {
                if let Some(Err(e)) = failed {
                    crate::logger::debug(|| format!("{PRIVATE_SOCKET}: {e}; trying the system bus"));
                }
                let mut c = Connection::connect(Path::new(SYSTEM_BUS), true, timeout)?;
                // A bus daemon only forwards the signals asked for.
                c.add_match(&format!(
                    "type='signal',sender='{SYSTEMD}',path='{MANAGER_PATH}',interface='{MANAGER}',member='JobRemoved'"
                ))?;
                c
            }
        };
        let mut s = Systemd { conn };
        // Ask systemd for its signals (JobRemoved): on the private socket
        // they come to every connection anyway.
        s.manager("Subscribe", vec![])?;
        Ok(s)
    }

    fn manager(&mut self, method: &str, args: Vec<Value>) -> Result<Message> {
        Ok(self.conn.call(Message::call(Some(SYSTEMD), MANAGER_PATH, MANAGER, method, args))?)
    }

    /// systemd's version number (the manager's `Version` property); 0 if
    /// it cannot be read, so that no property newer than systemd itself
    /// is sent (runc does the same).
    pub fn version(&mut self) -> u32 {
        let args = vec![Value::str(MANAGER), Value::str("Version")];
        let call = Message::call(Some(SYSTEMD), MANAGER_PATH, PROPERTIES, "Get", args);
        let reply = self.conn.call(call);
        let v = match reply.as_ref().map(|m| m.body.first()) {
            Ok(Some(Value::Variant(v))) => v.as_str().and_then(parse_version),
            _ => None,
        };
        v.unwrap_or_else(|| {
            crate::logger::debug(|| format!("cannot read systemd's version: {:?}", reply.as_ref().map(|m| &m.body)));
            0
        })
    }

    /// `StartTransientUnit(unit, "replace", properties, [])`. Returns
    /// once the call is accepted (the unit exists then), with the job to
    /// wait for.
    pub fn start_transient_unit(&mut self, unit: &str, properties: Vec<Value>) -> Result<String> {
        let reply = self.manager(
            "StartTransientUnit",
            vec![
                Value::str(unit),
                Value::str("replace"),
                Value::Array("(sv)".into(), properties),
                Value::Array("(sa(sv))".into(), vec![]),
            ],
        )?;
        job_path(&reply)
    }

    /// `StopUnit(unit, "replace")` and wait for it; a unit that is not
    /// there (any more) is stopped already. Then `ResetFailedUnit`, so a
    /// unit whose processes died leaves no "failed" entry behind.
    pub fn stop_unit(&mut self, unit: &str) -> Result<()> {
        match self.manager("StopUnit", vec![Value::str(unit), Value::str("replace")]) {
            Ok(reply) => self.wait_job(&job_path(&reply)?)?,
            Err(SystemdError::Dbus(e)) if e.name() == Some("org.freedesktop.systemd1.NoSuchUnit") => {}
            Err(e) => return Err(e),
        }
        let _ = self.manager("ResetFailedUnit", vec![Value::str(unit)]);
        Ok(())
    }

    /// Waits for the `JobRemoved` signal of `job`; its result must be "done".
    pub fn wait_job(&mut self, job: &str) -> Result<()> {
        let deadline = Instant::now() + JOB_TIMEOUT;
        loop {
            let s = self.conn.next_signal(deadline)?;
            if s.interface.as_deref() != Some(MANAGER) || s.member.as_deref() != Some("JobRemoved") {
                continue;
            }
            // JobRemoved(u id, o job, s unit, s result)
            if s.body.get(1).and_then(Value::as_str) != Some(job) {
                continue;
            }
            let result = s.body.get(3).and_then(Value::as_str).unwrap_or_default();
            return match result {
                "done" => Ok(()),
                r => Err(SystemdError::JobFailed { job: job.into(), result: r.into() }),
            };
        }
    }
}

fn job_path(reply: &Message) -> Result<String> {
    match reply.body.first() {
        Some(Value::Path(p)) => Ok(p.clone()),
        _ => Err(DbusError::Protocol(format!("expected a job path, got {:?}", reply.body)).into()),
    }
}

/// The unit's own properties, then those of `extra` that this systemd
/// `version` knows (the others are left to the cgroupfs driver alone, as
/// runc leaves them).
pub fn all_properties(
    path: &SystemdPath,
    description: &str,
    pid: Option<u32>,
    extra: &[Property],
    version: u32,
) -> Vec<Value> {
    let mut p = unit_properties(path, description, pid);
    for e in extra {
        if version >= e.since {
            p.push(e.to_dbus());
        } else {
            crate::logger::debug(|| format!("systemd {version} predates {} (v{}): cgroupfs only", e.name, e.since));
        }
    }
    p
}

/// Starts the container's unit with `pid` in it (a scope; a slice gets
/// no pid) and the `extra` properties (from [`spec_properties`]), and
/// waits until systemd has made it. On an error after the unit exists,
/// the unit is stopped again.
pub fn start(path: &SystemdPath, id: &str, pid: Option<u32>, extra: &[Property]) -> Result<()> {
    let mut sd = Systemd::connect()?;
    let unit = path.unit_name();
    let version = sd.version();
    let props = all_properties(path, &format!("nook container {id}"), pid, extra, version);
    let job = sd.start_transient_unit(&unit, props)?;
    sd.wait_job(&job).inspect_err(|_| {
        let _ = sd.stop_unit(&unit);
    })
}

/// `SetUnitProperties(unit, true, extra)` (runtime only, as runc's
/// `update` does): the new limits become the unit's, so a reload keeps
/// them. Properties this systemd does not know are left out.
pub fn set_properties(unit: &str, extra: &[Property]) -> Result<()> {
    if extra.is_empty() {
        return Ok(());
    }
    let mut sd = Systemd::connect()?;
    let version = sd.version();
    let props = extra.iter().filter(|p| version >= p.since).map(Property::to_dbus).collect();
    sd.manager("SetUnitProperties", vec![Value::str(unit), Value::Bool(true), Value::Array("(sv)".into(), props)])?;
    Ok(())
}

/// Stops the container's unit (nothing if it is gone already).
pub fn stop(unit: &str) -> Result<()> {
    Systemd::connect()?.stop_unit(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(props: &[Value]) -> Vec<String> {
        props
            .iter()
            .map(|p| match p {
                Value::Struct(f) => f[0].as_str().unwrap().to_owned(),
                _ => panic!("{p:?}"),
            })
            .collect()
    }

    #[test]
    fn a_scope_is_delegated_in_its_slice_with_inits_pid() {
        let path = SystemdPath { slice: "a-b.slice".into(), prefix: "nook".into(), name: "c1".into() };
        let p = unit_properties(&path, "nook container c1", Some(42));
        assert_eq!(
            names(&p),
            [
                "Description",
                "Slice",
                "Delegate",
                "PIDs",
                "MemoryAccounting",
                "CPUAccounting",
                "IOAccounting",
                "TasksAccounting",
                "DefaultDependencies"
            ]
        );
        assert_eq!(p[1], Value::prop("Slice", Value::str("a-b.slice")));
        assert_eq!(p[2], Value::prop("Delegate", Value::Bool(true)));
        assert_eq!(p[3], Value::prop("PIDs", Value::Array("u".into(), vec![Value::U32(42)])));
        assert_eq!(p[8], Value::prop("DefaultDependencies", Value::Bool(false)));
        assert!(p.iter().all(|v| v.signature() == "(sv)"));
    }

    #[test]
    fn systemd_versions() {
        assert_eq!(parse_version("252.22-1~deb12u1"), Some(252));
        assert_eq!(parse_version("v245.4-1.fc32"), Some(245));
        assert_eq!(parse_version("\"249\""), Some(249));
        assert_eq!(parse_version("x"), None);
    }

    #[test]
    fn extra_properties_follow_the_units_own_when_systemd_knows_them() {
        let path = SystemdPath { slice: "system.slice".into(), prefix: "nook".into(), name: "c1".into() };
        let r =
            serde_json::from_str(r#"{"memory": {"limit": 1048576}, "cpu": {"cpus": "1", "period": 20000}}"#).unwrap();
        let ann = HashMap::from([("org.systemd.property.MemoryMax".to_owned(), "uint64 5".to_owned())]);
        let extra = spec_properties(&r, Some(&ann)).unwrap();
        let p = all_properties(&path, "d", Some(1), &extra, 252);
        assert_eq!(
            names(&p)[9..],
            ["MemoryMax", "MemoryMax", "CPUQuotaPeriodUSec", "CPUQuotaPerSecUSec", "AllowedCPUs"]
        );
        // The spec's limit comes last, so it wins (systemd applies in order).
        assert_eq!(p[10], Value::prop("MemoryMax", Value::U64(1_048_576)));
        // systemd 241 knows neither CPUQuotaPeriodUSec (242) nor AllowedCPUs (244).
        let p = all_properties(&path, "d", Some(1), &extra, 241);
        assert_eq!(names(&p)[9..], ["MemoryMax", "MemoryMax", "CPUQuotaPerSecUSec"]);
        // A bad annotation is an error naming it, before any unit exists.
        let ann = HashMap::from([("org.systemd.property.TimeoutStopUSec".to_owned(), "uint64 soon".to_owned())]);
        let e = spec_properties(&r, Some(&ann)).unwrap_err().to_string();
        assert!(e.starts_with("annotation org.systemd.property.TimeoutStopUSec: "), "{e}");
    }

    #[test]
    fn a_slice_wants_its_parent_and_takes_no_pid() {
        let path = SystemdPath { slice: "system.slice".into(), prefix: "".into(), name: "nook-pod.slice".into() };
        let p = unit_properties(&path, "d", None);
        assert_eq!(p[1], Value::prop("Wants", Value::strings(&["system.slice"])));
        assert!(!names(&p).iter().any(|n| n == "Delegate" || n == "PIDs" || n == "Slice"));
    }
}
