# make demo's script: a fresh workspace, the example job, its output shown.
. "$(dirname "$0")/../lib.sh"
run env DEMO_WORKSPACE="$T/demo-ws" FERRY="$FERRY" "$TOP/examples/hello/demo.sh"
expect_rc 0 "the demo runs"
expect_out "The output landed in datastore workspaceblobstore at azureml/hello-demo/counts/" "and says where the output landed"
expect_out "     10 the" "and shows the job's result"
expect_file "$T/demo-ws/runs/hello-demo/manifest.json" "the demo's run has a manifest"
run env DEMO_WORKSPACE="$T/demo-ws" FERRY="$FERRY" "$TOP/examples/hello/demo.sh"
expect_rc 0 "the demo runs again from scratch"
