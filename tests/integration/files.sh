# Azure Files datastores against the project's File service double
# (tests/doubles/azure-files), cross-checked both ways with Microsoft's
# @azure/storage-file-share: what ferry uploads the SDK lists and reads byte
# for byte with the MD5 it reports, and what the SDK writes ferry downloads.
# Also: folders made level by level and empty ones carried, names the share
# cannot hold refused before any request, --overwrite moving nothing that
# is unchanged, SAS and wrong credentials, a corrupted file caught by its
# MD5, retries under faults, an upload killed part-way resumed inside the
# file, and a job whose inputs and outputs are on a share.
. "$(dirname "$0")/../lib.sh"
need_files_double --log "$T/requests.log"
S=s$(date +%s%N | tail -c 10)x$$
MiB=$((1024 * 1024))
requests() { grep -c "$1" "$T/requests.log" || true; }
FILES_HOSTPORT=${FILES_URL#http://}
FILES_HOSTPORT=${FILES_HOSTPORT%%/*}

f datastore register azure-file share --account devstoreaccount1 --share "$S" \
    --account-url "$FILES_URL" --account-key-env AZURITE_KEY --create-if-not-exists
expect_rc 0 "register a file share with a key, creating the share"
expect_err "created file share devstoreaccount1/$S" "and says it created the share"
f datastore show share
expect_not_err "$AZURITE_KEY" "the key is never shown"

# --- ferry uploads, the SDK checks ---
mkdir -p tree/deep/a/b/c/d/e "tree/ünï cødé" tree/empty/inner tree/emptytoo
for n in "sp ace.txt" "hash#.txt" "pct%25.txt" "plus+.txt" "amp&.txt" "semi;colon=.txt" "ünï cødé/ñ.txt" "deep/a/b/c/d/e/f.txt"; do
    printf 'content of %s\n' "$n" >"tree/$n"
done
: >tree/zero.bin
head -c 3000000 /dev/urandom >tree/mid.bin
head -c $((40 * MiB + 12345)) /dev/urandom >big.bin
cp big.bin tree/big.bin
f upload share tree --target-path up
expect_rc 0 "ferry uploads a tree with awkward names, a zero-byte file and a 40 MiB file"
expect_out "uploaded 11 files" "all 11 files"
FSDK list "$S" up >sdk-list.json
(cd tree && find . -type f | sed 's|^\./|up/|' | LC_ALL=C sort) >want-names
json sdk-list.json '"\n".join(sorted(e["name"] for e in j if not e.get("dir")))' | LC_ALL=C sort >got-names
expect_eq "$(diff want-names got-names && echo same)" "same" "the SDK lists exactly the uploaded files"
bad=0
while IFS= read -r rel; do
    want=$(b64md5 "tree/$rel")
    got=$(json sdk-list.json "[e['md5'] for e in j if e['name'] == 'up/$rel'][0]")
    size=$(json sdk-list.json "[e['size'] for e in j if e['name'] == 'up/$rel'][0]")
    if [ "$want" != "$got" ] || [ "$size" != "$(stat -c %s "tree/$rel")" ]; then bad=$((bad + 1)); echo "# $rel: md5 $got want $want, size $size"; fi
done < <(cd tree && find . -type f | sed 's|^\./||')
expect_eq "$bad" "0" "every file carries the MD5 (Content-MD5) and size of its source, as the SDK reports"
expect_eq "$(json sdk-list.json '" ".join(sorted(e["name"] for e in j if e.get("dir") and e["name"].startswith("up/empty")))')" \
    "up/empty up/empty/inner up/emptytoo" "the empty folders are carried as folders"
expect_eq "$(json sdk-list.json 'len([e for e in j if ".ferry-partial-" in e["name"]])')" "0" "no temporary file is left"
FSDK get "$S" up/big.bin sdk-big.bin >sdk-get.json
expect_same big.bin sdk-big.bin "the SDK downloads the 40 MiB file (written in parallel ranges) byte-identical"
expect_eq "$(json sdk-get.json 'j["md5"]')" "$(b64md5 big.bin)" "its MD5, as the SDK reads it, is the file's"
FSDK get "$S" "up/ünï cødé/ñ.txt" sdk-u.txt >/dev/null
expect_same "tree/ünï cødé/ñ.txt" sdk-u.txt "the SDK reads a unicode name in a unicode folder byte-identical"
expect_eq "$(requests 'PUT .*restype=directory.* 201')" "11" "each of the 11 folders was made once"
expect_eq "$(requests 'comp=range .*201')" "$((11 + 1 + 8))" "the 40 MiB file went up in 11 ranges of at most 4 MiB, the other files in one each"

# --- what the share cannot hold is refused before any request ---
mkdir -p bad1 bad2/sub
printf x >'bad1/what?.txt'
printf a >bad2/sub/Data.csv
printf b >bad2/sub/data.csv
before=$(wc -l <"$T/requests.log")
f upload share bad1 --target-path bad
expect_rc 2 "a name with '?' is refused"
expect_err "what?.txt" "naming the file"
expect_err "Azure Files does not allow" "and why"
f upload share bad2 --target-path bad
expect_rc 2 "two names that differ only in case are refused"
expect_err "Data.csv and" "naming both"
printf y >'trail.'
f upload-files share 'trail.' --target-path bad
expect_rc 2 "a name ending with a dot is refused"
expect_eq "$(wc -l <"$T/requests.log")" "$before" "and not one request was made for them"

# --- the SDK writes, ferry downloads ---
head -c 3000000 /dev/urandom >single.bin
head -c $((21 * MiB + 3)) /dev/urandom >ranges.bin
FSDK put "$S" "sdk/sp ace#%+&ü single.bin" single.bin >/dev/null
FSDK put "$S" "sdk/deep/er/ranges.bin" ranges.bin parallel >/dev/null
FSDK put "$S" "sdk/zero" /dev/null >/dev/null
FSDK mkdir "$S" "sdk/hollow/deeper" >/dev/null
f download share out --prefix sdk/
expect_rc 0 "ferry downloads what the SDK wrote"
expect_same single.bin "out/sdk/sp ace#%+&ü single.bin" "a file with an awkward name, byte-identical"
expect_same ranges.bin out/sdk/deep/er/ranges.bin "a 21 MiB file the SDK wrote in parallel ranges, byte-identical (fetched in parallel blocks)"
expect_file out/sdk/zero "a zero-byte file"
[ -d out/sdk/hollow/deeper ] && _ok "an empty folder comes down as a folder" || _fail "an empty folder comes down as a folder" "$(find out | head)"
# a large file with no MD5 stored: each 4 MiB range against the share's MD5 of it
FSDK put "$S" sdk-nomd5/ranges.bin ranges.bin parallel none >/dev/null
f -v download share nomd5 --prefix sdk-nomd5/
expect_rc 0 "a large file the SDK wrote with no MD5"
expect_err "each of its 6 ranges is checked against the MD5 the service gives for it" "is checked range by range (x-ms-range-get-content-md5)"
expect_same ranges.bin nomd5/sdk-nomd5/ranges.bin "byte-identical"
f download share whole --prefix up/
expect_rc 0 "ferry downloads its own upload"
expect_eq "$(cd whole/up && find . | LC_ALL=C sort | md5sum)" "$(cd tree && find . | LC_ALL=C sort | md5sum)" "the same tree, empty folders included"
expect_same big.bin whole/up/big.bin "the large file byte-identical"

# --- listings continued page by page ---
FERRY_LIST_PAGE_SIZE=2 f download share paged --prefix up/
expect_rc 0 "a download whose folder listings come 2 entries a page (markers)"
expect_eq "$(cd paged/up && find . | LC_ALL=C sort | md5sum)" "$(cd tree && find . | LC_ALL=C sort | md5sum)" "sees the whole tree"
[ "$(grep -c 'comp=list.*marker=' "$T/requests.log")" -ge 3 ] && _ok "pages after the first were asked for by their marker" ||
    _fail "pages after the first were asked for by their marker" "$(grep -c 'comp=list.*marker=' "$T/requests.log")"

# --- ls ---
f ls share up/deep/ --json
expect_rc 0 "ls --json"
echo "$(cat "$OUT")" >ls.json
expect_eq "$(json ls.json '[e["name"] for e in j]' 2>/dev/null || json ls.json '[e["name"] for e in j["entries"]]')" "['up/deep/a/b/c/d/e/f.txt']" "lists the file below the folder"
f ls share up/ --delimiter /
expect_rc 0 "ls --delimiter /"
expect_out "up/deep/" "folders as prefixes"
expect_out "up/zero.bin" "files of the folder"
if grep -q "up/deep/a" "$OUT"; then _fail "one level only" "$(cat "$OUT")"; else _ok "one level only"; fi

# --- --overwrite moves nothing that is unchanged ---
etag=$(FSDK props "$S" up/big.bin | json /dev/stdin 'j["etag"]')
before=$(requests 'comp=range')
f upload share tree --target-path up --overwrite
expect_rc 0 "uploading the same tree again with --overwrite"
expect_out "11 unchanged" "every file is known unchanged"
expect_eq "$(requests 'comp=range')" "$before" "no range was written"
expect_eq "$(FSDK props "$S" up/big.bin | json /dev/stdin 'j["etag"]')" "$etag" "the large file was not touched"
printf 'changed' >>tree/mid.bin
f upload share tree --target-path up --overwrite
expect_out "uploaded 1 file" "a changed file goes up again"
FSDK get "$S" up/mid.bin mid-back.bin >/dev/null
expect_same tree/mid.bin mid-back.bin "with its new content"

# --- credentials ---
export FSAS=$(FSDK sas "$S" rl 60 | json /dev/stdin 'j["sas"]')
f datastore register azure-file sas --account devstoreaccount1 --share "$S" --account-url "$FILES_URL" \
    --sas-token-env FSAS
expect_rc 0 "register with a read-only share SAS"
f download sas sasout --prefix sdk/deep/
expect_rc 0 "download with the SAS"
expect_same ranges.bin sasout/sdk/deep/er/ranges.bin "byte-identical"
f upload-files sas single.bin --target-path nope
expect_rc 1 "a write with a read-only SAS fails"
expect_err "access denied" "access denied, said so"
expect_not_err "sig=" "and the SAS is not shown"
export FASAS=$(FSDK accountsas rwdlac 60 | json /dev/stdin 'j["sas"]')
f datastore register azure-file asas --account devstoreaccount1 --share "$S" --account-url "$FILES_URL" \
    --sas-token-env FASAS
expect_rc 0 "register with an account SAS that may write"
f upload-files asas big.bin single.bin --target-path viasas
expect_rc 0 "an upload with the SAS (the rename's source is authorized by it too)"
FSDK get "$S" viasas/big.bin viasas-big.bin >/dev/null
expect_same big.bin viasas-big.bin "the SDK reads what went up with the SAS, byte for byte"
export FSAS_OLD=$(FSDK sas "$S" rl -5 | json /dev/stdin 'j["sas"]')
f datastore register azure-file old --account devstoreaccount1 --share "$S" --account-url "$FILES_URL" \
    --sas-token-env FSAS_OLD
expect_rc 1 "an expired SAS is refused at registration"
expect_err "expired" "with a hint that it may have expired"
export WRONG_KEY=$(printf 'not the key at all, not the key at all' | base64 -w0)
f datastore register azure-file wrong --account devstoreaccount1 --share "$S" --account-url "$FILES_URL" \
    --account-key-env WRONG_KEY
expect_rc 1 "a wrong key is refused (the double checks signatures)"
expect_err "AuthenticationFailed" "with the service's code"

# --- a corrupted file is caught by its MD5 ---
FSDK put "$S" bad/corrupt.bin single.bin single wrong-md5 >/dev/null
f download share corrupt --prefix bad/
expect_rc 1 "a file whose bytes do not match its MD5 fails"
expect_err "does not match" "said so"
expect_no_file corrupt/bad/corrupt.bin "and nothing is kept under its name"

# --- retries under faults ---
/usr/bin/python3 "$TOP/tests/faults/proxy.py" --upstream "$FILES_HOSTPORT" --rate 0.2 --seed 11 \
    --stats "$T/stats.json" --stall-seconds 3 >"$T/proxy.port" 2>"$T/proxy.err" &
echo $! >"$T/proxy.pid"
at_exit 'kill "$(cat "$T/proxy.pid")" 2>/dev/null'
for _ in $(seq 50); do [ -s "$T/proxy.port" ] && break; sleep 0.1; done
port=$(head -1 "$T/proxy.port")
f datastore register azure-file faulty --account devstoreaccount1 --share "$S" \
    --account-url "http://127.0.0.1:$port/devstoreaccount1" --account-key-env AZURITE_KEY
export FERRY_STALL_SECONDS=2 FERRY_RETRIES=10
f upload faulty tree --target-path faulty -j 8
expect_rc 0 "an upload through a faulty link completes"
f download faulty fback --prefix faulty/ -j 8
expect_rc 0 "and so does a download"
expect_eq "$(cd fback/faulty && find . -type f -exec md5sum {} + | LC_ALL=C sort -k2 | md5sum)" \
    "$(cd tree && find . -type f -exec md5sum {} + | LC_ALL=C sort -k2 | md5sum)" "every byte arrived"
kill "$(cat "$T/proxy.pid")"; wait "$(cat "$T/proxy.pid")" 2>/dev/null
expect_eq "$(json "$T/stats.json" 'j["faults"] >= 10')" "True" "faults were injected ($(json "$T/stats.json" 'j["by_kind"]'))"
unset FERRY_STALL_SECONDS FERRY_RETRIES

# --- killed part-way, a download and an upload resume inside the file ---
# slow NAME: a datastore NAME on the share through a proxy that passes 8 MiB/s
slow() {
    /usr/bin/python3 "$TOP/tests/faults/proxy.py" --upstream "$FILES_HOSTPORT" --rate 1 \
        --faults throttle --throttle-bps $((8 << 20)) --stats "$T/stats-$1.json" >"$T/$1.port" 2>"$T/$1.err" &
    echo $! >"$T/$1.pid"
    for _ in $(seq 50); do [ -s "$T/$1.port" ] && break; sleep 0.1; done
    f datastore register azure-file "$1" --account devstoreaccount1 --share "$S" \
        --account-url "http://127.0.0.1:$(head -1 "$T/$1.port")/devstoreaccount1" --account-key-env AZURITE_KEY
}
at_exit 'for p in "$T"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done'
recorded() {
    /usr/bin/python3 -c 'import os,sys; print(int(os.getxattr(sys.argv[1], "user.ferry.partial").split()[3]))' "$1" 2>/dev/null || echo 0
}
slow slowdown
bg download slowdown dl --prefix up/big.bin -j 1
for _ in $(seq 300); do [ "$(recorded dl/up/.big.bin.ferry-partial)" -ge 2 ] && break; sleep 0.1; done
have=$(recorded dl/up/.big.bin.ferry-partial)
signal_bg KILL
[ "$have" -ge 2 ] && _ok "a slow download, killed, kept the blocks it had ($have)" || _fail "a slow download, killed, kept the blocks it had" "$have"
f download share dl --prefix up/big.bin
expect_rc 0 "the same download again completes"
expect_err "resuming; $((have * 8)).0 MiB of 40.0 MiB are here from an earlier attempt" "resuming inside the file"
expect_same big.bin dl/up/big.bin "the resumed file is whole (its MD5 checked against the share's)"

slow slow
head -c $((40 * MiB + 999)) /dev/urandom >up.bin
bg upload-files slow up.bin --target-path u -j 1
n=0
for _ in $(seq 300); do
    n=$(grep -c 'PUT .*/u/\.ferry-partial-.*comp=range.* 201' "$T/requests.log" || true)
    [ "$n" -ge 4 ] && break
    sleep 0.2
done
signal_bg KILL
kill "$(cat "$T/slow.pid")"; wait "$(cat "$T/slow.pid")" 2>/dev/null
[ "$n" -ge 4 ] && _ok "killed part-way, the upload had written ranges ($n)" || _fail "killed part-way, the upload had written ranges" "$n"
FSDK list "$S" u >u.json
expect_eq "$(json u.json '[e["name"] for e in j if not e.get("dir") and ".ferry-partial-" not in e["name"]]')" "[]" \
    "no file appears under its name: the SDK sees only the temporary file in u/"
f ls share u/
expect_not_out ".ferry-partial" "and ferry's listing hides its unfinished temporary file"
before=$(requests 'comp=range')
f -v upload-files share up.bin --target-path u
expect_rc 0 "the same upload again completes"
expect_err "resuming its upload" "resuming inside the file"
sent=$(( $(requests 'comp=range') - before ))
[ "$sent" -lt 10 ] && _ok "only the ranges not yet written were sent ($sent of 10)" || _fail "only the ranges not yet written were sent" "$sent of 10"
FSDK props "$S" u/up.bin >props.json
expect_eq "$(json props.json 'j["md5"]')" "$(b64md5 up.bin)" "the file holds the whole source (its MD5, by the SDK)"
FSDK get "$S" u/up.bin up-back.bin >/dev/null
expect_same up.bin up-back.bin "byte for byte"
expect_eq "$(FSDK list "$S" u | json /dev/stdin 'len([e for e in j if ".ferry-partial-" in e["name"]])')" "0" "and the temporary file is gone (renamed into place)"

# --- Azure ML's azure_file YAML ---
cat >fs.yml <<YAML
\$schema: https://azuremlschemas.azureedge.net/latest/azureFile.schema.json
name: fromyaml
type: azure_file
description: Datastore pointing to an Azure File Share.
account_name: devstoreaccount1
file_share_name: $S
account_url: $FILES_URL
credentials:
  account_key: $AZURITE_KEY
YAML
f datastore create --file fs.yml
expect_rc 0 "datastore create --file takes Azure ML's azure_file YAML (and checks access)"
f download fromyaml yout --prefix sdk/deep/
expect_rc 0 "and moves data"
expect_same ranges.bin yout/sdk/deep/er/ranges.bin "byte-identical"

# --- a job whose inputs and outputs are on the share ---
mkdir -p job
cat >job/job.yml <<YAML
\$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: >-
  python3 -c "import hashlib,os,sys; d=sys.argv[1]; o=sys.argv[3];
  h=hashlib.md5(open(os.path.join(d,'er/ranges.bin'),'rb').read()).hexdigest();
  open(os.path.join(o,'md5.txt'),'w').write(h+'\n');
  open(os.path.join(o,'single.txt'),'w').write(str(os.path.getsize(sys.argv[2])));
  os.makedirs(os.path.join(o,'empty'))"
  \${{inputs.deep}} "\${{inputs.one}}" \${{outputs.result}}
inputs:
  deep:
    type: uri_folder
    path: azureml://datastores/share/paths/sdk/deep/
    mode: ro_mount
  one:
    type: uri_file
    path: $FILES_URL/$S/sdk/sp%20ace%23%25%2B%26%C3%BC%20single.bin
    mode: download
outputs:
  result:
    type: uri_folder
    path: azureml://datastores/share/paths/jobout/
    mode: rw_mount
YAML
f run job/job.yml --run-id files1
expect_rc 0 "a job with inputs (ro_mount, download) and an output (rw_mount) on a file share runs"
FSDK get "$S" jobout/md5.txt md5.txt >/dev/null
expect_eq "$(cat md5.txt)" "$(md5sum <ranges.bin | cut -d' ' -f1)" "the command read the input folder's file whole"
FSDK get "$S" jobout/single.txt single.txt >/dev/null
expect_eq "$(cat single.txt)" "3000000" "and the input file given by its https-style URL (resolved to the registered share)"
expect_eq "$(FSDK list "$S" jobout | json /dev/stdin '" ".join(sorted(e["name"] for e in j))')" \
    "jobout/_ferry_manifest.json jobout/empty jobout/md5.txt jobout/single.txt" "the output is on the share, its empty folder and manifest too"
expect_err "deep: mounted 1 file at" "its folder input was mounted (ro_mount) from the share"
expect_err "deep: unmounted $FERRY_WORKSPACE/runs/files1/inputs/deep; $((21 * MiB + 3)) bytes were read" "and read whole through the mount"
f run job/job.yml --run-id files2
expect_rc 0 "the same job again"
expect_err "deep: unmounted $FERRY_WORKSPACE/runs/files2/inputs/deep; 0 bytes were read" "reads its mounted input from the node cache (keyed by the file's ETag)"
expect_err "input one: downloaded 1 file (0 B, 1 from the cache)" "and its downloaded one too"
expect_err "output result: uploaded 0 files (0 B), 2 skipped (2 unchanged)" "and finds its unchanged outputs on the share, sending nothing"

# --- an output synced while the command runs (sync_interval) ---
cat >job/sync.yml <<YAML
command: >-
  sh -c 'echo one > \${{outputs.o}}/first.txt; sleep 4; echo two > \${{outputs.o}}/second.txt'
outputs:
  o:
    type: uri_folder
    path: azureml://datastores/share/paths/synced/
    mode: upload
    sync_interval: 1
YAML
bg run job/sync.yml --run-id sync1
seen=
for _ in $(seq 40); do
    seen=$(FSDK list "$S" synced 2>/dev/null | json /dev/stdin '" ".join(e["name"] for e in j)' 2>/dev/null)
    case "$seen" in *first.txt*) break ;; esac
    sleep 0.2
done
case "$seen" in *first.txt*) _ok "a file written by the running command reaches the share before it ends" ;; *) _fail "a file written by the running command reaches the share before it ends" "$seen" ;; esac
wait "$BG"
expect_eq "$?" "0" "the synced job ends well"
FSDK get "$S" synced/second.txt second.txt >/dev/null
expect_eq "$(cat second.txt)" "two" "and the last file is there at the end"
