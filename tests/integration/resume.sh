# Resuming inside one large file: a download killed (or cut off) part-way
# continues from the blocks already on disk, an upload killed part-way
# commits the blocks it had staged, and a job killed while staging its
# inputs picks up where it stopped. A slow link (the fault proxy, throttled)
# makes "part-way" something a test can wait for.
. "$(dirname "$0")/../lib.sh"
need_azurite
C=r$(date +%s%N | tail -c 10)x$$
az_register direct

# A link of about 8 MiB/s each way: a 40 MiB file (five 8 MiB blocks) takes
# five seconds with one worker. SIGUSR1 makes it fast again.
proxy() {
    /usr/bin/python3 "$TOP/tests/faults/proxy.py" --upstream "$AZ_HOSTPORT" --rate 1 \
        --faults throttle --throttle-bps $((8 << 20)) --stats "$T/stats-$1.json" \
        >"$T/proxy-$1.port" 2>"$T/proxy-$1.err" &
    echo $! >"$T/proxy-$1.pid"
    for _ in $(seq 50); do [ -s "$T/proxy-$1.port" ] && break; sleep 0.1; done
    az_register "$1" "$(head -1 "$T/proxy-$1.port")"
}
at_exit 'for p in "$T"/proxy-*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done'
# recorded FILE: the blocks a partial download records as safely on disk
recorded() {
    /usr/bin/python3 -c 'import os,sys; print(int(os.getxattr(sys.argv[1], "user.ferry.partial").split()[3]))' "$1" 2>/dev/null || echo 0
}
# wait_partial GLOB N: until a partial file matching GLOB records N blocks
wait_partial() {
    for _ in $(seq 300); do
        for p in $1; do [ -f "$p" ] && [ "$(recorded "$p")" -ge "$2" ] && return 0; done
        sleep 0.1
    done
    return 1
}
MiB=$((1 << 20))

mkdir -p src
head -c $((40 * MiB + 12345)) /dev/urandom >src/big.bin
head -c 1000 /dev/urandom >src/small.bin
f upload direct src --target-path r
expect_rc 0 "set-up: the data is in the container"
proxy slow

# --- a download killed with SIGKILL part-way, then run again ---
bg download slow out --prefix r/ -j 1
wait_partial "out/r/.big.bin.ferry-partial" 2
ok=$?
signal_bg KILL
expect_eq "$ok" "0" "a slow download records its progress as blocks land"
expect_no_file out/r/big.bin "killed part-way: nothing under the final name"
expect_file out/r/.big.bin.ferry-partial "the partial file stays for the next run"
have=$(recorded out/r/.big.bin.ferry-partial)
f -vv download direct out --prefix r/
expect_rc 0 "the same download again completes"
expect_err "resuming; $((have * 8)).0 MiB of 40.0 MiB are here from an earlier attempt" "it says it resumes, and from where"
expect_out "$((have * 8)).0 MiB of it already there" "the summary counts what was not fetched again"
expect_same src/big.bin out/r/big.bin "the resumed file is whole (and its MD5 was checked)"
# 40 MiB + 12345 bytes is six 8 MiB blocks: only those not on disk were asked for
expect_eq "$(grep -c 'GET .*/r/big\.bin.* -> 206' "$ERR")" "$((6 - have))" "the rerun fetched only the $((6 - have)) missing blocks"
expect_no_file out/r/.big.bin.ferry-partial "the partial file became the file"
f download direct out --prefix r/
expect_out "2 skipped (2 unchanged)" "a third run sees nothing to do"

# --- the same, for a file fetched several blocks a request (1 MiB blocks, 2 a request) ---
mkdir -p src4
head -c $((21 * MiB + 5)) /dev/urandom >src4/span.bin # 22 blocks, 11 requests
FERRY_BLOCK_MIB=1 f upload direct src4 --target-path s
expect_rc 0 "set-up: a 21 MiB file in 1 MiB blocks"
bg download slow out4 --prefix s/ -j 1
wait_partial "out4/s/.span.bin.ferry-partial" 2
expect_eq "$?" "0" "a download of two blocks a request records its progress"
signal_bg KILL
have=$(recorded out4/s/.span.bin.ferry-partial)
f -vv download direct out4 --prefix s/
expect_rc 0 "run again, it completes"
expect_err "resuming; $((have * 2)).0 MiB of 21.0 MiB are here from an earlier attempt" "from the requests already on disk"
expect_eq "$(grep -c 'GET .*/s/span\.bin.* -> 206' "$ERR")" "$((11 - have))" "fetching only the $((11 - have)) missing"
expect_same src4/span.bin out4/s/span.bin "the resumed file is whole"
bg download slow out5 --prefix s/ -j 1
wait_partial "out5/s/.span.bin.ferry-partial" 2
signal_bg KILL
/usr/bin/python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDWR); b = os.pread(fd, 1, int(sys.argv[2])); os.pwrite(fd, bytes([b[0] ^ 0x5A]), int(sys.argv[2]))' \
    out5/s/.span.bin.ferry-partial $((MiB + MiB / 2))
f -vv download direct out5 --prefix s/
expect_rc 0 "a partial damaged on disk: the download still completes"
expect_err "block 1 left by an earlier attempt does not match its CRC64" "each resumed block is checked against its own CRC64"
expect_eq "$(grep -c 'GET .*/s/span\.bin.* -> 206' "$ERR")" 11 "and everything from there is fetched again"
expect_same src4/span.bin out5/s/span.bin "the file is whole"
bg download slow out6 --prefix s/ -j 1
wait_partial "out6/s/.span.bin.ferry-partial" 2
signal_bg KILL
have=$(recorded out6/s/.span.bin.ferry-partial)
FERRY_BLOCK_MIB=1 f -vv download direct out6 --prefix s/ --check-md5 NoCheck
expect_rc 0 "run again in blocks of another size (1 MiB, unchecked): it completes"
expect_err "resuming; $((have * 2)).0 MiB of 21.0 MiB are here from an earlier attempt" "taking over what is on disk, in its own blocks"
expect_eq "$(grep -c 'GET .*/s/span\.bin.* -> 206' "$ERR")" "$((22 - 2 * have))" "fetching only the $((22 - 2 * have)) 1 MiB blocks missing"
expect_same src4/span.bin out6/s/span.bin "the file is whole"

# --- the blob changed in between: the partial is not used ---
bg download slow out2 --prefix r/big.bin -j 1
wait_partial "out2/r/.big.bin.ferry-partial" 1
expect_eq "$?" "0" "(the first content was part-way when killed)"
signal_bg KILL
head -c $((40 * MiB + 12345)) /dev/urandom >src/big2.bin
SDK put "$C" r/big.bin src/big2.bin blocks >/dev/null
f download direct out2 --prefix r/big.bin
expect_rc 0 "a download after the blob changed completes"
expect_not_err "resuming" "and does not take over the old content"
expect_same src/big2.bin out2/r/big.bin "the file is the new content"
# changed while it is being read: never a file made of two versions
bg download slow out2b --prefix r/big.bin -j 1
wait_partial "out2b/r/.big.bin.ferry-partial" 1
SDK put "$C" r/big.bin src/big.bin blocks >/dev/null
wait "$BG"
RC=$?
expect_rc 1 "a blob replaced in the middle of a download fails it"
expect_err "changed in the datastore while it was being read" "saying why"
expect_no_file out2b/r/big.bin "and no file made of two versions appears"
f download direct out2b --prefix r/big.bin
expect_rc 0 "the next run fetches the new content"
expect_not_err "resuming" "from zero: the old blocks are of another version"
expect_same src/big.bin out2b/r/big.bin "and the file is that content"

# --- a network that stays down: ferry gives up, keeps what arrived ---
FERRY_RETRIES=2 FERRY_RETRY_DEADLINE=3 "$FERRY" download slow out3 --prefix r/big.bin -j 1 \
    >"$T/down.out" 2>"$T/down.err" &
pid=$!
wait_partial "out3/r/.big.bin.ferry-partial" 2
kill "$(cat "$T/proxy-slow.pid")"
wait $pid
expect_eq "$?" "1" "with the link gone for good, the download fails"
grep -q "the next run resumes from there" "$T/down.err" && _ok "and says what it kept" ||
    _fail "and says what it kept" "$(tail -3 "$T/down.err")"
expect_no_file out3/r/big.bin "no file under the final name"
f download direct out3 --prefix r/big.bin
expect_err "resuming" "the next run resumes"
expect_same src/big.bin out3/r/big.bin "and the file is whole"

# --- a job killed while staging its input, then run again ---
proxy slowjob
mkdir -p job && cd job
cat >job.yml <<'YAML'
command: md5sum < ${{inputs.model}} > ${{outputs.out}}/md5.txt
environment_variables: {FERRY_CONCURRENCY: 1}
inputs:
  model: {type: uri_file, path: "azureml://datastores/slowjob/paths/r/big.bin", mode: download}
outputs:
  out: {type: uri_folder, path: "azureml://datastores/direct/paths/jobout/", mode: upload}
YAML
bg run job.yml --run-id staged
wait_partial "$FERRY_WORKSPACE/cache/objects/*/.*.ferry-partial" 2
ok=$?
signal_bg KILL
expect_eq "$ok" "0" "a job's input download records its progress in the node's cache"
expect_eq "$(SDK list "$C" jobout/ | json /dev/stdin 'len(j)')" "0" "killed while staging: the command never ran, no output went up"
kill -USR1 "$(cat "$T/proxy-slowjob.pid")" # the link is fast again
f run job.yml --run-id staged --resume
expect_rc 0 "the same job again runs"
expect_err "resuming" "its input download resumes"
SDK get "$C" jobout/md5.txt md5.txt >/dev/null
expect_eq "$(cut -d' ' -f1 md5.txt)" "$(md5sum <../src/big.bin | cut -d' ' -f1)" "and the command read the whole file"
expect_eq "$(find "$FERRY_WORKSPACE/cache" -name '*.ferry-partial' -o -name '*.part' | wc -l)" "0" "nothing partial is left in the cache"
cd "$T"

# --- an upload killed with SIGKILL part-way, then run again ---
proxy slowup
head -c $((40 * MiB + 999)) /dev/urandom >up.bin
bg upload-files slowup up.bin --target-path u -j 1
n=0
for _ in $(seq 300); do
    n=$(SDK blocks "$C" u/up.bin | json /dev/stdin 'len(j["uncommitted"])')
    [ "$n" -ge 2 ] && break
    sleep 0.2
done
signal_bg KILL
# the proxy may still be passing on a block it had whole: stop it first
kill "$(cat "$T/proxy-slowup.pid")"
wait "$(cat "$T/proxy-slowup.pid")" 2>/dev/null
[ "$n" -ge 2 ] && _ok "killed part-way, the upload had staged blocks ($n)" || _fail "killed part-way, the upload had staged blocks" "$n"
expect_eq "$(SDK list "$C" u/ | json /dev/stdin 'len(j)')" "0" "but no blob appears: nothing was committed"
staged=$(SDK blocks "$C" u/up.bin | json /dev/stdin 'len(j["uncommitted"])')
f -vv upload-files direct up.bin --target-path u
expect_rc 0 "the same upload again completes"
expect_eq "$(grep -c 'PUT .*/u/up\.bin.*comp=block&.* -> 201' "$ERR")" "$((6 - staged))" "only the $((6 - staged)) blocks not staged were put"
expect_out "of it already there" "sending only the blocks that were not staged"
sent=$(grep -o '[0-9.]* MiB of it already there' "$OUT" | cut -d' ' -f1)
expect_eq "${sent%.*}" "$((staged * 8))" "the staged blocks ($staged) were not sent again"
expect_eq "$(SDK list "$C" u/ | json /dev/stdin 'j[0]["md5"]')" "$(b64md5 up.bin)" "the blob holds the file (MD5 by the SDK)"
expect_eq "$(SDK blocks "$C" u/up.bin | json /dev/stdin 'len(j["uncommitted"])')" "0" "and no staged block is left over"

# --- a changed large file sends only the blocks that changed ---
printf 'a new middle' | dd of=up.bin bs=1 seek=$((20 * MiB)) conv=notrunc 2>/dev/null
f -vv upload-files direct up.bin --target-path u --overwrite
expect_rc 0 "a changed file uploads again"
expect_eq "$(grep -c 'PUT .*/u/up\.bin.*comp=block&.* -> 201' "$ERR")" "1" "one block was put"
expect_out "32.0 MiB of it already there" "only its changed 8 MiB block travels; the blob's own blocks are used for the rest"
expect_eq "$(SDK list "$C" u/ | json /dev/stdin 'j[0]["md5"]')" "$(b64md5 up.bin)" "and the blob holds the changed file"
SDK get "$C" u/up.bin got.bin >/dev/null
expect_same up.bin got.bin "byte for byte, by the SDK"

# --- blocks another tool left staged, with ids of another length ---
head -c $((20 * MiB + 5)) /dev/urandom >other.bin
SDK stage "$C" u/other.bin abc >/dev/null
run node "$TOP/tests/azure/sdk.js" stage "$C" u/other.bin ferry-00000-0123456789abcdef0123456789abcdef
expect_rc 1 "the service refuses a block whose id is not as long as those staged"
expect_err "InvalidBlobOrBlock" "with InvalidBlobOrBlock (the rule ferry must follow)"
f upload-files direct other.bin --target-path u
expect_rc 0 "an upload beside another tool's staged blocks (3-byte ids) completes"
expect_eq "$(SDK list "$C" u/other.bin | json /dev/stdin 'j[0]["md5"]')" "$(b64md5 other.bin)" "and the blob holds the file"
head -c $((88 * MiB)) /dev/urandom >many.bin
SDK stage "$C" u/many.bin x >/dev/null
f upload-files direct many.bin --target-path u
expect_rc 1 "1-byte ids cannot number 11 blocks: the upload fails"
expect_err "another tool left blocks staged for this blob with 1-byte ids" "and says why, and when it clears"
expect_eq "$(SDK list "$C" u/many.bin | json /dev/stdin 'len(j)')" "0" "no blob was committed"

# --- a large download onto a disk too small for it ---
mkdir -p small
if mount -t tmpfs -o size=8m tmpfs small 2>/dev/null; then
    f download direct small --prefix r/big.bin
    expect_rc 1 "a 40 MiB download onto an 8 MiB disk fails at once"
    expect_err "cannot make room for" "saying it cannot make room"
    expect_err "No space left on device" "with the system's reason"
    expect_eq "$(find small -type f | wc -l)" "0" "and leaves no file, partial or final"
    umount small
else
    _fail "mount a small tmpfs (the test runs as root)"
fi
