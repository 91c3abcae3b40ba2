# Archives as inputs: tar (plain, gz, bz2, xz, zstd) and zip made by the
# system's tar, zip and bsdtar, extracted by `ferry download --unpack` and by
# a job's `unpack: true` input, on the local datastore and on Azurite; and
# hostile archives written here (every escape: '..', absolute paths, a
# symlink then an entry through it, symlinks and hard links out, device
# nodes, FIFOs, setuid bits, a bomb past the limit), each refused with
# nothing left under the target.
. "$(dirname "$0")/../lib.sh"
need_azurite
C=u$(date +%s%N | tail -c 9)x$$
az_register blob

mkdir -p src/a/b src/empty
printf 'hello\n' >src/a/b/x.txt
head -c 300000 /dev/urandom >src/a/big.bin
printf 'top\n' >src/t.txt
ln -s a/b/x.txt src/link
chmod 0750 src/a/b
mkdir -p arch
tar -cf arch/plain.tar -C src .
tar -czf arch/t.tgz -C src .
tar -cjf arch/t.tbz -C src .
tar -cJf arch/t.txz -C src .
tar -cf - -C src . | zstd -q >arch/t.tar.zst
(cd src && zip -qry ../arch/t.zip .)
bsdtar -czf arch/bsd.tgz -C src .
bsdtar --format zip -cf arch/bsd.zip -C src .
cp arch/t.tgz arch/no-extension
f upload workspaceblobstore arch --target-path arch
f upload blob arch --target-path arch
expect_rc 0 "set-up: the archives are on both datastores"

same_tree() { # same_tree DIR: DIR holds what src holds (files, links, modes)
    diff -r --no-dereference src "$1" >/dev/null 2>&1 &&
        [ "$(stat -c %a "$1/a/b")" = 750 ] && [ "$(readlink "$1/link")" = a/b/x.txt ]
}
for ds in workspaceblobstore blob; do
    for a in plain.tar t.tgz t.tbz t.txz t.tar.zst t.zip bsd.tgz bsd.zip no-extension; do
        f download "$ds" "out-$ds-$a" --prefix "arch/$a" --unpack
        if [ "$RC" = 0 ] && same_tree "out-$ds-$a"; then
            _ok "$ds: $a unpacks to the same files, links and modes"
        else
            _fail "$ds: $a unpacks to the same files, links and modes" "rc $RC" "$(cat "$ERR")"
        fi
    done
done
expect_eq "$(ls -a out-blob-t.tgz | grep -c ferry-unpack)" "0" "no temporary folder is left"
f download blob out-blob-t.tgz --prefix arch/t.tgz --unpack
expect_rc 1 "unpacking over files already there is refused without --overwrite"
expect_err "is there already (--overwrite replaces it)" "saying which"
f download blob out-blob-t.tgz --prefix arch/t.tgz --unpack --overwrite
expect_rc 0 "and with --overwrite it replaces them"
printf 'not an archive at all\n' >plain.txt
f upload-files blob plain.txt --target-path arch
f download blob out-plain --prefix arch/plain.txt --unpack
expect_rc 1 "a file that is not an archive is an error"
expect_err "is not an archive ferry can unpack" "saying so"
expect_no_file out-plain "and nothing is made"

# --- hostile archives ---
/usr/bin/python3 - hostile <<'PY'
import io, os, stat, sys, tarfile, zipfile
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
def tar(name, entries):
    with tarfile.open(os.path.join(d, name), "w:gz") as t:
        for e in entries:
            kind, path = e[0], e[1]
            ti = tarfile.TarInfo(path)
            data = b""
            if kind == "file":
                data = e[2] if len(e) > 2 else b"pwned\n"
                ti.size = len(data)
                ti.mode = e[3] if len(e) > 3 else 0o644
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
            elif kind == "sym":
                ti.type = tarfile.SYMTYPE
                ti.linkname = e[2]
            elif kind == "hard":
                ti.type = tarfile.LNKTYPE
                ti.linkname = e[2]
            elif kind == "chr":
                ti.type = tarfile.CHRTYPE
                ti.devmajor, ti.devminor = 1, 3
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            t.addfile(ti, io.BytesIO(data) if kind == "file" else None)
tar("dotdot.tgz", [("file", "ok.txt"), ("file", "../escaped.txt")])
tar("deep-dotdot.tgz", [("file", "a/b/../../../escaped.txt")])
tar("absolute.tgz", [("file", "/tmp/ferry-absolute-escape.txt")])
# Argo CVE-2025-62156's pattern: a symlink, then an entry written through it
tar("symlink-then-write.tgz", [("sym", "s", "/tmp"), ("file", "s/ferry-through-symlink.txt")])
tar("symlink-rel-then-write.tgz", [("sym", "s", "../.."), ("file", "s/escaped.txt")])
tar("symlink-inside-then-write.tgz", [("dir", "real"), ("sym", "s", "real"), ("file", "s/x.txt")])
tar("symlink-out.tgz", [("sym", "passwd", "/etc/passwd")])
tar("hardlink-out.tgz", [("hard", "h", "/etc/passwd")])
tar("hardlink-dotdot.tgz", [("hard", "h", "../outside.txt")])
tar("devices.tgz", [("file", "ok.txt"), ("chr", "null"), ("fifo", "pipe"),
                    ("file", "suid.sh", b"#!/bin/sh\n", 0o6755)])
tar("bomb.tgz", [("file", "zeros.bin", b"\0" * (20 << 20))])
def zipf(name, entries):
    with zipfile.ZipFile(os.path.join(d, name), "w", zipfile.ZIP_DEFLATED) as z:
        for e in entries:
            zi = zipfile.ZipInfo(e[1])
            if e[0] == "sym":
                zi.create_system = 3
                zi.external_attr = (stat.S_IFLNK | 0o777) << 16
                z.writestr(zi, e[2])
            else:
                zi.external_attr = (stat.S_IFREG | 0o644) << 16
                z.writestr(zi, b"pwned\n")
zipf("dotdot.zip", [("file", "ok.txt"), ("file", "../escaped.txt")])
zipf("absolute.zip", [("file", "/tmp/ferry-absolute-escape.txt")])
zipf("symlink-then-write.zip", [("sym", "s", "/tmp"), ("file", "s/ferry-through-symlink.txt")])
zipf("symlink-rel.zip", [("sym", "s", "../../.."), ("file", "s/escaped.txt")])
PY
f upload blob hostile --target-path hostile
expect_rc 0 "set-up: the hostile archives are in the container"
for h in dotdot.tgz deep-dotdot.tgz absolute.tgz symlink-then-write.tgz symlink-rel-then-write.tgz \
    symlink-inside-then-write.tgz symlink-out.tgz hardlink-out.tgz hardlink-dotdot.tgz \
    dotdot.zip absolute.zip symlink-then-write.zip symlink-rel.zip; do
    mkdir -p "jail-$h"
    f download blob "jail-$h/target" --prefix "hostile/$h" --unpack
    if [ "$RC" = 1 ] && grep -q "refused, and nothing was extracted" "$ERR" && [ ! -e "jail-$h/target" ] &&
        [ -z "$(ls -A "jail-$h")" ]; then
        _ok "$h: refused, nothing left under the target or beside it"
    else
        _fail "$h: refused, nothing left under the target or beside it" "rc $RC" "$(cat "$ERR"; ls -laR "jail-$h")"
    fi
done
expect_no_file escaped.txt "nothing landed beside the jails"
expect_no_file /tmp/ferry-absolute-escape.txt "nothing landed at an absolute path"
expect_no_file /tmp/ferry-through-symlink.txt "nothing was written through a symlink"
f download blob devs --prefix hostile/devices.tgz --unpack
expect_rc 0 "device nodes and FIFOs do not stop the rest"
expect_err "'null' is a device node, FIFO or socket: not made" "a warning says which were not made"
expect_no_file devs/null "no device node"
expect_no_file devs/pipe "no FIFO"
expect_eq "$(stat -c %a devs/suid.sh)" "755" "setuid and setgid bits are dropped"
FERRY_UNPACK_LIMIT=5M f download blob bomb --prefix hostile/bomb.tgz --unpack
expect_rc 1 "an archive expanding past the limit stops"
expect_err "expands past 5242880 bytes" "with a clear error"
expect_no_file bomb "and nothing is left under the target"
f download blob bomb --prefix hostile/bomb.tgz --unpack --unpack-limit 1M
expect_rc 1 "--unpack-limit sets it too"

# --- a job: unpack: true ---
cat >job.yml <<'YAML'
command: >-
  ls ${{inputs.data}} > ${{outputs.o}}/listing.txt && cat ${{inputs.data}}/a/b/x.txt > ${{outputs.o}}/x.txt
inputs:
  data:
    type: uri_file
    path: azureml://datastores/blob/paths/arch/t.tar.zst
    unpack: true
outputs:
  o:
    path: azureml://datastores/workspaceblobstore/paths/unpacked/
YAML
f run job.yml --run-id u1
expect_rc 0 "a job with an unpack: true input runs"
DS=$FERRY_WORKSPACE/datastores/workspaceblobstore
expect_eq "$(tr '\n' ' ' <"$DS/unpacked/listing.txt")" "a empty link t.txt " "\${{inputs.data}} is the folder it was extracted into"
expect_eq "$(cat "$DS/unpacked/x.txt")" "hello" "and holds the archive's files"
M=$FERRY_WORKSPACE/runs/u1/manifest.json
expect_eq "$(json "$M" 'j["inputs"][0]["archive"]')" "arch/t.tar.zst" "the manifest names the archive"
expect_eq "$(json "$M" 'sorted(f["path"] for f in j["inputs"][0]["files"])')" "['a/b/x.txt', 'a/big.bin', 't.txt']" "and lists each extracted file"
f plan job.yml
expect_out "note: an archive: extracted into the folder as it is read (unpack: true)" "plan says it is unpacked"
printf 'command: echo\ninputs:\n  d:\n    type: uri_folder\n    path: azureml://datastores/blob/paths/arch/\n    unpack: true\n' >bad-unpack.yml
f validate bad-unpack.yml
expect_rc 2 "unpack on a uri_folder is refused"
expect_err "unpack: an archive is one file" "saying why"

# --- archives out: ferry upload --archive, and an output's archive: ---
for fmt in tar.gz tar.zst zip; do
    f upload blob src --target-path packed-$fmt --archive $fmt
    expect_rc 0 "upload --archive $fmt to a blob container"
    SDK get "$C" "packed-$fmt/src.$fmt" "got.$fmt" >got.json
    expect_eq "$(json got.json 'j["md5"]')" "$(b64md5 "got.$fmt")" "$fmt: the object's MD5, as the service holds it, is its bytes' (checked by Microsoft's SDK)"
    rm -rf sysx && mkdir sysx
    case $fmt in
        tar.gz) tar -xzf "got.$fmt" -C sysx ;;
        tar.zst) zstd -dc "got.$fmt" | tar -xf - -C sysx ;;
        zip) (cd sysx && unzip -q "../got.$fmt") ;;
    esac
    expect_same src/a/b/x.txt sysx/a/b/x.txt "$fmt: the system's tool reads it back"
    expect_eq "$(cmp -s src/a/big.bin sysx/a/big.bin && echo same)" "same" "$fmt: with the large file whole"
    expect_eq "$(json sysx/_ferry_manifest.json 'sorted(f["path"] for f in j["files"])')" "['a/b/x.txt', 'a/big.bin', 't.txt']" "$fmt: its _ferry_manifest.json lists every file"
    expect_eq "$(json sysx/_ferry_manifest.json '[f["sha256"] for f in j["files"] if f["path"] == "a/big.bin"][0]')" "$(sha256sum src/a/big.bin | cut -d' ' -f1)" "$fmt: with each file's SHA-256"
done
[ -d sysx/empty ] && _ok "an empty folder is carried" || _fail "an empty folder is carried"
head -c $((20 * 1024 * 1024)) /dev/urandom >src/a/big2.bin
f upload blob src --target-path packed-big --archive tar.zst
expect_rc 0 "a folder past one 8 MiB block is packed"
SDK blocks "$C" packed-big/src.tar.zst >blocks.json
expect_eq "$(json blocks.json 'len(j["committed"]) >= 3')" "True" "and went up in blocks as it was packed"
f download blob round --prefix packed-big/src.tar.zst --unpack
expect_eq "$(cmp -s src/a/big2.bin round/a/big2.bin && echo same)" "same" "and ferry unpacks it back whole"
rm -f src/a/big2.bin
cat >packjob.yml <<'YAML'
command: mkdir -p ${{outputs.model}}/w && echo weights > ${{outputs.model}}/w/a.txt && echo cfg > ${{outputs.model}}/c.json
outputs:
  model:
    type: uri_folder
    path: azureml://datastores/blob/paths/models/${{name}}/
    archive: tar.zst
YAML
f run packjob.yml --run-id p1
expect_rc 0 "a job whose output has archive: tar.zst runs"
SDK list "$C" models/p1/ >l.json
expect_eq "$(json l.json '[e["name"] for e in j]')" "['models/p1/model.tar.zst']" "the output is one object, <name>.tar.zst"
M=$FERRY_WORKSPACE/runs/p1/manifest.json
expect_eq "$(json "$M" 'j["outputs"][0]["archive"]["path_on_datastore"], j["outputs"][0]["archive"]["format"]')" "('models/p1/model.tar.zst', 'tar.zst')" "the run's manifest names the archive"
printf 'command: echo\noutputs:\n  o:\n    archive: rar\n' >badarch.yml
f validate badarch.yml
expect_rc 2 "an unknown archive format is refused"
expect_err "archive: expected tar.gz, tar.zst or zip" "saying which there are"

# --- one job: an archive in, unpacked; its output out, packed ---
cat >both.yml <<'YAML'
command: cp -r ${{inputs.data}}/a ${{outputs.result}}/copied && echo done > ${{outputs.result}}/status.txt
inputs:
  data:
    type: uri_file
    path: azureml://datastores/blob/paths/arch/t.zip
    unpack: true
outputs:
  result:
    type: uri_folder
    path: azureml://datastores/blob/paths/both/
    archive: zip
YAML
f run both.yml --run-id both1
expect_rc 0 "a job that unpacks its input and archives its output runs"
SDK get "$C" both/result.zip both.zip >/dev/null
rm -rf bothx && mkdir bothx && (cd bothx && unzip -q ../both.zip)
expect_same src/a/b/x.txt bothx/copied/b/x.txt "the zip that went up holds what the command made from the unpacked input"
expect_eq "$(cat bothx/status.txt)" "done" "all of it"

# --- archives out to a file share and to ADLS Gen2 (which size an object
# before its blocks): a pass that counts, then the same bytes into blocks ---
need_files_double --log "$T/files.log"
need_adls_double --log "$T/adls.log"
f datastore register azure-file share --account devstoreaccount1 --share "a$$" \
    --account-url "$FILES_URL" --account-key-env AZURITE_KEY --create-if-not-exists
f datastore register azure-data-lake-gen2 lake --account devstoreaccount1 --filesystem "a$$" \
    --account-url "$ADLS_URL" --account-key-env AZURITE_KEY --create-if-not-exists
head -c $((20 * 1024 * 1024)) /dev/urandom >src/a/big3.bin
for ds in share lake; do
    for fmt in tar.gz zip; do
        f upload "$ds" src --target-path "p-$fmt" --archive "$fmt"
        expect_rc 0 "$ds: upload --archive $fmt (past two 8 MiB blocks)"
        rm -rf "back-$ds-$fmt"
        f download "$ds" "back-$ds-$fmt" --prefix "p-$fmt/src.$fmt" --unpack
        expect_rc 0 "$ds: and unpacked back"
        expect_eq "$(cmp -s src/a/big3.bin "back-$ds-$fmt/a/big3.bin" && echo same)" "same" "$ds: $fmt holds the large file whole"
    done
done
rm -f src/a/big3.bin
