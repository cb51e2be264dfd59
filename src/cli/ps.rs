//! `nook ps ID [--format table|json] [-- PS-ARGS]`: the processes in the
//! container's cgroup. As in runc, json is the array of pids, and table is
//! the host's `ps` (default `-ef`) cut down to the header and those pids.

use super::Cli;
use anyhow::bail;
use clap::Args;
use std::io::Write;

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Container id
    pub id: String,
    /// Output format: table or json
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Arguments for ps(1) in table format (default: -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn ps(cli: &Cli, a: &PsArgs) -> anyhow::Result<i32> {
    if a.format == "json" && !a.ps_args.is_empty() {
        bail!("ps arguments cannot be used with --format json");
    }
    let pids = crate::container::pids(&cli.root, &a.id)?;
    let mut out = std::io::stdout().lock();
    if a.format == "json" {
        // runc encodes its nil slice, which is `null` when there is none
        // (a stopped container).
        let json = if pids.is_empty() { "null".to_owned() } else { serde_json::to_string(&pids)? };
        writeln!(out, "{json}")?;
        return Ok(0);
    }
    let args: Vec<&str> =
        if a.ps_args.is_empty() { vec!["-ef"] } else { a.ps_args.iter().map(String::as_str).collect() };
    let o = std::process::Command::new("ps")
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| anyhow::anyhow!("running ps: {e}"))?;
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        bail!("ps {}: {}", args.join(" "), err.lines().next().unwrap_or("failed").trim());
    }
    let text = String::from_utf8_lossy(&o.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let Some(col) = header.split_whitespace().position(|f| f == "PID") else {
        bail!("couldn't find PID field in ps output (ps {})", args.join(" "));
    };
    writeln!(out, "{header}")?;
    for line in lines {
        let pid = line.split_whitespace().nth(col).and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(0)
}
