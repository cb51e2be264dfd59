//! `process.ioPriority` and `process.scheduler`, set right before the
//! process gives up its capabilities (a real-time class needs
//! CAP_SYS_NICE / CAP_SYS_ADMIN), and `linux.personality`.

use super::ProcessError;
use crate::sys::{self, SchedAttr};
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Scheduler,
};

fn field(name: &'static str, msg: impl Into<String>) -> ProcessError {
    ProcessError::Field(name, msg.into())
}

/// Checks the values the kernel would refuse less clearly (runc's rules).
pub fn validate_io_priority(p: &LinuxIOPriority) -> Result<(), ProcessError> {
    if !(0..=7).contains(&p.priority()) {
        return Err(field("process.ioPriority.priority", format!("{} is not between 0 and 7", p.priority())));
    }
    Ok(())
}

pub fn set_io_priority(p: &LinuxIOPriority) -> Result<(), ProcessError> {
    validate_io_priority(p)?;
    let class = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    sys::ioprio_set_self(class, p.priority() as u32).map_err(|e| field("process.ioPriority", e.to_string()))
}

/// The sched_attr for `s`, checked as runc does.
pub fn sched_attr(s: &Scheduler) -> Result<SchedAttr, ProcessError> {
    use LinuxSchedulerPolicy::*;
    let policy = match s.policy() {
        SchedOther => 0,
        SchedFifo => 1,
        SchedRr => 2,
        SchedBatch => 3,
        SchedIso => return Err(field("process.scheduler.policy", "SCHED_ISO is not implemented by Linux")),
        SchedIdle => 5,
        SchedDeadline => 6,
    };
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(field("process.scheduler.nice", format!("{nice} is not between -20 and 19")));
    }
    let priority = s.priority().unwrap_or(0);
    match s.policy() {
        SchedFifo | SchedRr if !(1..=99).contains(&priority) => {
            return Err(field("process.scheduler.priority", format!("{priority} is not between 1 and 99")))
        }
        SchedOther | SchedBatch | SchedIdle | SchedDeadline if priority != 0 => {
            return Err(field("process.scheduler.priority", "must be 0 for this policy"))
        }
        _ => {}
    }
    if *s.policy() != SchedDeadline && (s.runtime().is_some() || s.deadline().is_some() || s.period().is_some()) {
        return Err(field("process.scheduler", "runtime, deadline and period are for SCHED_DEADLINE only"));
    }
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    Ok(SchedAttr {
        sched_policy: policy,
        sched_flags: flags,
        sched_nice: nice,
        sched_priority: priority as u32,
        sched_runtime: s.runtime().unwrap_or(0),
        sched_deadline: s.deadline().unwrap_or(0),
        sched_period: s.period().unwrap_or(0),
        ..Default::default()
    })
}

pub fn set_scheduler(s: &Scheduler) -> Result<(), ProcessError> {
    let attr = sched_attr(s)?;
    sys::sched_setattr_self(&attr).map_err(|e| field("process.scheduler", e.to_string()))
}

/// The personality(2) value for `p`; flags are refused rather than ignored.
pub fn persona(p: &LinuxPersonality) -> Result<u64, ProcessError> {
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(field("linux.personality.flags", "personality flags are not supported"));
    }
    Ok(match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    })
}

pub fn set_personality(p: &LinuxPersonality) -> Result<(), ProcessError> {
    let v = persona(p)?;
    sys::personality(v).map_err(|e| field("linux.personality", e.to_string()))
}
