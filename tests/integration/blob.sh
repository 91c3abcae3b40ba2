# Azure Blob against Azurite, cross-checked with the official SDK for
# JavaScript: what ferry uploads the SDK reads byte for byte with the MD5
# it reports, and what the SDK uploads (single shot and in blocks) ferry
# downloads byte for byte. Auth: key, account SAS, container SAS, wrong
# key, expired SAS, anonymous; https with a CA made here.
. "$(dirname "$0")/../lib.sh"
need_azurite
C=t$(date +%s%N | tail -c 10)x$$
URL=$AZURITE_BLOB_URL
ALL=$T/all-output
: >"$ALL"
keep() { cat "$OUT" "$ERR" >>"$ALL"; }

f datastore register azure-blob az --account devstoreaccount1 --container "$C" --account-url "$URL" \
    --account-key-env AZURITE_KEY --create-if-not-exists; keep
expect_rc 0 "register with a key, creating the container"
expect_err "created container devstoreaccount1/$C" "and says it created the container"

# --- ferry uploads, the SDK checks ---
mkdir -p tree/deep/a/b/c/d/e "tree/ünï cødé"
for n in "sp ace.txt" "hash#.txt" "pct%25.txt" "plus+.txt" "q?.txt" "amp&.txt" "semi;colon=.txt" "ünï cødé/ñ.txt" "deep/a/b/c/d/e/f.txt"; do
    printf 'content of %s\n' "$n" >"tree/$n"
done
: >tree/zero.bin
head -c 3000000 /dev/urandom >tree/mid.bin
head -c $((100 * 1024 * 1024 + 12345)) /dev/urandom >big.bin
cp big.bin tree/big.bin
f upload az tree --target-path up; keep
expect_rc 0 "ferry uploads a tree with awkward names, a zero-byte file and a 100 MiB file (12 files)"
expect_out "uploaded 12 files" "all 12 files"
SDK list "$C" up/ >sdk-list.json
(cd tree && find . -type f | sed 's|^\./|up/|' | LC_ALL=C sort) >want-names
json sdk-list.json '"\n".join(sorted(e["name"] for e in j))' | LC_ALL=C sort >got-names
expect_eq "$(diff want-names got-names && echo same)" "same" "the SDK lists exactly the uploaded names"
bad=0
while IFS= read -r rel; do
    want=$(b64md5 "tree/$rel")
    got=$(json sdk-list.json "[e['md5'] for e in j if e['name'] == 'up/$rel'][0]")
    size=$(json sdk-list.json "[e['size'] for e in j if e['name'] == 'up/$rel'][0]")
    if [ "$want" != "$got" ] || [ "$size" != "$(stat -c %s "tree/$rel")" ]; then bad=$((bad + 1)); echo "# $rel: md5 $got want $want, size $size"; fi
done < <(cd tree && find . -type f | sed 's|^\./||')
expect_eq "$bad" "0" "every blob carries the MD5 and size of its source (as the SDK reports)"
SDK get "$C" up/big.bin sdk-big.bin >sdk-get.json
expect_same big.bin sdk-big.bin "the SDK downloads the 100 MiB block blob byte-identical"
expect_eq "$(json sdk-get.json 'j["md5"]')" "$(b64md5 big.bin)" "the block blob's MD5 (x-ms-blob-content-md5) is the file's"
SDK get "$C" "up/ünï cødé/ñ.txt" sdk-u.txt >/dev/null
expect_same "tree/ünï cødé/ñ.txt" sdk-u.txt "the SDK downloads a unicode name byte-identical"
SDK get "$C" "up/q?.txt" sdk-q.txt >/dev/null
expect_same "tree/q?.txt" sdk-q.txt "and a name with ?"

# --- the SDK uploads, ferry downloads ---
head -c 3000000 /dev/urandom >single.bin
head -c 21000000 /dev/urandom >blocks.bin
SDK put "$C" "sdk/sp ace#%+?&ü single.bin" single.bin single >/dev/null
SDK put "$C" "sdk/deep/blocks.bin" blocks.bin blocks >/dev/null
SDK put "$C" "sdk/zero" /dev/null single >/dev/null
f download az out --prefix sdk/; keep
expect_rc 0 "ferry downloads what the SDK uploaded"
expect_same single.bin "out/sdk/sp ace#%+?&ü single.bin" "a single-shot blob with an awkward name, byte-identical"
expect_same blocks.bin out/sdk/deep/blocks.bin "a blob the SDK uploaded in blocks, byte-identical"
expect_file out/sdk/zero "a zero-byte blob becomes an empty file"
f -vv download az out2 --prefix up/; keep
expect_same big.bin out2/up/big.bin "ferry reads back its own 100 MiB upload"
ranges=$(grep -c "GET .*/up/big.bin -> 206" "$ERR")
[ "$ranges" -ge 13 ] && _ok "in ranges: $ranges ranged GETs of 8 MiB for 100 MiB" ||
    _fail "in ranges: at least 13 ranged GETs for 100 MiB" "got $ranges"
if (cd tree && find . -type f | sort) | while IFS= read -r rel; do cmp -s "tree/$rel" "out2/up/$rel" || exit 1; done; then
    _ok "every name of the tree comes back byte-identical"
else
    _fail "every name of the tree comes back byte-identical"
fi
f download az out2 --prefix up/; keep
expect_out "0 files (0 B), 12 skipped" "a second download skips what is there"
f download az out2 --prefix up/ --overwrite; keep
expect_out "downloaded 0 files (0 B), 12 skipped (12 unchanged)" "with --overwrite, files ferry fetched before and unchanged since move no bytes"
SDK put "$C" up/mid.bin single.bin >/dev/null
f download az out2 --prefix up/ --overwrite -j 3; keep
expect_out "downloaded 1 file (2.9 MiB), 11 skipped (11 unchanged)" "a blob that changed is fetched again, alone"
expect_same single.bin out2/up/mid.bin "and its new content arrives"
cp single.bin tree/mid.bin
f ls az up/deep/ --json; keep
expect_eq "$(json "$OUT" '[(e["name"], e["size"], e["etag"] != "") for e in j]')" "[('up/deep/a/b/c/d/e/f.txt', 32, True)]" "ls --json gives name, size and ETag"
FERRY_LIST_PAGE_SIZE=2 f -vv ls az up/ --json; keep
expect_eq "$(json "$OUT" 'len(j)')" "12" "a listing in pages of 2 (NextMarker) gives all 12 blobs"
expect_eq "$(grep -c 'comp=list' "$ERR")" "6" "in 6 requests"
f ls az up/ --delimiter / --json; keep
expect_eq "$(json "$OUT" '[e["name"] for e in j if e.get("prefix")]')" "['up/deep/', 'up/ünï cødé/']" "--delimiter / gives each folder once"
expect_eq "$(json "$OUT" 'len([e for e in j if not e.get("prefix")])')" "10" "and the files at that level"
f upload az tree --target-path up; keep
expect_out "uploaded 0 files (0 B), 12 skipped" "an upload without --overwrite skips existing blobs"
f upload az tree --target-path up --overwrite; keep
expect_out "uploaded 0 files (0 B), 12 skipped (12 unchanged)" "an upload with --overwrite sends nothing when the blobs hold the same bytes (MD5)"
printf 'changed\n' >"tree/sp ace.txt"
f upload az tree --target-path up --overwrite; keep
expect_out "uploaded 1 file (8 B), 11 skipped (11 unchanged)" "a changed file is the only one sent"
SDK get "$C" "up/sp ace.txt" sdk-sp.txt >/dev/null
expect_eq "$(cat sdk-sp.txt)" "changed" "--overwrite replaces a blob"

# --- integrity: a blob whose content does not match its MD5 ---
printf 'the real bytes\n' >honest.txt
SDK put "$C" bad/wrong.txt honest.txt single wrong-md5 >/dev/null
SDK put "$C" bad/right.txt honest.txt single >/dev/null
f download az out3 --prefix bad/; keep
expect_rc 1 "a download whose MD5 does not match fails"
expect_err "does not match the blob's MD5" "and says so"
expect_no_file out3/bad/wrong.txt "no corrupt copy is kept"
expect_eq "$(find out3 -name '*.part' | wc -l)" "0" "and no temporary file"
expect_file out3/bad/right.txt "the other file still arrives"

# --- awkward listings: markers, a file beside its folder, a leading slash ---
SDK put "$C" m/b /dev/null >/dev/null
printf 'c\n' >c.txt
SDK put "$C" m/b/c c.txt >/dev/null
SDK put "$C" n/b c.txt >/dev/null
SDK put "$C" n/b/c c.txt >/dev/null
SDK put "$C" m/folder/ /dev/null >/dev/null 2>&1
f download az out4 --prefix m/; keep
expect_rc 0 "an empty marker blob beside its folder is skipped"
expect_file out4/m/b/c "and the folder's file arrives"
f download az out4 --prefix n/; keep
expect_rc 1 "a non-empty blob beside a folder of the same name fails that file"
expect_err "'n/b' is both a file (2 bytes) and a folder" "and says so clearly"
expect_file out4/n/b/c "the rest still arrives"
SDK put "$C" /abs.txt c.txt >/dev/null
mkdir -p out5/inner
f download az out5/inner --prefix /; keep
expect_rc 1 "a blob named with a leading / is refused"
expect_err "refusing '/abs.txt': absolute path; nothing written" "and named"
expect_no_file /abs.txt "nothing was written outside the target"

# --- SAS tokens from the SDK ---
export ACCOUNT_SAS=$(SDK sas-account rwdlac 60 | json /dev/stdin 'j["sas"]')
export CONTAINER_SAS=$(SDK sas-container "$C" racwdl 60 | json /dev/stdin 'j["sas"]')
f datastore register azure-blob az_asas --account devstoreaccount1 --container "$C" --account-url "$URL" --sas-token-env ACCOUNT_SAS; keep
expect_rc 0 "register with an account SAS (access checked)"
f upload-files az_asas c.txt --target-path sas/account; keep
expect_rc 0 "upload with an account SAS"
f datastore register azure-blob az_csas --account devstoreaccount1 --container "$C" --account-url "$URL" --sas-token-env CONTAINER_SAS; keep
expect_rc 0 "register with a container SAS"
f -vv download az_csas out6 --prefix sas/; keep
expect_same c.txt out6/sas/account/c.txt "download with a container SAS"
expect_err "sig=REDACTED" "-vv shows requests with the signature redacted"
export EXPIRED_SAS=$(SDK sas-account rl -10 | json /dev/stdin 'j["sas"]')
f datastore register azure-blob az_old --account devstoreaccount1 --container "$C" --account-url "$URL" --sas-token-env EXPIRED_SAS; keep
expect_rc 1 "an expired SAS fails the access check"
expect_err "the SAS token from \$EXPIRED_SAS" "naming which credential was tried"
expect_err "may be wrong, expired" "and what may be wrong"
f datastore register azure-blob az_old --account devstoreaccount1 --container "$C" --account-url "$URL" --sas-token-env EXPIRED_SAS --skip-validation; keep
expect_rc 0 "--skip-validation registers it unchecked"
f ls az_old; keep
expect_rc 1 "and a listing then fails with exit 1"

# --- a wrong key ---
export WRONG_KEY=$(printf 'not-the-account-key-0123456789abcdef' | base64)
f datastore register azure-blob az_bad --account devstoreaccount1 --container "$C" --account-url "$URL" --account-key-env WRONG_KEY; keep
expect_rc 1 "a wrong key fails registration"
expect_err "the account key from \$WRONG_KEY: the account key may be wrong" "with which credential and what to check"
f datastore list; keep
grep -q az_bad "$OUT" && _fail "a datastore that failed its check is not registered" || _ok "a datastore that failed its check is not registered"

# --- anonymous read of a public container ---
P=p$(date +%s%N | tail -c 10)x$$
SDK create "$P" public >/dev/null
SDK put "$P" pub/data.txt c.txt >/dev/null
f datastore register azure-blob az_pub --account devstoreaccount1 --container "$P" --account-url "$URL"; keep
expect_rc 0 "register a public container with no credential"
f download az_pub out7; keep
expect_same c.txt out7/pub/data.txt "anonymous download"
f upload-files az_pub c.txt; keep
expect_rc 1 "anonymous upload is refused by the service"
expect_err "no credential (anonymous access)" "and the message says no credential was given"

# --- missing container, unreachable host ---
f datastore register azure-blob az_none --account devstoreaccount1 --container nosuchcontainer --account-url "$URL" --account-key-env AZURITE_KEY; keep
expect_rc 1 "a missing container fails registration"
expect_err "container devstoreaccount1/nosuchcontainer does not exist" "and names it"
f datastore register azure-blob az_down --account devstoreaccount1 --container "$C" --account-url http://127.0.0.1:9/devstoreaccount1 --account-key-env AZURITE_KEY; keep
expect_rc 1 "an unreachable host fails"
expect_err "cannot connect to 127.0.0.1:9" "and names the host"

# --- https with a CA made here ---
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem >/dev/null 2>&1
mkdir -p tls && (cd tls && exec "$TOP/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort 0 \
    --inMemoryPersistence --disableTelemetry --cert "$T/cert.pem" --key "$T/key.pem") >tls.log 2>&1 &
tlspid=$!
at_exit 'kill $tlspid 2>/dev/null'
for _ in $(seq 300); do
    tport=$(grep -o 'listens on https://127.0.0.1:[0-9]*' tls.log | sed 's/.*://')
    [ -n "$tport" ] && break
    sleep 0.1
done
f datastore register azure-blob az_tls --account devstoreaccount1 --container tls --account-url "https://127.0.0.1:$tport/devstoreaccount1" --account-key-env AZURITE_KEY --create-if-not-exists --ca-file cert.pem; keep
expect_rc 0 "https with --ca-file"
f upload-files az_tls big.bin; keep
f download az_tls out8 -j 4; keep
expect_same big.bin out8/big.bin "a 100 MiB round trip over TLS (in 13 parallel ranges)"
f datastore register azure-blob az_tls2 --account devstoreaccount1 --container tls --account-url "https://127.0.0.1:$tport/devstoreaccount1" --account-key-env AZURITE_KEY; keep
expect_rc 1 "without the CA, TLS verification refuses the server"
expect_err "pass --ca-file PEM" "and says what to do"
CURL_CA_BUNDLE=$T/cert.pem f datastore register azure-blob az_tls3 --account devstoreaccount1 --container tls --account-url "https://127.0.0.1:$tport/devstoreaccount1" --account-key-env AZURITE_KEY; keep
expect_rc 0 "CURL_CA_BUNDLE is honoured"
kill $tlspid 2>/dev/null

# --- jobs on Azurite ---
mkdir -p job && cd job
cat >job.yml <<YAML
command: >-
  cat "\${{inputs.tree}}/sp ace.txt" > \${{outputs.out}}/first.txt &&
  cp \${{inputs.one}} \${{outputs.out}}/ && cp "\${{inputs.byurl}}" \${{outputs.out}}/byurl.txt &&
  ls \${{inputs.tree}} > \${{outputs.out}}/listing.txt
inputs:
  tree: {type: uri_folder, path: "azureml://datastores/az/paths/up/", mode: download}
  one: {type: uri_file, path: "azureml://datastores/az/paths/sdk/deep/blocks.bin"}
  byurl: {type: uri_file, path: "$URL/$C/up/hash%23.txt", mode: download}
outputs:
  out: {type: uri_folder, path: "azureml://datastores/az/paths/results/\${{name}}/", mode: upload}
YAML
f run job.yml --run-id blobjob; keep
expect_rc 0 "a v2 job whose inputs and outputs are on Azurite runs"
f run job.yml --run-id blobjob --resume; keep
expect_err "input tree: downloaded 0 files (0 B), 12 skipped (12 unchanged)" "a rerun of the same run stages its inputs without moving a byte"
SDK get "$C" results/blobjob/blocks.bin got-blocks.bin >/dev/null
expect_same ../blocks.bin got-blocks.bin "its output reached the container (checked by the SDK)"
SDK get "$C" results/blobjob/byurl.txt got-url.txt >/dev/null
expect_same "../tree/hash#.txt" got-url.txt "an input named by a blob URL used the registered credential"
M=$FERRY_WORKSPACE/runs/blobjob/manifest.json
SDK list "$C" up/ >list-up.json
want=$(json list-up.json '[e["etag"] for e in j if e["name"] == "up/mid.bin"][0]')
expect_eq "$(json "$M" '[f["etag"] for f in j["inputs"][0]["files"] if f["path"] == "mid.bin"][0]')" "$want" "the manifest records each input blob's ETag"
expect_eq "$(json "$M" '[f["md5"] for f in j["inputs"][0]["files"] if f["path"] == "mid.bin"][0]')" "$(b64md5 ../tree/mid.bin)" "and its MD5"
SDK list "$C" results/blobjob/ >list-out.json
want=$(json list-out.json '[e["etag"] for e in j if e["name"] == "results/blobjob/first.txt"][0]')
expect_eq "$(json "$M" '[f["etag"] for f in j["outputs"][0]["files"] if f["path"] == "first.txt"][0]')" "$want" "the manifest records each output blob's ETag"
cat >runconfig.yml <<'YAML'
script: copy.sh
arguments: [$AZUREML_DATAREFERENCE_src, $AZUREML_DATAREFERENCE_dst]
dataReferences:
  src: {dataStoreName: az, pathOnDataStore: up/deep, mode: download}
  dst: {dataStoreName: az, pathOnDataStore: v1/out, mode: upload, overwrite: true}
YAML
printf '#!/bin/sh\ncp -r "$1"/. "$2"/\n' >copy.sh
chmod +x copy.sh
f run runconfig.yml --run-id v1blob; keep
expect_rc 0 "a v1 runconfig with dataReferences on Azurite runs"
SDK get "$C" v1/out/a/b/c/d/e/f.txt got-f.txt >/dev/null
expect_same ../tree/deep/a/b/c/d/e/f.txt got-f.txt "its upload reference reached the container"
expect_eq "$(json "$FERRY_WORKSPACE/runs/v1blob/manifest.json" 'all("etag" in f and "md5" in f for f in j["outputs"][0]["files"])')" "True" "the v1 manifest has ETag and MD5 for each output"
cd "$T"

# --- the node-local cache of job inputs ---
mkdir -p cachejob && cd cachejob
printf 'command: ls -R "${{inputs.d}}" > /dev/null\ninputs:\n  d: {type: uri_folder, path: "azureml://datastores/az/paths/up/", mode: download}\n' > job.yml
f run job.yml --run-id c1 --cache-dir "$T/cache1"; keep
expect_err "input d: downloaded 12 files (102.9 MiB), 0 skipped" "a first run fills the cache"
f run job.yml --run-id c2 --cache-dir "$T/cache1"; keep
expect_err "input d: downloaded 12 files (0 B, 12 from the cache)" "a second run on the node takes every input file from the cache"
expect_same ../tree/big.bin "$FERRY_WORKSPACE/runs/c2/inputs/d/big.bin" "and the 100 MiB file is whole"
# a cached input written through its link is not trusted again
printf 'scribbled' >"$FERRY_WORKSPACE/runs/c2/inputs/d/plus+.txt"
f run job.yml --run-id c3 --cache-dir "$T/cache1"; keep
expect_err "changed since it was cached; fetching it again" "a cached object changed through a link is fetched again"
expect_same "../tree/plus+.txt" "$FERRY_WORKSPACE/runs/c3/inputs/d/plus+.txt" "so the next run sees the real bytes"
# two processes staging the same input at once fetch each blob once
"$FERRY" -vv run job.yml --run-id p1 --cache-dir "$T/cache2" >p1.out 2>p1.err &
p1=$!
"$FERRY" -vv run job.yml --run-id p2 --cache-dir "$T/cache2" >p2.out 2>p2.err &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
expect_eq "$r1 $r2" "0 0" "two runs staging the same input at once both succeed"
# each process says "downloaded N files (..., M from the cache)": N - M were fetched
fetched=$(grep -h 'input d: downloaded' p1.err p2.err | sed -E 's/.*downloaded ([0-9]+) files? \(([^,)]*)(, ([0-9]+) from the cache)?\).*/\1 \4/' |
    awk '{ s += $1 - ($2 == "" ? 0 : $2) } END { print s }')
expect_eq "$fetched" "12" "between them they fetched each of the 12 blobs once"
bad=0
for r in p1 p2; do
    (cd ../tree && find . -type f) | while read -r rel; do cmp -s "../tree/$rel" "$FERRY_WORKSPACE/runs/$r/inputs/d/$rel" || echo "$r $rel"; done >>diffs
done
expect_eq "$(wc -l <diffs)" "0" "and both saw every byte right"
cat p1.err p2.err >>"$ALL"
# least recently used objects go when the cache outgrows its limit
f run job.yml --run-id c4 --cache-dir "$T/cache3" --cache-size 1M; keep
expect_rc 0 "a run with a 1 MiB cache"
expect_err "cache: evicted" "evicts what does not fit"
# (which objects stay depends on the order downloads finished in: their sizes are what counts)
kept=$(find "$T/cache3/objects" -type f ! -name '*.lock' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
expect_eq "$([ "$kept" -le 1048576 ] && echo within)" "within" "and keeps no more than the limit ($kept bytes)"
expect_same ../tree/big.bin "$FERRY_WORKSPACE/runs/c4/inputs/d/big.bin" "while the run's inputs stay whole"
printf 'command: "true"\nenvironment_variables: {FERRY_CONCURRENCY: 2}\ninputs:\n  d: {type: uri_folder, path: "azureml://datastores/az/paths/up/", mode: download}\n' > conc.yml
f -v run conc.yml --run-id cj --no-cache; keep
expect_err "d: 2 workers" "FERRY_CONCURRENCY among a job's environment variables sets its staging concurrency"
printf 'command: "true"\nenvironment_variables: {FERRY_CONCURRENCY: lots}\n' > conc2.yml
f run conc2.yml; keep
expect_rc 121 "a bad FERRY_CONCURRENCY in a job is a config error"
f run job.yml --run-id c5 --no-cache; keep
expect_err "input d: downloaded 12 files (102.9 MiB), 0 skipped" "--no-cache downloads"
# a cache on another filesystem: objects are copied into the run, not linked
mkdir -p "$T/cachefs"
if mount -t tmpfs -o size=256m tmpfs "$T/cachefs" 2>/dev/null; then
    f run job.yml --run-id x1 --cache-dir "$T/cachefs"; keep
    f run job.yml --run-id x2 --cache-dir "$T/cachefs"; keep
    expect_rc 0 "a run with its cache on another filesystem"
    expect_err "input d: downloaded 12 files (0 B, 12 from the cache)" "takes every input from that cache"
    expect_same ../tree/big.bin "$FERRY_WORKSPACE/runs/x2/inputs/d/big.bin" "as whole copies"
    expect_eq "$(stat -c %h "$FERRY_WORKSPACE/runs/x2/inputs/d/big.bin")" "1" "(copies, not links)"
    umount "$T/cachefs"
else
    _fail "mount a tmpfs for the cache (the test runs as root)"
fi
cd "$T"

# --- no secret anywhere, at any verbosity ---
sig() { printf '%s' "$1" | sed -n 's/.*sig=\([^&]*\).*/\1/p'; }
for s in "$AZURITE_KEY" "$(sig "$ACCOUNT_SAS")" "$(sig "$CONTAINER_SAS")" "$(sig "$EXPIRED_SAS")" "$WRONG_KEY"; do
    expect_eq "$(grep -cF -- "$s" "$ALL")" "0" "no output holds the secret ${s:0:5}..."
done
expect_eq "$(grep -rlF -- "$(sig "$ACCOUNT_SAS")" "$FERRY_WORKSPACE" | wc -l)" "0" "no workspace file holds a SAS signature"

# --- names that are not UTF-8 never reach the service; --overwrite -v says unchanged ---
mkdir -p "$T/enc" && cd "$T"
printf 'bad\n' >"enc/$(printf 'bad\377.txt')"
printf 'good\n' >enc/good.txt
start=$(date +%s)
f upload az enc --target-path enc
expect_rc 1 "an upload with a name that is not UTF-8 exits 1"
expect_err 'enc/bad\xff.txt' "naming it, escaped"
expect_err "not valid UTF-8" "refused as not UTF-8"
expect_eq "$(( $(date +%s) - start < 4 ))" "1" "at once, not after the service's 500s and retries"
expect_out "uploaded 1 file" "the good file goes"
f -v upload az enc --target-path enc --overwrite
expect_err "unchanged $T/enc/good.txt" "--overwrite -v calls a file the blob holds already unchanged"
expect_not_err "exists; --overwrite replaces it" "not skipped for existing"
