#!/usr/bin/env bash
# The whole suite (`npm test`, after setup and the type check), in chains side by side that share
# no service one of them takes down:
# - cluster: the cluster files, then the cluster-exclusive ones, one at a time;
# - beside it, the unit files two at a time; then, side by side,
#   - single-node: the integration files two at a time, on the tests' services;
#   - exclusive: the files that take services down, pause their writes or rewrite every live
#     counter, one at a time, on services of their own (test/global-setup-exclusive.ts).
# The unit files run before the last two start: some compute for tens of seconds without yielding,
# and under three chains' load a worker blocked that long misses vitest's 60 s RPC deadline.
# Every part runs even when another failed; the exit code is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
vitest=node_modules/.bin/vitest

$vitest run --no-file-parallelism --project cluster --project cluster-exclusive 2>&1 | sed -u 's/^/[cluster] /' &
clustered=$!
$vitest run --maxWorkers 2 --project unit 2>&1 | sed -u 's/^/[unit] /'
unit=$?
$vitest run --maxWorkers 2 --project integration 2>&1 | sed -u 's/^/[single] /' &
single=$!
$vitest run --no-file-parallelism --project exclusive 2>&1 | sed -u 's/^/[exclusive] /'
exclusive=$?
wait $single
single=$?
wait $clustered
clustered=$?
echo "suite: unit exit $unit, single-node chain exit $single, exclusive chain exit $exclusive, cluster chain exit $clustered"
[ "$unit" = 0 ] && [ "$single" = 0 ] && [ "$exclusive" = 0 ] && [ "$clustered" = 0 ]
