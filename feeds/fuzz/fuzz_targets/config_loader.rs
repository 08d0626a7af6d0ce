//! Arbitrary bytes as an `engine --config` file: loading it either fails with a
//! message that names the file, or gives a command line that clap accepts, and for
//! `engine run` the run's options are then built (every cross-flag check) without a
//! panic. The first byte chooses the subcommand: run, replay or bench e2e.
#![no_main]

use std::{ffi::OsString, path::Path};

use engine::cli::{Cli, Command};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&which, text)) = input.split_first() else { return };
    let Ok(text) = std::str::from_utf8(text) else { return }; // read_to_string refuses it first
    let command: &[&str] = match which % 3 {
        0 => &["run"],
        1 => &["replay", "capture.cap"],
        _ => &["bench", "e2e"],
    };
    let argv: Vec<OsString> =
        ["engine"].iter().chain(command).chain(&["--config", "fuzz.toml"]).map(OsString::from).collect();
    match engine::config::expand_text(argv, Path::new("fuzz.toml"), text) {
        Err(message) => assert!(message.starts_with("--config fuzz.toml: "), "{message}"),
        Ok(argv) => {
            let cli = <Cli as clap::Parser>::try_parse_from(&argv)
                .unwrap_or_else(|e| panic!("the file was accepted but the command line is not: {e}"));
            if let Command::Run(args) = cli.command {
                let _ = engine::run_cli::options(&args);
            }
        }
    }
});
