//! The `engine` binary: parse flags, dispatch, turn errors into exit codes.

use std::process::ExitCode;

use clap::Parser;
use engine::cli::{BenchCmd, Cli, Command, JournalCmd, Tune};

fn main() -> ExitCode {
    let argv = match engine::config::expand(std::env::args_os().collect()) {
        Ok(argv) => argv,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(argv);
    let result = match &cli.command {
        Command::Tune(Tune::Check(args)) => engine::tune::check(args).map_err(|e| e.to_string()),
        Command::Tune(Tune::Apply(args)) => engine::tune::apply(args).map_err(|e| e.to_string()),
        Command::Tune(Tune::Jitter(args)) => engine::tune::jitter(args).map_err(|e| e.to_string()),
        Command::Decode(args) => engine::decode::decode(args),
        Command::Run(args) => engine::run_cli::run_command(args),
        Command::Replay(args) => engine::run_cli::replay_command(args),
        Command::Record(args) => engine::run_cli::record_command(args),
        Command::Bench(BenchCmd::E2e(args)) => engine::run_cli::bench_e2e_command(args),
        Command::Sim(args) => engine::simserver::run(args),
        Command::Kill(args) => engine::run_cli::kill_command(args),
        Command::Rearm(args) => engine::run_cli::rearm_command(args),
        Command::Journal(JournalCmd::Inspect(args)) => engine::run_cli::journal_command(args, false),
        Command::Journal(JournalCmd::Verify(args)) => engine::run_cli::journal_command(args, true),
        Command::Journal(JournalCmd::Load(args)) => engine::run_cli::load_command(args),
        Command::Journal(JournalCmd::Export(args)) => engine::run_cli::export_command(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
