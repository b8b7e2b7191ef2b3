//! The frame decoder and the string receivers (netstrings, Int8/16/32, general length
//! fields) on fuzzed streams, chunkings and limits: no panic, the same outcome however the
//! stream is chunked, the decoder's buffer bound. See `src/frames.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| torsade_fuzz::frames::check(data));
