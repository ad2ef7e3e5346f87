#!/usr/bin/env bash
# dockerfile_runtime_test.sh: checks that the Dockerfile cannot drift from the binary.
# There is no Docker engine here, so the test reads the Dockerfile:
#   - The runtime stage's `apt-get install` line lists exactly the Debian packages
#     that own the shared libraries keel-discovery loads (`ldd`, mapped with `dpkg -S`).
#     A missing package is an image that cannot start. An extra package is dead weight.
#   - The build stage installs every build library that scripts/dev.sh installs
#     (DEB_PACKAGES, without the test-only ones).
#   - The stages are debian:12 and debian:12-slim. The runtime stage runs as USER 1337
#     and its ENTRYPOINT is keel-discovery.
# The mapping uses this machine's dpkg. It is valid only on the Debian release that
# the image uses (12), because library package names change between releases.
#
#   test/e2e/dockerfile_runtime_test.sh [KEEL_DISCOVERY_BIN]
#     default: $KEEL_DISCOVERY_BIN, then build/pilot/keel-discovery
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${1:-${KEEL_DISCOVERY_BIN:-$ROOT/build/pilot/keel-discovery}}
DOCKERFILE=${KEEL_DOCKERFILE:-$ROOT/Dockerfile}
DEV_SH=$ROOT/scripts/dev.sh
# scripts/dev.sh packages that only the tests need (libclang-rt-14-dev: the fuzzers, test/fuzz).
TEST_ONLY_PACKAGES="libgtest-dev libgmock-dev libbenchmark-dev libclang-rt-14-dev"

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

[[ -x $BIN ]] || { echo "FAIL: $BIN is not an executable (build keel-discovery first)" >&2; exit 1; }
[[ -f $DOCKERFILE ]] || { echo "FAIL: $DOCKERFILE is missing" >&2; exit 1; }
if [[ $(cut -d. -f1 /etc/debian_version 2>/dev/null) != 12 ]]; then
  echo "FAIL: this check maps libraries to Debian 12 packages and needs a Debian 12 host" >&2
  exit 1
fi

# The Dockerfile as one instruction per line, numbered by stage:
# "STAGE<TAB>INSTRUCTION". Comment lines are dropped and continuations are joined.
instructions() {
  sed -e '/^[[:space:]]*#/d' "$DOCKERFILE" |
    awk '{ if (sub(/\\[[:space:]]*$/, "")) { buf = buf $0 " "; next } line = buf $0; buf = "" }
         line ~ /^[[:space:]]*$/ { next }
         toupper(line) ~ /^[[:space:]]*FROM[[:space:]]/ { stage++ }
         { print stage "\t" line }'
}
stage_count=$(instructions | awk -F'\t' 'END { print $1 }')
stage() { instructions | awk -F'\t' -v s="$1" '$1 == s { print $2 }'; }

# Package names after `apt-get install` in the given instructions; options, env
# assignments and version pins are dropped.
apt_packages() {
  grep -o 'apt-get install[^&;|]*' | sed 's/^apt-get install//' | tr -s ' \t' '\n\n' |
    grep -v -e '^-' -e '^$' | sed 's/=.*//' | sort -u
}

# --- stages
[[ $stage_count == 2 ]] || fail "expected two stages (build, runtime), found ${stage_count:-0}"
build_from=$(stage 1 | grep -i '^[[:space:]]*FROM' || true)
runtime_from=$(stage "$stage_count" | grep -i '^[[:space:]]*FROM' || true)
[[ $build_from =~ ^FROM[[:space:]]+debian:12[[:space:]] ]] && ok "build stage: $build_from" ||
  fail "the build stage must be FROM debian:12 (got: $build_from)"
[[ $runtime_from =~ ^FROM[[:space:]]+debian:12-slim([[:space:]]|$) ]] && ok "runtime stage: $runtime_from" ||
  fail "the runtime stage must be FROM debian:12-slim (got: $runtime_from)"

# --- runtime: the packages that own the libraries keel-discovery loads
if ldd "$BIN" | grep -q 'not found'; then
  fail "ldd $BIN: $(ldd "$BIN" | grep 'not found' | tr -s ' \t' ' ')"
fi
mapfile -t libs < <(ldd "$BIN" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
# One dpkg -S for every candidate name of every library (the path ldd shows, its
# target, and the /usr path: Debian 12 is usr-merged and packages own either).
declare -A owner=()
candidates() { realpath "$1"; echo "$1"; echo "/usr$1"; }
while IFS= read -r line; do
  [[ $line == diversion* ]] && continue
  owner["${line#*: }"]=${line%%:*}
done < <(for so in "${libs[@]}"; do candidates "$so"; done | sort -u | xargs dpkg -S 2>/dev/null || true)
needed=()
for so in "${libs[@]}"; do
  pkg=""
  while read -r c; do
    pkg=${owner[$c]:-}
    [[ -n $pkg ]] && break
  done < <(candidates "$so")
  if [[ -z $pkg ]]; then
    fail "no Debian package owns $so (dpkg -S)"
  else
    needed+=("$pkg")
  fi
done
mapfile -t needed < <(printf '%s\n' "${needed[@]}" | sort -u)
mapfile -t listed < <(stage "$stage_count" | apt_packages)
[[ ${#needed[@]} -gt 5 ]] || fail "ldd found only ${#needed[@]} packages for $BIN: is it linked dynamically?"
[[ ${#listed[@]} -gt 0 ]] || fail "no 'apt-get install' line in the runtime stage of $DOCKERFILE"

missing=$(comm -23 <(printf '%s\n' "${needed[@]}") <(printf '%s\n' "${listed[@]}"))
extra=$(comm -13 <(printf '%s\n' "${needed[@]}") <(printf '%s\n' "${listed[@]}"))
[[ -z $missing ]] || fail "keel-discovery needs these packages, missing from the runtime apt-get install line: $(echo $missing)"
[[ -z $extra ]] || fail "the runtime apt-get install line has packages keel-discovery does not load: $(echo $extra)"
[[ -n $missing || -n $extra ]] || ok "runtime installs exactly the ${#needed[@]} packages ldd needs: ${needed[*]}"

# --- build: scripts/dev.sh's build libraries
mapfile -t dev_packages < <(sed -n '/^DEB_PACKAGES=(/,/^)/p' "$DEV_SH" | sed '1d;$d' | tr -s ' \t' '\n\n' | grep -v '^$')
[[ ${#dev_packages[@]} -gt 0 ]] || fail "no DEB_PACKAGES=( ... ) in $DEV_SH"
build_listed=$(stage 1 | apt_packages)
build_missing=()
for p in "${dev_packages[@]}"; do
  [[ $p == *-dev || $p == protobuf-compiler* ]] || continue
  [[ " $TEST_ONLY_PACKAGES " == *" $p "* ]] && continue
  grep -qx -- "$p" <<<"$build_listed" || build_missing+=("$p")
done
[[ ${#build_missing[@]} -eq 0 ]] && ok "build stage installs scripts/dev.sh's build libraries and compilers" ||
  fail "scripts/dev.sh installs these, the Dockerfile's build stage does not: ${build_missing[*]}"

# --- runtime user and entrypoint
user=$(stage "$stage_count" | grep -i '^[[:space:]]*USER' | tail -1 || true)
[[ $user =~ ^USER[[:space:]]+1337(:1337)?[[:space:]]*$ ]] && ok "runtime $user" ||
  fail "the runtime stage must run as USER 1337 (got: ${user:-none})"
entrypoint=$(stage "$stage_count" | grep -i '^[[:space:]]*ENTRYPOINT' | tail -1 || true)
[[ $entrypoint == *keel-discovery* ]] && ok "runtime $entrypoint" ||
  fail "the runtime ENTRYPOINT must be keel-discovery (got: ${entrypoint:-none})"
stage "$stage_count" | grep -q -- '--from=build .*keel-discovery' && ok "keel-discovery is copied from the build stage" ||
  fail "the runtime stage must COPY --from=build the keel-discovery binary"

if [[ $failures -gt 0 ]]; then
  echo "dockerfile_runtime_test: $failures failure(s)" >&2
  exit 1
fi
echo "dockerfile_runtime_test: passed"
