//! The exit codes of every subcommand, in one place.

/// How `tether` exits. The numbers are a contract scripts rely on (README: "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done, everything delivered (`connect`), every promise held (`demo`).
    Ok,
    /// 1: `connect`: messages undelivered (the drain timed out, a line was invalid, a
    /// message was handed back, refused at send or dropped by `--policy drop-oldest`);
    /// elsewhere: the command failed (`demo`: a promise not held; `fault`: the hub
    /// refused or was unreachable; `bench`: the run failed; the runtime did not start).
    Undelivered,
    /// 2: bad usage (a missing or contradictory flag, an invalid URL, no terminal).
    Usage,
    /// 3: fatal: the server refused for good (e.g. the token), no reconnect can help.
    Fatal,
}

impl Exit {
    /// 1 as the subcommands other than `connect` use it: the command failed.
    pub const FAILED: Exit = Exit::Undelivered;

    /// The process exit status.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Undelivered => 1,
            Exit::Usage => 2,
            Exit::Fatal => 3,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    #[test]
    fn exit_codes_are_the_documented_numbers() {
        assert_eq!(
            [Exit::Ok, Exit::Undelivered, Exit::Usage, Exit::Fatal].map(Exit::code),
            [0, 1, 2, 3]
        );
    }
}
