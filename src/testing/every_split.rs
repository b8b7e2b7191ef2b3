//! The same input, every way it can arrive: [`every_split`].
//!
//! TCP delivers bytes in whatever chunks it likes, so a protocol must give the same result
//! however its input is split. Twisted's own `LineReceiver` tests feed a buffer at every
//! packet size; `every_split` makes that a one-liner.

use std::fmt;

use super::TestConnection;
use crate::Protocol;

/// Inputs up to this long are also fed in every possible chunking (2^(n-1) runs).
pub const EVERY_CHUNKING_UP_TO: usize = 10;

/// Feeds `input` to a fresh protocol from `make` in every way it can be split, observes
/// each run with `observe`, and checks that all observations are equal; returns the
/// observation.
///
/// The runs: the whole input at once; split in two at every point; one byte at a time;
/// and, for inputs up to [`EVERY_CHUNKING_UP_TO`] bytes, every possible chunking. `observe`
/// sees the connection after the input was delivered (it may deliver EOF, look at what was
/// written, or ask the protocol).
///
/// # Panics
///
/// If two runs observe different things: the message names the chunking that differed.
/// (A test helper: panicking is how it fails the test.)
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use torsade::testing::every_split;
/// use torsade::prelude::*;
///
/// /// Counts `;`-terminated commands.
/// #[derive(Default)]
/// struct Commands {
///     pending: Vec<u8>,
///     done: Vec<String>,
/// }
///
/// impl Protocol for Commands {
///     fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
///         for &byte in data.iter() {
///             if byte == b';' {
///                 let command = String::from_utf8_lossy(&self.pending).into_owned();
///                 self.done.push(command);
///                 self.pending.clear();
///             } else {
///                 self.pending.push(byte);
///             }
///         }
///     }
/// }
///
/// let seen = every_split(b"get;put;", Commands::default, |c| c.protocol().done.clone());
/// assert_eq!(seen, ["get", "put"]);
/// ```
pub fn every_split<P, T, M, O>(input: &[u8], make: M, observe: O) -> T
where
    P: Protocol,
    T: PartialEq + fmt::Debug,
    M: Fn() -> P,
    O: Fn(&mut TestConnection<P>) -> T,
{
    let run = |cuts: &[usize]| {
        let mut connection = TestConnection::new(make());
        let mut start = 0;
        for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
            connection.receive(&input[start..cut]);
            start = cut;
        }
        observe(&mut connection)
    };
    let expected = run(&[]);
    let check = |cuts: &[usize]| {
        let seen = run(cuts);
        assert!(
            seen == expected,
            "input {:?} fed in chunks cut at {cuts:?} observed\n  {seen:?}\nbut fed whole observed\n  {expected:?}",
            String::from_utf8_lossy(input),
        );
    };
    for cut in 1..input.len() {
        check(&[cut]);
    }
    check(&(1..input.len()).collect::<Vec<_>>());
    if input.len() <= EVERY_CHUNKING_UP_TO && input.len() > 1 {
        let gaps = input.len() - 1;
        for mask in 0u32..(1 << gaps) {
            let cuts: Vec<usize> = (0..gaps)
                .filter(|gap| mask & (1 << gap) != 0)
                .map(|gap| gap + 1)
                .collect();
            check(&cuts);
        }
    }
    expected
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, Transport};
    use bytes::Bytes;

    /// Echoes each chunk back with its length: an observable that depends on chunking.
    struct ChunkLengths;

    impl Protocol for ChunkLengths {
        fn data_received(&mut self, transport: &mut Context<'_, Self>, data: Bytes) {
            transport.write(data.len().to_string().as_bytes());
        }
    }

    /// Echoes bytes back: the same whatever the chunking.
    struct Echo;

    impl Protocol for Echo {
        fn data_received(&mut self, transport: &mut Context<'_, Self>, data: Bytes) {
            transport.write(&data);
        }
    }

    #[test]
    fn a_chunking_independent_protocol_passes() {
        let written = every_split(b"abcdefghijklmnop", || Echo, |c| c.take_written());
        assert_eq!(written, &b"abcdefghijklmnop"[..]);
    }

    #[test]
    fn a_chunking_dependent_protocol_is_caught() {
        let outcome =
            std::panic::catch_unwind(|| every_split(b"abc", || ChunkLengths, |c| c.take_written()));
        let message = *outcome.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("cut at [1]"), "{message}");
    }

    #[test]
    fn short_inputs_are_fed_in_every_chunking() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let runs = AtomicUsize::new(0);
        every_split(
            b"abcd",
            || Echo,
            |_| {
                runs.fetch_add(1, Ordering::SeqCst);
            },
        );
        // whole + 3 single cuts + bytewise + 2^3 chunkings
        assert_eq!(runs.load(Ordering::SeqCst), 1 + 3 + 1 + 8);
    }
}
