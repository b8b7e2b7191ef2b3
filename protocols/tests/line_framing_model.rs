//! LineReceiver against a plain reference model of the framing rules, on random inputs
//! fed in random chunks.

mod common;

use common::model::model;
use common::{run, OnExceeded, Recorder};
use torsade_protocols::LineReceiver;

/// A small deterministic random number generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

#[test]
fn random_streams_in_random_chunks_match_the_model() {
    let delimiters: [&[u8]; 5] = [b"\r\n", b"\n", b"+++", b"a+a", b"\r\n\r\n"];
    let alphabet = b"a+\r\nx";
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..20_000 {
        let delimiter = delimiters[rng.below(delimiters.len())];
        let max = rng.below(7);
        let keep_open = rng.below(2) == 0;
        let length = rng.below(40);
        let input: Vec<u8> = (0..length)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        let mut chunks = Vec::new();
        let mut rest = &input[..];
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at(1 + rng.below(rest.len()));
            chunks.push(chunk);
            rest = tail;
        }
        let on_exceeded = if keep_open {
            OnExceeded::KeepOpen
        } else {
            OnExceeded::Close
        };
        let receiver = LineReceiver::new(Recorder::new(on_exceeded))
            .with_delimiter(delimiter)
            .with_max_length(max);
        let outcome = run(receiver, &chunks, &|p: &LineReceiver<Recorder>| {
            p.handler().events.clone()
        });
        assert_eq!(
            outcome.events,
            model(&input, delimiter, max, keep_open),
            "round {round}: delimiter {delimiter:?}, max {max}, chunks {chunks:?}"
        );
    }
}
