//! The command line: runc's global flags and subcommands, each in a file of
//! its own. Errors become one line on stderr (and in the log) and exit 1
//! (runc's codes: 255 for a failed `exec`, 3 for an unknown command); help,
//! version and usage errors are runc's (see `help`).

mod checkpoint;
mod create;
mod delete;
mod events;
mod exec;
mod features;
mod help;
mod kill;
mod list;
mod pause;
mod ps;
mod restore;
mod spec;
mod start;
mod state;
mod update;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\ncommit: ", env!("NOOK_COMMIT"), "\nspec: 1.3.0");

#[derive(Parser, Debug)]
#[command(
    name = "nook",
    version = VERSION,
    about = "nook: a small, fast, safe OCI container runtime",
    disable_help_subcommand = true,
    disable_version_flag = true,
    allow_external_subcommands = true
)]
pub struct Cli {
    /// Root directory for container state
    #[arg(long, default_value = "/run/nook")]
    pub root: PathBuf,
    /// Log file (default: stderr)
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long = "log-format", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Log debug output
    #[arg(long)]
    pub debug: bool,
    /// Use systemd for cgroups: a transient unit per container over D-Bus (cgroupsPath "slice:prefix:name")
    #[arg(long = "systemd-cgroup")]
    pub systemd_cgroup: bool,
    /// Path to the criu binary used for checkpoint and restore (default: criu from PATH)
    #[arg(long)]
    pub criu: Option<PathBuf>,
    /// Rootless mode: true, false or auto (accepted; nook decides from its euid)
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Print the version (runc's -v)
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    pub version: (),
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container (set up, waiting for start)
    Create(create::CreateArgs),
    /// Start a created container
    Start(IdArg),
    /// Create and start a container, and wait for it unless --detach
    Run(create::RunArgs),
    /// Run a process in a running container
    Exec(exec::ExecArgs),
    /// Print the state of a container as JSON
    State(IdArg),
    /// Send a signal to a container's init (or all its processes)
    Kill(kill::KillArgs),
    /// Delete a container
    Delete(delete::DeleteArgs),
    /// List containers
    #[command(alias = "ls")]
    List(list::ListArgs),
    /// Write a default config.json
    Spec(spec::SpecArgs),
    /// Print the features nook supports, as JSON
    Features,
    /// Suspend every process in a container (cgroup freezer)
    Pause(IdArg),
    /// Resume every process of a paused container
    Resume(IdArg),
    /// List the processes in a container
    Ps(ps::PsArgs),
    /// Change a running container's resource limits
    Update(update::UpdateArgs),
    /// Print a container's events (stats, OOM kills) as JSON
    Events(events::EventsArgs),
    /// Checkpoint a running container (CRIU)
    Checkpoint(checkpoint::Raw),
    /// Restore a container from a previous checkpoint (CRIU)
    Restore(checkpoint::Raw),
    /// Shows a list of commands or help for one command
    #[command(alias = "h")]
    Help(HelpArgs),
    /// Anything else: runc answers "No help topic for 'foo'"
    #[command(external_subcommand)]
    Unknown(Vec<String>),
}

#[derive(Args, Debug)]
pub struct HelpArgs {
    /// The command to describe
    pub topic: Vec<String>,
}

/// runc's answer to an unknown command (urfave/cli's exit code 3).
#[derive(Debug, thiserror::Error)]
#[error("No help topic for '{0}'")]
struct NoHelpTopic(String);

#[derive(Args, Debug)]
pub struct IdArg {
    /// Container id
    pub id: String,
}

/// The subcommand and `--root` of a command line, read without clap: just
/// enough to know whether this command enters a container.
fn peek_command(args: &[std::ffi::OsString]) -> Option<(&str, PathBuf)> {
    let mut root = PathBuf::from("/run/nook");
    let mut it = args.iter().skip(1).map(|a| a.to_str());
    while let Some(a) = it.next() {
        let a = a?;
        match a {
            "--root" => root = PathBuf::from(it.next()??),
            "--log" | "--log-format" => {
                it.next()?;
            }
            _ if a.starts_with("--root=") => root = PathBuf::from(&a[7..]),
            // Anything else that is not a plain flag makes the quick look
            // give up: clap will sort it out, and sealing happens later.
            "--debug" | "--systemd-cgroup" => {}
            _ if a.starts_with("--log=") || a.starts_with("--log-format=") || a.starts_with("--rootless=") => {}
            _ if a.starts_with('-') => return None,
            cmd => return Some((cmd, root)),
        }
    }
    None
}

/// Parses the command line and runs it; returns the process exit code.
pub fn main() -> i32 {
    // A command that enters a container re-executes nook from a sealed
    // copy (see `seal`) before anything else, so that the first image does
    // as little as possible: no argument parsing, no logging set-up.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some((cmd, root)) = peek_command(&args) {
        if matches!(cmd, "create" | "run" | "exec") {
            if let Err(e) = crate::seal::ensure_sealed(&root.join(".seal")) {
                eprintln!("nook: sealing the nook binary: {e}");
                return 1;
            }
        }
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => return parse_error(&args, e),
    };
    let format = if cli.log_format == "json" { crate::logger::Format::Json } else { crate::logger::Format::Text };
    if let Err(e) = crate::logger::init(cli.log.as_deref(), format, cli.debug) {
        eprintln!("nook: {e}");
        return 1;
    }
    let Some(command) = &cli.command else {
        print!("{}", help::app_help(&help::program_name()));
        return 0;
    };
    match dispatch(&cli, command) {
        Ok(code) => code,
        Err(e) => {
            let (code, msg) = match command {
                // runc: `fatalWithCode(fmt.Errorf("exec failed: %w", err), 255)`.
                Command::Exec(_) => (255, format!("exec failed: {e}")),
                _ if e.is::<NoHelpTopic>() => (3, e.to_string()),
                _ => (1, e.to_string()),
            };
            crate::logger::error(&msg);
            eprintln!("nook: {}", crate::logger::one_line(&msg));
            code
        }
    }
}

/// What clap could not parse: help and version (which clap reports as
/// errors), a wrong number of arguments in runc's words (with the
/// command's help on stdout after "Incorrect Usage.", as runc prints it),
/// and anything else as one line. Exit 0 for help and version, else 1.
fn parse_error(args: &[std::ffi::OsString], e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    let prog = help::program_name();
    let word = help::command_word(args);
    match e.kind() {
        ErrorKind::DisplayVersion => {
            print!("{}", help::version(&prog));
            return 0;
        }
        ErrorKind::DisplayHelp => {
            // For the command only when its name came before the -h.
            let flag = args.iter().position(|a| a == "-h" || a == "--help").unwrap_or(usize::MAX);
            let text = word.filter(|(i, _)| *i < flag).and_then(|(_, c)| help::command_help(&prog, &c));
            print!("{}", text.unwrap_or_else(|| help::app_help(&prog)));
            return 0;
        }
        _ => {}
    }
    let arity = help::wrong_arity(&e);
    if let (Some(missing), Some((_, cmd))) = (arity, &word) {
        if let (Some(msg), Some(text)) = (help::arity_error(cmd, missing), help::command_help(&prog, cmd)) {
            print!("Incorrect Usage.\n\n{text}");
            eprintln!("nook: {msg}");
            return 1;
        }
    }
    // One line, as every other error: clap's first line, minus its prefix.
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("invalid usage").trim_start_matches("error: ");
    eprintln!("nook: {first} (see nook --help)");
    1
}

/// `help [COMMAND]`.
fn help_command(a: &HelpArgs) -> anyhow::Result<i32> {
    let prog = help::program_name();
    match a.topic.first() {
        None => print!("{}", help::app_help(&prog)),
        Some(t) => print!("{}", help::command_help(&prog, t).ok_or_else(|| NoHelpTopic(t.clone()))?),
    }
    Ok(0)
}

fn dispatch(cli: &Cli, command: &Command) -> anyhow::Result<i32> {
    match command {
        Command::Help(a) => help_command(a),
        Command::Unknown(words) => Err(NoHelpTopic(words.first().cloned().unwrap_or_default()).into()),
        Command::Create(a) => create::create(cli, a),
        Command::Run(a) => create::run(cli, a),
        Command::Start(a) => start::start(cli, a),
        Command::Exec(a) => exec::exec(cli, a),
        Command::State(a) => state::state(cli, a),
        Command::Kill(a) => kill::kill(cli, a),
        Command::Delete(a) => delete::delete(cli, a),
        Command::List(a) => list::list(cli, a),
        Command::Spec(a) => spec::spec(a),
        Command::Features => features::features(),
        Command::Pause(a) => pause::pause(cli, a),
        Command::Resume(a) => pause::resume(cli, a),
        Command::Ps(a) => ps::ps(cli, a),
        Command::Update(a) => update::update(cli, a),
        Command::Events(a) => events::events(cli, a),
        Command::Checkpoint(a) => checkpoint::checkpoint(cli, a),
        Command::Restore(a) => restore::restore(cli, a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peek(args: &[&str]) -> Option<(String, PathBuf)> {
        let v: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        peek_command(&v).map(|(c, r)| (c.to_owned(), r))
    }

    #[test]
    fn the_quick_look_finds_the_command_and_root_as_clap_would() {
        assert_eq!(peek(&["nook", "run", "x"]), Some(("run".into(), "/run/nook".into())));
        assert_eq!(
            peek(&["nook", "--root", "/r", "--log", "/l", "--log-format", "json", "--debug", "exec", "x"]),
            Some(("exec".into(), "/r".into()))
        );
        assert_eq!(peek(&["nook", "--root=/q", "create", "x"]), Some(("create".into(), "/q".into())));
        assert_eq!(peek(&["nook", "--rootless", "true", "run"]), None);
        assert_eq!(peek(&["nook", "--root"]), None);
        assert_eq!(peek(&["nook"]), None);
    }
}
