//! The signals a child process can be sent: [`Signal`].

/// A signal to send to a child process with
/// [`ProcessTransport::signal_process`](crate::process::ProcessTransport::signal_process)
/// (Twisted's `signalProcess("TERM")`).
///
/// On Unix every one is sent as named; elsewhere only [`Signal::Kill`] is (it ends the
/// process), and the others are refused.
///
/// # Examples
///
/// ```
/// use torsade::process::Signal;
///
/// assert_eq!(Signal::Term.name(), "TERM");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// SIGTERM: asks the process to end.
    Term,
    /// SIGKILL: ends the process; it cannot be caught.
    Kill,
    /// SIGINT: what Ctrl-C sends.
    Int,
    /// SIGHUP: the terminal went away (often: reload the configuration).
    Hup,
    /// SIGQUIT.
    Quit,
    /// SIGUSR1.
    Usr1,
    /// SIGUSR2.
    Usr2,
}

impl Signal {
    /// The signal's name without `SIG`, as Twisted spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Signal::Term => "TERM",
            Signal::Kill => "KILL",
            Signal::Int => "INT",
            Signal::Hup => "HUP",
            Signal::Quit => "QUIT",
            Signal::Usr1 => "USR1",
            Signal::Usr2 => "USR2",
        }
    }

    /// Sends this signal to process `pid`, which the caller knows is not reaped yet (so
    /// the number is still its own).
    #[cfg(unix)]
    pub(crate) fn send(self, pid: u32) -> std::io::Result<()> {
        use rustix::process::Signal as Raw;
        use rustix::process::{kill_process, Pid};
        let raw = match self {
            Signal::Term => Raw::TERM,
            Signal::Kill => Raw::KILL,
            Signal::Int => Raw::INT,
            Signal::Hup => Raw::HUP,
            Signal::Quit => Raw::QUIT,
            Signal::Usr1 => Raw::USR1,
            Signal::Usr2 => Raw::USR2,
        };
        let pid = i32::try_from(pid)
            .ok()
            .and_then(Pid::from_raw)
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        kill_process(pid, raw).map_err(std::io::Error::from)
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SIG{}", self.name())
    }
}
