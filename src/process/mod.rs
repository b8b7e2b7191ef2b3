//! Child processes: start a program and talk to it through its pipes, as to a connection
//! (Twisted's `spawnProcess` and `ProcessProtocol`).
//!
//! [`Reactor::spawn_process`](crate::Reactor::spawn_process) starts a
//! [`std::process::Command`] with its stdin, stdout and stderr as pipes; a
//! [`ProcessProtocol`] receives what the process prints (stdout and stderr apart), the
//! closing of each pipe and the exit status ([`ExitStatus`]: a code or a signal); the
//! [`ProcessTransport`] its callbacks get writes to the process's stdin, closes it and
//! sends [`Signal`]s.
//!
//! Writes to stdin wait in memory until the child reads them, under a connection's
//! write pressure: [`ProcessProtocol::pause_producing`] past the high-water mark,
//! [`ProcessProtocol::resume_producing`] at the low one, and never more than
//! [`STDIN_BUFFER_LIMIT`] bytes (see [`ProcessTransport::write`]).
//!
//! ```text
//!   ProcessTransport ── write / close_stdin ──> stdin ─┐
//!          │ signal_process                           child ── exit ──> process_exited
//!          v                          stdout, stderr <─┘                      │
//!   the process's task ── out_received / err_received / *_connection_lost     v
//!                                                   process_ended (exit + both closed)
//! ```
//!
//! # Example
//!
//! Run `cat`, write to it, close its stdin, collect its echo:
//!
//! ```
//! # #[cfg(unix)] {
//! use std::sync::{Arc, Mutex};
//!
//! use bytes::Bytes;
//! use torsade::process::{ExitStatus, ProcessProtocol, ProcessTransport};
//! use torsade::Reactor;
//!
//! struct Cat {
//!     reactor: Reactor,
//!     echoed: Arc<Mutex<Vec<u8>>>,
//! }
//!
//! impl ProcessProtocol for Cat {
//!     fn connection_made(&mut self, cat: &mut ProcessTransport) {
//!         cat.write(b"meow");
//!         cat.close_stdin();
//!     }
//!     fn out_received(&mut self, _: &mut ProcessTransport, data: Bytes) {
//!         self.echoed.lock().unwrap().extend_from_slice(&data);
//!     }
//!     fn process_ended(&mut self, _: &mut ProcessTransport, status: ExitStatus) {
//!         assert_eq!(status, ExitStatus::Code(0));
//!         let _ = self.reactor.stop();
//!     }
//! }
//!
//! let reactor = Reactor::new()?;
//! let echoed = Arc::new(Mutex::new(Vec::new()));
//! let cat = Cat { reactor: reactor.clone(), echoed: echoed.clone() };
//! reactor.spawn_process(cat, std::process::Command::new("cat"))?;
//! reactor.run()?;
//! assert_eq!(*echoed.lock().unwrap(), b"meow");
//! # }
//! # Ok::<(), torsade::Error>(())
//! ```
//!
//! Children are reaped by tokio once they exit. A reactor counts its children as alive:
//! when it stops, it terminates them or waits for them as its [`ChildPolicy`] says, and
//! [`run`](crate::Reactor::run) returns once they have ended. A child still running when
//! the runtime is dropped is killed (SIGKILL).

mod connected;
mod policy;
mod protocol;
mod signal;
mod spawn;
mod status;
mod stdin;
mod transport;

pub use self::connected::ConnectedProcess;
pub use self::policy::{ChildPolicy, CHILD_TERMINATE_GRACE};
pub use self::protocol::ProcessProtocol;
pub use self::signal::Signal;
pub use self::status::ExitStatus;
pub use self::stdin::STDIN_BUFFER_LIMIT;
pub(crate) use self::stdin::{PressureSignal, StdinPressure};
pub use self::transport::ProcessTransport;
pub(crate) use self::transport::Request;
