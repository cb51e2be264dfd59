//! `nook events ID [--stats] [--interval 5s]`: runc's events as JSON lines.

use super::Cli;
use crate::container::{self, ContainerError};
use clap::Args;
use std::io::Write;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Container id
    pub id: String,
    /// Print the container's statistics once and exit
    #[arg(long)]
    pub stats: bool,
    /// Interval between stats events (a Go duration: 5s, 500ms, 1m)
    #[arg(long, default_value = "5s", value_parser = container::parse_duration)]
    pub interval: Duration,
}

pub fn events(cli: &Cli, a: &EventsArgs) -> anyhow::Result<i32> {
    let mut out = std::io::stdout().lock();
    container::events(&cli.root, &a.id, a.stats, a.interval, |e| {
        let line = serde_json::to_string(e).map_err(|e| ContainerError::Other(e.to_string()))?;
        writeln!(out, "{line}")
            .and_then(|_| out.flush())
            .map_err(|e| ContainerError::Other(format!("writing events: {e}")))
    })?;
    Ok(0)
}
