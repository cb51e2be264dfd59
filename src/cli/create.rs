//! `nook create` and `nook run`.

use super::Cli;
use crate::container::{self, CreateOptions, RunOptions};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Container id
    pub id: String,
    /// Path to the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master (with process.terminal)
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Unix socket that receives a pidfd of the container's init
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    /// File to write the init's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Keep nook's session keyring instead of a new one for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass fds 3 .. 3+N-1 to the container (they must be open)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once started instead of waiting
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits
    #[arg(long)]
    pub keep: bool,
}

impl CreateArgs {
    fn options(&self) -> CreateOptions {
        CreateOptions {
            id: self.id.clone(),
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            pidfd_socket: self.pidfd_socket.clone(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            systemd_cgroup: false,
            foreground: false,
        }
    }
}

pub(super) fn prologue(cli: &Cli) -> anyhow::Result<()> {
    crate::seal::ensure_sealed(&cli.root.join(crate::state::SEAL_DIR))
        .map_err(|e| anyhow::anyhow!("sealing the nook binary: {e}"))?;
    crate::logger::debug(|| "binary sealed".into());
    Ok(())
}

pub fn create(cli: &Cli, a: &CreateArgs) -> anyhow::Result<i32> {
    prologue(cli)?;
    container::create(&cli.root, &CreateOptions { systemd_cgroup: cli.systemd_cgroup, ..a.options() })?;
    crate::logger::debug(|| "created".into());
    Ok(0)
}

pub fn run(cli: &Cli, a: &RunArgs) -> anyhow::Result<i32> {
    prologue(cli)?;
    let create = CreateOptions { systemd_cgroup: cli.systemd_cgroup, foreground: !a.detach, ..a.create.options() };
    let opts = RunOptions { create, detach: a.detach, keep: a.keep };
    let code = container::run(&cli.root, &opts)?;
    crate::logger::debug(|| format!("exited with {code}"));
    Ok(code)
}
