//! Recording connections on the reactor, to read, replay as tests, or open in Wireshark.
//!
//! A [`Recorder`] [`wrap`](Recorder::wrap)s a factory: every connection the wrapped
//! factory's port accepts (or its `connect` makes) is recorded as a [`Transcript`] —
//! what the peer sent, what the protocol sent, both as the plaintext above TLS, with
//! their times, the half-closes, where TLS started, and how the connection ended.
//! Recording is off unless a factory is wrapped, so it is turned on per port (or per
//! client), and each transcript is bounded ([`Recorder::with_limit`]). [`testing::replay`](crate::testing::replay)
//! replays a transcript against a protocol in memory and reports the first difference:
//! a session that went wrong in production becomes a regression test.
//! [`Transcript::write_pcap`] exports a transcript for Wireshark.
//!
//! What a transcript records is what the connection's protocol saw and did: each chunk
//! the peer's bytes were read in (so a replay feeds the same chunks), and the protocol's
//! bytes as the connection sent them (bytes written and never sent, because the
//! connection was aborted or lost first, are not in it).
//!
//! # The text format (version 1, stable)
//!
//! A transcript's text form is lines of text (UTF-8, `\n`-terminated), one event a line,
//! readable in a diff. Within one version it does not change: a reader of version 1 reads
//! every version-1 transcript, and a change that an older reader would misread gets a new
//! version number. [`Transcript::parse`] reads it, rejecting anything else with a
//! [`TranscriptError`] that gives the line.
//!
//! ```text
//! transcript  = version LF side LF local LF peer LF tls LF *(event LF)
//! version     = "torsade-transcript 1"
//! side        = "side " ("server" / "client")      ; which end was recorded
//! local       = "local " quoted                    ; this end's address
//! peer        = "peer " quoted                     ; the other end's
//! tls         = "tls " ("yes" / "no")              ; TLS from the start
//! event       = micros " " kind                    ; micros never decrease
//! micros      = 1*DIGIT                            ; since the connection started
//! kind        = "in " quoted                       ; one chunk the peer sent
//!             / "out " quoted                      ; bytes this side sent
//!             / "eof-in"                           ; the peer shut down its writing
//!             / "eof-out"                          ; this side shut down its writing
//!             / "tls"                              ; a TLS handshake completed
//!             / "truncated"                        ; the limit: nothing more recorded
//!             / "close done" / "close aborted"     ; how it ended
//!             / "close lost " quoted               ;   (lost: the error, as text)
//! quoted      = DQUOTE *(char / escape) DQUOTE
//! char        = %x20-21 / %x23-5B / %x5D-7E        ; printable ASCII but " and \
//! escape      = "\\" / "\" DQUOTE / "\n" / "\r" / "\t" / "\x" 2HEXDIG
//! ```
//!
//! Empty lines and lines starting with `#` are ignored anywhere after the first line: a
//! transcript can carry comments. A greeting served to a client that then hung up:
//!
//! ```text
//! torsade-transcript 1
//! side server
//! local "127.0.0.1:1079"
//! peer "127.0.0.1:50312"
//! tls no
//! 412 in "World\r\n"
//! 498 out "Hello, World!\r\n"
//! 1210 eof-in
//! 1275 eof-out
//! 1301 close done
//! ```

mod pcap;
mod recorded;
mod recorder;
pub(crate) mod tap;
mod text;
mod transcript;

pub use pcap::PCAP_MAX_SEGMENT;
pub use recorded::Recorded;
pub use recorder::{Recorder, DEFAULT_LIMIT};
pub(crate) use text::quoted;
pub use text::{LineProblem, TranscriptError, VERSION};
pub use transcript::{Closed, Event, EventKind, Side, Transcript};
