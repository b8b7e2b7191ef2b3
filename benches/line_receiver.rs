//! `LineReceiver` parsing throughput: lines of 16 B, 64 B and 1 KiB, fed in 4 KiB chunks
//! and one byte at a time, into a handler that only counts them (no transport work).
//!
//! `cargo bench --bench line_receiver`

use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use torsade::{Address, Protocol, Transport, TransportRef};
use torsade_protocols::{Line, LineContext, LineHandler, LineReceiver};

/// A transport that does nothing: the parser alone is measured.
#[derive(Debug)]
struct Null;

impl Transport for Null {
    fn write(&self, _: &[u8]) {}
    fn lose_connection(&self) {}
    fn abort_connection(&self) {}
    fn is_closing(&self) -> bool {
        false
    }
    fn peer_addr(&self) -> Address {
        Address::Tcp(([127, 0, 0, 1], 1).into())
    }
    fn host_addr(&self) -> Address {
        Address::Tcp(([127, 0, 0, 1], 2).into())
    }
    fn pause_reading(&self) {}
    fn resume_reading(&self) {}
    fn is_reading(&self) -> bool {
        true
    }
    fn write_buffer_size(&self) -> usize {
        0
    }
}

/// Counts the bytes of the lines it receives.
struct Count(usize);

impl LineHandler for Count {
    fn line_received(&mut self, _: &mut LineContext<'_>, line: Line<'_>) {
        self.0 += line.len();
    }
}

fn chunks(line_length: usize, chunk: usize, total: usize) -> Vec<Bytes> {
    let mut line = vec![b'a'; line_length - 2];
    line.extend_from_slice(b"\r\n");
    let stream: Vec<u8> = line.iter().copied().cycle().take(total).collect();
    stream.chunks(chunk).map(Bytes::copy_from_slice).collect()
}

fn parse(c: &mut Criterion) {
    let transport: TransportRef = Arc::new(Null);
    let mut group = c.benchmark_group("line_receiver");
    for (line_length, chunk, total) in [
        (16, 4096, 1 << 20),
        (64, 4096, 1 << 20),
        (1024, 4096, 1 << 20),
        (16, 1, 1 << 14),
        (64, 1, 1 << 14),
        (1024, 1, 1 << 14),
    ] {
        let input = chunks(line_length, chunk, total);
        group.throughput(Throughput::Bytes(total as u64));
        let id = BenchmarkId::new(format!("{line_length}B_lines"), format!("{chunk}B_chunks"));
        group.bench_with_input(id, &input, |b, input| {
            b.iter(|| {
                let mut receiver = LineReceiver::new(Count(0));
                receiver.connection_made(&transport);
                for chunk in input {
                    receiver.data_received(&transport, chunk.clone());
                }
                receiver.handler().0
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
