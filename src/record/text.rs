//! The transcript's text form, version 1: [`Transcript::to_text`], [`Transcript::parse`]
//! and [`TranscriptError`]. The grammar is in the [module documentation](super).

use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;

use super::transcript::{Closed, EventKind, Side, Transcript};

/// The first line of every version-1 transcript.
const MAGIC: &str = "torsade-transcript";
/// The format version this crate writes and reads.
pub const VERSION: u32 = 1;

/// Why a text is not a transcript. A transcript file is input: every mistake in it is
/// one of these, never a panic.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TranscriptError {
    /// The first line is not `torsade-transcript VERSION`.
    #[error("not a transcript: the first line is not `torsade-transcript 1`")]
    NotATranscript,
    /// The transcript is of a version this crate does not read.
    #[error("transcript version {version} is not supported (this crate reads version 1)")]
    UnsupportedVersion {
        /// The version the first line gives.
        version: String,
    },
    /// A line (numbered from 1) does not follow the grammar.
    #[error("line {line}: {problem}")]
    Malformed {
        /// The line's number, from 1.
        line: usize,
        /// What is wrong with it.
        problem: LineProblem,
    },
    /// The text ends before the header does.
    #[error("the transcript ends before its `{missing}` header line")]
    MissingHeader {
        /// The header line's key.
        missing: &'static str,
    },
}

/// What is wrong with one line of a transcript.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineProblem {
    /// A header line other than the one expected there.
    #[error("expected the `{expected}` header line")]
    ExpectedHeader {
        /// The header line's key.
        expected: &'static str,
    },
    /// A header's value is not one of those allowed.
    #[error("`{value}` is not a valid value for `{key}`")]
    BadHeaderValue {
        /// The header line's key.
        key: &'static str,
        /// The value found.
        value: String,
    },
    /// An event line does not start with a time in microseconds.
    #[error("an event line starts with its time in microseconds")]
    BadTime,
    /// An event's time is before the previous event's.
    #[error("the time goes back")]
    TimeGoesBack,
    /// An event of a kind this version does not have.
    #[error("unknown event `{kind}`")]
    UnknownEvent {
        /// The kind found.
        kind: String,
    },
    /// A quoted payload is not closed, holds a byte that must be escaped, or an
    /// unknown escape.
    #[error("bad quoted bytes at column {column}")]
    BadQuoted {
        /// The column (from 1) of the offending character.
        column: usize,
    },
    /// Something follows the event on its line.
    #[error("unexpected text after the event")]
    TrailingText,
    /// A close reason that is not UTF-8 text.
    #[error("the close reason is not UTF-8")]
    NotUtf8,
}

impl Transcript {
    /// The transcript in its text form (version 1, see the [module documentation](super)).
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        let side = match self.side {
            Side::Server => "server",
            Side::Client => "client",
        };
        // Writing to a String cannot fail.
        let _ = writeln!(text, "{MAGIC} {VERSION}");
        let _ = writeln!(text, "side {side}");
        let _ = writeln!(text, "local {}", quoted(self.local.as_bytes()));
        let _ = writeln!(text, "peer {}", quoted(self.peer.as_bytes()));
        let _ = writeln!(text, "tls {}", if self.tls { "yes" } else { "no" });
        for event in &self.events {
            let _ = write!(text, "{} ", event.at.as_micros());
            let _ = match &event.kind {
                EventKind::Received(bytes) => writeln!(text, "in {}", quoted(bytes)),
                EventKind::Sent(bytes) => writeln!(text, "out {}", quoted(bytes)),
                EventKind::PeerEof => writeln!(text, "eof-in"),
                EventKind::WriteShut => writeln!(text, "eof-out"),
                EventKind::TlsStarted => writeln!(text, "tls"),
                EventKind::Truncated => writeln!(text, "truncated"),
                EventKind::Closed(Closed::Done) => writeln!(text, "close done"),
                EventKind::Closed(Closed::Aborted) => writeln!(text, "close aborted"),
                EventKind::Closed(Closed::Lost(why)) => {
                    writeln!(text, "close lost {}", quoted(why.as_bytes()))
                }
            };
        }
        text
    }

    /// Reads a transcript from its text form.
    ///
    /// # Errors
    ///
    /// [`TranscriptError`] for a text that does not follow the grammar, with the line.
    ///
    /// # Examples
    ///
    /// ```
    /// use torsade::record::{LineProblem, Transcript, TranscriptError};
    ///
    /// let text = "torsade-transcript 1\nside server\nlocal \"a\"\npeer \"b\"\ntls no\n\
    ///             10 in \"hi\\r\\n\"\n5 out \"oops\"\n";
    /// assert_eq!(
    ///     Transcript::parse(text),
    ///     Err(TranscriptError::Malformed { line: 7, problem: LineProblem::TimeGoesBack })
    /// );
    /// ```
    pub fn parse(text: &str) -> Result<Transcript, TranscriptError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(index, line)| (index + 1, line))
            .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'));
        let (_, first) = lines.next().ok_or(TranscriptError::NotATranscript)?;
        match first.split_once(' ') {
            Some((MAGIC, "1")) => {}
            Some((MAGIC, version)) => {
                return Err(TranscriptError::UnsupportedVersion {
                    version: version.to_string(),
                })
            }
            _ => return Err(TranscriptError::NotATranscript),
        }
        let mut header = |key: &'static str| -> Result<(usize, &str), TranscriptError> {
            let (number, line) = lines
                .next()
                .ok_or(TranscriptError::MissingHeader { missing: key })?;
            match line.split_once(' ') {
                Some((found, value)) if found == key => Ok((number, value)),
                _ => Err(malformed(
                    number,
                    LineProblem::ExpectedHeader { expected: key },
                )),
            }
        };
        let side = match header("side")? {
            (_, "server") => Side::Server,
            (_, "client") => Side::Client,
            (number, value) => return Err(bad_value(number, "side", value)),
        };
        let local = header_text("local", header("local")?)?;
        let peer = header_text("peer", header("peer")?)?;
        let tls = match header("tls")? {
            (_, "yes") => true,
            (_, "no") => false,
            (number, value) => return Err(bad_value(number, "tls", value)),
        };
        let mut transcript = Transcript::new(side, local, peer, tls);
        let mut last = Duration::ZERO;
        for (number, line) in lines {
            let (at, kind) = parse_event(line).map_err(|problem| malformed(number, problem))?;
            if at < last {
                return Err(malformed(number, LineProblem::TimeGoesBack));
            }
            last = at;
            transcript.push(at, kind);
        }
        Ok(transcript)
    }
}

fn malformed(line: usize, problem: LineProblem) -> TranscriptError {
    TranscriptError::Malformed { line, problem }
}

fn bad_value(line: usize, key: &'static str, value: &str) -> TranscriptError {
    malformed(
        line,
        LineProblem::BadHeaderValue {
            key,
            value: value.to_string(),
        },
    )
}

/// A header's quoted text value; `key` and a space come before it on line `number`.
fn header_text(key: &str, (number, value): (usize, &str)) -> Result<String, TranscriptError> {
    let (bytes, rest) =
        unquote(value, key.len() + 1).map_err(|problem| malformed(number, problem))?;
    if !rest.is_empty() {
        return Err(malformed(number, LineProblem::TrailingText));
    }
    String::from_utf8(bytes).map_err(|_| malformed(number, LineProblem::NotUtf8))
}

/// One event line: its time and kind.
fn parse_event(line: &str) -> Result<(Duration, EventKind), LineProblem> {
    let (time, rest) = line.split_once(' ').unwrap_or((line, ""));
    if time.is_empty() || !time.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(LineProblem::BadTime);
    }
    let micros: u64 = time.parse().map_err(|_| LineProblem::BadTime)?;
    let at = Duration::from_micros(micros);
    let column = time.len() + 1;
    let (word, payload) = rest.split_once(' ').unwrap_or((rest, ""));
    let payload_column = column + word.len() + 1;
    let quoted_payload = |payload: &str| -> Result<Bytes, LineProblem> {
        let (bytes, trailing) = unquote(payload, payload_column)?;
        if !trailing.is_empty() {
            return Err(LineProblem::TrailingText);
        }
        Ok(Bytes::from(bytes))
    };
    let bare = |kind: EventKind| {
        if payload.is_empty() {
            Ok(kind)
        } else {
            Err(LineProblem::TrailingText)
        }
    };
    let kind = match word {
        "in" => EventKind::Received(quoted_payload(payload)?),
        "out" => EventKind::Sent(quoted_payload(payload)?),
        "eof-in" => bare(EventKind::PeerEof)?,
        "eof-out" => bare(EventKind::WriteShut)?,
        "tls" => bare(EventKind::TlsStarted)?,
        "truncated" => bare(EventKind::Truncated)?,
        "close" => {
            let (how, reason) = payload.split_once(' ').unwrap_or((payload, ""));
            match how {
                "done" if reason.is_empty() => EventKind::Closed(Closed::Done),
                "aborted" if reason.is_empty() => EventKind::Closed(Closed::Aborted),
                "lost" => {
                    let (bytes, trailing) = unquote(reason, payload_column + how.len() + 1)?;
                    if !trailing.is_empty() {
                        return Err(LineProblem::TrailingText);
                    }
                    let why = String::from_utf8(bytes).map_err(|_| LineProblem::NotUtf8)?;
                    EventKind::Closed(Closed::Lost(why))
                }
                "done" | "aborted" => return Err(LineProblem::TrailingText),
                _ => {
                    return Err(LineProblem::UnknownEvent {
                        kind: format!("close {how}"),
                    })
                }
            }
        }
        _ => {
            return Err(LineProblem::UnknownEvent {
                kind: word.to_string(),
            })
        }
    };
    Ok((at, kind))
}

/// `bytes` quoted: printable ASCII as is, but for `"` and `\`; `\n`, `\r`, `\t`, and
/// `\xHH` for every other byte.
pub(crate) fn quoted(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() + 2);
    text.push('"');
    for &byte in bytes {
        match byte {
            b'"' => text.push_str("\\\""),
            b'\\' => text.push_str("\\\\"),
            b'\n' => text.push_str("\\n"),
            b'\r' => text.push_str("\\r"),
            b'\t' => text.push_str("\\t"),
            0x20..=0x7e => text.push(char::from(byte)),
            _ => {
                let _ = write!(text, "\\x{byte:02x}");
            }
        }
    }
    text.push('"');
    text
}

/// The bytes of the quoted string `text` starts with, and what follows it. `column` is
/// where `text` starts on its line (from 0), for the error.
fn unquote(text: &str, column: usize) -> Result<(Vec<u8>, &str), LineProblem> {
    let bad = |at: usize| LineProblem::BadQuoted {
        column: column + at + 1,
    };
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'"') {
        return Err(bad(0));
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 1;
    loop {
        match bytes.get(at) {
            None => return Err(bad(at)),
            Some(b'"') => return Ok((out, &text[at + 1..])),
            Some(b'\\') => {
                let (byte, width) = match bytes.get(at + 1) {
                    Some(b'"') => (b'"', 2),
                    Some(b'\\') => (b'\\', 2),
                    Some(b'n') => (b'\n', 2),
                    Some(b'r') => (b'\r', 2),
                    Some(b't') => (b'\t', 2),
                    Some(b'x') => {
                        let hex = bytes.get(at + 2..at + 4).ok_or_else(|| bad(at))?;
                        let value = std::str::from_utf8(hex)
                            .ok()
                            .filter(|hex| hex.bytes().all(|byte| byte.is_ascii_hexdigit()))
                            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                            .ok_or_else(|| bad(at))?;
                        (value, 4)
                    }
                    _ => return Err(bad(at)),
                };
                out.push(byte);
                at += width;
            }
            Some(&byte @ 0x20..=0x7e) => {
                out.push(byte);
                at += 1;
            }
            Some(_) => return Err(bad(at)),
        }
    }
}
