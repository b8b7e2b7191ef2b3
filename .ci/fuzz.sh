#!/usr/bin/env bash
# A short fuzz run of every target in fuzz/ (cargo-fuzz, libFuzzer), installing a nightly
# toolchain and cargo-fuzz when missing; where they cannot be had, one line saying it was
# skipped, exit 0: the proptest properties (protocols/tests/framing_properties.rs,
# tests/line_framer_properties.rs and tests/frame_decoder_properties.rs, run by
# `cargo test`) check the same invariants.
#
# FUZZ_SECONDS sets each target's run time (default 30). A crash fails the script; the
# input that caused it is written under fuzz/artifacts/TARGET/, and
# `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-...` (from fuzz/) replays it.
# New inputs found accumulate in fuzz/corpus/ (git-ignored) and seed later local runs.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

# The fuzzing toolchain is installed when the machine can: rustup's nightly (minimal
# profile) and cargo-fuzz from crates.io (under a minute each). Where neither can be had
# (no rustup, no network), the run is skipped with one line rather than failed.
if ! cargo +nightly --version >/dev/null 2>&1 && command -v rustup >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || true
fi
if cargo +nightly --version >/dev/null 2>&1 && ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --quiet >/dev/null 2>&1 || true
fi
if ! cargo +nightly --version >/dev/null 2>&1 || ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: skipped (no nightly toolchain or cargo-fuzz could be installed); the proptest properties carry the framing checks"
    exit 0
fi

seconds="${FUZZ_SECONDS:-30}"
targets=$(cargo +nightly fuzz list)
cargo +nightly fuzz build
for target in $targets; do
    echo "fuzz: $target for ${seconds}s"
    # -timeout: an input that takes 10 s is a hang, not a slow case. The per-input
    # progress lines (thousands) are left out of the log; the final stats stay.
    set +e
    cargo +nightly fuzz run "$target" -- \
        -max_total_time="$seconds" -timeout=10 -dict=line.dict -print_final_stats=1 2>&1 |
        grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)'
    status=${PIPESTATUS[0]}
    set -e
    if [ "$status" -ne 0 ]; then
        echo "fuzz: $target FAILED (exit $status); see the crash input under fuzz/artifacts/$target/"
        exit "$status"
    fi
done
echo "fuzz: every target ran ${seconds}s without a failure"
