#!/usr/bin/env bash
# Fuzzing every decoder that takes bytes from the network (harnesses: crates/tether-fuzz).
#   scripts/fuzz.sh seed              write the seed corpora from the golden files
#   scripts/fuzz.sh run [SECS] [T..]  run each target (or the named ones) for SECS seconds
#                                     (default 60) with libFuzzer; needs the nightly
#                                     toolchain and `cargo install cargo-fuzz`. New inputs
#                                     that add coverage land in fuzz/corpus/TARGET; a crash
#                                     lands in fuzz/artifacts/TARGET: copy it into
#                                     fuzz/regressions/TARGET and fix it (the corpus test
#                                     replays both folders on stable).
#   scripts/fuzz.sh cmin [T..]        shrink each corpus to the inputs that keep its
#                                     coverage (keeps the repository lean)
#   scripts/fuzz.sh regress           replay every corpus file and finding on stable
set -euo pipefail
cd "$(dirname "$0")/.."
targets() { ls fuzz/fuzz_targets | sed 's/\.rs$//'; }
case "${1:-regress}" in
  seed) python3 scripts/fuzz-seeds.py ;;
  run)
    secs=${2:-60}; shift $(( $# >= 2 ? 2 : $# ))
    list=${*:-$(targets)}
    for t in $list; do
      echo "== fuzz $t for ${secs}s =="
      (cd fuzz && cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" \
         -max_len=65536 -print_final_stats=1 2>&1 | grep -E 'stat::number_of_executed_units|stat::new_units_added|Done|SUMMARY|panicked|ERROR' || true)
    done ;;
  cmin)
    shift; list=${*:-$(targets)}
    for t in $list; do
      (cd fuzz && cargo +nightly fuzz cmin "$t" "corpus/$t" 2>&1 | grep -E 'MERGE-OUTER: [0-9]+ new files|ERROR' || true)
      echo "$t: $(ls "fuzz/corpus/$t" | wc -l) files"
    done ;;
  regress) cargo test -p tether-fuzz --locked ;;
  *) echo "usage: $0 seed|run [SECS] [TARGET..]|cmin [TARGET..]|regress" >&2; exit 2 ;;
esac
