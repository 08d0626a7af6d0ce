//! A command's results on stdout, without panicking when the reader has gone.
//!
//! `print!` panics on a closed pipe (`engine run | head -3`): the process would exit
//! 101 after the run, skipping what the run writes after its table (`--json`,
//! `--latency-out`). A reader that stopped reading is not a failure of the command,
//! so the rest of the text is dropped and the command ends as it would have.

use std::io::Write;

/// Writes `args` to stdout; see the module's doc for a closed pipe. Any other
/// failure is reported on stderr, and the command goes on.
pub(crate) fn print(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("warning: writing to stdout: {e}");
    }
}

/// `print!` through [`print`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::stdout::print(format_args!($($arg)*)) };
}

/// `println!` through [`print`].
macro_rules! outln {
    ($($arg:tt)*) => { $crate::stdout::print(format_args!("{}\n", format_args!($($arg)*))) };
}
