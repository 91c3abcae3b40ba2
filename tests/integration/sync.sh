# Outputs that survive preemption: synced while the command runs, every
# checkpoint written before a SIGTERM uploaded after it, at most one
# interval lost to a SIGKILL, and a manifest marking a complete output.
. "$(dirname "$0")/../lib.sh"
DS=$FERRY_WORKSPACE/datastores/workspaceblobstore
cat >ckpt.yml <<'YAML'
command: >-
  echo $$ > ../pgid;
  i=0; while :; do i=$((i+1)); echo "step $i" > ${{outputs.ckpt}}/ckpt-$i; sleep 0.2; done
outputs:
  ckpt: {type: uri_folder, sync_interval: 1}
YAML
mkdir -p code && sed 's|^command|code: code\ncommand|' ckpt.yml >job.yml

bg run job.yml --run-id s1 --grace 5
sleep 2.6
n_mid=$(ls "$DS/azureml/s1/ckpt" 2>/dev/null | grep -c '^ckpt-' || true)
[ "$n_mid" -ge 3 ] && _ok "checkpoints reach the datastore while the command runs ($n_mid after 2.6 s)" || _fail "checkpoints reach the datastore while the command runs" "found $n_mid"
signal_bg TERM # the scheduler
expect_rc 143 "SIGTERM ends the run with the command's status"
written=$(ls "$FERRY_WORKSPACE/runs/s1/outputs/ckpt" | grep -c '^ckpt-')
missing=0
for f in "$FERRY_WORKSPACE/runs/s1/outputs/ckpt"/ckpt-*; do
    cmp -s "$f" "$DS/azureml/s1/ckpt/${f##*/}" || missing=$((missing + 1))
done
expect_eq "$missing" "0" "every one of the $written checkpoints written before the signal is in the datastore"
expect_file "$DS/azureml/s1/ckpt/_ferry_manifest.json" "the output's manifest is there, written last"
expect_eq "$(json "$DS/azureml/s1/ckpt/_ferry_manifest.json" 'len(j["files"])')" "$written" "and lists every checkpoint"
expect_err "final upload of outputs took" "ferry reports how long the final upload took"

# preemption without grace: ferry itself gets SIGKILL
bg run job.yml --run-id s2
sleep 3.3
signal_bg KILL
kill -KILL -- "-$(cat pgid)" 2>/dev/null # the command, left behind in its own group
written=$(ls "$FERRY_WORKSPACE/runs/s2/outputs/ckpt" | grep -c '^ckpt-')
synced=$(ls "$DS/azureml/s2/ckpt" 2>/dev/null | grep -c '^ckpt-' || true)
[ "$written" -ge 10 ] && [ "$synced" -ge 1 ] && _ok "the command wrote checkpoints and some were synced before the SIGKILL ($synced of $written)" ||
    _fail "the command wrote checkpoints and some were synced before the SIGKILL" "$synced of $written"
[ $((written - synced)) -le 7 ] && _ok "after SIGKILL at most one interval is lost ($synced of $written checkpoints synced)" || _fail "after SIGKILL at most one interval is lost" "$synced of $written"
expect_no_file "$DS/azureml/s2/ckpt/_ferry_manifest.json" "and the output has no manifest: a reader can tell it is incomplete"

# --sync-every for outputs without their own interval
printf 'command: "for i in 1 2 3 4 5 6 7 8; do echo $i > ${{outputs.o}}/f$i; sleep 0.25; done"\noutputs:\n  o:\n' >every.yml
f -v run every.yml --run-id s3 --sync-every 1
expect_rc 0 "--sync-every"
expect_err "output o: synced" "syncs outputs during the run"
expect_eq "$(ls "$DS/azureml/s3/o" | grep -c '^f')" "8" "and the final upload completes them"
f run every.yml --sync-every 0
expect_rc 121 "--sync-every 0 is refused"

# the final upload after a scheduler's SIGTERM keeps within --upload-budget
f datastore register azure-blob gone --account devstoreaccount1 --container data \
    --account-url http://127.0.0.1:9/devstoreaccount1 --account-key-env NONE_SET --skip-validation
export NONE_SET=$(printf 'not-a-real-key-0123456789' | base64)
cat >budget.yml <<'YAML'
command: "echo x > ${{outputs.o}}/a; echo y > ${{outputs.o}}/b; sleep 30"
outputs:
  o: {path: "azureml://datastores/gone/paths/out/"}
YAML
bg run budget.yml --run-id b1 --grace 1 --upload-budget 1
sleep 1
start=$(date +%s.%N)
signal_bg TERM
took=$(echo "$(date +%s.%N) - $start" | bc -l)
expect_rc 143 "the command's status stands when the upload fails after a SIGTERM"
[ "$(echo "$took < 4" | bc -l)" = 1 ] && _ok "an unreachable store does not hold ferry past its upload budget (${took%.*} s)" || _fail "the upload budget bounds the final upload" "took $took s"
expect_err "of a 1 s budget" "ferry reports the budget"
# ... and a SIGTERM that comes during the final upload (the command had finished) too
printf 'command: echo x > ${{outputs.o}}/a\noutputs:\n  o: {path: "azureml://datastores/gone/paths/out/"}\n' >late.yml
FERRY_RETRIES=20 FERRY_RETRY_DEADLINE=60 bg run late.yml --run-id b2 --upload-budget 1
wait_for "$FERRY_WORKSPACE/runs/b2/outputs/o/a"
sleep 1 # the command is done; the upload is retrying against a closed port
start=$(date +%s.%N)
signal_bg TERM
took=$(echo "$(date +%s.%N) - $start" | bc -l)
expect_rc 123 "a final upload that fails after a late SIGTERM exits 123"
[ "$(echo "$took < 4" | bc -l)" = 1 ] && _ok "a SIGTERM during the final upload starts the budget (${took%.*} s)" || _fail "a SIGTERM during the final upload starts the budget" "took $took s"
expect_err "Terminated during the final upload: it stops within the 1 s budget" "and ferry says so"

# a v1 output with overwrite false (the v1 default): syncs add files, never replace one
mkdir -p "$DS/kept" && printf 'old\n' >"$DS/kept/ckpt-1"
cat >v1keep.yml <<'YAML'
script: keep.sh
arguments: [$AZUREML_DATAREFERENCE_res]
dataReferences:
  res:
    dataStoreName: workspaceblobstore
    pathOnDataStore: kept
    mode: upload
YAML
printf '#!/bin/sh\necho new > "$1/ckpt-1"; echo two > "$1/ckpt-2"; sleep 2.5\n' >keep.sh
chmod +x keep.sh
f -v run v1keep.yml --run-id k1 --sync-every 1
expect_rc 0 "a v1 job with an overwrite-false output, synced while it runs"
expect_err "output res: synced 1 changed file" "the sync sends the new file"
expect_eq "$(cat "$DS/kept/ckpt-1")" "old" "and neither the sync nor the final upload replaces the existing one"
expect_eq "$(cat "$DS/kept/ckpt-2")" "two" "the new file is there"

# an output path used again: the earlier run's manifest never vouches for the new, partial one
printf 'command: echo one > ${{outputs.o}}/first\noutputs:\n  o: {path: "azureml://datastores/workspaceblobstore/paths/fixed/"}\n' >fixed1.yml
f run fixed1.yml --run-id fx1
expect_file "$DS/fixed/_ferry_manifest.json" "a finished run leaves its output's manifest"
printf 'command: "while :; do date > ${{outputs.o}}/now; sleep 0.2; done"\noutputs:\n  o: {path: "azureml://datastores/workspaceblobstore/paths/fixed/", sync_interval: 1}\n' >fixed2.yml
bg run fixed2.yml --run-id fx2
wait_for "$DS/fixed/now"
expect_eq "$?" "0" "a second run to the same path syncs into it"
signal_bg KILL
pkill -KILL -f 'date > .*/runs/fx2/' 2>/dev/null
expect_no_file "$DS/fixed/_ferry_manifest.json" "killed, it leaves no manifest: the first run's is gone, not vouching for it"
