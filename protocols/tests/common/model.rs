//! The line framing rules as a plain reference model: the whole stream at once, no
//! buffering, no chunks. Used by the model test and the proptest properties.

use super::{exceeded, line, Event};

/// Whether `rest` (holding no delimiter) could still become a line of at most `max`
/// bytes: some delimiter prefix starting at or before `max` runs to its end.
pub fn still_viable(rest: &[u8], delimiter: &[u8], max: usize) -> bool {
    (0..=max.min(rest.len())).any(|start| delimiter.starts_with(&rest[start..]))
}

/// The events a line receiver whose handler does nothing but record (and closes on an
/// over-long line unless `keep_open`) sees for `input`.
pub fn model(input: &[u8], delimiter: &[u8], max: usize, keep_open: bool) -> Vec<Event> {
    let mut events = Vec::new();
    let mut rest = input;
    loop {
        let found = rest
            .windows(delimiter.len())
            .position(|window| window == delimiter);
        let Some(end) = found else {
            if !still_viable(rest, delimiter, max) {
                events.push(exceeded(&rest[..max]));
            }
            return events;
        };
        if end <= max {
            events.push(line(&rest[..end]));
        } else {
            events.push(exceeded(&rest[..max]));
            if !keep_open {
                return events;
            }
        }
        rest = &rest[end + delimiter.len()..];
    }
}

/// [`model`] for a receiver with any line ending: lines split on `\n`, a `\r` before it
/// neither delivered nor counted toward `max`.
pub fn model_any_line_ending(input: &[u8], max: usize, keep_open: bool) -> Vec<Event> {
    let mut events = Vec::new();
    let mut rest = input;
    loop {
        let Some(newline) = rest.iter().position(|&byte| byte == b'\n') else {
            // Unfinished: viable while it could still end in "\r\n" within the limit.
            if !still_viable(rest, b"\r\n", max) {
                events.push(exceeded(&rest[..max]));
            }
            return events;
        };
        let end = newline - usize::from(newline > 0 && rest[newline - 1] == b'\r');
        if end <= max {
            events.push(line(&rest[..end]));
        } else {
            events.push(exceeded(&rest[..max]));
            if !keep_open {
                return events;
            }
        }
        rest = &rest[newline + 1..];
    }
}
