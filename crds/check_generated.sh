#!/usr/bin/env bash
# check_generated.sh: fail (exit 1, printing the diff) when crds/istio-networking.yaml
# is stale, i.e. differs from what crds/generate.py makes from proto/ now.
#
#   PYTHON=/path/to/venv/bin/python crds/check_generated.sh
#
# $PYTHON (default python3) needs the packages pinned in test/requirements.txt;
# $PROTOC (default protoc) is passed through to generate.py.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-python3}
COMMITTED=$HERE/istio-networking.yaml

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$PYTHON" "$HERE/generate.py" --out "$tmp/istio-networking.yaml"

if [[ ! -f $COMMITTED ]]; then
  echo "check_generated: $COMMITTED is missing; run: $PYTHON crds/generate.py" >&2
  exit 1
fi
if ! diff -u "$COMMITTED" "$tmp/istio-networking.yaml"; then
  echo "check_generated: crds/istio-networking.yaml is stale; run: $PYTHON crds/generate.py" >&2
  exit 1
fi
echo "check_generated: crds/istio-networking.yaml is up to date"
