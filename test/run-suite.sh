#!/usr/bin/env bash
# The whole suite (`npm test`, after setup and the type check): two chains side by side, one per
# layout, as they share no service:
# - single-node: the unit and integration files two at a time, then the exclusive ones (they take
#   services down, pause their writes or rewrite every live counter) one at a time, on services of
#   their own (test/global-setup-exclusive.ts);
# - cluster: the cluster files, then the cluster-exclusive ones, one at a time.
# The exclusive files do not run as a third chain: on 2 cores the suite is CPU-bound, and the
# extra load made CPU-heavy unit files outlast their timeouts and vitest's 60 s RPC deadline.
# Every part runs even when another failed; the exit code is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
vitest=node_modules/.bin/vitest

single_node() {
  $vitest run --maxWorkers 2 --project unit --project integration
  local shared=$?
  $vitest run --no-file-parallelism --project exclusive
  local exclusive=$?
  echo "single-node chain: unit and integration exit $shared, exclusive exit $exclusive"
  [ "$shared" = 0 ] && [ "$exclusive" = 0 ]
}

single_node 2>&1 | sed -u 's/^/[single] /' &
single=$!
$vitest run --no-file-parallelism --project cluster --project cluster-exclusive 2>&1 | sed -u 's/^/[cluster] /'
clustered=$?
wait $single
single=$?
echo "suite: single-node chain exit $single, cluster chain exit $clustered"
[ "$single" = 0 ] && [ "$clustered" = 0 ]
