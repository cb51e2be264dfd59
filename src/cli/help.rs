//! Help, version and usage errors in runc's layout (urfave/cli's: NAME,
//! USAGE, DESCRIPTION, OPTIONS; COMMANDS and GLOBAL OPTIONS for the main
//! help), so that what scripts and suites written for runc read is where
//! they look for it. The option lists come from the clap definitions, so
//! they cannot drift from what the parser takes.

use clap::CommandFactory;
use std::fmt::Write;

/// One subcommand's help text, beside its clap definition.
struct Topic {
    name: &'static str,
    alias: Option<&'static str>,
    /// The one-line summary (NAME and COMMANDS).
    usage: &'static str,
    /// What follows `<name> [command options]` on the USAGE line.
    args: &'static str,
    description: &'static str,
}

const ID_NEW: &str = r#"<container-id>

Where "<container-id>" is your name for the instance of the container that you
are starting. The name you provide for the container instance must be unique on
your host."#;

const BUNDLE: &str = r#"The bundle is a directory with a specification file named "config.json" and a
root filesystem. The args parameter of the specification's process is the
program that runs when the container is started (see "spec --help")."#;

const TOPICS: &[Topic] = &[
    Topic {
        name: "checkpoint",
        alias: None,
        usage: "checkpoint a running container",
        args: "<container-id>\n\nWhere \"<container-id>\" is the name for the instance of the container to be\ncheckpointed.",
        description: "The checkpoint command saves the state of the container instance (with CRIU).",
    },
    Topic {
        name: "create",
        alias: None,
        usage: "create a container",
        args: ID_NEW,
        description: "The create command creates an instance of a container for a bundle and leaves its\ninit waiting for \"start\".",
    },
    Topic {
        name: "delete",
        alias: None,
        usage: "delete any resources held by the container often used with detached container",
        args: "<container-id>\n\nWhere \"<container-id>\" is the name for the instance of the container.",
        description: "",
    },
    Topic {
        name: "events",
        alias: None,
        usage: "display container events such as OOM notifications, and cpu and memory usage statistics",
        args: "<container-id>\n\nWhere \"<container-id>\" is the name for the instance of the container.",
        description: "The events command displays information about the container. By default the\ninformation is displayed once every 5 seconds.",
    },
    Topic {
        name: "exec",
        alias: None,
        usage: "execute new process inside the container",
        args: "<container-id> <command> [command options]  || -p process.json <container-id>\n\nWhere \"<container-id>\" is the name for the instance of the container and\n\"<command>\" is the command to be executed in the container.\n\"<command>\" can't be empty unless a \"-p\" flag provided.",
        description: "",
    },
    Topic {
        name: "features",
        alias: None,
        usage: "show the enabled features",
        args: "",
        description: "Show the enabled features, as the runtime-spec's features document (JSON).",
    },
    Topic {
        name: "kill",
        alias: None,
        usage: "kill sends the specified signal (default: SIGTERM) to the container's init process",
        args: "<container-id> [signal]\n\nWhere \"<container-id>\" is the name for the instance of the container and\n\"[signal]\" is the signal to be sent to the init process.",
        description: "",
    },
    Topic {
        name: "list",
        alias: Some("ls"),
        usage: "lists containers started with the given root",
        args: "\n\nWhere the given root is specified via the global option \"--root\"\n(default: \"/run/nook\").",
        description: "",
    },
    Topic {
        name: "pause",
        alias: None,
        usage: "pause suspends all processes inside the container",
        args: "<container-id>\n\nWhere \"<container-id>\" is the name for the instance of the container to be\npaused.",
        description: "The pause command suspends all processes in the instance of the container.",
    },
    Topic {
        name: "ps",
        alias: None,
        usage: "ps displays the processes running inside a container",
        args: "<container-id> [ps options]",
        description: "",
    },
    Topic {
        name: "resume",
        alias: None,
        usage: "resumes all processes that have been previously paused",
        args: "<container-id>\n\nWhere \"<container-id>\" is the name for the instance of the container to be\nresumed.",
        description: "The resume command resumes all processes in the instance of the container.",
    },
    Topic {
        name: "run",
        alias: None,
        usage: "create and run a container",
        args: ID_NEW,
        description: "The run command creates an instance of a container for a bundle, starts it, and\nwaits for it unless --detach.",
    },
    Topic {
        name: "spec",
        alias: None,
        usage: "create a new specification file",
        args: "",
        description: "The spec command creates the new specification file named \"config.json\" for\nthe bundle. It is a starter file, to be edited.",
    },
    Topic {
        name: "start",
        alias: None,
        usage: "executes the user defined process in a created container",
        args: "<container-id>\n\nWhere \"<container-id>\" is the name for the instance of the container.",
        description: "The start command executes the user defined process in a created container.",
    },
    Topic {
        name: "state",
        alias: None,
        usage: "output the state of a container",
        args: "<container-id>\n\nWhere \"<container-id>\" is your name for the instance of the container.",
        description: "The state command outputs current state information for the\ninstance of a container.",
    },
    Topic {
        name: "restore",
        alias: None,
        usage: "restore a container from a previous checkpoint",
        args: "<container-id>\n\nWhere \"<container-id>\" is the name for the instance of the container to be\nrestored.",
        description: "Restores the saved state of the container instance that was previously saved\nusing the nook checkpoint command.",
    },
    Topic {
        name: "update",
        alias: None,
        usage: "update container resource constraints",
        args: "<container-id>",
        description: "",
    },
];

const APP_USAGE: &str = "a small, fast, safe OCI container runtime";

/// The name the program was called by (urfave/cli's default app name).
pub fn program_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|a| std::path::Path::new(&a).file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "nook".into())
}

fn topic(name: &str) -> Option<&'static Topic> {
    TOPICS.iter().find(|t| t.name == name || t.alias == Some(name))
}

/// Lines of `cells` aligned as Go's tabwriter (padding 2) aligns the
/// first column of a block.
fn columns(out: &mut String, indent: &str, rows: &[(String, String)]) {
    let width = rows.iter().map(|(a, _)| a.chars().count()).max().unwrap_or(0) + 2;
    for (i, (a, b)) in rows.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(out, "{indent}{a:<width$}{b}");
    }
}

/// One flag as urfave/cli prints it: `--name value, -n value  usage (default: x)`.
fn flag_row(arg: &clap::Arg) -> Option<(String, String)> {
    if arg.is_hide_set() || arg.is_positional() {
        return None;
    }
    let value = if arg.get_action().takes_values() { " value" } else { "" };
    let mut names: Vec<String> = arg.get_long().map(|l| format!("--{l}{value}")).into_iter().collect();
    names.extend(arg.get_visible_aliases().unwrap_or_default().into_iter().map(|l| format!("--{l}{value}")));
    names.extend(arg.get_short().map(|s| format!("-{s}{value}")));
    let mut usage = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
    let default = arg.get_default_values().first().map(|d| d.to_string_lossy().into_owned());
    if let Some(d) = default.filter(|d| !d.is_empty() && arg.get_action().takes_values()) {
        let _ = match d.parse::<i64>() {
            Ok(_) => write!(usage, " (default: {d})"),
            Err(_) => write!(usage, " (default: {d:?})"),
        };
    }
    Some((names.join(", "), usage))
}

/// `<prog> help <command>`, `<prog> <command> --help`. None for an unknown
/// command.
pub fn command_help(prog: &str, name: &str) -> Option<String> {
    if matches!(name, "help" | "h") {
        return Some(format!(
            "NAME:\n   {prog} help - Shows a list of commands or help for one command\n\nUSAGE:\n   {prog} help [command]\n"
        ));
    }
    let t = topic(name)?;
    let cli = super::Cli::command();
    // checkpoint and restore parse their own flags (see checkpoint::Raw).
    let cmd = match t.name {
        "checkpoint" => super::checkpoint::CheckpointArgs::command(),
        "restore" => super::restore::RestoreArgs::command(),
        _ => cli.find_subcommand(t.name)?.clone(),
    };
    let flags: Vec<_> = cmd.get_arguments().filter_map(flag_row).collect();
    let mut out = format!("NAME:\n   {prog} {} - {}\n\nUSAGE:\n   {prog} {}", t.name, t.usage, t.name);
    if !flags.is_empty() {
        out.push_str(" [command options]");
    }
    out.push(' ');
    out.push_str(if t.args.is_empty() { "[arguments...]" } else { t.args });
    if !t.description.is_empty() {
        let _ = write!(out, "\n\nDESCRIPTION:\n   {}", t.description);
        if matches!(t.name, "create" | "run") {
            let _ = write!(out, "\n\n{BUNDLE}");
        }
    }
    if !flags.is_empty() {
        out.push_str("\n\nOPTIONS:\n");
        columns(&mut out, "   ", &flags);
        out.push_str("\n   ");
    }
    out.push('\n');
    Some(out)
}

/// `<prog> help`, `<prog> --help`.
pub fn app_help(prog: &str) -> String {
    let mut out = format!(
        "NAME:\n   {prog} - {APP_USAGE}\n\n\
         {prog} runs containers packaged according to the Open Container Initiative (OCI)\n\
         runtime specification, with runc's command line: supervisors such as containerd\n\
         and conmon call it where they call runc.\n\n\
         A container is made from a bundle: a directory holding \"config.json\" and the\n\
         container's root filesystem. To start a new instance of a container:\n\n    \
         # {prog} run [ -b bundle ] <container-id>\n\n\
         USAGE:\n   {prog} [global options] command [command options] [arguments...]\n\n\
         VERSION:\n   {}\n\nCOMMANDS:\n",
        super::VERSION
    );
    let mut commands: Vec<(String, String)> = TOPICS
        .iter()
        .map(|t| (t.alias.map_or(t.name.to_owned(), |a| format!("{}, {a}", t.name)), t.usage.to_owned()))
        .collect();
    commands.push(("help, h".into(), "Shows a list of commands or help for one command".into()));
    columns(&mut out, "   ", &commands);
    out.push_str("\n\nGLOBAL OPTIONS:\n");
    let cli = super::Cli::command();
    let mut flags: Vec<_> = cli.get_arguments().filter(|a| a.get_id() != "version").filter_map(flag_row).collect();
    flags.push(("--help, -h".into(), "show help".into()));
    flags.push(("--version, -v".into(), "print the version".into()));
    columns(&mut out, "   ", &flags);
    out.push('\n');
    out
}

/// `<prog> --version`, as urfave/cli prints it.
pub fn version(prog: &str) -> String {
    format!("{prog} version {}\n", super::VERSION)
}

/// How many arguments a command takes, and runc's words when it gets
/// another number (runc's `checkArgs`).
enum Arity {
    Exactly(usize),
    AtLeast(usize),
    Between(usize, usize),
}

fn arity(name: &str) -> Option<Arity> {
    Some(match name {
        "create" | "run" | "start" | "state" | "delete" | "pause" | "resume" | "events" | "update" | "checkpoint"
        | "restore" => Arity::Exactly(1),
        "list" | "ls" | "spec" | "features" => Arity::Exactly(0),
        "exec" | "ps" => Arity::AtLeast(1),
        "kill" => Arity::Between(1, 2),
        _ => return None,
    })
}

/// A wrong number of arguments: Some(true) for one missing, Some(false)
/// for one too many.
pub fn wrong_arity(e: &clap::Error) -> Option<bool> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let extra = matches!(e.get(ContextKind::InvalidArg), Some(ContextValue::String(a)) if !a.starts_with('-'));
    match e.kind() {
        ErrorKind::MissingRequiredArgument => Some(true),
        ErrorKind::UnknownArgument if extra => Some(false),
        _ => None,
    }
}

/// runc's message for too few (`missing`) or too many arguments to `name`.
pub fn arity_error(name: &str, missing: bool) -> Option<String> {
    let cmd = topic(name)?.name;
    let (how, n) = match (arity(cmd)?, missing) {
        (Arity::Exactly(n), _) => ("exactly", n),
        (Arity::AtLeast(n), _) => ("a minimum of", n),
        (Arity::Between(n, _), true) => ("a minimum of", n),
        (Arity::Between(_, n), false) => ("a maximum of", n),
    };
    Some(format!("{cmd:?} requires {how} {n} argument(s)"))
}

/// The command word of a command line and its index: the first argument
/// that is not a global flag or a global flag's value, read as clap reads
/// the global flags.
pub fn command_word(args: &[std::ffi::OsString]) -> Option<(usize, String)> {
    let mut i = 1;
    while let Some(a) = args.get(i) {
        let a = a.to_string_lossy();
        match a.as_ref() {
            "--root" | "--log" | "--log-format" => i += 2,
            // An optional value: taken when the next word is not a flag.
            "--rootless" => {
                i += if args.get(i + 1).is_some_and(|n| !n.to_string_lossy().starts_with('-')) { 2 } else { 1 }
            }
            "--" => return args.get(i + 1).map(|c| (i + 1, c.to_string_lossy().into_owned())),
            _ if a.starts_with('-') => i += 1,
            _ => return Some((i, a.into_owned())),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
        args.iter().map(Into::into).collect()
    }

    #[test]
    fn the_command_word_skips_global_flags_and_their_values() {
        assert_eq!(command_word(&os(&["nook", "--root", "/r", "--debug", "kill", "x"])), Some((4, "kill".into())));
        assert_eq!(command_word(&os(&["nook", "--log-format=json", "ps"])), Some((2, "ps".into())));
        assert_eq!(command_word(&os(&["nook", "--rootless", "true", "list"])), Some((3, "list".into())));
        assert_eq!(command_word(&os(&["nook", "-h"])), None);
    }

    #[test]
    fn flags_are_listed_as_urfave_lists_them() {
        let text = command_help("nook", "ps").unwrap();
        assert!(text.contains("\n   --format value, -f value  "), "{text}");
        assert!(text.contains("(default: \"table\")"), "{text}");
        let text = command_help("nook", "exec").unwrap();
        assert!(text.contains("--preserve-fds value"), "{text}");
        assert!(text.contains("(default: 0)"), "{text}");
        assert!(text.ends_with("\n   \n"), "{text:?}");
        let start = command_help("nook", "start").unwrap();
        assert!(start.starts_with("NAME:\n   nook start - "), "{start}");
        assert!(start.contains("USAGE:\n   nook start <container-id>"), "{start}");
        assert!(!start.contains("OPTIONS"), "{start}");
        assert_eq!(command_help("nook", "ls"), command_help("nook", "list"));
        assert_eq!(command_help("nook", "foo"), None);
    }

    #[test]
    fn every_subcommand_has_a_topic() {
        for sub in super::super::Cli::command().get_subcommands() {
            assert!(command_help("nook", sub.get_name()).is_some(), "{} has no help topic", sub.get_name());
        }
        for t in TOPICS {
            assert!(arity(t.name).is_some(), "{} has no arity", t.name);
        }
    }

    #[test]
    fn arity_errors_use_runcs_words() {
        assert_eq!(arity_error("start", true).unwrap(), r#""start" requires exactly 1 argument(s)"#);
        assert_eq!(arity_error("kill", true).unwrap(), r#""kill" requires a minimum of 1 argument(s)"#);
        assert_eq!(arity_error("kill", false).unwrap(), r#""kill" requires a maximum of 2 argument(s)"#);
        assert_eq!(arity_error("ls", false).unwrap(), r#""list" requires exactly 0 argument(s)"#);
        assert_eq!(arity_error("exec", true).unwrap(), r#""exec" requires a minimum of 1 argument(s)"#);
    }
}
