# Killed mid-transfer, a full disk, a read-only target: a clear error, a
# rerun that completes, and never a partial file under its final name.
. "$(dirname "$0")/../lib.sh"
DS=$FERRY_WORKSPACE/datastores/workspaceblobstore

# --- kill -9 during a download, and during an upload, then run again ---
if [ -n "${AZURITE_BLOB_URL:-}" ]; then
    export AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
    C=k$(date +%s%N | tail -c 10)x$$
    f datastore register azure-blob az --account devstoreaccount1 --container "$C" \
        --account-url "$AZURITE_BLOB_URL" --account-key-env AZURITE_KEY --create-if-not-exists
    mkdir -p src
    head -c $((150 * 1024 * 1024)) /dev/urandom >src/big.bin
    for i in 1 2 3; do head -c 100000 /dev/urandom >"src/s$i.bin"; done
    f upload az src --target-path k
    # a slow download (one worker), killed once a block of it has arrived (the
    # trace says so: a ranged GET answered 206)
    "$FERRY" -vv download az out --prefix k/ -j 1 >/dev/null 2>"$T/kill-down.err" &
    pid=$!
    for _ in $(seq 400); do grep -q "GET .*/k/big.bin -> 206" "$T/kill-down.err" && break; sleep 0.025; done
    grep -q "GET .*/k/big.bin -> 206" "$T/kill-down.err" && _ok "a block of the download arrived before the kill" ||
        _fail "a block of the download arrived before the kill" "no ranged GET answered in 10 s"
    kill -9 $pid
    wait $pid 2>/dev/null
    expect_no_file out/k/big.bin "killed mid-download: no partial file under the final name"
    f download az out --prefix k/
    expect_rc 0 "the same command again completes"
    expect_same src/big.bin out/k/big.bin "and the file is whole"
    expect_eq "$(find out -name "*.part" -o -name "*.ferry-partial" | wc -l)" "0" "nothing the killed run wrote is left beside it"
    # an upload killed mid-way: blocks were staged, nothing was committed
    head -c $((150 * 1024 * 1024)) /dev/urandom >src2.bin
    bg -vv upload-files az src2.bin --target-path up -j 1
    # killed once a block is staged (the trace shows a Put Block answered 201)
    for _ in $(seq 400); do grep -q "PUT .*comp=block&.* -> 201" "$ERR" && break; sleep 0.025; done
    signal_bg KILL
    staged=$(SDK blocks "$C" up/src2.bin | json /dev/stdin 'len(j["uncommitted"])')
    [ "$staged" -ge 1 ] && _ok "killed mid-upload, after it had staged blocks ($staged)" ||
        _fail "killed mid-upload, after it had staged blocks" "none staged"
    n=$(SDK list "$C" up/ | json /dev/stdin 'len(j)')
    expect_eq "$n" "0" "killed mid-upload: no blob appears (its staged blocks are not committed)"
    f upload-files az src2.bin --target-path up
    expect_rc 0 "the upload again completes"
    expect_eq "$(SDK list "$C" up/ | json /dev/stdin 'j[0]["md5"]')" "$(b64md5 src2.bin)" "and the blob holds the file (MD5 by the SDK)"
else
    _fail "Azurite is running (tests/run starts it)"
fi

# --- a full disk and a read-only target ---
mkdir -p data small ro
head -c 3000000 /dev/urandom >data/three-mb.bin
head -c 1000 /dev/urandom >data/small.bin
f upload workspaceblobstore data --target-path d
if mount -t tmpfs -o size=2m tmpfs small 2>/dev/null; then
    f download workspaceblobstore small --prefix d/ -j 1 # in order: the small file first
    expect_rc 1 "a download onto a full disk fails"
    expect_err "No space left on device" "with the system's reason"
    expect_err "d/three-mb.bin" "naming the file"
    expect_no_file small/d/three-mb.bin "no partial file under its final name"
    expect_eq "$(find small -name '*.part' | wc -l)" "0" "no temporary file left behind"
    expect_same data/small.bin small/d/small.bin "the file that fits arrives"
    umount small
    mount -t tmpfs -o size=8m tmpfs ro && mount -o remount,ro ro
    f download workspaceblobstore ro --prefix d/
    expect_rc 1 "a download into a read-only folder fails"
    expect_err "Read-only file system" "with the reason"
    umount ro
else
    _fail "mount a small tmpfs (the test runs as root)"
fi

# --- a full disk while the run's record is written: the run fails ---
mkdir -p full
trap 'umount "$T/full" 2>/dev/null; rm -rf "$T"' EXIT
if mount -t tmpfs -o size=1m tmpfs full 2>/dev/null; then
    # the command fills the disk the work dir is on, then succeeds
    printf 'command: head -c 2000000 /dev/zero > %s/fill; exit 0\n' "$T/full" > fill.yml
    f run fill.yml --run-id fill --work-dir "$T/full/run"
    expect_rc 125 "a manifest that cannot be written fails the run (exit 125)"
    expect_err "the run's record could not be written" "and ferry says so"
    expect_err "No space left on device" "with the system's reason"
    umount full
else
    _fail "mount a small tmpfs (the test runs as root)"
fi

# --- missing permissions: ferry run by an ordinary user (nobody) ---
chmod 755 "$T"
mkdir -p perm/src perm/wsn perm/locked
chown 65534:65534 perm/wsn
printf 'ok\n' >perm/src/a.txt
printf 'root only\n' >perm/src/secret.txt
chmod 600 perm/src/secret.txt
# a copy of the binary nobody can reach, wherever the checkout lives
cp "$FERRY" perm/ferry
as_nobody() { run setpriv --reuid=65534 --regid=65534 --clear-groups env FERRY_WORKSPACE="$T/perm/wsn" "$T/perm/ferry" "$@"; }
as_nobody upload workspaceblobstore perm/src --target-path d
expect_rc 1 "an upload with a file it may not read fails"
expect_err "cannot read $T/perm/src/secret.txt: Permission denied" "naming the file and the reason"
expect_out "uploaded 1 file" "the readable file still goes"
expect_no_file "$T/perm/wsn/datastores/workspaceblobstore/d/secret.txt" "nothing stands in for the unreadable one"
as_nobody download workspaceblobstore perm/locked --prefix d/
expect_rc 1 "a download into a folder it may not write fails"
expect_err "cannot create folder perm/locked/d: Permission denied" "naming the folder and the reason"
expect_eq "$(ls -A perm/locked)" "" "and writes nothing there"

# --- kill -9 of ferry: the command's process group does not run on as an orphan ---
printf 'command: echo $$ > %s/grp.new && mv %s/grp.new %s/grp; sleep 300 | cat; sleep 300\n' "$T" "$T" "$T" > orphan.yml
bg run orphan.yml --run-id orphan
wait_for "$T/grp" || _fail "the command started"
grp=$(cat "$T/grp" 2>/dev/null || echo 0)
kill -9 "$BG"; wait "$BG" 2>/dev/null
gone=no
for _ in $(seq 50); do kill -0 -- "-$grp" 2>/dev/null || { gone=yes; break; }; sleep 0.1; done
expect_eq "$gone" "yes" "after kill -9 of ferry, the command's whole process group is gone"
kill -9 -- "-$grp" 2>/dev/null || true
