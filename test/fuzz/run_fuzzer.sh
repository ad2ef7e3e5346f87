#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time over a COPY of its seed corpus
# (the source tree is never written), with its dictionary if there is one.
#   run_fuzzer.sh FUZZER_BINARY CORPUS_DIR SECONDS [extra libFuzzer flags...]
# Exit 0: no crash, leak, timeout or out-of-memory in that time. Otherwise the
# inputs that failed are copied to $KEEL_FUZZ_ARTIFACTS (default: ./fuzz-artifacts)
# and the script fails. $KEEL_FUZZ_WORK keeps the grown corpus (default: a
# temporary directory, removed at exit).
set -uo pipefail

if [ $# -lt 3 ]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
fuzzer=$1 corpus=$2 seconds=$3
shift 3
name=$(basename "$corpus")
dict="$(cd "$(dirname "$0")" && pwd)/dict/$name.dict"
artifacts=${KEEL_FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}

if [ -n "${KEEL_FUZZ_WORK:-}" ]; then
  work=$KEEL_FUZZ_WORK
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/corpus" "$work/artifacts"
cp -R "$corpus/." "$work/corpus/"

flags=(-max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1
       -artifact_prefix="$work/artifacts/")
[ -f "$dict" ] && flags+=(-dict="$dict")
echo "run_fuzzer: $fuzzer ${flags[*]} $* $work/corpus ($(ls "$work/corpus" | wc -l) seeds)"
# -fno-sanitize-recover makes UBSan fatal; print its stack too.
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} "$fuzzer" "${flags[@]}" "$@" "$work/corpus"
rc=$?
if [ "$rc" -ne 0 ]; then
  mkdir -p "$artifacts"
  cp "$work/artifacts/"* "$artifacts/" 2>/dev/null
  echo "run_fuzzer: $name failed (exit $rc); failing inputs in $artifacts:" >&2
  ls -l "$artifacts" >&2
  exit 1
fi
echo "run_fuzzer: $name: no crash in ${seconds}s ($(ls "$work/corpus" | wc -l) inputs in the corpus now)"
