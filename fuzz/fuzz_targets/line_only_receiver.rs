//! `LineOnlyReceiver` (raw mode refused) on fuzzed streams, chunkings, delimiters, limits
//! and handler behaviour: no panic, the same outcome however the stream is chunked, the
//! framer's buffer bound, and the reference model where it applies. See `src/lib.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| torsade_fuzz::check(data, torsade_fuzz::Kind::LineOnlyReceiver));
