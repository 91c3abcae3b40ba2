# Many ranks under a real Slurm: a single-node cluster started here (munged,
# slurmctld -D, slurmd -D with a generated slurm.conf on free loopback
# ports), stopped at the end, also on failure. Under srun -n 4: an input on
# Azurite is fetched once for the node (GETs counted at a proxy), every rank
# sees it the same, sharded ranks get disjoint parts that cover it, per-rank
# outputs all land; scancel mid-run still uploads what was written; ferry
# submit --slurm --now runs a job. Skipped (77) only without Slurm's packages.
. "$(dirname "$0")/../lib.sh"
need_azurite
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "slurm-wlm and munge are not installed (.ci/deps installs them)"
    exit 77
fi
C=s$(date +%s%N | tail -c 9)x$$
S=$T/slurm
mkdir -p "$S/state" "$S/spool"
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
H=$(hostname -s)
cat >"$S/slurm.conf" <<EOF
ClusterName=ferry$$
SlurmctldHost=$H(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$S/munge.sock
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
SlurmdParameters=config_overrides
KillWait=8
NodeName=$H NodeAddr=127.0.0.1 CPUs=4 State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
export SLURM_CONF=$S/slurm.conf
head -c 1024 /dev/urandom >"$S/munge.key" && chmod 600 "$S/munge.key"
munged --force --key-file="$S/munge.key" --socket="$S/munge.sock" --pid-file="$S/munged.pid" \
    --log-file="$S/munged.log" --seed-file="$S/munge.seed"
slurmctld -D -f "$SLURM_CONF" >"$S/slurmctld.out" 2>&1 &
CTLD=$!
slurmd -D -f "$SLURM_CONF" >"$S/slurmd.out" 2>&1 &
SLURMD=$!
at_exit "scancel --user=root 2>/dev/null; kill $SLURMD $CTLD 2>/dev/null; wait $SLURMD $CTLD 2>/dev/null; kill \$(cat '$S/munged.pid' 2>/dev/null) 2>/dev/null"
up=
for _ in $(seq 100); do
    sinfo -h -o %t 2>/dev/null | grep -q idle && up=1 && break
    sleep 0.2
done
[ -n "$up" ] && _ok "a single-node Slurm is up (munged, slurmctld, slurmd)" ||
    { _fail "a single-node Slurm is up" "$(tail -5 "$S/slurmctld.log" "$S/slurmd.log" 2>&1)"; exit 0; }

# the data: 12 files behind a proxy that counts the GETs each blob gets
mkdir -p data
for i in $(seq 12); do head -c $((i * 3000)) /dev/urandom >"data/f$i.bin"; done
az_register blob
f upload blob data --target-path d
/usr/bin/python3 "$TOP/tests/faults/proxy.py" --upstream "$AZ_HOSTPORT" --rate 0 --stats "$T/proxy.json" \
    >"$T/proxy.port" 2>/dev/null &
PROXY=$!
at_exit "kill $PROXY 2>/dev/null"
for _ in $(seq 50); do [ -s "$T/proxy.port" ] && break; sleep 0.1; done
az_register counted "$(cat "$T/proxy.port")"

cat >job.yml <<'YAML'
command: >-
  (cd ${{inputs.all}} && find . -type f | sort | xargs md5sum) > ${{outputs.o}}/seen.txt;
  ls ${{inputs.part}} > ${{outputs.o}}/part.txt
inputs:
  all:
    type: uri_folder
    path: azureml://datastores/counted/paths/d/
  part:
    type: uri_folder
    path: azureml://datastores/counted/paths/d/
    mode: download
    shard: by_files
outputs:
  o:
    type: uri_folder
    path: azureml://datastores/blob/paths/out/${{name}}/
YAML
srun -n 4 "$FERRY" run job.yml >"$T/srun.out" 2>"$T/srun.err"
expect_eq "$?" "0" "srun -n 4 ferry run: every rank ends well"
JOB=$(grep -o 'run slurm-[0-9]*\.[0-9]*' "$T/srun.err" | head -1 | cut -d' ' -f2)
[ -n "$JOB" ] && _ok "the ranks share one run id ($JOB)" || _fail "the ranks share one run id" "$(head "$T/srun.err")"
SDK list "$C" "out/$JOB/" >outs.json
expect_eq "$(json outs.json 'sorted(e["name"].split("/")[2] for e in j if e["name"].endswith("seen.txt"))')" \
    "['rank-0', 'rank-1', 'rank-2', 'rank-3']" "each rank's output landed in rank-<N>/"
for r in 0 1 2 3; do SDK get "$C" "out/$JOB/rank-$r/seen.txt" "seen$r.txt" >/dev/null; SDK get "$C" "out/$JOB/rank-$r/part.txt" "part$r.txt" >/dev/null; done
same=1
for r in 1 2 3; do cmp -s seen0.txt "seen$r.txt" || same=0; done
expect_eq "$same" "1" "every rank saw the shared input the same"
expect_eq "$(wc -l <seen0.txt)" "12" "all of it"
expect_eq "$(cat part0.txt part1.txt part2.txt part3.txt | sort | uniq -d | wc -l)" "0" "the shards are disjoint"
expect_eq "$(cat part0.txt part1.txt part2.txt part3.txt | sort -u | wc -l)" "12" "and cover the input"
kill -TERM $PROXY
wait $PROXY 2>/dev/null
gets=$(json "$T/proxy.json" 'sorted(set(v for k, v in j["get_paths"].items() if "/d/" in k))')
expect_eq "$gets" "[1]" "each blob was fetched once in all: for the node's shared input (the shards came from the node cache)"
expect_eq "$(json "$FERRY_WORKSPACE/runs/$JOB/rank-1/manifest.json" 'j["rank"]["launcher"], j["rank"]["rank"], j["rank"]["local_rank"], j["rank"]["world_size"]')" \
    "('slurm', 1, 1, 4)" "the manifest says where the rank stood"
expect_eq "$(json "$FERRY_WORKSPACE/runs/$JOB/rank-2/manifest.json" '[i.get("shard", {}).get("files") for i in j["inputs"]]')" "[None, 3]" "and which part of the sharded input it took"

# --- a rank that fails: its ferry exits with its command's status, its files still go up ---
cat >fail.yml <<'YAML'
command: echo "rank $SLURM_PROCID" > ${{outputs.o}}/mine.txt; exit $((SLURM_PROCID * 3))
outputs:
  o:
    type: uri_folder
    path: azureml://datastores/blob/paths/failing/${{name}}/
YAML
srun -n 2 "$FERRY" run fail.yml >"$T/fail.out" 2>"$T/fail.err"
expect_eq "$?" "3" "srun reports the failing rank's status (3)"
FJ=$(grep -o 'run slurm-[0-9]*\.[0-9]*' "$T/fail.err" | head -1 | cut -d' ' -f2)
expect_eq "$(json "$FERRY_WORKSPACE/runs/$FJ/rank-0/manifest.json" 'j["exit_code"]'),$(json "$FERRY_WORKSPACE/runs/$FJ/rank-1/manifest.json" 'j["exit_code"]')" \
    "0,3" "each rank's ferry exited with its own command's status"
SDK list "$C" "failing/$FJ/" >failing.json
expect_eq "$(json failing.json 'sorted(e["name"].split("/")[2] for e in j if e["name"].endswith("mine.txt"))')" \
    "['rank-0', 'rank-1']" "the failed rank's output still went up (--upload-on always)"

# --- scancel mid-run: each rank uploads what it wrote, within the budget ---
cat >slow.yml <<'YAML'
command: echo "before the end" > ${{outputs.o}}/partial.txt; sleep 120
outputs:
  o:
    type: uri_folder
    path: azureml://datastores/blob/paths/cancelled/${{name}}/
YAML
srun -n 2 -J ferrycancel "$FERRY" run slow.yml --upload-budget 5 >"$T/slow.out" 2>"$T/slow.err" &
SRUN=$!
for _ in $(seq 100); do grep -q "running:" "$T/slow.err" 2>/dev/null && [ "$(grep -c 'running:' "$T/slow.err")" -ge 2 ] && break; sleep 0.2; done
sleep 1
scancel -n ferrycancel
wait $SRUN
CJ=$(grep -o 'run slurm-[0-9]*\.[0-9]*' "$T/slow.err" | head -1 | cut -d' ' -f2)
SDK list "$C" "cancelled/$CJ/" >cancelled.json
expect_eq "$(json cancelled.json 'sorted(e["name"].split("/")[2] for e in j if e["name"].endswith("partial.txt"))')" \
    "['rank-0', 'rank-1']" "scancel: both ranks uploaded what was written before it"
grep -q "final upload of outputs took" "$T/slow.err" && _ok "within the upload budget, after the signal" ||
    _fail "the final upload ran after the signal" "$(tail -5 "$T/slow.err")"

# --- ferry submit --slurm --now ---
cat >dist.yml <<'YAML'
name: two-ranks
command: echo "rank $RANK_SEEN" > ${{outputs.o}}/hello.txt
environment_variables:
  RANK_SEEN: from-ferry
resources:
  instance_count: 1
distribution:
  type: pytorch
  process_count_per_instance: 2
outputs:
  o:
    type: uri_folder
    path: azureml://datastores/blob/paths/submitted/
YAML
f submit dist.yml --slurm --print
expect_out "#SBATCH --ntasks-per-node=2" "submit --print: processes per node from the distribution"
expect_out "srun --kill-on-bad-exit=0" "and srun ferry run on every node"
f submit dist.yml --slurm --now
expect_rc 0 "submit --now hands the script to sbatch"
for _ in $(seq 150); do [ -z "$(squeue -h -n two-ranks 2>/dev/null)" ] && break; sleep 0.2; done
SDK list "$C" submitted/ >sub.json
expect_eq "$(json sub.json 'sorted(e["name"] for e in j if e["name"].endswith("hello.txt"))')" \
    "['submitted/rank-0/hello.txt', 'submitted/rank-1/hello.txt']" "the submitted job ran both ranks"
