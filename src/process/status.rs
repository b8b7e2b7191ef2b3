//! How a child process ended: [`ExitStatus`], an exit code or a signal.

use std::fmt;

/// How a child process ended: it exited with a code, or a signal killed it. Twisted's
/// `ProcessDone` (code 0), `ProcessTerminated` (`exitCode` or `signal`).
///
/// # Examples
///
/// ```
/// use torsade::process::ExitStatus;
///
/// assert!(ExitStatus::Code(0).success());
/// assert_eq!(ExitStatus::Code(3).code(), Some(3));
/// assert_eq!(ExitStatus::Signal(15).signal(), Some(15));
/// assert_eq!(ExitStatus::Signal(15).to_string(), "killed by signal 15");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// The process exited with this code.
    Code(i32),
    /// A signal ended the process: its number (`15` for SIGTERM).
    Signal(i32),
}

impl ExitStatus {
    /// Whether the process exited with code 0.
    pub fn success(&self) -> bool {
        *self == ExitStatus::Code(0)
    }

    /// The exit code, if the process exited.
    pub fn code(&self) -> Option<i32> {
        match self {
            ExitStatus::Code(code) => Some(*code),
            ExitStatus::Signal(_) => None,
        }
    }

    /// The signal that ended the process, if one did.
    pub fn signal(&self) -> Option<i32> {
        match self {
            ExitStatus::Signal(signal) => Some(*signal),
            ExitStatus::Code(_) => None,
        }
    }
}

impl From<std::process::ExitStatus> for ExitStatus {
    fn from(status: std::process::ExitStatus) -> ExitStatus {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            if let Some(signal) = status.signal() {
                return ExitStatus::Signal(signal);
            }
        }
        // Without a signal, a process that ended has a code; -1 only if the platform
        // reports neither.
        ExitStatus::Code(status.code().unwrap_or(-1))
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(code) => write!(f, "exit code {code}"),
            ExitStatus::Signal(signal) => write!(f, "killed by signal {signal}"),
        }
    }
}
