#!/usr/bin/env bash
# The whole suite (`npm test`, after setup and the type check): three chains side by side, as they
# share no service that one of them takes down:
# - single-node: the unit and integration files two at a time, on the tests' services;
# - exclusive: the files that take services down, pause their writes or rewrite every live
#   counter, one at a time, on services of their own (test/global-setup-exclusive.ts);
# - cluster: the cluster files, then the cluster-exclusive ones, one at a time.
# Every chain runs even when another failed; the exit code is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
vitest=node_modules/.bin/vitest

$vitest run --maxWorkers 2 --project unit --project integration 2>&1 | sed -u 's/^/[single] /' &
single=$!
$vitest run --no-file-parallelism --project exclusive 2>&1 | sed -u 's/^/[exclusive] /' &
exclusive=$!
$vitest run --no-file-parallelism --project cluster --project cluster-exclusive 2>&1 | sed -u 's/^/[cluster] /'
clustered=$?
wait $single
single=$?
wait $exclusive
exclusive=$?
echo "suite: single-node chain exit $single, exclusive chain exit $exclusive, cluster chain exit $clustered"
[ "$single" = 0 ] && [ "$exclusive" = 0 ] && [ "$clustered" = 0 ]
