//! Lines: the one line framer ([`LineFramer`]) that the line receivers of
//! `torsade-protocols` and the async face's [`read_line`](crate::Connection::read_line)
//! both run, with its rules and defaults.

mod delimiter;
mod framer;

pub use self::framer::{Frame, Lent, LineFramer, DEFAULT_DELIMITER, DEFAULT_MAX_LENGTH};
