//! `LineReceiver` parsing throughput: lines of 16 B, 64 B and 1 KiB, fed in 4 KiB chunks
//! and one byte at a time, into a handler that only counts them (it writes nothing).
//!
//! The receiver runs on the test driver (`TestConnection`: the connection core over an
//! in-memory stream), the only way to call a protocol outside the crate, so each chunk
//! also pays for a copy into the stream and one delivery through the core. The
//! `test_driver` group feeds the same chunks to a protocol that only counts bytes: that
//! delivery alone, so the parser's own cost is the difference between the two groups.
//! The `line_framer` group runs the parser itself, `torsade::lines::LineFramer`, as the
//! receivers do (lines lent from each chunk), with no connection around it.
//!
//! `cargo bench --bench line_receiver`

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use torsade::lines::{Frame, Lent, LineFramer, DEFAULT_MAX_LENGTH};
use torsade::testing::TestConnection;
use torsade::{Context, Protocol};
use torsade_protocols::{Line, LineContext, LineHandler, LineReceiver, WithRawMode};

/// Counts the bytes of the lines it receives.
struct Count(usize);

impl LineHandler<WithRawMode> for Count {
    fn line_received(&mut self, _: &mut LineContext<'_, WithRawMode>, line: Line<'_>) {
        self.0 += line.len();
    }
}

/// Counts the bytes it receives: a protocol that does no parsing.
struct CountBytes(usize);

impl Protocol for CountBytes {
    fn data_received(&mut self, _: &mut Context<'_, Self>, data: Bytes) {
        self.0 += data.len();
    }
}

/// The streams fed: (line length, chunk size, total bytes).
const INPUTS: [(usize, usize, usize); 6] = [
    (16, 4096, 1 << 20),
    (64, 4096, 1 << 20),
    (1024, 4096, 1 << 20),
    (16, 1, 1 << 14),
    (64, 1, 1 << 14),
    (1024, 1, 1 << 14),
];

fn chunks(line_length: usize, chunk: usize, total: usize) -> Vec<Bytes> {
    let mut line = vec![b'a'; line_length - 2];
    line.extend_from_slice(b"\r\n");
    let stream: Vec<u8> = line.iter().copied().cycle().take(total).collect();
    stream.chunks(chunk).map(Bytes::copy_from_slice).collect()
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("line_receiver");
    for (line_length, chunk, total) in INPUTS {
        let input = chunks(line_length, chunk, total);
        group.throughput(Throughput::Bytes(total as u64));
        let id = BenchmarkId::new(format!("{line_length}B_lines"), format!("{chunk}B_chunks"));
        group.bench_with_input(id, &input, |b, input| {
            b.iter(|| {
                let mut connection = TestConnection::new(LineReceiver::new(Count(0)));
                for chunk in input {
                    connection.receive(chunk);
                }
                let counted = connection.protocol().handler().0;
                counted
            })
        });
    }
    group.finish();
}

fn deliver(c: &mut Criterion) {
    let mut group = c.benchmark_group("test_driver");
    for (line_length, chunk, total) in INPUTS {
        let input = chunks(line_length, chunk, total);
        group.throughput(Throughput::Bytes(total as u64));
        let id = BenchmarkId::new(format!("{line_length}B_lines"), format!("{chunk}B_chunks"));
        group.bench_with_input(id, &input, |b, input| {
            b.iter(|| {
                let mut connection = TestConnection::new(CountBytes(0));
                for chunk in input {
                    connection.receive(chunk);
                }
                let counted = connection.protocol().0;
                counted
            })
        });
    }
    group.finish();
}

fn frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("line_framer");
    for (line_length, chunk, total) in INPUTS {
        let input = chunks(line_length, chunk, total);
        group.throughput(Throughput::Bytes(total as u64));
        let id = BenchmarkId::new(format!("{line_length}B_lines"), format!("{chunk}B_chunks"));
        group.bench_with_input(id, &input, |b, input| {
            b.iter(|| {
                let mut framer = LineFramer::new(b"\r\n", DEFAULT_MAX_LENGTH);
                let mut counted = 0;
                for chunk in input {
                    framer.push(chunk.clone());
                    let mut lent = Lent::new();
                    while let Some(frame) = framer.next_lent(&mut lent) {
                        if let Frame::Line(range) = frame {
                            counted += range.len();
                        }
                    }
                }
                counted
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parse, deliver, frame);
criterion_main!(benches);
