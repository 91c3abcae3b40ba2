#!/bin/sh
# `make demo`: a fresh workspace, the sample data uploaded to its default
# datastore, the example job run, and where its output landed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
ferry="${FERRY:-$top/ferry}"
ws="${DEMO_WORKSPACE:-$top/build/demo-workspace}"
rm -rf "$ws"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say "ferry --workspace $ws init"
"$ferry" --workspace "$ws" init "$ws"
say "ferry upload workspaceblobstore examples/hello/data --target-path examples/hello/data"
"$ferry" --workspace "$ws" upload workspaceblobstore "$here/data" --target-path examples/hello/data
say "ferry run examples/hello/job.yml --run-id hello-demo"
"$ferry" --workspace "$ws" run "$here/job.yml" --run-id hello-demo
say "ferry ls workspaceblobstore azureml/hello-demo/"
"$ferry" --workspace "$ws" ls workspaceblobstore azureml/hello-demo/
out="$ws/datastores/workspaceblobstore/azureml/hello-demo/counts"
say "cat $out/top-words.txt"
cat "$out/top-words.txt"
printf '\nThe output landed in datastore workspaceblobstore at azureml/hello-demo/counts/\n'
printf '(on disk: %s)\nThe run record: %s/runs/hello-demo/manifest.json\n' "$out" "$ws"
