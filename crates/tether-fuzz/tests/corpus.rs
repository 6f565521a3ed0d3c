//! Replays every file of every fuzz corpus (`fuzz/corpus/TARGET/`) and every recorded
//! finding (`fuzz/regressions/TARGET/`) through its harness on stable Rust: a regression
//! test for the fuzzers' work. A panic names the file.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_file_and_finding_is_decoded_without_a_panic() {
    let mut total = 0;
    for (name, harness) in tether_fuzz::TARGETS {
        let corpus = files(&root().join("corpus").join(name));
        assert!(
            !corpus.is_empty(),
            "no seed corpus for {name} (scripts/fuzz.sh seed makes one)"
        );
        let findings = files(&root().join("regressions").join(name));
        for file in corpus.iter().chain(&findings) {
            let data = std::fs::read(file).unwrap();
            let outcome = std::panic::catch_unwind(|| harness(&data));
            assert!(outcome.is_ok(), "{name}: {} panics", file.display());
            total += 1;
        }
    }
    eprintln!("{total} corpus files replayed");
}

#[test]
fn every_harness_has_a_fuzz_target() {
    for (name, _) in tether_fuzz::TARGETS {
        let target = root().join("fuzz_targets").join(format!("{name}.rs"));
        assert!(target.is_file(), "missing {}", target.display());
    }
}
