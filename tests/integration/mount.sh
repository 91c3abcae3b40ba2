# Mounts, for real (libfuse3, /dev/fuse): ro_mount inputs of jobs on the
# local datastore and on Azurite, read through the mount; `ferry mount` by
# hand; a blob replaced under a mount reads as an I/O error, never a mix;
# writes fail with EROFS; SIGTERM and SIGKILL during a mounted run, and the
# stale mount a killed ferry leaves cleared by the next run; the fallback
# to download without FUSE. No ferry mount is left after the test.
. "$(dirname "$0")/../lib.sh"
need_azurite
C=m$(date +%s%N | tail -c 9)x$$
MiB=$((1024 * 1024))
mounts() { grep -c " fuse.ferry " /proc/self/mounts || true; }
ours() { grep " fuse.ferry " /proc/self/mounts | awk '{print $2}' | grep "^$T" || true; }
at_exit 'for d in $(grep " fuse.ferry " /proc/self/mounts | awk "{print \$2}" | grep "^$T"); do umount -l "$d" 2>/dev/null; done'
if [ ! -e /dev/fuse ]; then _fail "this machine has /dev/fuse" "the mount tests need it"; exit 0; fi

az_register blob
mkdir -p data/a/b data/many
head -c $((30 * MiB + 5)) /dev/urandom >data/big.bin
printf 'hello\n' >data/a/b/x.txt
for i in $(seq 50); do head -c 100000 /dev/urandom >"data/many/f$i.bin"; done
f upload blob data --target-path d
expect_rc 0 "set-up: the data is in the container"
f upload workspaceblobstore data --target-path d
expect_rc 0 "and on the local default datastore"

cat >job.yml <<'YAML'
command: >-
  sh -c 'grep " fuse.ferry " /proc/self/mounts | grep -c "/runs/RUNID/" > ${{outputs.o}}/mounts;
  md5sum ${{inputs.d}}/big.bin | cut -d" " -f1 > ${{outputs.o}}/md5;
  cat ${{inputs.f}} > ${{outputs.o}}/x;
  head -c 100 ${{inputs.d}}/many/f7.bin > /dev/null;
  (echo no > ${{inputs.d}}/new.txt) 2> ${{outputs.o}}/write-error && echo wrote > ${{outputs.o}}/wrote; true'
inputs:
  d:
    type: uri_folder
    path: azureml://datastores/DS/paths/d/
    mode: ro_mount
  f:
    type: uri_file
    path: azureml://datastores/DS/paths/d/a/b/x.txt
outputs:
  o:
    type: uri_folder
    path: azureml://datastores/workspaceblobstore/paths/out/RUN/
YAML
for ds in workspaceblobstore blob; do
    sed "s/DS/$ds/g; s/RUNID/m-$ds/; s/RUN/$ds/" job.yml >"job-$ds.yml"
    f run "job-$ds.yml" --run-id "m-$ds"
    expect_rc 0 "$ds: a job whose inputs are mounted (ro_mount, and a uri_file input) runs"
    expect_err "d: mounted 52 files at" "$ds: the folder input is mounted"
    expect_err "f: mounted 1 file at" "$ds: so is the file input's folder"
    out=$FERRY_WORKSPACE/datastores/workspaceblobstore/out/$ds
    expect_eq "$(cat "$out/mounts")" "2" "$ds: the command saw two ferry mounts"
    expect_eq "$(cat "$out/md5")" "$(md5sum <data/big.bin | cut -d' ' -f1)" "$ds: it read the 30 MiB file whole, right"
    expect_eq "$(cat "$out/x")" "hello" "$ds: and the file input"
    expect_eq "$(grep -c 'Read-only file system' "$out/write-error")" "1" "$ds: a write into the mount fails with EROFS"
    expect_no_file "$out/wrote" "$ds: and nothing was written"
    expect_eq "$(ours)" "" "$ds: nothing is mounted after the run"
done
read=$(grep -o 'd: unmounted [^;]*; [0-9]* bytes' "$ERR" | grep -o '[0-9]* bytes' | cut -d' ' -f1)
[ "$read" -ge $((30 * MiB)) ] && [ "$read" -lt $((31 * MiB + 100000 * 3)) ] &&
    _ok "only what was read moved: the large file and one block of one small file ($read bytes of 35 MB)" ||
    _fail "only what was read moved" "$read bytes"

# --- by hand ---
bg mount blob:d mnt
for _ in $(seq 100); do grep -q "mounted" "$OUT" 2>/dev/null && break; sleep 0.1; done
expect_out "mounted blob:d at $T/mnt (52 files, read-only)" "ferry mount says where and how much"
expect_eq "$(find mnt -type f | wc -l)" "52" "ls -R sees every file"
expect_same data/a/b/x.txt mnt/a/b/x.txt "a small file reads right"
cmp -s data/big.bin mnt/big.bin && _ok "the large file reads right (sequentially, fetched ahead)" || _fail "the large file reads right" "differs"
dd if=mnt/big.bin bs=1M skip=20 count=2 2>/dev/null | cmp -s - <(dd if=data/big.bin bs=1M skip=20 count=2 2>/dev/null) &&
    _ok "a read in the middle reads right" || _fail "a read in the middle reads right" "differs"
(echo x >mnt/new.txt) 2>werr
expect_eq "$(grep -c 'Read-only' werr)" "1" "a write fails with EROFS"
# a blob replaced under the mount: reading it is an I/O error, never a mix of versions
head -c $((9 * MiB)) /dev/urandom >new.bin
SDK put "$C" d/many/f9.bin new.bin single >/dev/null
cat mnt/many/f9.bin >got9 2>cerr
expect_eq "$(grep -c 'Input/output error' cerr)" "1" "a blob replaced since the listing reads as an I/O error"
kill -INT "$BG"
wait "$BG"
expect_eq "$?" "0" "Ctrl-C unmounts and ferry mount exits 0"
expect_err "changed in the datastore" "the replaced blob was logged"
expect_eq "$(ours)" "" "and nothing is left mounted"

# --- signals during a mounted run ---
cat >slow.yml <<'YAML'
command: sh -c 'touch ${{outputs.o}}/started; sleep 60'
inputs:
  d:
    type: uri_folder
    path: azureml://datastores/blob/paths/d/
    mode: ro_mount
outputs:
  o:
    type: uri_folder
    path: azureml://datastores/workspaceblobstore/paths/slow/
YAML
bg run slow.yml --run-id sig1
wait_for "$FERRY_WORKSPACE/runs/sig1/outputs/o/started" 20
expect_eq "$(ours | wc -l)" "1" "a mounted run is running"
kill -TERM "$BG"
wait "$BG"
expect_eq "$?" "143" "SIGTERM: the command ends, ferry exits 128+15"
expect_eq "$(ours)" "" "and the input is unmounted"
bg run slow.yml --run-id sig2
wait_for "$FERRY_WORKSPACE/runs/sig2/outputs/o/started" 20
kill -KILL "$BG"
wait "$BG" 2>/dev/null
expect_eq "$(ours | wc -l)" "1" "SIGKILL leaves the mount behind (nothing can unmount it)"
pkill -f "sleep 60" 2>/dev/null
sed 's/command: .*/command: "true"/' slow.yml >fast.yml
f run fast.yml --run-id sig2 --resume
expect_err "a ferry mount left by an earlier run is there; unmounting it" "the next run on that path finds it and unmounts it"
expect_eq "$(ours)" "" "nothing is left mounted after it"

# --- without FUSE: downloaded, with one warning ---
sed "s/m-blob/nofuse/" job-blob.yml >job-nofuse.yml
FERRY_NO_FUSE=1 f run job-nofuse.yml --run-id nofuse
expect_rc 0 "FERRY_NO_FUSE=1: the job runs"
expect_err "ro_mount asked, but FERRY_NO_FUSE is set: inputs to be mounted are downloaded" "one warning says why"
expect_eq "$(cat "$FERRY_WORKSPACE/datastores/workspaceblobstore/out/blob/mounts")" "0" "nothing was mounted"
f plan "job-blob.yml"
expect_out "  d (uri_folder, ro_mount)" "ferry plan shows the folder input is mounted"
expect_out "  f (uri_file, ro_mount)" "and the file input"
FERRY_NO_FUSE=1 f plan "job-blob.yml"
expect_out "  d (uri_folder, download)" "without FUSE, plan says the input is downloaded"
expect_out "note: ro_mount asked, but FUSE cannot be had here, so it is downloaded" "and why"

# --- rw_mount: a writable mount; files go up as they are closed ---
cat >rw.yml <<'YAML'
command: >-
  sh -c 'echo one > ${{outputs.o}}/a.txt; sleep 4;
  echo two > ${{outputs.o}}/b.txt; mkdir ${{outputs.o}}/sub; echo three > ${{outputs.o}}/sub/c.txt;
  mv ${{outputs.o}}/b.txt ${{outputs.o}}/b2.txt; sleep 2; mv ${{outputs.o}}/sub ${{outputs.o}}/sub2;
  ln -s /etc/passwd ${{outputs.o}}/link 2> ${{outputs.o}}/link-error; true'
outputs:
  o:
    type: uri_folder
    path: azureml://datastores/blob/paths/rw/
    mode: rw_mount
YAML
bg run rw.yml --run-id rw1
seen=
for _ in $(seq 60); do
    seen=$(SDK list "$C" rw/ 2>/dev/null | json /dev/stdin '" ".join(e["name"] for e in j)' 2>/dev/null)
    case "$seen" in *a.txt*) break ;; esac
    sleep 0.1
done
case "$seen" in *a.txt*) _ok "rw_mount: a file the command closed is in the container while the command runs" ;;
*) _fail "rw_mount: a file the command closed is in the container while the command runs" "$seen" ;; esac
wait "$BG"
expect_eq "$?" "0" "rw_mount: the job ends well"
expect_err "o: $FERRY_WORKSPACE/runs/rw1/outputs/o is a writable mount" "the output was a writable mount"
expect_eq "$(SDK list "$C" rw/ | json /dev/stdin '" ".join(sorted(e["name"] for e in j))')" \
    "rw/_ferry_manifest.json rw/a.txt rw/b2.txt rw/link-error rw/sub2/c.txt" \
    "rw_mount: every file is there at the end, a renamed file and a renamed folder's files under their new names only"
expect_eq "$(cat "$FERRY_WORKSPACE/runs/rw1/outputs/o/sub2/c.txt")" "three" "the files are in the output folder after the mount"
expect_eq "$(grep -c 'Operation not permitted' "$FERRY_WORKSPACE/runs/rw1/outputs/o/link-error")" "1" "a symlink cannot be made in it"
expect_eq "$(ours)" "" "nothing is left mounted"
FERRY_NO_FUSE=1 f run rw.yml --run-id rw2
expect_rc 0 "FERRY_NO_FUSE=1: rw_mount is uploaded at the end"
expect_err "rw_mount asked, but FERRY_NO_FUSE is set: it is uploaded at the end" "saying why"

# --- the node cache: what a mount read whole, a download takes from it, and back ---
cat >cache-mount.yml <<'YAML'
command: sh -c 'md5sum ${{inputs.f}} > /dev/null'
inputs:
  f:
    type: uri_file
    path: azureml://datastores/blob/paths/solo/f3.bin
    mode: ro_mount
YAML
f upload-files blob data/many/f3.bin --target-path solo
sed 's/mode: ro_mount/mode: download/' cache-mount.yml >cache-download.yml
f run cache-mount.yml --run-id c1
expect_rc 0 "a mounted run reads a file whole"
expect_err "f: unmounted $FERRY_WORKSPACE/runs/c1/inputs/f; 100000 bytes were read" "(fetching all of it)"
f run cache-download.yml --run-id c2
expect_err "input f: downloaded 1 file (0 B, 1 from the cache)" "the next run's download of it comes from the node cache"
f run cache-mount.yml --run-id c3
expect_err "f: unmounted $FERRY_WORKSPACE/runs/c3/inputs/f; 0 bytes were read" "and a mount of it reads from the cache, with no request"
# files read whole through a mount are the cache's: the mount does not keep
# more of them open than the cache's limit, and the cache is trimmed as they come
mkdir -p mid
for i in 1 2 3 4 5 6; do head -c $((4 * MiB)) /dev/urandom >"mid/f$i.bin"; done
f upload blob mid --target-path mid
cat >cache-bound.yml <<'YAML'
command: sh -c 'for i in 1 2 3 4 5 6; do cat ${{inputs.d}}/f$i.bin > /dev/null; done'
inputs:
  d:
    type: uri_folder
    path: azureml://datastores/blob/paths/mid/
YAML
FERRY_MOUNT_BLOCK_MIB=4 f run cache-bound.yml --run-id cb1 --cache-dir "$T/cb-cache" --cache-size 10M
expect_rc 0 "six 4 MiB files read whole through a mount whose cache holds 10 MiB"
kept=$(grep -o 'd: unmounted [^;]*; [0-9]* bytes were read from the datastore, at most [0-9]* kept' "$ERR" | grep -o 'at most [0-9]*' | grep -o '[0-9]*')
[ -n "$kept" ] && [ "$kept" -le $((10 * MiB + 8 * 4 * MiB)) ] && _ok "the mount held at most the limit and a block per worker on disk ($kept bytes)" ||
    _fail "the mount held at most the limit and a block per worker on disk" "$kept"
cached=$(du -sb "$T/cb-cache/objects" | cut -f1)
[ "$cached" -le $((14 * MiB)) ] && _ok "the cache stayed near its limit while the mount fed it ($cached bytes)" ||
    _fail "the cache stayed near its limit while the mount fed it" "$cached"

# --- bounds: disk, many readers, a large listing ---
# (4 MiB blocks, so that the 30 MiB file is many blocks beyond the 8 MiB limit)
export FERRY_MOUNT_BLOCK_MIB=4
bg mount blob:d bounded --cache-size 8M -j 2
for _ in $(seq 100); do grep -q "mounted" "$OUT" 2>/dev/null && break; sleep 0.1; done
cmp -s data/big.bin bounded/big.bin && _ok "--cache-size 8M: a 30 MiB file reads right through it" || _fail "--cache-size 8M: a 30 MiB file reads right" "differs"
pids=
for i in 1 2 3 4 5 6 7 8; do cat bounded/many/f$i.bin >"par$i" & pids="$pids $!"; done
cat bounded/big.bin >par-big &
pids="$pids $!"
for p in $pids; do wait "$p"; done
bad=0
for i in 1 2 3 4 5 6 7 8; do cmp -s "par$i" "data/many/f$i.bin" || bad=$((bad + 1)); done
cmp -s par-big data/big.bin || bad=$((bad + 1))
expect_eq "$bad" "0" "9 readers at once (8 small files and the large one) all read right"
kill -INT "$BG"
wait "$BG"
# the bound, with one reader: the limit, and a block per worker on its way
bg mount blob:d bounded --cache-size 8M -j 2
for _ in $(seq 100); do grep -q "mounted" "$OUT" 2>/dev/null && break; sleep 0.1; done
cmp -s data/big.bin bounded/big.bin && cmp -s data/big.bin bounded/big.bin && _ok "the large file twice, its dropped blocks fetched anew" || _fail "the large file twice" "differs"
kill -INT "$BG"
wait "$BG"
kept=$(grep -o 'at most [0-9]* kept' "$ERR" | grep -o '[0-9]*')
[ -n "$kept" ] && [ "$kept" -le $((8 * MiB + 2 * 4 * MiB)) ] && _ok "at most 8 MiB (and a block per worker) were on disk at once ($kept bytes)" ||
    _fail "at most 8 MiB (and a block per worker) were on disk at once" "$kept"
unset FERRY_MOUNT_BLOCK_MIB

/usr/bin/python3 - "$T/wide" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(100):
    os.makedirs(os.path.join(root, "d%02d" % d))
    for i in range(1000):
        open(os.path.join(root, "d%02d" % d, "f%04d" % i), "w").close()
PY
f datastore register local wide --root "$T/wide"
bg mount wide wmnt
for _ in $(seq 300); do grep -q "mounted" "$OUT" 2>/dev/null && break; sleep 0.1; done
expect_out "(100000 files, read-only)" "a 100,000-file input is mounted"
expect_eq "$(ls -R wmnt | grep -c '^f')" "100000" "ls -R lists all 100,000 from the listing"
kill -INT "$BG"
wait "$BG"
expect_err "unmounted $T/wmnt; 0 bytes were read" "reading nothing from the datastore"

# --- ferry mount --read-write: an output folder by hand ---
mkdir -p rwmnt
bg mount workspaceblobstore:byhand rwmnt --read-write
for _ in $(seq 100); do grep -q "mounted" "$OUT" 2>/dev/null && break; sleep 0.1; done
expect_out "mounted workspaceblobstore:byhand at $T/rwmnt (writable: files go up to workspaceblobstore:byhand/ as they are closed)" "ferry mount --read-write says where files go"
expect_eq "$(ours | grep -c rwmnt)" "1" "the folder is a ferry mount"
echo one >rwmnt/a.txt
mkdir -p rwmnt/sub && echo two >rwmnt/sub/b.txt
for _ in $(seq 50); do [ -f "$FERRY_WORKSPACE/datastores/workspaceblobstore/byhand/sub/b.txt" ] && break; sleep 0.1; done
expect_eq "$(cat "$FERRY_WORKSPACE/datastores/workspaceblobstore/byhand/sub/b.txt" 2>/dev/null)" "two" "a closed file went up while mounted"
exec 7>rwmnt/open.txt
echo still-open >&7
expect_no_file "$FERRY_WORKSPACE/datastores/workspaceblobstore/byhand/open.txt" "a file still open has not gone up"
kill -INT "$BG"
exec 7>&-
wait "$BG"
expect_eq "$?" "0" "Ctrl-C unmounts and exits 0"
expect_eq "$(cat "$FERRY_WORKSPACE/datastores/workspaceblobstore/byhand/open.txt" 2>/dev/null)" "still-open" "what had not gone up went up at the end"
expect_eq "$(cat rwmnt/a.txt)" "one" "the files stay in the folder"
expect_eq "$(ours)" "" "nothing is left mounted"
f mount workspaceblobstore rwmnt --read-write --cache-size 1G
expect_rc 2 "--cache-size with --read-write is a usage error"
