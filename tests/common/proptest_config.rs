//! The property tests' configuration: a number of cases unless `PROPTEST_CASES` says
//! otherwise, and failures persisted to a file under `proptest-regressions/` (commit it and
//! the case is replayed first on every later run). Included with `#[path]` by each
//! property test, which then needs only proptest.

use proptest::prelude::ProptestConfig;
use proptest::test_runner::FileFailurePersistence;

/// `cases` cases, failures persisted to `path`
/// (`concat!(env!("CARGO_MANIFEST_DIR"), "/proptest-regressions/NAME.txt")`).
pub fn config(cases: u32, path: &'static str) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config.failure_persistence = Some(Box::new(FileFailurePersistence::Direct(path)));
    config
}
