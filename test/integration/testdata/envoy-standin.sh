#!/bin/sh
# Stands in for the Envoy binary under pilot-agent (ProxyConfig binaryPath): no Envoy
# exists in any registry here. It records the command line pilot-agent gave it, one
# argument per line, in ./envoy-args of its working directory (the pod root), and stays
# up, as Envoy would, until the agent stops it (at most 10 minutes). The test plays
# Envoy's xDS and SDS clients itself, on the agent's sockets.
printf '%s\n' "$@" > envoy-args.tmp && mv envoy-args.tmp envoy-args
exec sleep 600
