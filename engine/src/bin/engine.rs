//! The `engine` binary: parse flags, dispatch, turn errors into exit codes.

use std::process::ExitCode;

use clap::Parser;
use engine::cli::{Cli, Command, Tune};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Tune(Tune::Check(args)) => engine::tune::check(args).map_err(|e| e.to_string()),
        Command::Tune(Tune::Apply(args)) => engine::tune::apply(args).map_err(|e| e.to_string()),
        Command::Decode(args) => engine::decode::decode(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
