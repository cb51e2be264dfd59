//! systemd's side of the systemd cgroup driver: a transient unit per
//! container (`StartTransientUnit` with the properties runc sets), waiting
//! for its job, and stopping it again, over nook's own D-Bus client. The
//! cgroup files themselves are written by the cgroupfs driver, on the
//! directory systemd made (as runc's systemd driver also does).

use std::path::Path;
use std::time::{Duration, Instant};

use super::path::SystemdPath;
use crate::sys::dbus::{Connection, DbusError, Message, Value};

const SYSTEMD: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
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

/// Starts the container's unit with `pid` in it (a scope; a slice gets
/// no pid) and waits until systemd has made it. On an error after the
/// unit exists, the unit is stopped again.
pub fn start(path: &SystemdPath, id: &str, pid: Option<u32>) -> Result<()> {
    let mut sd = Systemd::connect()?;
    let unit = path.unit_name();
    let job = sd.start_transient_unit(&unit, unit_properties(path, &format!("nook container {id}"), pid))?;
    sd.wait_job(&job).inspect_err(|_| {
        let _ = sd.stop_unit(&unit);
    })
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
    fn a_slice_wants_its_parent_and_takes_no_pid() {
        let path = SystemdPath { slice: "system.slice".into(), prefix: "".into(), name: "nook-pod.slice".into() };
        let p = unit_properties(&path, "d", None);
        assert_eq!(p[1], Value::prop("Wants", Value::strings(&["system.slice"])));
        assert!(!names(&p).iter().any(|n| n == "Delegate" || n == "PIDs" || n == "Slice"));
    }
}
