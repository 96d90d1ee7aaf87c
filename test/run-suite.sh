#!/usr/bin/env bash
# The whole suite (`npm test`, after setup and the type check), in two steps:
# 1. unit, integration and cluster files, two at a time;
# 2. the files that take services or nodes down, pause their writes or rewrite every live counter,
#    one at a time within each layout — the single-node ones (exclusive) beside the cluster ones
#    (cluster-exclusive), which have services of their own, ClickHouse included.
# Step 2 runs even when step 1 failed; the exit code is non-zero if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
vitest=node_modules/.bin/vitest

$vitest run --maxWorkers 2 --project unit --project integration --project cluster
first=$?
$vitest run --no-file-parallelism --project exclusive 2>&1 | sed -u 's/^/[exclusive] /' &
single=$!
$vitest run --no-file-parallelism --project cluster-exclusive 2>&1 | sed -u 's/^/[cluster-exclusive] /'
clustered=$?
wait $single
single=$?
echo "suite: first step exit $first, exclusive exit $single, cluster-exclusive exit $clustered"
[ "$first" = 0 ] && [ "$single" = 0 ] && [ "$clustered" = 0 ]
