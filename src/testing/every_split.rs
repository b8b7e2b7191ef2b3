//! The same input, every way it can arrive: [`every_split`] for a protocol, and
//! `every_split_decoder` (feature `codec`) for a tokio-util decoder.
//!
//! TCP delivers bytes in whatever chunks it likes, so a protocol must give the same result
//! however its input is split. Twisted's own `LineReceiver` tests feed a buffer at every
//! packet size; `every_split` makes that a one-liner, and `every_split_decoder` does it
//! for any codec.

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
    same_in_every_chunking(input, |pieces| {
        let mut connection = TestConnection::new(make());
        for piece in pieces {
            connection.receive(piece);
        }
        observe(&mut connection)
    })
}

/// Feeds `input` to a fresh decoder from `make_decoder` in every way it can be split (the
/// runs of [`every_split`]), as `FramedRead` would: after each piece the decoder is asked
/// for frames until it needs more, and at the end [`decode_eof`] until it has none. Checks
/// that every run decodes the same, and returns the frames; an error is kept by its
/// `Display` text and ends the run (the decoder is not called after an error).
///
/// A one-line check of a codec's split safety — yours, or a third party's.
///
/// # Panics
///
/// If two runs decode differently: the message names the chunking that differed. (A
/// test helper: panicking is how it fails the test.)
///
/// # Examples
///
/// ```
/// use tokio_util::codec::LinesCodec;
/// use torsade::testing::every_split_decoder;
///
/// let frames = every_split_decoder(b"one\r\ntwo\nthree", || LinesCodec::new_with_max_length(5));
/// assert_eq!(frames, [Ok("one".to_string()), Ok("two".to_string()), Ok("three".to_string())]);
///
/// let frames = every_split_decoder(b"ok\ntoo long\nok\n", || LinesCodec::new_with_max_length(5));
/// assert_eq!(frames, [Ok("ok".to_string()), Err("max line length exceeded".to_string())]);
/// ```
///
/// [`decode_eof`]: tokio_util::codec::Decoder::decode_eof
#[cfg(feature = "codec")]
#[cfg_attr(docsrs, doc(cfg(feature = "codec")))]
pub fn every_split_decoder<D, M>(input: &[u8], make_decoder: M) -> Vec<Result<D::Item, String>>
where
    D: tokio_util::codec::Decoder,
    D::Item: PartialEq + fmt::Debug,
    D::Error: fmt::Display,
    M: Fn() -> D,
{
    same_in_every_chunking(input, |pieces| {
        let mut decoder = make_decoder();
        let mut buffer = bytes::BytesMut::new();
        let mut frames = Vec::new();
        for (index, piece) in pieces.iter().enumerate() {
            buffer.extend_from_slice(piece);
            let at_eof = index + 1 == pieces.len();
            if !decode_all(&mut decoder, &mut buffer, false, &mut frames)
                || (at_eof && !decode_all(&mut decoder, &mut buffer, true, &mut frames))
            {
                break;
            }
        }
        frames
    })
}

/// Asks `decoder` for frames (with `decode_eof` at the end of the stream) until it has
/// none; `false` if it failed (its error is the last entry).
#[cfg(feature = "codec")]
fn decode_all<D>(
    decoder: &mut D,
    buffer: &mut bytes::BytesMut,
    eof: bool,
    frames: &mut Vec<Result<D::Item, String>>,
) -> bool
where
    D: tokio_util::codec::Decoder,
    D::Error: fmt::Display,
{
    loop {
        let decoded = if eof {
            decoder.decode_eof(buffer)
        } else {
            decoder.decode(buffer)
        };
        match decoded {
            Ok(Some(frame)) => frames.push(Ok(frame)),
            Ok(None) => return true,
            Err(error) => {
                frames.push(Err(error.to_string()));
                return false;
            }
        }
    }
}

/// Runs `run` on `input` cut into pieces every way [`every_split`] documents, and checks
/// that all runs give what the whole input gives; returns that.
fn same_in_every_chunking<T, R>(input: &[u8], run: R) -> T
where
    T: PartialEq + fmt::Debug,
    R: Fn(&[&[u8]]) -> T,
{
    let run_cut = |cuts: &[usize]| run(&pieces(input, cuts));
    let expected = run_cut(&[]);
    let check = |cuts: &[usize]| {
        let seen = run_cut(cuts);
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

/// `input` cut at `cuts` (ascending): one piece more than cuts; an empty input is one
/// empty piece.
fn pieces<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut start = 0;
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    for &end in cuts.iter().chain(std::iter::once(&input.len())) {
        pieces.push(&input[start..end]);
        start = end;
    }
    pieces
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

    #[cfg(feature = "codec")]
    mod decoders {
        use super::super::every_split_decoder;
        use bytes::BytesMut;
        use tokio_util::codec::{Decoder, LengthDelimitedCodec, LinesCodec};

        /// Hands over whatever has arrived as one frame: a decoder whose frames depend
        /// on the chunking.
        struct WhateverArrived;

        impl Decoder for WhateverArrived {
            type Item = Vec<u8>;
            type Error = std::io::Error;

            fn decode(&mut self, src: &mut BytesMut) -> std::io::Result<Option<Vec<u8>>> {
                Ok((!src.is_empty()).then(|| src.split().to_vec()))
            }
        }

        #[test]
        fn a_split_unsafe_decoder_is_caught() {
            let outcome =
                std::panic::catch_unwind(|| every_split_decoder(b"abc", || WhateverArrived));
            let message = *outcome.unwrap_err().downcast::<String>().unwrap();
            assert!(message.contains("cut at [1]"), "{message}");
        }

        #[test]
        fn a_split_safe_codec_passes_with_its_frames_its_error_and_its_end_of_stream() {
            let lines = every_split_decoder(b"ab\r\n\ncd", || LinesCodec::new_with_max_length(4));
            assert_eq!(lines, [Ok("ab".into()), Ok(String::new()), Ok("cd".into())]);
            let frames = every_split_decoder(b"\0\0\0\x01x\0\0\0\x09y", LengthDelimitedCodec::new);
            assert_eq!(frames.len(), 2);
            assert_eq!(frames[0].as_deref(), Ok(&b"x"[..]));
            assert_eq!(frames[1], Err("bytes remaining on stream".into()));
        }

        /// Counts its calls; fails on `!` without consuming it.
        struct FailsOnBang<'a>(&'a std::sync::atomic::AtomicUsize);

        impl Decoder for FailsOnBang<'_> {
            type Item = u8;
            type Error = std::io::Error;

            fn decode(&mut self, src: &mut BytesMut) -> std::io::Result<Option<u8>> {
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                match src.first() {
                    Some(b'!') => Err(std::io::Error::other("a bang")),
                    Some(&byte) => {
                        let _ = src.split_to(1);
                        Ok(Some(byte))
                    }
                    None => Ok(None),
                }
            }
        }

        #[test]
        fn an_error_ends_the_run_and_the_decoder_is_not_called_again() {
            let calls = std::sync::atomic::AtomicUsize::new(0);
            let frames = every_split_decoder(b"a!", || FailsOnBang(&calls));
            assert_eq!(frames, [Ok(b'a'), Err("a bang".into())]);
            // Whole: a, then the failing call. Split after a: a, empty, the failing call.
            // Every run ends at the error: 2 + 3 + 3 (bytewise) + 3 + 2 (every chunking).
            assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 13);
        }
    }
}
