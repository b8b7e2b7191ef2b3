//! The greeting protocol's wire format, shared by `GreetingGetter` and `GreetingServer`.
//!
//! The client sends `NAME\r\n`; the server answers `Hello, NAME!\r\n`, or
//! `ERROR <reason>\r\n` for a name it refuses, and the connection stays usable for the
//! next name. The reasons are the constants below.

/// What a greeting starts with.
pub(crate) const HELLO_PREFIX: &[u8] = b"Hello, ";

/// What a greeting ends with (before the delimiter).
pub(crate) const HELLO_SUFFIX: &[u8] = b"!";

/// What an error line starts with; the reason follows.
pub(crate) const ERROR_PREFIX: &[u8] = b"ERROR ";

/// The reason given for an empty name.
pub(crate) const EMPTY_NAME: &str = "empty name";

/// The reason given for a name that is not UTF-8.
pub(crate) const NAME_NOT_UTF8: &str = "name is not valid UTF-8";

/// The reason given for a name over the line limit.
pub(crate) const NAME_TOO_LONG: &str = "name too long";

/// The reason given for a name holding a lone `\r` or `\n`.
pub(crate) const NAME_HAS_LINE_BREAK: &str = "name contains a line break";

/// How many bytes a greeting adds to the name.
pub(crate) const GREETING_OVERHEAD: usize = HELLO_PREFIX.len() + HELLO_SUFFIX.len();

/// The error line's reason, if `line` is an error line (`ERROR` alone has an empty one).
pub(crate) fn error_reason(line: &[u8]) -> Option<&[u8]> {
    match line.strip_prefix(ERROR_PREFIX) {
        Some(reason) => Some(reason),
        None if line == b"ERROR" => Some(b""),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_are_recognised_by_their_prefix() {
        assert_eq!(error_reason(b"ERROR empty name"), Some(&b"empty name"[..]));
        assert_eq!(error_reason(b"ERROR"), Some(&b""[..]));
        assert_eq!(error_reason(b"ERRORS are fun"), None);
        assert_eq!(error_reason(b"Hello, ERROR!"), None);
    }
}
