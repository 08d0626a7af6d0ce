//! `--config FILE.toml`: settings for `engine run`, `engine replay` and `engine bench
//! e2e` kept in a file. A key is a flag's long name without the dashes
//! (`max-order-notional = 10000`; `max_order_notional` works too), a list is a
//! comma-separated flag value, `true` turns a switch on. The file's settings become
//! flags in front of the command line's, so a flag given on the command line wins.
//! An instrument's or a venue's own limits (`--limit`) are tables by scope.
//!
//! ```toml
//! symbols = ["BTCUSDT", "ETHUSDT"]
//! strategy = "mm:half_spread=2"
//! duration = "30s"
//! max-order-notional = 20000
//! mlock = true
//!
//! [limits.BTCUSDT]       # --limit BTCUSDT:max-qty=0.5,collar-bps=20
//! max-qty = "0.5"
//! collar-bps = 20
//! [limits."@1"]          # venue 1's own rates
//! orders-per-sec = 100
//! ```

use std::{ffi::OsString, path::Path};

use clap::CommandFactory;

use crate::cli::Cli;

/// Subcommand paths that take `--config`.
const TAKES_CONFIG: [&[&str]; 3] = [&["run"], &["replay"], &["bench", "e2e"]];

/// `argv` with the settings of its `--config FILE` (if any) inserted as flags right
/// after the subcommand, ahead of the command line's own flags.
///
/// # Errors
/// The file cannot be read, is not TOML, names a setting the subcommand does not
/// have, or gives a value its flag refuses; each message names the file.
pub fn expand(argv: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let Some(path) = config_path(&argv) else { return Ok(argv) };
    if command_of(&argv).is_none() {
        return Ok(argv); // clap explains that this subcommand has no --config
    }
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("--config {}: cannot read it: {e}", path.display()))?;
    expand_text(argv, &path, &text)
}

/// [`expand`] with the file's `text` already read from `path` (named in messages).
///
/// # Errors
/// As [`expand`], except reading the file.
pub fn expand_text(argv: Vec<OsString>, path: &Path, text: &str) -> Result<Vec<OsString>, String> {
    let Some(command) = command_of(&argv) else { return Ok(argv) };
    let file = |e: String| format!("--config {}: {e}", path.display());
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| file(format!("invalid TOML: {e}")))?;
    let flags = flags_of(command, &table).map_err(file)?;
    // The file on its own first, so a bad value is blamed on the file.
    let alone: Vec<OsString> = argv.iter().take(1 + command.len()).cloned().chain(flags.iter().cloned()).collect();
    // (`replay`'s capture is a positional argument of the command line, not of the
    // file: its absence here is not the file's fault.)
    if let Err(e) = <Cli as clap::Parser>::try_parse_from(&alone)
        && e.kind() != clap::error::ErrorKind::MissingRequiredArgument
    {
        return Err(file(e.render().to_string().trim().trim_start_matches("error: ").to_owned()));
    }
    let mut out: Vec<OsString> = argv.iter().take(1 + command.len()).cloned().collect();
    out.extend(flags);
    out.extend(argv.into_iter().skip(1 + command.len()));
    Ok(out)
}

/// The subcommand path `argv` starts with, if it takes `--config`.
fn command_of(argv: &[OsString]) -> Option<&'static [&'static str]> {
    TAKES_CONFIG.iter().copied().find(|c| argv.iter().skip(1).take(c.len()).eq(c.iter()))
}

/// The value of `--config FILE` or `--config=FILE`.
fn config_path(argv: &[OsString]) -> Option<std::path::PathBuf> {
    let mut args = argv.iter();
    while let Some(arg) = args.next() {
        if arg == "--config" {
            return args.next().map(Into::into);
        }
        if let Some(path) = arg.to_str().and_then(|a| a.strip_prefix("--config=")) {
            return Some(Path::new(path).to_owned());
        }
    }
    None
}

/// The table as flags of `command`, checking each key names one of its flags.
fn flags_of(command: &[&str], table: &toml::Table) -> Result<Vec<OsString>, String> {
    let mut cli = Cli::command();
    let mut sub = &mut cli;
    for name in command {
        sub = sub.find_subcommand_mut(name).ok_or_else(|| format!("no subcommand {name}"))?;
    }
    let known: Vec<String> = sub.get_arguments().filter_map(|a| a.get_long().map(str::to_owned)).collect();
    // Switches take no value: `mlock = 500` must not become `--mlock 500`, whose
    // value a subcommand with a positional argument would take as that argument.
    let switches: Vec<String> = sub
        .get_arguments()
        .filter(|a| !a.get_action().takes_values())
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect();
    let mut flags = Vec::new();
    for (key, value) in table {
        let name = key.replace('_', "-");
        if name == "limits" && known.iter().any(|k| k == "limit") {
            flags.extend(limit_flags(value)?);
            continue;
        }
        if let (true, toml::Value::Array(items)) = (name == "limit", value) {
            // One flag each: a limit's own settings are comma-separated.
            for item in items {
                let toml::Value::String(text) = item else { return Err("`limit`: a list of strings".into()) };
                flags.extend(["--limit".into(), text.into()]);
            }
            continue;
        }
        if name == "config" || name == "help" || name == "version" || !known.contains(&name) {
            return Err(format!(
                "unknown setting `{key}`: settings are the long flags of `engine {}` without the dashes \
                 (see --help), e.g. `rate = 100000`",
                command.join(" ")
            ));
        }
        if switches.contains(&name) && !value.is_bool() {
            return Err(format!("`{key}`: a switch, so true or false"));
        }
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(true) => {
                flags.push(format!("--{name}").into());
                continue;
            }
            toml::Value::Boolean(false) => continue,
            toml::Value::Array(items) => {
                let items: Result<Vec<String>, String> = items
                    .iter()
                    .map(|v| match v {
                        toml::Value::String(s) => Ok(s.clone()),
                        toml::Value::Integer(i) => Ok(i.to_string()),
                        _ => Err(format!("`{key}`: a list holds strings or integers")),
                    })
                    .collect();
                items?.join(",")
            }
            toml::Value::Datetime(_) | toml::Value::Table(_) => {
                return Err(format!("`{key}`: expected a string, number, boolean or list"));
            }
        };
        flags.push(format!("--{name}").into());
        flags.push(text.into());
    }
    Ok(flags)
}

/// `[limits.SCOPE]` tables as `--limit SCOPE:KEY=VALUE,...` flags.
fn limit_flags(value: &toml::Value) -> Result<Vec<OsString>, String> {
    let expected = "`limits`: expected tables of limits by scope, like [limits.BTCUSDT] or [limits.\"@1\"]";
    let toml::Value::Table(scopes) = value else { return Err(expected.into()) };
    let mut flags = Vec::new();
    for (scope, settings) in scopes {
        let toml::Value::Table(settings) = settings else { return Err(format!("{expected}; `{scope}` is not one")) };
        let mut pairs = Vec::new();
        for (key, value) in settings {
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => return Err(format!("`limits.{scope}.{key}`: expected a string, number or boolean")),
            };
            pairs.push(format!("{}={text}", key.replace('_', "-")));
        }
        if !pairs.is_empty() {
            flags.extend(["--limit".into(), format!("{scope}:{}", pairs.join(",")).into()]);
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn config(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path.to_str().unwrap().to_owned())
    }

    #[test]
    fn a_switch_given_a_value_is_refused_not_taken_as_a_capture() {
        // Found by the config_loader fuzz target: `engine replay` took the 500 of
        // `--mlock 500` as its capture file.
        let (_dir, path) = config("mlock = 500\n");
        let e = expand(args(&["engine", "replay", "run.cap", "--config", &path])).unwrap_err();
        assert!(e.contains("`mlock`: a switch, so true or false"), "{e}");
    }

    #[test]
    fn settings_go_before_the_command_lines_flags() {
        let (_dir, path) = config("rate = 5000\nsymbols = [\"BTCUSDT\", \"ETHUSDT\"]\nmlock = true\nquiet = false\n");
        let out = expand(args(&["engine", "run", "--config", &path, "--rate", "7"])).unwrap();
        let expected = ["engine", "run", "--mlock", "--rate", "5000", "--symbols", "BTCUSDT,ETHUSDT", "--config"];
        assert_eq!(out[..expected.len()], args(&expected)[..]);
        assert_eq!(out[expected.len() + 1..], args(&["--rate", "7"])[..]);
    }

    #[test]
    fn replay_takes_a_config_beside_its_capture() {
        let (_dir, path) = config("persist = \"none\"\n");
        let out = expand(args(&["engine", "replay", "run.cap", "--config", &path])).unwrap();
        assert_eq!(out[..4], args(&["engine", "replay", "--persist", "none"])[..]);
        let cli = <Cli as clap::Parser>::try_parse_from(out).unwrap();
        assert!(matches!(cli.command, crate::cli::Command::Replay(_)));
    }

    #[test]
    fn limit_tables_become_one_limit_flag_per_scope() {
        let (_dir, path) = config(
            "limit = [\"@1:orders-per-sec=50\"]\n[limits.BTCUSDT]\nmax_qty = \"0.5\"\ncollar-bps = 20\n\
             [limits.\"ETHUSDT@1\"]\nrestricted = true\n",
        );
        let out = expand(args(&["engine", "run", "--config", &path])).unwrap();
        let expected = [
            "engine",
            "run",
            "--limit",
            "@1:orders-per-sec=50",
            "--limit",
            "BTCUSDT:collar-bps=20,max-qty=0.5",
            "--limit",
            "ETHUSDT@1:restricted=true",
        ];
        assert_eq!(out[..expected.len()], args(&expected)[..]);
    }

    #[test]
    fn without_config_argv_is_untouched() {
        let argv = args(&["engine", "run", "--rate", "7"]);
        assert_eq!(expand(argv.clone()).unwrap(), argv);
    }

    #[test]
    fn errors_name_the_file_and_the_setting() {
        let cases = [
            ("rate = 5000\nbogus = 1\n", "unknown setting `bogus`"),
            ("rate = \"fast\"\n", "invalid value 'fast' for '--rate <RATE>'"),
            ("rate = [1, {a = 2}]\n", "a list holds strings or integers"),
            ("rate = \n", "invalid TOML"),
            ("[limits]\nrate = 1\n", "`limits`: expected tables of limits by scope"),
            ("[limits.BTCUSDT]\ncollar = 1\n", "unknown limit `collar`"),
            ("[rate]\nx = 1\n", "`rate`: expected a string, number, boolean or list"),
        ];
        for (text, expected) in cases {
            let (_dir, path) = config(text);
            let e = expand(args(&["engine", "run", "--config", &path])).unwrap_err();
            assert!(e.starts_with(&format!("--config {path}: ")) && e.contains(expected), "{text:?}: {e}");
        }
        let e = expand(args(&["engine", "run", "--config=/nonexistent.toml"])).unwrap_err();
        assert!(e.contains("--config /nonexistent.toml: cannot read it"), "{e}");
    }
}
