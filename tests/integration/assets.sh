# Job files written by others: data assets (ferry data ...) made from a
# datastore path on Azurite, a local folder and Azure ML's data YAML, used by
# @latest and by version; an output registered as an asset and read by a
# later job through the asset, azureml://jobs/<run>/outputs/<name> and
# runs:/; mltable and model types; v1 data and outputData; the 2021 preview
# forms; other kinds of job named for what they are.
. "$(dirname "$0")/../lib.sh"
need_azurite
C=a$(date +%s%N | tail -c 9)x$$
az_register blob

mkdir -p iris/more table
printf 'sepal,petal\n1,2\n' >iris/iris.csv
printf 'x\n' >iris/more/x.txt
printf 'paths:\n  - file: ./t.csv\n' >table/MLTable
printf 'a,b\n' >table/t.csv
SDK put "$C" iris/v1/iris.csv iris/iris.csv single >/dev/null
SDK put "$C" iris/v2/iris.csv iris/iris.csv single >/dev/null
printf 'second\n' >second.txt
SDK put "$C" iris/v2/second.txt second.txt single >/dev/null

# --- ferry data: the registry ---
f data create --name iris --version 1 --path azureml://datastores/blob/paths/iris/v1/
expect_rc 0 "a data asset from a datastore path on Azurite"
expect_out "created data asset iris version 1 (uri_folder, azureml://datastores/blob/paths/iris/v1/)" "it says what it made"
f data create --name iris --path azureml://datastores/blob/paths/iris/v2/ --description "the second cut"
expect_rc 0 "without --version: the next whole number"
expect_out "created data asset iris version 2" "(version 2)"
f data create --name iris --version 1 --path azureml://datastores/blob/paths/iris/v2/
expect_rc 1 "a version that exists cannot be made again"
expect_err "data asset iris version 1 exists, and a version never changes" "saying why"
f data show iris:1 --json
expect_eq "$(json "$OUT" 'j["path"]')" "azureml://datastores/blob/paths/iris/v1/" "the first version still points where it did"
f data show iris@latest --json
expect_eq "$(json "$OUT" 'j["version"], j["description"]')" "('2', 'the second cut')" "@latest is the highest version"
expect_eq "$(json "$OUT" 'len(j["id"])')" "36" "every asset has an id (a UUID)"
for v in 9 10; do f data create --name num --version $v --path azureml://datastores/blob/paths/iris/v1/; done
f data show num --json
expect_eq "$(json "$OUT" 'j["version"]')" "10" "versions are ordered as numbers where numeric (10 after 9)"
f data create --name iris --path ./nothing-here
expect_rc 1 "a local path that is not there is an error"
f data create --name iris --path azureml://datastores/nope/paths/x/
expect_rc 1 "so is an unknown datastore"
expect_err "no datastore named nope" "named"
f data create --name 'bad name' --path azureml://datastores/blob/paths/x/
expect_rc 2 "a name Azure ML would refuse is refused"
f data create --name iris --type uri_file --path azureml://datastores/blob/paths/iris/v1/
expect_rc 2 "a uri_file path cannot end with '/'"
f data create --name tbl --type mltable --path table
expect_rc 0 "a local mltable folder is uploaded to the default datastore"
expect_err "LocalUpload/" "under LocalUpload/, as Azure ML's CLI does"
f data create --name tbl2 --type mltable --path iris
expect_rc 2 "an mltable folder must hold an MLTable file"
cat >data.yml <<'YAML'
$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json
name: iris-file
version: 3
description: Data asset created from a file in the cloud.
type: uri_file
path: azureml://datastores/blob/paths/iris/v1/iris.csv
tags:
  source: tests
YAML
f data create --file data.yml
expect_rc 0 "Azure ML's data asset YAML"
expect_out "created data asset iris-file version 3 (uri_file" "with its name, version and type"
printf 'name: x\npath: a\ncolour: red\n' >bad-data.yml
f data create --file bad-data.yml
expect_rc 2 "an unknown key in a data YAML is an error"
expect_err "bad-data.yml:3:1: colour: unknown key" "with file:line:col"
f data list --json
expect_eq "$(json "$OUT" 'sorted((a["name"], a["version"]) for a in j)')" \
    "[('iris', '2'), ('iris-file', '3'), ('num', '10'), ('tbl', '1')]" "list shows each asset at its latest version"
f data list iris
expect_eq "$(wc -l <"$OUT")" "2" "list NAME shows each version"

# --- jobs naming assets: @latest in one, a version in another ---
cat >latest.yml <<'YAML'
command: ls ${{inputs.d}} > ${{outputs.o}}/seen.txt
inputs:
  d:
    path: azureml:iris@latest
    mode: download
outputs:
  o:
    type: uri_folder
    path: azureml://datastores/workspaceblobstore/paths/seen/latest/
YAML
sed 's/azureml:iris@latest/azureml:iris:1/; s/seen\/latest/seen\/one/' latest.yml >byversion.yml
f run latest.yml --run-id latest1
expect_rc 0 "a job naming azureml:iris@latest runs"
DS=$FERRY_WORKSPACE/datastores/workspaceblobstore
expect_eq "$(cat "$DS/seen/latest/seen.txt" | tr '\n' ' ')" "iris.csv second.txt " "it saw version 2"
M=$FERRY_WORKSPACE/runs/latest1/manifest.json
expect_eq "$(json "$M" 'j["inputs"][0]["asset"], j["inputs"][0]["datastore"]')" "('azureml:iris:2', 'blob')" "the manifest names the asset version and where it is"
f run byversion.yml --run-id byver1
expect_rc 0 "a job naming azureml:iris:1 runs"
expect_eq "$(cat "$DS/seen/one/seen.txt" | tr '\n' ' ')" "iris.csv " "it saw version 1"
cat >long.yml <<'YAML'
command: cat ${{inputs.f}} > ${{outputs.o}}/f.csv
inputs:
  f:
    path: azureml://subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg/workspaces/ws/data/iris-file/versions/3
outputs:
  o:
    path: azureml://datastores/workspaceblobstore/paths/seen/long/
YAML
f run long.yml --run-id long1
expect_rc 0 "the long azureml://.../data/<name>/versions/<v> form runs"
expect_same iris/iris.csv "$DS/seen/long/f.csv" "and the input took the asset's type (uri_file)"
sed 's/azureml:iris@latest/azureml:iris:7/' latest.yml >missing.yml
f plan missing.yml
expect_rc 1 "an asset version that does not exist is a plan error (not found: exit 1)"
expect_err "missing.yml:4:11: inputs.d: data asset iris has no version 7 (its versions: 1, 2)" "naming the input and the versions there are"
sed 's/azureml:iris@latest/azureml:nosuch@latest/' latest.yml >missing2.yml
f plan missing2.yml
expect_err "no data asset named nosuch in this workspace" "an unknown asset says so"
printf 'command: cat ${{inputs.d}}\ninputs:\n  d:\n    type: uri_file\n    path: azureml:iris:1\n' >mismatch.yml
f plan mismatch.yml
expect_rc 2 "a uri_file input naming a uri_folder asset is refused"
expect_err "type uri_file, but azureml:iris:1 is a uri_folder" "saying which"
f data archive iris:2
expect_rc 0 "archive a version"
f data show iris --json
expect_eq "$(json "$OUT" 'j["version"]')" "1" "@latest passes an archived version by"
f data show iris:2 --json
expect_eq "$(json "$OUT" 'j["archived"]')" "True" "which can still be named"
f data restore iris:2
expect_rc 0 "and restored"

# --- an output registered as an asset, and read back three ways ---
cat >producer.yml <<'YAML'
command: mkdir -p ${{outputs.model}}/model && echo weights > ${{outputs.model}}/model/w.txt && echo hi > ${{outputs.model}}/README
outputs:
  model:
    type: custom_model
    name: my-model
    version: "1"
YAML
f run producer.yml --run-id prod1
expect_rc 0 "a job with a named output runs"
expect_err "output model is data asset azureml:my-model:1" "and says its output became an asset"
f data show my-model:1 --json
expect_eq "$(json "$OUT" 'j["type"], j["path"], j["job"]')" \
    "('custom_model', 'azureml://datastores/workspaceblobstore/paths/azureml/prod1/model/', 'prod1')" "the asset points where the output went, and at its run"
f run producer.yml --run-id prod2
expect_rc 121 "a second run would make version 1 again: refused before it runs (exit 121)"
expect_err "output model: data asset my-model version 1 exists" "saying why"
expect_no_file "$FERRY_WORKSPACE/runs/prod2/manifest.json" "and nothing ran"
cat >consumer.yml <<'YAML'
command: >-
  cat ${{inputs.by_asset}}/model/w.txt ${{inputs.by_job}}/README ${{inputs.by_runs}} > ${{outputs.o}}/all.txt
inputs:
  by_asset:
    path: azureml:my-model@latest
  by_job:
    type: uri_folder
    path: azureml://jobs/prod1/outputs/model
    mode: download
  by_runs:
    type: uri_file
    path: runs:/prod1/model/model/w.txt
outputs:
  o:
    path: azureml://datastores/workspaceblobstore/paths/seen/consumer/
YAML
f run consumer.yml --run-id cons1
expect_rc 0 "a later job reads it through the asset, azureml://jobs/... and runs:/"
expect_eq "$(cat "$DS/seen/consumer/all.txt" | tr '\n' ' ')" "weights hi weights " "each way gets the same data"
f plan consumer.yml
expect_out "data azureml://jobs/prod1/outputs/model" "plan says which run's output it is"
expect_out "  by_asset (custom_model, " "and the asset's type"
sed 's/prod1/nosuchrun/' consumer.yml >consumer2.yml
f plan consumer2.yml
expect_rc 1 "an unknown run is a plan error"
expect_err "no run nosuchrun in this workspace" "saying so"
sed 's/outputs\/model/outputs\/weights/' consumer.yml >consumer3.yml
f plan consumer3.yml
expect_err "run prod1 has no output weights (its outputs: model)" "an unknown output names the run's outputs"
printf 'command: exit 3\noutputs:\n  o:\n    name: failed-out\n' >fails.yml
f run fails.yml --run-id fail1
expect_rc 3 "a failing run exits with its status"
f data show failed-out
expect_rc 1 "and its output is not registered"

# --- types: mltable and models stage as folders; eval_* modes ---
cat >types.yml <<'YAML'
command: cat ${{inputs.t}}/MLTable > ${{outputs.o}}/mltable.txt; ls ${{inputs.m}} > ${{outputs.o}}/m.txt
inputs:
  t:
    type: mltable
    path: azureml:tbl:1
    mode: eval_mount
  m:
    type: mlflow_model
    path: azureml://datastores/workspaceblobstore/paths/azureml/prod1/model/
    mode: eval_download
outputs:
  o:
    type: mltable
    path: azureml://datastores/workspaceblobstore/paths/seen/types/
YAML
f run types.yml --run-id types1
expect_rc 0 "mltable (eval_mount) and mlflow_model (eval_download) inputs run"
expect_same table/MLTable "$DS/seen/types/mltable.txt" "the mltable folder is staged with its MLTable file"
expect_eq "$(cat "$DS/seen/types/m.txt" | tr '\n' ' ')" "README _ferry_manifest.json model " "the model folder is staged whole (with the record its upload left)"
M=$FERRY_WORKSPACE/runs/types1/manifest.json
expect_eq "$(json "$M" '[i["type"] for i in j["inputs"]] + [j["outputs"][0]["type"]]')" "['mltable', 'mlflow_model', 'mltable']" "the manifest keeps the types as written"
expect_eq "$(json "$M" '[i["mode"] for i in j["inputs"]]')" "['ro_mount', 'download']" "eval_mount stages as ro_mount, eval_download as download"

# --- v1: data and outputData ---
IRIS1=$("$FERRY" data show iris:1 --json | json /dev/stdin 'j["id"]')
mkdir -p v1
cat >v1/train.py <<'PY'
import os, sys
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
out = args["--out"]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "seen.txt"), "w") as f:
    f.write(" ".join(sorted(os.listdir(args["--data"]))) + "\n")
    f.write(" ".join(sorted(os.listdir(os.environ["byname"]))) + "\n")
PY
cat >v1/job.runconfig <<YAML
script: train.py
arguments: [--data, 'DatasetConsumptionConfig:mnist', --out, 'DatasetOutputConfig:out1']
target: cpu-cluster
framework: Python
autoPrepareEnvironment: true
max_run_duration_seconds: 600
environment:
  python:
    interpreterPath: python3
aNewKey: 1
data:
  mnist:
    dataLocation:
      dataset:
        id: $IRIS1
      datapath:
    mechanism: mount
    environmentVariableName: mnist
  byname:
    dataLocation: {dataset: {id: null, name: iris, version: latest}, dataPath: null, uri: null}
    mechanism: download
    environmentVariableName: byname
outputData:
  out1:
    outputLocation: {dataset: null, dataPath: {datastoreName: workspaceblobstore, relativePath: 'v1out/{run-id}/{output-name}'}, uri: null}
    mechanism: upload
    additionalOptions:
      registrationOptions: {name: v1-features, description: null, tags: null}
      uploadOptions: {overwrite: false}
YAML
f run v1/job.runconfig --run-id v1data
expect_rc 0 "a v1 runconfig with data (by id and by name) and outputData runs"
expect_err "job.runconfig:10:1: aNewKey: not a key of a v1 runconfig; ignored" "an unknown v1 key is a warning with file:line:col"
expect_eq "$(cat "$DS/v1out/v1data/out1/seen.txt" | tr '\n' '|')" "iris.csv|iris.csv second.txt|" \
    "DatasetConsumptionConfig: became the mounted dataset, environmentVariableName the other's path"
f data show v1-features --json
expect_eq "$(json "$OUT" 'j["path"]')" "azureml://datastores/workspaceblobstore/paths/v1out/v1data/out1/" "registrationOptions.name registered the output"
f plan v1/job.runconfig
expect_out "ignored (for the Azure ML service): target, framework, autoPrepareEnvironment" "plan lists the service's keys as ignored"
expect_out "timeout:  600 s" "max_run_duration_seconds (snake_case) is read as the SDK reads it"

# --- the 2021 preview forms ---
mkdir -p prev/src prev/data
printf 'p\n' >prev/data/p.txt
cat >prev/job.yml <<'YAML'
command: cat {inputs.training_data}/p.txt {inputs.asset}/iris.csv > {outputs.model}/out.txt
code:
  local_path: src
inputs:
  training_data:
    data:
      local_path: ../prev/data
    mode: mount
  asset:
    data: azureml:iris:1
outputs:
  model:
YAML
f run prev/job.yml --run-id prev1
expect_rc 0 "a 2021 preview job (code: {local_path}, data: {...}, {inputs.x}) runs"
expect_eq "$(head -1 "$DS/azureml/prev1/model/out.txt")" "p" "its single-brace references were substituted"

# --- other kinds of job ---
printf '$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json\ntype: pipeline\njobs:\n  train:\n    type: command\n    command: echo\n' >pipe.yml
f validate pipe.yml
expect_rc 2 "a pipeline job is refused"
expect_err "this is a pipeline job; ferry runs command jobs" "named for what it is"
printf 'jobs:\n  a:\n    command: echo\n' >pipe2.yml
f validate pipe2.yml
expect_err "this is a pipeline job" "also without a type, by its jobs: key"

# --- a command's own options first ---
f data create --name verflag --version 5 --path azureml://datastores/blob/paths/iris/v1/
expect_out "created data asset verflag version 5" "a command's --version is its own, not ferry's"
f --version
expect_out "ferry " "ferry --version still prints the version"
