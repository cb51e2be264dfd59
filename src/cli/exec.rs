//! `nook exec`: run a process in a running container, with runc's flags.

use super::Cli;
use crate::container::{self, ExecOptions};
use anyhow::Context;
use clap::Args;
use oci_spec::runtime::{Capability, LinuxCapabilities, Process};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Container id
    pub id: String,
    /// Command and arguments (unless --process)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// A process.json (runtime-spec `process`) to run instead of COMMAND
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Allocate a terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Unix socket that receives the pty master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory inside the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Extra environment variables (KEY=value)
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// User as uid[:gid]
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (to the bounding, effective and permitted sets)
    #[arg(short, long = "cap")]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Return once the process has started
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the process's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Pass fds 3 .. 3+N-1 to the process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Run the process in an (existing) sub-cgroup of the container's: [<controller>:]<cgroup> (cgroup v2: PATH or :PATH)
    #[arg(long = "cgroup")]
    pub cgroup: Vec<String>,
    /// Allow exec in a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// AppArmor profile for the process
    #[arg(long)]
    pub apparmor: Option<String>,
    /// SELinux label for the process
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
}

/// The process to run: --process, or the container's own process with the
/// command line's changes, as runc builds it.
fn build_process(cli: &Cli, a: &ExecArgs) -> anyhow::Result<Process> {
    if let Some(p) = &a.process {
        if !a.command.is_empty() {
            anyhow::bail!("exec: give either --process or a command, not both");
        }
        // Fields are named as in config.json (`process.cwd`), as runc does.
        return crate::spec::read_doc(p, crate::spec::MAX_CONFIG_BYTES, crate::spec::Doc::Process).map_err(
            |e| match e {
                crate::spec::SpecError::Parse { path, field, msg } if !field.starts_with('(') => {
                    crate::spec::SpecError::Parse { path, field: format!("process.{field}"), msg }.into()
                }
                e => e.into(),
            },
        );
    }
    if a.command.is_empty() {
        // runc's words.
        anyhow::bail!("process args cannot be empty");
    }
    let config = crate::state::load_config(&cli.root.join(&a.id)).map_err(|e| match e {
        crate::state::StateError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            crate::state::StateError::NotFound(a.id.clone())
        }
        e => e,
    })?;
    let mut p = config.process().clone().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &a.env {
        let key = kv.split('=').next().unwrap_or(kv);
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u.as_str(), None),
        };
        let user = p.user_mut();
        user.set_uid(uid.parse().with_context(|| format!("--user {u:?}: uid must be a number"))?);
        if let Some(g) = gid {
            user.set_gid(g.parse().with_context(|| format!("--user {u:?}: gid must be a number"))?);
        }
    }
    if !a.additional_gids.is_empty() {
        p.user_mut().set_additional_gids(Some(a.additional_gids.clone()));
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_else(LinuxCapabilities::default);
        let add: Vec<Capability> = a
            .cap
            .iter()
            .map(|c| {
                serde_json::from_value(serde_json::Value::from(c.as_str()))
                    .map_err(|_| anyhow::anyhow!("--cap {c:?}: unknown capability"))
            })
            .collect::<anyhow::Result<_>>()?;
        let extend = |set: &Option<oci_spec::runtime::Capabilities>| {
            let mut s = set.clone().unwrap_or_default();
            s.extend(add.iter().copied());
            Some(s)
        };
        caps.set_bounding(extend(caps.bounding()));
        caps.set_effective(extend(caps.effective()));
        caps.set_permitted(extend(caps.permitted()));
        p.set_capabilities(Some(caps));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(profile) = &a.apparmor {
        p.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = &a.process_label {
        p.set_selinux_label(Some(label.clone()));
    }
    Ok(p)
}

/// `--cgroup` values, read as runc reads them: `PATH` (only alone), or
/// `CONTROLLER[,CONTROLLER…]:PATH` (any number). cgroup v2 has one
/// hierarchy, whose paths runc keys by the empty controller: `:PATH` (or
/// `PATH`) is the sub-cgroup; any named controller is unknown there.
fn sub_cgroup(values: &[String]) -> anyhow::Result<Option<String>> {
    let mut unified = None;
    let mut named = None;
    for v in values {
        let parts: Vec<&str> = v.splitn(3, ':').collect();
        match parts[..] {
            [path] if values.len() == 1 => unified = Some(path.to_owned()),
            [_] => anyhow::bail!("invalid --cgroup argument: {v} (missing <controller>: prefix)"),
            [controllers, path] => {
                for c in controllers.split(',') {
                    match c {
                        "" => unified = Some(path.to_owned()),
                        c => named = named.or(Some(c.to_owned())),
                    }
                }
            }
            _ => anyhow::bail!("invalid --cgroup argument: {v}"),
        }
    }
    match (unified, named) {
        (Some(path), _) => Ok(Some(path)),
        (None, Some(c)) => {
            anyhow::bail!(
                "--cgroup: unknown controller {c} in SubCgroupPaths (cgroup v2 has one hierarchy: give PATH or :PATH)"
            )
        }
        (None, None) => Ok(None),
    }
}

pub fn exec(cli: &Cli, a: &ExecArgs) -> anyhow::Result<i32> {
    crate::state::validate_id(&a.id)?;
    let process = build_process(cli, a)?;
    let sub_cgroup = sub_cgroup(&a.cgroup)?;
    super::create::prologue(cli)?;
    let opts = ExecOptions {
        id: a.id.clone(),
        process,
        detach: a.detach,
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
        ignore_paused: a.ignore_paused,
        console_socket: a.console_socket.clone(),
        sub_cgroup,
    };
    Ok(container::exec(&cli.root, &opts)?)
}

#[cfg(test)]
mod tests {
    use super::sub_cgroup;

    fn sub(v: &[&str]) -> Result<Option<String>, String> {
        sub_cgroup(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).map_err(|e| e.to_string())
    }

    #[test]
    fn cgroup_arguments_are_read_as_runc_reads_them_on_v2() {
        assert_eq!(sub(&[]), Ok(None));
        assert_eq!(sub(&["sub"]), Ok(Some("sub".into())));
        assert_eq!(sub(&[":a/b"]), Ok(Some("a/b".into())));
        assert_eq!(sub(&["/"]), Ok(Some("/".into())));
        assert_eq!(sub(&["hugetlb:x", ":y"]), Ok(Some("y".into())));
        assert_eq!(sub(&["a:b:c"]).unwrap_err(), "invalid --cgroup argument: a:b:c");
        assert!(sub(&["x", "y"]).unwrap_err().contains("missing <controller>: prefix"));
        assert!(sub(&["hugetlb:x"]).unwrap_err().contains("unknown controller hugetlb"));
        assert!(sub(&["cpu,memory:x"]).unwrap_err().contains("unknown controller cpu"));
    }
}
