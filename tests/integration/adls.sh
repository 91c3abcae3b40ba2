# ADLS Gen2 datastores against the project's dfs double (tests/doubles/adls),
# cross-checked both ways with Microsoft's @azure/storage-file-datalake:
# what ferry uploads the SDK lists and reads byte for byte with its MD5, and
# what the SDK writes ferry downloads. Also: empty folders carried, names
# refused before any request, --overwrite moving nothing unchanged, SAS,
# a corrupted file caught by its MD5, retries under faults, and an upload
# and a download killed part-way resuming inside the file.
. "$(dirname "$0")/../lib.sh"
need_adls_double --log "$T/requests.log"
FS=f$(date +%s%N | tail -c 10)x$$
MiB=$((1024 * 1024))
requests() { grep -c "$1" "$T/requests.log" || true; }

f datastore register azure-data-lake-gen2 lake --account devstoreaccount1 --filesystem "$FS" \
    --account-url "$ADLS_URL" --account-key-env AZURITE_KEY --create-if-not-exists
expect_rc 0 "register an ADLS Gen2 datastore with a key, creating the filesystem"
expect_err "created filesystem devstoreaccount1/$FS" "and says so"

# --- ferry uploads, the SDK checks ---
mkdir -p tree/deep/a/b/c "tree/ünï cødé" tree/empty/inner tree/emptytoo
for n in "sp ace.txt" "hash#.txt" "pct%25.txt" "plus+.txt" "q?.txt" "amp&.txt" "ünï cødé/ñ.txt" "deep/a/b/c/f.txt" "Case.txt" "case.txt"; do
    printf 'content of %s\n' "$n" >"tree/$n"
done
: >tree/zero.bin
head -c 3000000 /dev/urandom >tree/mid.bin
head -c $((40 * MiB + 12345)) /dev/urandom >big.bin
cp big.bin tree/big.bin
f upload lake tree --target-path up
expect_rc 0 "ferry uploads a tree (awkward names, names differing only in case, a zero-byte and a 40 MiB file)"
expect_out "uploaded 13 files" "all 13 files"
ASDK list "$FS" up >sdk-list.json
(cd tree && find . -type f | sed 's|^\./|up/|' | LC_ALL=C sort) >want-names
json sdk-list.json '"\n".join(sorted(e["name"] for e in j if not e.get("dir")))' | LC_ALL=C sort >got-names
expect_eq "$(diff want-names got-names && echo same)" "same" "the SDK lists exactly the uploaded files (case kept apart)"
bad=0
while IFS= read -r rel; do
    got=$(json sdk-list.json "[e['md5'] for e in j if e['name'] == 'up/$rel'][0]")
    [ "$(b64md5 "tree/$rel")" = "$got" ] || { bad=$((bad + 1)); echo "# $rel: md5 $got"; }
done < <(cd tree && find . -type f | sed 's|^\./||')
expect_eq "$bad" "0" "every file carries its source's MD5, as the SDK reads it"
expect_eq "$(json sdk-list.json '" ".join(sorted(e["name"] for e in j if e.get("dir") and e["name"].startswith("up/empty")))')" \
    "up/empty up/empty/inner up/emptytoo" "empty folders are carried"
expect_eq "$(json sdk-list.json 'len([e for e in j if ".ferry-partial-" in e["name"]])')" "0" "no temporary file is left"
ASDK get "$FS" up/big.bin sdk-big.bin >/dev/null
expect_same big.bin sdk-big.bin "the SDK reads the 40 MiB file (appended in parallel) byte-identical"
expect_eq "$(requests 'PATCH .*action=append.* 202')" "$((6 + 11))" "the large file went up in 6 appends of 8 MiB, the others in one each (none for the empty one)"

# --- refused before any request ---
mkdir -p bad1
printf x >"bad1/dot."
before=$(wc -l <"$T/requests.log")
f upload lake bad1 --target-path bad
expect_rc 2 "a name ending with a dot is refused"
expect_err "dot." "naming it"
expect_eq "$(wc -l <"$T/requests.log")" "$before" "and no request was made"

# --- the SDK writes, ferry downloads ---
head -c 3000000 /dev/urandom >single.bin
head -c $((21 * MiB + 3)) /dev/urandom >appends.bin
ASDK put "$FS" "sdk/sp ace#%+&ü single.bin" single.bin single >/dev/null
ASDK put "$FS" sdk/deep/er/appends.bin appends.bin parallel >/dev/null
ASDK put "$FS" sdk/zero /dev/null single >/dev/null
ASDK mkdir "$FS" sdk/hollow/deeper >/dev/null
f download lake out --prefix sdk/
expect_rc 0 "ferry downloads what the SDK wrote"
expect_same single.bin "out/sdk/sp ace#%+&ü single.bin" "a file with an awkward name, byte-identical"
expect_same appends.bin out/sdk/deep/er/appends.bin "a 21 MiB file the SDK appended in parallel, byte-identical (read in parallel blocks)"
expect_file out/sdk/zero "a zero-byte file"
[ -d out/sdk/hollow/deeper ] && _ok "an empty folder comes down as a folder" || _fail "an empty folder comes down as a folder" "$(find out | head)"
# a large file with no MD5 stored: each 4 MiB range against the service's MD5 of it
ASDK put "$FS" sdk-nomd5/appends.bin appends.bin parallel none >/dev/null
f -v download lake nomd5 --prefix sdk-nomd5/
expect_rc 0 "a large file the SDK wrote with no MD5"
expect_err "each of its 6 ranges is checked against the MD5 the service gives for it" "is checked range by range (x-ms-range-get-content-md5)"
expect_same appends.bin nomd5/sdk-nomd5/appends.bin "byte-identical"
f download lake whole --prefix up/
expect_eq "$(cd whole/up && find . | LC_ALL=C sort | md5sum)" "$(cd tree && find . | LC_ALL=C sort | md5sum)" "its own upload comes back as the same tree, empty folders included"

# --- listings continued page by page ---
FERRY_LIST_PAGE_SIZE=2 f download lake paged --prefix up/
expect_rc 0 "a download whose listing comes 2 paths a page (continuation tokens)"
expect_eq "$(cd paged/up && find . | LC_ALL=C sort | md5sum)" "$(cd tree && find . | LC_ALL=C sort | md5sum)" "sees the whole tree"
expect_eq "$(grep -c 'continuation=' "$T/requests.log")" "$(( $(grep -c 'GET .*resource=filesystem.*maxResults=2' "$T/requests.log") - 1 ))" \
    "every page but the first was asked for by its token"

# --- ls ---
f ls lake up/ --delimiter /
expect_out "up/deep/" "ls --delimiter /: folders as prefixes"
expect_out "up/zero.bin" "and the files of the folder"
f ls lake up/deep/ --json
expect_eq "$(json "$OUT" '[e["name"] for e in j]')" "['up/deep/a/b/c/f.txt']" "ls --json lists below the folder"

# --- --overwrite moves nothing unchanged ---
etag=$(ASDK props "$FS" up/big.bin | json /dev/stdin 'j["etag"]')
before=$(requests 'action=append')
f upload lake tree --target-path up --overwrite
expect_out "13 unchanged" "an unchanged tree is known unchanged"
expect_eq "$(requests 'action=append')" "$before" "no byte was appended"
expect_eq "$(ASDK props "$FS" up/big.bin | json /dev/stdin 'j["etag"]')" "$etag" "the large file was not touched"

# --- SAS ---
export LSAS=$(ASDK sas "$FS" rl 60 | json /dev/stdin 'j["sas"]')
f datastore register azure-data-lake-gen2 sas --account devstoreaccount1 --filesystem "$FS" \
    --account-url "$ADLS_URL" --sas-token-env LSAS
expect_rc 0 "register with a read-only filesystem SAS"
f download sas sasout --prefix sdk/deep/
expect_same appends.bin sasout/sdk/deep/er/appends.bin "read with it"
f upload-files sas single.bin --target-path nope
expect_rc 1 "a write with a read-only SAS fails"
expect_err "access denied" "access denied, said so"
export WSAS=$(ASDK accountsas rwdlacup 60 | json /dev/stdin 'j["sas"]')
f datastore register azure-data-lake-gen2 wsas --account devstoreaccount1 --filesystem "$FS" \
    --account-url "$ADLS_URL" --sas-token-env WSAS
f upload-files wsas big.bin --target-path viasas
expect_rc 0 "an upload with an account SAS (the rename's source authorized by it too)"
expect_eq "$(ASDK props "$FS" viasas/big.bin | json /dev/stdin 'j["md5"]')" "$(b64md5 big.bin)" "whole"
expect_not_err "sig=" "no SAS shown"

# --- a corrupted file ---
ASDK put "$FS" bad/corrupt.bin single.bin single wrong-md5 >/dev/null
f download lake corrupt --prefix bad/
expect_rc 1 "a file whose bytes do not match its MD5 fails"
expect_err "does not match" "said so"
expect_no_file corrupt/bad/corrupt.bin "and nothing is kept under its name"

# --- faults, and killed part-way ---
# proxy NAME ARGS...: a datastore NAME through tests/faults/proxy.py
proxy() {
    local n=$1
    shift
    /usr/bin/python3 "$TOP/tests/faults/proxy.py" --upstream "$ADLS_HOSTPORT" "$@" --stats "$T/$n.json" \
        >"$T/$n.port" 2>"$T/$n.err" &
    echo $! >"$T/$n.pid"
    for _ in $(seq 50); do [ -s "$T/$n.port" ] && break; sleep 0.1; done
    f datastore register azure-data-lake-gen2 "$n" --account devstoreaccount1 --filesystem "$FS" \
        --account-url "http://127.0.0.1:$(head -1 "$T/$n.port")/devstoreaccount1" --account-key-env AZURITE_KEY
}
at_exit 'for p in "$T"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done'
proxy faulty --rate 0.2 --seed 5 --stall-seconds 3
export FERRY_STALL_SECONDS=2 FERRY_RETRIES=10
f upload faulty tree --target-path faulty -j 8
expect_rc 0 "an upload through a faulty link completes"
f download faulty fback --prefix faulty/ -j 8
expect_rc 0 "and a download"
expect_eq "$(cd fback/faulty && find . -type f -exec md5sum {} + | LC_ALL=C sort -k2 | md5sum)" \
    "$(cd tree && find . -type f -exec md5sum {} + | LC_ALL=C sort -k2 | md5sum)" "every byte arrived"
kill "$(cat "$T/faulty.pid")"; wait "$(cat "$T/faulty.pid")" 2>/dev/null
expect_eq "$(json "$T/faulty.json" 'j["faults"] >= 10')" "True" "faults were injected ($(json "$T/faulty.json" 'j["by_kind"]'))"
unset FERRY_STALL_SECONDS FERRY_RETRIES

recorded() {
    /usr/bin/python3 -c 'import os,sys; print(int(os.getxattr(sys.argv[1], "user.ferry.partial").split()[3]))' "$1" 2>/dev/null || echo 0
}
proxy slowdown --rate 1 --faults throttle --throttle-bps $((8 << 20))
bg download slowdown dl --prefix up/big.bin -j 1
for _ in $(seq 300); do [ "$(recorded dl/up/.big.bin.ferry-partial)" -ge 2 ] && break; sleep 0.1; done
have=$(recorded dl/up/.big.bin.ferry-partial)
signal_bg KILL
[ "$have" -ge 2 ] && _ok "a slow download, killed, kept its blocks ($have)" || _fail "a slow download, killed, kept its blocks" "$have"
f download lake dl --prefix up/big.bin
expect_err "resuming; $((have * 8)).0 MiB of 40.0 MiB are here from an earlier attempt" "the download resumes inside the file"
expect_same big.bin dl/up/big.bin "whole"

proxy slowup --rate 1 --faults throttle --throttle-bps $((8 << 20))
head -c $((40 * MiB + 999)) /dev/urandom >up.bin
bg upload-files slowup up.bin --target-path u -j 1
n=0
for _ in $(seq 400); do
    n=$(grep -c 'PATCH .*/u/\.ferry-partial-.*action=flush.* 200' "$T/requests.log" || true)
    [ "$n" -ge 1 ] && break
    sleep 0.2
done
signal_bg KILL
kill "$(cat "$T/slowup.pid")"; wait "$(cat "$T/slowup.pid")" 2>/dev/null
[ "$n" -ge 1 ] && _ok "killed part-way, the upload had flushed its start" || _fail "killed part-way, the upload had flushed its start" "$n"
expect_eq "$(ASDK list "$FS" u | json /dev/stdin '[e["name"] for e in j if not e.get("dir") and ".ferry-partial-" not in e["name"]]')" "[]" \
    "nothing appears under its name"
before=$(requests 'action=append')
f upload-files lake up.bin --target-path u
expect_rc 0 "the same upload again completes"
expect_err "resuming its upload" "resuming inside the file"
sent=$(( $(requests 'action=append') - before ))
[ "$sent" -lt 6 ] && _ok "only the blocks after the flushed start were sent ($sent of 6)" || _fail "only the blocks after the flushed start were sent" "$sent of 6"
expect_eq "$(ASDK props "$FS" u/up.bin | json /dev/stdin 'j["md5"]')" "$(b64md5 up.bin)" "the file is whole (its MD5, by the SDK)"
ASDK get "$FS" u/up.bin up-back.bin >/dev/null
expect_same up.bin up-back.bin "byte for byte"
