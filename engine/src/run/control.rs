//! The control file: an operator (or `engine kill --control` / `engine rearm`) writes
//! one command into it; the cold core picks it up within 100 ms, deletes it, and
//! passes it to the hot core. Commands: `kill`, `rearm standard`, `rearm aggressive`,
//! `stop`.

use std::path::Path;

use crate::risk::RearmPlan;

/// A command from the control file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Trip the kill switch by hand.
    Kill,
    /// Re-arm a tripped kill switch.
    Rearm(RearmPlan),
    /// Stop the engine in order (as SIGTERM).
    Stop,
}

impl Command {
    /// Parses one command (surrounding whitespace ignored).
    ///
    /// # Errors
    /// Anything else, naming what is accepted.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["kill"] => Ok(Self::Kill),
            ["stop"] => Ok(Self::Stop),
            ["rearm", "standard"] => Ok(Self::Rearm(RearmPlan::Standard)),
            ["rearm", "aggressive"] => Ok(Self::Rearm(RearmPlan::Aggressive)),
            _ => Err(format!(
                "unknown command `{}`: expected `kill`, `rearm standard`, `rearm aggressive` or `stop`",
                text.trim()
            )),
        }
    }

    /// The text written to a control file.
    pub fn text(self) -> String {
        match self {
            Self::Kill => "kill".into(),
            Self::Stop => "stop".into(),
            Self::Rearm(plan) => format!("rearm {}", plan.name()),
        }
    }
}

/// Takes the command waiting in `path`, if any, deleting the file.
///
/// # Errors
/// The file cannot be read or removed, or holds no valid command (it is removed
/// anyway, so a bad command is reported once).
pub fn take(path: &Path) -> Result<Option<Command>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    std::fs::remove_file(path).map_err(|e| format!("cannot remove it after reading: {e}"))?;
    Command::parse(&text).map(Some)
}

/// Writes `command` into `path` atomically (a temporary file renamed over it), so the
/// engine never reads half a command.
///
/// # Errors
/// The file cannot be written.
pub fn send(path: &Path, command: Command) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, command.text() + "\n").map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_and_mistakes_are_named() {
        for c in
            [Command::Kill, Command::Stop, Command::Rearm(RearmPlan::Standard), Command::Rearm(RearmPlan::Aggressive)]
        {
            assert_eq!(Command::parse(&c.text()), Ok(c));
        }
        assert_eq!(Command::parse("  rearm   standard\n"), Ok(Command::Rearm(RearmPlan::Standard)));
        let e = Command::parse("rearm reckless").unwrap_err();
        assert!(e.contains("unknown command `rearm reckless`"), "{e}");
    }

    #[test]
    fn a_command_is_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control");
        assert_eq!(take(&path), Ok(None));
        send(&path, Command::Kill).unwrap();
        assert_eq!(take(&path), Ok(Some(Command::Kill)));
        assert_eq!(take(&path), Ok(None), "deleted once read");
        std::fs::write(&path, "launch\n").unwrap();
        assert!(take(&path).unwrap_err().contains("unknown command `launch`"));
        assert!(!path.exists(), "a bad command is removed too");
    }
}
