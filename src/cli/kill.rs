//! `nook kill ID [SIGNAL]`.

use super::Cli;
use clap::Args;

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Container id
    pub id: String,
    /// Signal name (KILL, SIGKILL, kill) or number
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
    /// Signal every process in the container, not just its init
    #[arg(short, long)]
    pub all: bool,
}

pub fn kill(cli: &Cli, a: &KillArgs) -> anyhow::Result<i32> {
    let sig = crate::container::parse_signal(&a.signal).map_err(anyhow::Error::msg)?;
    crate::container::kill(&cli.root, &a.id, sig, a.all)?;
    Ok(0)
}
