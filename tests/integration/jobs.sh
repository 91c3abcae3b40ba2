# Running jobs end to end: both formats, substitution, staging, exit codes,
# signals, timeouts, outputs on failure, the manifest.
. "$(dirname "$0")/../lib.sh"
DS=$FERRY_WORKSPACE/datastores/workspaceblobstore
EX=$TOP/examples/hello

f upload workspaceblobstore "$EX/data" --target-path examples/hello/data
expect_rc 0 "sample data uploaded"

# --- the v2 example ---
f run "$EX/job.yml" --run-id v2run
expect_rc 0 "the v2 example runs"
expect_file "$DS/azureml/v2run/counts/top-words.txt" "its output lands at azureml/<run id>/<output>/"
expect_eq "$(head -1 "$DS/azureml/v2run/counts/top-words.txt" | tr -s ' ')" " 10 the" "and holds what the command computed"
expect_eq "$(cat "$DS/azureml/v2run/counts/summary.txt")" "files=3 top=5 run=v2run" "literal inputs and FERRY_RUN_ID reach the command"
M=$FERRY_WORKSPACE/runs/v2run/manifest.json
expect_file "$M" "manifest.json is written"
expect_eq "$(json "$M" 'j["status"], j["exit_code"], j["command_result"]["status"]')" "('completed', 0, 0)" "the manifest records the status"
expect_eq "$(json "$M" '[i["file_count"] for i in j["inputs"] if i["type"] != "literal"]')" "[3]" "the manifest counts the input files"
sha=$(sha256sum "$EX/data/books/tale.txt" | cut -d' ' -f1)
expect_eq "$(json "$M" '[f["sha256"] for f in j["inputs"][0]["files"] if f["path"] == "books/tale.txt"][0]')" "$sha" "the manifest holds each file's SHA-256"
expect_eq "$(json "$M" 'j["outputs"][0]["datastore"], j["outputs"][0]["path_on_datastore"]')" "('workspaceblobstore', 'azureml/v2run/counts')" "the manifest says where outputs went"
expect_file "$FERRY_WORKSPACE/runs/v2run/ferry.log" "ferry.log is written"
grep -q "input corpus: downloaded 3 files" "$FERRY_WORKSPACE/runs/v2run/ferry.log" && _ok "ferry.log records staging" || _fail "ferry.log records staging"

# --- the v1 runconfig ---
f run "$EX/runconfig.yml" --run-id v1run
expect_rc 0 "the v1 runconfig runs"
expect_file "$DS/examples/hello/v1-output/top-words.txt" "its upload reference lands at pathOnDataStore"
M1=$FERRY_WORKSPACE/runs/v1run/manifest.json
expect_eq "$(json "$M1" 'j["format"]')" "azureml-v1-runconfig" "the manifest names the format"
expect_eq "$(json "$M1" 'j["argv"][0]')" "src/count.sh" "the script runs directly (argv, no shell)"
expect_eq "$(json "$M1" 'j["argv"][1]')" "$FERRY_WORKSPACE/runs/v1run/inputs/corpus" "\$AZUREML_DATAREFERENCE_corpus became the local path"

# --- validate / plan / dry run ---
f validate "$EX/job.yml" "$EX/runconfig.yml"
expect_rc 0 "validate accepts both examples"
expect_out "valid azureml-v2-command-job (2 inputs, 1 output)" "and says what it found"
f plan "$EX/job.yml" --run-id p1
expect_rc 0 "plan"
expect_out "ignored (for the Azure ML service): \$schema, display_name, experiment_name, environment, compute" "plan lists the keys left to the service"
expect_out "from azureml://datastores/workspaceblobstore/paths/examples/hello/data/" "plan shows each input's source"
f plan "$EX/job.yml" --run-id p1 --json
expect_eq "$(json "$OUT" 'j["inputs"][0]["local_path"]')" "$FERRY_WORKSPACE/runs/p1/inputs/corpus" "plan --json gives local paths"
expect_eq "$(json "$OUT" 'j["outputs"][0]["uri"]')" "azureml://datastores/workspaceblobstore/paths/azureml/p1/counts/" "and the default output path"
f run "$EX/job.yml" --dry-run --run-id dry
expect_rc 0 "--dry-run"
expect_no_file "$FERRY_WORKSPACE/runs/dry" "--dry-run stages and runs nothing"

# --- a job written in awkward but valid ways ---
mkdir -p j && cd j
printf 'data\n' > local.txt
mkdir -p localdir && printf 'x\n' > localdir/x.txt
printf '{\r\n\t"command": "echo \\"${{inputs.my-in}}|${{ inputs.n }}|${{inputs.f}}|${{outputs.o}}|$MYVAR\\" > out.txt; cp ${{inputs.f}} ${{outputs.o}}/copied.txt",\r\n\t"inputs": {\r\n\t\t"my-in": {"type": "uri_folder", "path": "localdir", "mode": "RO_MOUNT"},\r\n\t\t"n": {"value": 3},\r\n\t\t"f": {"type": "uri_file", "path": "azureml://datastores/workspaceblobstore/paths/examples/hello/data/books/moby.txt", "mode": "Download"}\r\n\t},\r\n\t"outputs": {"o": {"type": "uri_folder", "path": "azureml://datastores/workspaceblobstore/paths/custom/${{name}}/${{output_name}}", "mode": "upload"}},\r\n\t"environment_variables": {"MYVAR": "run ${{run.id}}"}\r\n}' > job.json
f run job.json --run-id awk
expect_rc 0 "a JSON job with CRLF, tabs, no final newline, mixed-case modes runs"
R=$FERRY_WORKSPACE/runs/awk
expect_eq "$(cat out.txt)" "$T/j/localdir|3|$R/inputs/f/moby.txt|$R/outputs/o|run awk" "hyphenated names, inner spaces, literals, uri_file, env substitution"
expect_file "$DS/custom/awk/o/copied.txt" "\${{name}} and \${{output_name}} in an output path"
cd "$T"

# quoted keys, a uri_file output, legacy mount, a direct URL, the old folder:/file: keys
cat > legacy.yml <<'YAML'
"command": 'echo ${{inputs.url}} > ${{outputs.result}}; ls ${{inputs.old}} >> ${{outputs.result}}'
"inputs":
  url: {type: uri_file, path: "https://example.invalid/c/x.csv", mode: direct}
  old: {folder: "azureml://datastores/workspaceblobstore/paths/examples/hello/data/books", mode: mount}
outputs:
  result: {type: uri_file, mode: mount}
YAML
f run legacy.yml --run-id leg
expect_rc 0 "quoted keys, legacy keys and modes run"
expect_eq "$(head -1 "$DS/azureml/leg/result/result")" "https://example.invalid/c/x.csv" "a direct input is passed through as written"
expect_eq "$(tail -1 "$DS/azureml/leg/result/result")" "tale.txt" "a uri_file output is uploaded as a file"

# --- failures before the command runs ---
cat > unknown-ds.yml <<'YAML'
command: touch ran-anyway
inputs:
  d:
    type: uri_folder
    path: azureml://datastores/nosuch/paths/x
YAML
f run unknown-ds.yml
expect_rc 121 "an unknown datastore exits 121"
expect_err "unknown-ds.yml:5:11: inputs.d: unknown datastore 'nosuch' (this workspace has: workspaceblobstore" "and names file:line:col, field and the known datastores"
expect_no_file ran-anyway "the command did not run"
sed 's|nosuch/paths/x|workspaceblobstore/paths/no/such/folder|' unknown-ds.yml > missing.yml
f run missing.yml --run-id miss
expect_rc 122 "a missing input exits 122"
expect_err "input d: nothing found at azureml://datastores/workspaceblobstore/paths/no/such/folder" "and says what was missing"
expect_no_file ran-anyway "the command did not run"
expect_eq "$(json "$FERRY_WORKSPACE/runs/miss/manifest.json" 'j["status"], j["exit_code"]')" "('failed', 122)" "the manifest records the staging failure"
printf 'command: [not, a, string]\n' > bad.yml
f run bad.yml
expect_rc 121 "an invalid job exits 121"
f run nothere.yml
expect_rc 121 "a missing job file exits 121"
f run unknown-ds.yml --grace=abc
expect_rc 121 "a bad --grace exits 121"
printf 'command: echo\ncode: ./nosuchdir\n' > nocode.yml
f run nocode.yml
expect_rc 121 "a missing code folder exits 121"
expect_err "nocode.yml:2:7: code: the folder" "with its position"
printf 'command: touch ran-anyway\noutputs:\n  o:\n    path: azureml://datastores/lake_x/paths/o\n' > shareout.yml
f datastore register azure-data-lake-gen2 lake_x --account acct --filesystem cont --sas-token-env NOT_SET_NOW --skip-validation
f run shareout.yml
expect_rc 121 "an output on a datastore whose credential cannot be read fails before the command"
expect_err "output o: datastore lake_x: its sas_token is read from \$NOT_SET_NOW, which is not set" "with why"
expect_no_file ran-anyway "and the command did not run"

# --- exit status propagation ---
printf 'command: exit 7\n' > seven.yml
f run seven.yml
expect_rc 7 "the command's exit status is ferry's"
printf 'command: kill -9 $$\n' > killed.yml
f run killed.yml
expect_rc 137 "a command killed by signal 9 gives 128+9"
printf 'command: nosuchcommand-xyz\n' > nf.yml
f run nf.yml
expect_rc 127 "a command not found gives 127"
printf 'script: nosuch.sh\n' > nf1.yml
f run nf1.yml
expect_rc 127 "a v1 script not found gives 127"
expect_err "cannot run ./nosuch.sh" "and names it"

# --- timeout ---
printf 'command: sleep 30\nlimits:\n  timeout: 1\n' > slow.yml
start=$(date +%s)
f run slow.yml --grace 2 --run-id slow
expect_rc 124 "limits.timeout exits 124"
[ $(( $(date +%s) - start )) -lt 10 ] && _ok "and does not wait for the command" || _fail "timeout took too long"
expect_err "ran past its timeout of 1 s" "and says so"
expect_eq "$(json "$FERRY_WORKSPACE/runs/slow/manifest.json" 'j["command_result"]["timed_out"]')" "True" "the manifest records the timeout"

# --- outputs are uploaded when the command fails, unless told otherwise ---
printf 'command: echo partial > ${{outputs.o}}/ckpt.txt; exit 3\noutputs:\n  o:\n' > fails.yml
f run fails.yml --run-id fail1
expect_rc 3 "a failing command's status is kept"
expect_file "$DS/azureml/fail1/o/ckpt.txt" "and its outputs are uploaded anyway (--upload-on always)"
f run fails.yml --run-id fail2 --upload-on success
expect_rc 3 "--upload-on success: the command ran and failed"
expect_file "$FERRY_WORKSPACE/runs/fail2/outputs/o/ckpt.txt" "(it wrote its output locally)"
expect_no_file "$DS/azureml/fail2/o/ckpt.txt" "--upload-on success skips outputs of a failed command"
printf 'command: echo ok > ${{outputs.o}}/x.txt\noutputs:\n  o:\n' > good.yml
f run good.yml --run-id fail3 --upload-on failure
expect_rc 0 "--upload-on failure: the command ran and succeeded"
expect_file "$FERRY_WORKSPACE/runs/fail3/outputs/o/x.txt" "(it wrote its output locally)"
expect_no_file "$DS/azureml/fail3/o/x.txt" "--upload-on failure skips outputs of a good command"

# --- an output that cannot be uploaded: 123 ---
printf 'command: echo hi\noutputs:\n  o: {type: uri_file, mode: upload}\n' > noout.yml
f run noout.yml --run-id noout
expect_rc 123 "outputs that fail after a good command exit 123"
expect_err "the command did not write" "and say what is missing"

# --- SIGTERM reaches the command; outputs still uploaded ---
cat > term.yml <<'YAML'
command: >-
  trap 'echo got-term > ${{outputs.o}}/term.txt; exit 143' TERM;
  echo started > ${{outputs.o}}/started.txt;
  while :; do sleep 0.1; done
outputs:
  o:
YAML
signal_run TERM "$FERRY_WORKSPACE/runs/term/outputs/o/started.txt" run term.yml --run-id term
expect_rc 143 "SIGTERM to ferry: the command's own status comes back"
expect_eq "$(cat "$DS/azureml/term/o/term.txt" 2>/dev/null)" "got-term" "the command got SIGTERM and its outputs were uploaded"
expect_err "forwarding Terminated to the command" "ferry says it forwarded the signal"

# a command that ignores SIGTERM gets SIGKILL after the grace period
printf "command: trap '' TERM; touch \${{outputs.o}}/up; while :; do sleep 0.1; done\noutputs:\n  o:\n" > stubborn.yml
signal_run TERM "$FERRY_WORKSPACE/runs/stub/outputs/o/up" run stubborn.yml --run-id stub --grace 1
expect_rc 137 "after --grace, SIGKILL (128+9)"
expect_err "still running 1 s after SIGTERM; sending SIGKILL" "and ferry says so"
expect_file "$DS/azureml/stub/o/up" "outputs are uploaded after a SIGKILL too"

# SIGUSR1 is forwarded to the whole process group
cat > usr.yml <<'YAML'
command: >-
  trap 'echo usr1 > ${{outputs.o}}/usr1.txt; exit 0' USR1;
  touch ${{outputs.o}}/ready;
  while :; do sleep 0.1; done
outputs:
  o:
YAML
signal_run USR1 "$FERRY_WORKSPACE/runs/usr/outputs/o/ready" run usr.yml --run-id usr
expect_rc 0 "SIGUSR1 is forwarded and the command finishes"
expect_file "$DS/azureml/usr/o/usr1.txt" "the command saw SIGUSR1"

# --- the child's environment ---
export SOME_KEY_VAR=ZmFrZS1rZXktZm9yLWVudi10ZXN0LTEyMzQ1Njc4OTA=
f datastore register azure-blob envds --account acct --container cont --account-key-env SOME_KEY_VAR --skip-validation
printf 'command: env > ${{outputs.o}}/env.txt\noutputs:\n  o:\n' > env.yml
f run env.yml --run-id env
grep -q SOME_KEY_VAR "$DS/azureml/env/o/env.txt" && _fail "a variable holding a datastore secret is not passed to the command" || _ok "a variable holding a datastore secret is not passed to the command"
f run env.yml --run-id env2 --pass-secret-env
grep -q "^SOME_KEY_VAR=" "$DS/azureml/env2/o/env.txt" && _ok "--pass-secret-env keeps it, when asked" || _fail "--pass-secret-env keeps it, when asked"
grep -q "^AZURE_ML_OUTPUT_o=$FERRY_WORKSPACE/runs/env/outputs/o$" "$DS/azureml/env/o/env.txt" && _ok "AZURE_ML_OUTPUT_<name> is set" || _fail "AZURE_ML_OUTPUT_<name> is set"

# --- v1 specifics: pathOnCompute, overwrite false, mount as download ---
cat > v1b.yml <<'YAML'
script: show.sh
arguments: [--in, "${AZUREML_DATAREFERENCE_books}", --out=$AZUREML_DATAREFERENCE_res]
dataReferences:
  books:
    dataStoreName: workspaceblobstore
    pathOnDataStore: examples/hello/data/books
    mode: mount
    pathOnCompute: staged/books
  res:
    dataStoreName: workspaceblobstore
    pathOnDataStore: v1b/results
    mode: upload
YAML
printf '#!/bin/sh\nls "$2" > "${3#--out=}/listing.txt"\n' > show.sh
chmod +x show.sh
f run v1b.yml --run-id v1b
expect_rc 0 "a v1 runconfig with braces, --opt=\$REF and pathOnCompute runs"
expect_eq "$(cat "$DS/v1b/results/listing.txt" | tr '\n' ' ')" "moby.txt tale.txt " "pathOnCompute is where the data was staged"
[ -d "$FERRY_WORKSPACE/runs/v1b/staged/books" ] && _ok "pathOnCompute is relative to the work dir" || _fail "pathOnCompute is relative to the work dir"
# a pathOnCompute that would leave the work dir is refused before anything runs
sed 's|pathOnCompute: staged/books|pathOnCompute: ../../escaped|' v1b.yml > v1esc.yml
f run v1esc.yml --run-id v1esc
expect_rc 121 "a pathOnCompute with '..' exits 121"
expect_err "v1esc.yml:8:20: dataReferences.books.pathOnCompute: '../../escaped' contains '..'" "with file:line:col"
expect_no_file "$FERRY_WORKSPACE/escaped" "and nothing is written outside the work dir"

# --- an output swapped for a symlink is not followed out of the work dir ---
cd "$T"
printf 'command: rmdir ${{outputs.o}} && ln -s /etc ${{outputs.o}}\noutputs:\n  o:\n' > swap.yml
f run swap.yml --run-id swap
expect_rc 123 "an output folder swapped for a symlink: exit 123"
expect_err "outputs/o is a symlink (to /etc); refusing to follow it" "and ferry says so"
expect_no_file "$DS/azureml/swap/o/passwd" "/etc is not uploaded"
printf 'command: ln -s /etc/passwd ${{outputs.f}}\noutputs:\n  f: {type: uri_file}\n' > swapf.yml
f run swapf.yml --run-id swapf
expect_rc 123 "a file output that is a symlink: exit 123"
expect_no_file "$DS/azureml/swapf/f/f" "and the file it points at is not uploaded"
mkdir -p "$T/elsewhere/o" && echo secret > "$T/elsewhere/o/s.txt"
printf 'command: d=$(dirname ${{outputs.o}}); rm -rf $d && ln -s %s $d\noutputs:\n  o:\n' "$T/elsewhere" > swapp.yml
f run swapp.yml --run-id swapp
expect_rc 123 "a folder above the output swapped for a symlink: exit 123"
expect_no_file "$DS/azureml/swapp/o/s.txt" "and nothing from outside is uploaded"
# an input's target left as a symlink (an earlier run's leftover) is not written through
mkdir -p "$FERRY_WORKSPACE/runs/insym/inputs" "$T/victim"
ln -s "$T/victim" "$FERRY_WORKSPACE/runs/insym/inputs/d"
printf 'command: touch ran\ninputs:\n  d: {type: uri_folder, path: azureml://datastores/workspaceblobstore/paths/examples/hello/data, mode: download}\n' > insym.yml
f run insym.yml --run-id insym --work-dir "$FERRY_WORKSPACE/runs/insym"
expect_rc 122 "an input target that is a symlink: exit 122"
expect_eq "$(ls "$T/victim")" "" "and nothing is written through it"

# --- a run id is used once, unless the run is resumed ---
cd "$T"
printf 'command: echo ${{run.id}} > ${{outputs.o}}/$(date +%%s%%N).txt\noutputs:\n  o:\n' > once.yml
f run once.yml --run-id once
expect_rc 0 "a run id, first use"
before=$(cat "$FERRY_WORKSPACE/runs/once/manifest.json")
f run once.yml --run-id once
expect_rc 121 "the same run id again is refused (exit 121)"
expect_err "run id once was used already" "and ferry says so"
expect_err "--resume" "and how to run it again"
expect_eq "$(cat "$FERRY_WORKSPACE/runs/once/manifest.json")" "$before" "the first run's manifest is untouched"
expect_eq "$(ls "$DS/azureml/once/o" | grep -c txt)" "1" "and nothing was uploaded again"
f run once.yml --run-id once --resume
expect_rc 0 "--resume runs it again in the same work dir"
expect_eq "$(ls "$DS/azureml/once/o" | grep -c txt)" "2" "(keeping what the first run left there)"

# --- a signal while inputs are staged: said, recorded, 128+N ---
cd "$T"
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)  # accepted, never answered
' >hang.port &
HANG=$!
trap 'kill $HANG 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 50); do [ -s hang.port ] && break; sleep 0.1; done
f datastore register azure-blob hang --account acct --container cont --account-url "http://127.0.0.1:$(cat hang.port)/acct" --skip-validation
printf 'command: touch ran\ninputs:\n  d: {type: uri_folder, path: azureml://datastores/hang/paths/x, mode: download}\n' > hang.yml
bg run hang.yml --run-id hang
wait_for "$FERRY_WORKSPACE/runs/hang/ferry.log" || _fail "the run started"
sleep 1
signal_bg TERM
expect_rc 143 "SIGTERM while staging: exit 143"
expect_err "Terminated while inputs were staged: the command did not run" "ferry says what happened"
expect_no_file ran "the command did not run"
expect_eq "$(json "$FERRY_WORKSPACE/runs/hang/manifest.json" 'j["status"], j["exit_code"], "ended" in j')" "('failed', 143, True)" "the manifest is closed: status, end time, exit code"
grep -q "Terminated while inputs were staged" "$FERRY_WORKSPACE/runs/hang/ferry.log" && _ok "and ferry.log says it too" || _fail "and ferry.log says it too"
kill $HANG 2>/dev/null; wait $HANG 2>/dev/null || true

# --- overwrite false: a file the datastore kept is recorded as kept, not as this run's ---
cd "$T"
mkdir -p keep && cd keep
printf '#!/bin/sh\necho "$1" > "$2/r.txt"\n' > w.sh && chmod +x w.sh
for v in one two; do
    printf 'script: w.sh\narguments: [%s, $AZUREML_DATAREFERENCE_res]\ndataReferences:\n  res: {dataStoreName: workspaceblobstore, pathOnDataStore: keep/res, mode: upload}\n' "$v" > $v.yml
done
f run one.yml --run-id keep1
f run two.yml --run-id keep2
expect_rc 0 "overwrite false: the second run succeeds"
expect_eq "$(cat "$DS/keep/res/r.txt")" "one" "and the datastore keeps the first run's file"
M2=$FERRY_WORKSPACE/runs/keep2/manifest.json
expect_eq "$(json "$M2" '(lambda f: (f.get("skipped"), "sha256" in f, "etag" in f))(j["outputs"][0]["files"][0]) + (j["outputs"][0]["file_count"],)')" "(True, False, True, 0)" "the manifest marks it skipped, with the datastore's identity and not the new file's SHA-256"
cd "$T"

# --- the command as it runs: script and arguments, quoted for a shell ---
cd "$T"
mkdir -p argq && cd argq
printf 'import sys\n' > t.py
printf 'script: t.py\narguments: [a, "b c", "it'"'"'s"]\n' > q.yml
f plan q.yml --run-id q
expect_out "command:  python3 t.py a 'b c' 'it'\\''s'" "plan quotes arguments for a shell"
f run q.yml --run-id q
expect_rc 0 "a v1 script with arguments runs"
expect_err "running: python3 t.py a 'b c' 'it'\\''s'" "and its log line shows the script and every argument"
cd "$T"

# --- eval_mount and eval_download stage like ro_mount and download ---
printf 'command: ls ${{inputs.a}} ${{inputs.b}} > listing.txt\ninputs:\n  a: {type: uri_folder, path: azureml://datastores/workspaceblobstore/paths/examples/hello/data/books, mode: eval_mount}\n  b: {type: uri_folder, path: azureml://datastores/workspaceblobstore/paths/examples/hello/data/books, mode: EVAL_DOWNLOAD}\n' > evalm.yml
f run evalm.yml --run-id evalm
expect_rc 0 "eval_mount and eval_download inputs run"
expect_eq "$(grep -c txt listing.txt)" "4" "and are staged"
