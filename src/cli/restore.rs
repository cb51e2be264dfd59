//! `nook restore` (runc's flags).

use super::checkpoint::{parse, CriuArgs, Raw};
use super::Cli;
use crate::container::{self, RestoreOptions};
use clap::Parser;
use std::path::PathBuf;

/// Restore a container from a previous checkpoint (CRIU)
#[derive(Parser, Debug)]
#[command(args_override_self = true)]
pub struct RestoreArgs {
    /// Container id
    pub id: String,
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Path to the root of the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master (with process.terminal)
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the restored init's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Disable the use of the subreaper used to reap reparented processes (nook uses none)
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// containerd's go-runc writes `-no-subreaper` with one dash (urfave/cli
    /// takes it): clap reads that as `-n` with the value `o-subreaper`.
    #[arg(short = 'n', hide = true, value_parser = ["o-subreaper"])]
    pub no_subreaper_one_dash: Option<String>,
    /// Do not use pivot root (accepted: CRIU enters the root itself)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// An LSM profile for the restored processes, TYPE:NAME
    #[arg(long = "lsm-profile")]
    pub lsm_profile: Option<String>,
    /// An LSM mount context for the restored mounts
    #[arg(long = "lsm-mount-context")]
    pub lsm_mount_context: Option<String>,
}

pub fn restore(cli: &Cli, raw: &Raw) -> anyhow::Result<i32> {
    let Some(a) = parse::<RestoreArgs>("restore", raw)? else { return Ok(0) };
    let opts = RestoreOptions {
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        criu: a.criu.options(cli)?,
        detach: a.detach,
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        no_subreaper: a.no_subreaper || a.no_subreaper_one_dash.is_some(),
        no_pivot: a.no_pivot,
        lsm_profile: a.lsm_profile.clone().filter(|p| !p.is_empty()),
        lsm_mount_context: a.lsm_mount_context.clone().filter(|p| !p.is_empty()),
        systemd_cgroup: cli.systemd_cgroup,
    };
    let code = container::restore(&cli.root, &opts)?;
    crate::logger::debug(|| format!("exited with {code}"));
    Ok(code)
}
