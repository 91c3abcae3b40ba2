# upload, upload-files, download, ls on the local datastore: skip and
# overwrite, awkward names, symlinks, empty folders, refusal of escapes.
. "$(dirname "$0")/../lib.sh"
DS=$FERRY_WORKSPACE/datastores/workspaceblobstore

mkdir -p src/sub/deeper src/empty
printf 'alpha\n' > src/a.txt
printf 'beta\n' > "src/sub/with space.txt"
printf 'gamma\n' > "src/sub/ünï#cødé%+&.txt"
: > src/sub/deeper/zero.bin
head -c 300000 /dev/urandom > src/sub/deeper/big.bin

f upload workspaceblobstore src --target-path data/v1
expect_rc 0 "upload a folder"
expect_out "uploaded 5 files" "the summary counts 5 files"
expect_out "0 skipped, 0 failed" "none skipped or failed"
expect_same src/sub/deeper/big.bin "$DS/data/v1/sub/deeper/big.bin" "bytes arrive intact"
expect_file "$DS/data/v1/sub/ünï#cødé%+&.txt" "non-ASCII and #%+& names arrive as written"
expect_file "$DS/data/v1/sub/deeper/zero.bin" "a zero-byte file arrives"
expect_eq "$(find "$DS" -name '*.part' | wc -l)" "0" "no temporary file is left"

f upload workspaceblobstore src --target-path data/v1
expect_out "uploaded 0 files (0 B), 5 skipped" "a second upload skips existing files"
printf 'alpha2\n' > src/a.txt
f upload workspaceblobstore src --target-path data/v1
expect_eq "$(cat "$DS/data/v1/a.txt")" "alpha" "without --overwrite the old file stays"
f upload workspaceblobstore src --target-path data/v1 --overwrite
expect_out "uploaded 5 files" "--overwrite uploads again"
expect_eq "$(cat "$DS/data/v1/a.txt")" "alpha2" "--overwrite replaces"

f ls workspaceblobstore data/v1/sub/
expect_rc 0 "ls with a prefix"
expect_eq "$(wc -l < "$OUT")" "4" "lists the 4 files under the prefix"
expect_out "300000" "with sizes"
f ls workspaceblobstore data/v1/sub/with --json
expect_eq "$(json "$OUT" '[e["name"] for e in j]')" "['data/v1/sub/with space.txt']" "a prefix is a string prefix; --json"
f ls workspaceblobstore data/v1/ --delimiter / --json
expect_eq "$(json "$OUT" '[(e["name"], e.get("prefix", False)) for e in j]')" "[('data/v1/a.txt', False), ('data/v1/sub/', True)]" "ls --delimiter / lists one level on a local datastore"
f ls nosuch
expect_rc 1 "ls of an unknown datastore fails"
expect_err "no datastore named nosuch" "and names it"

f download workspaceblobstore out --prefix data/v1/
expect_rc 0 "download a prefix"
expect_same src/sub/deeper/big.bin out/data/v1/sub/deeper/big.bin "downloads keep full names under the target"
expect_file "out/data/v1/sub/ünï#cødé%+&.txt" "awkward names download"
f download workspaceblobstore out --prefix data/v1/
expect_out "0 files (0 B), 5 skipped" "a second download skips existing files"
f download workspaceblobstore out --prefix data/v1/ --overwrite
expect_out "0 files (0 B), 5 skipped (5 unchanged)" "--overwrite skips files unchanged since ferry fetched them"
printf 'local edit\n' > out/data/v1/a.txt
f download workspaceblobstore out --prefix data/v1/ --overwrite
expect_eq "$(cat out/data/v1/a.txt)" "alpha2" "--overwrite replaces local files"

f download workspaceblobstore out-j1 --prefix data/v1/ --concurrency 1
expect_same src/sub/deeper/big.bin out-j1/data/v1/sub/deeper/big.bin "--concurrency 1 works"
f download workspaceblobstore out-j1 --concurrency 0
expect_rc 2 "--concurrency 0 is a usage error"

# upload-files
printf 'one\n' > one.txt
mkdir -p tree/x && printf 'two\n' > tree/x/two.txt
f upload-files workspaceblobstore one.txt tree/x/two.txt --target-path files
expect_rc 0 "upload-files"
expect_file "$DS/files/one.txt" "files land by their path below their common folder"
expect_file "$DS/files/tree/x/two.txt" "every file given lands (as the v1 SDK's upload_files)"
f upload-files workspaceblobstore tree/x/two.txt --target-path solo
expect_file "$DS/solo/two.txt" "a single file lands by its base name"
mkdir -p x y && printf 'x\n' > x/same.txt && printf 'y\n' > y/same.txt
f upload-files workspaceblobstore x/same.txt y/same.txt --target-path same
expect_rc 0 "two files of one name in two folders"
expect_eq "$(cat "$DS/same/x/same.txt") $(cat "$DS/same/y/same.txt")" "x y" "both land, below their common folder"
f upload-files workspaceblobstore x/same.txt y/same.txt --relative-root x --target-path same2
expect_rc 2 "a file outside --relative-root is still refused"
f upload-files workspaceblobstore x/same.txt x/../x/same.txt --target-path same3
expect_rc 2 "two sources that land on one name are refused"
expect_err "x/same.txt and x/../x/same.txt would both be uploaded as same3/same.txt" "naming both and the name"
expect_no_file "$DS/same3" "before anything is uploaded"
f upload-files workspaceblobstore tree/x/two.txt --relative-root tree --target-path rel
expect_file "$DS/rel/x/two.txt" "--relative-root keeps the path below it"
f upload-files workspaceblobstore one.txt --relative-root tree
expect_rc 2 "a file outside --relative-root is refused"
f upload-files workspaceblobstore nothere.txt
expect_rc 1 "a missing file fails"

# escapes: nothing is written outside the datastore or the target
f upload workspaceblobstore src --target-path ../escape
expect_rc 1 "--target-path with .. is refused"
expect_err "contains '..'" "with the reason"
expect_no_file "$FERRY_WORKSPACE/datastores/escape" "and nothing was written outside"
f download workspaceblobstore out2 --prefix ../../
expect_rc 1 "--prefix with .. is refused"
# a symlink planted in the target folder is not written through
mkdir -p out3/data outside
ln -s "$T/outside" out3/data/v1
f download workspaceblobstore out3 --prefix data/v1/
expect_rc 1 "a download through a symlinked folder fails"
expect_err "is a symlink; refusing to write through it" "and says why"
expect_eq "$(ls outside | wc -l)" "0" "nothing was written through the symlink"

# symlinks in a source folder: skipped, or followed when asked
mkdir -p links && printf 'real\n' > links/real.txt
ln -s real.txt links/link.txt
ln -s /etc links/etc
f upload workspaceblobstore links --target-path links
expect_out "uploaded 1 file" "symlinks are skipped by default"
expect_err "skipping symlink" "with a warning"
expect_no_file "$DS/links/link.txt" "the link was not uploaded"
printf 'x\n' > "$T/secretfile"
mkdir -p links2 && ln -s "$T/secretfile" links2/s.txt
f upload workspaceblobstore links2 --target-path links2 --follow-symlinks
expect_file "$DS/links2/s.txt" "--follow-symlinks follows file links"
mkdir -p loop/d && ln -s .. loop/d/up
f upload workspaceblobstore loop --target-path loop --follow-symlinks
expect_rc 0 "a symlink loop ends"
expect_err "a symlink loop" "and is reported"

# device files and pipes are refused: reading one could block or never end
mkdir -p devs && printf 'data\n' > devs/real.txt
mkfifo devs/pipe
mknod devs/null c 1 3 2>/dev/null || _fail "mknod (the test runs as root)"
ln -s /dev/zero devs/zero
timeout 20 "$FERRY" upload workspaceblobstore devs --target-path devs --follow-symlinks >"$OUT" 2>"$ERR"
expect_eq "$?" "0" "an upload beside a pipe, a device and a link to /dev/zero ends"
expect_out "uploaded 1 file" "only the regular file goes"
expect_eq "$(grep -c 'not a regular file' "$ERR")" "3" "each of the three is refused with a warning"
expect_eq "$(ls "$DS/devs")" "real.txt" "nothing else reached the datastore"
timeout 20 "$FERRY" upload-files workspaceblobstore devs/pipe --target-path devs >"$OUT" 2>"$ERR"
expect_err "not a regular file" "a pipe named on the command line is refused too"
mknod "$DS/devs/null" c 1 3 2>/dev/null
f download workspaceblobstore devback --prefix devs/
expect_err "skipping devs/null: not a regular file" "a device inside a local datastore is not read"
expect_eq "$(ls devback/devs)" "real.txt" "and not downloaded"

# ferry's own unfinished files (a download under way, or one to resume) are never uploaded
mkdir -p mixed && printf 'a\n' >mixed/a.txt
head -c 100 /dev/urandom >mixed/.big.bin.ferry-partial
head -c 100 /dev/urandom >mixed/.small.bin.ferry-4242-1.part
f upload workspaceblobstore mixed --target-path mixed
expect_out "uploaded 1 file" "an upload leaves ferry's partial and temporary files out"
expect_eq "$(ls -A "$DS/mixed")" "a.txt" "only the real file reached the datastore"
f download workspaceblobstore mixedback --prefix mixed/
expect_eq "$(ls -A mixedback/mixed)" "a.txt" "and a local datastore does not list them"

# an upload into a local datastore never writes through a symlinked folder in it
mkdir -p escape-to && ln -s "$T/escape-to" "$DS/linkdir"
f upload-files workspaceblobstore src/a.txt --target-path linkdir/sub
expect_rc 1 "an upload through a symlinked folder in the datastore fails"
expect_err "is a symlink; refusing to write through it" "and says why"
expect_eq "$(find escape-to | wc -l)" "1" "nothing was written outside the datastore"
rm "$DS/linkdir"

# a symlink inside a local datastore is not followed out of it
ln -s /etc "$DS/etc-link"
f ls workspaceblobstore
expect_not_err "passwd" "a symlink in a datastore is not listed through"
grep -q 'etc-link' "$OUT" && _fail "the symlink is not listed as a file" || _ok "the symlink is not listed as a file"
f download workspaceblobstore out4 --prefix etc-link/
expect_eq "$(find out4 -type f 2>/dev/null | wc -l)" "0" "nothing is downloaded through it"

# empty folders are not carried (object stores have none), and nothing breaks
expect_no_file "$DS/data/v1/empty" "an empty folder is not created in the datastore"

# progress: a plain line when asked
FERRY_PROGRESS_INTERVAL=0 f --progress=plain upload workspaceblobstore src --target-path p --overwrite
expect_err "ferry: upload: 5/5 files" "--progress=plain prints plain progress lines"
FERRY_PROGRESS_INTERVAL=0 f --progress=none upload workspaceblobstore src --target-path p --overwrite
expect_not_err "files," "--progress=none prints none"
f -q upload workspaceblobstore src --target-path q
expect_eq "$(cat "$ERR")" "" "-q keeps stderr empty"
expect_eq "$(cat "$OUT")" "" "-q silences the summary line too"
f -q download workspaceblobstore qdl --prefix q/
expect_eq "$(cat "$OUT")$(cat "$ERR")" "" "and a download's"
f download workspaceblobstore qdl --prefix q/ --overwrite -v
expect_err "unchanged qdl/q/a.txt" "--overwrite -v calls an unchanged file unchanged"
expect_not_err "exists; --overwrite replaces it" "not skipped for existing"

# a prefix that matches nothing: said, and a failure (the data asked for is not there)
f download workspaceblobstore none --prefix no/such/prefix/
expect_rc 1 "a download whose prefix matches nothing exits 1"
expect_err "no file in datastore workspaceblobstore starts with 'no/such/prefix/'" "and says so"

# progress: a bar fits the terminal (no wrapped, stacked lines); failures are said
COLUMNS=40 f --progress=bar upload workspaceblobstore src --target-path bar
long=$(tr '\r' '\n' <"$ERR" | sed 's/\x1b\[K//g' | awk 'length > 39' | wc -l)
expect_eq "$long" "0" "every redraw of the bar fits 40 columns"
grep -q 'upload' "$ERR" && _ok "the bar was drawn" || _fail "the bar was drawn"
mkdir -p pf && for i in 1 2 3 4; do printf '%s\n' "$i" > "pf/f$i.txt"; done
f upload workspaceblobstore pf --target-path pfail-src
mkdir -p pfd/pfail-src/f2.txt pfd/pfail-src/f3.txt pfd/pfail-src/f4.txt
FERRY_PROGRESS_INTERVAL=0 f --progress=plain download workspaceblobstore pfd --prefix pfail-src/
expect_rc 1 "3 of 4 downloads fail"
expect_err "1/4 files, 3 failed" "the last progress line says 3 failed"
expect_not_err "4/4 files" "and not 4/4 files"

# a read-only target: a clear error, no partial file under the final name
mkdir -p ro && chmod 555 ro
if [ "$(id -u)" -ne 0 ]; then
    f download workspaceblobstore ro --prefix data/v1/a.txt
    expect_rc 1 "a read-only target fails"
fi
chmod 755 ro

# an unreadable folder fails alone, as an unreadable file does: the rest goes up
chmod 755 "$T"
mkdir -p perm/src/locked perm/src/ok perm/wsn
printf 'ok\n' >perm/src/ok/a.txt
printf 'in a locked folder\n' >perm/src/locked/b.txt
printf 'z\n' >perm/src/z.txt
chmod 700 perm/src/locked
chown 65534:65534 perm/wsn
cp "$FERRY" perm/ferry
run setpriv --reuid=65534 --regid=65534 --clear-groups env FERRY_WORKSPACE="$T/perm/wsn" "$T/perm/ferry" upload workspaceblobstore perm/src --target-path d
expect_rc 1 "an upload with a folder it may not read exits 1"
expect_err "cannot read folder $T/perm/src/locked: Permission denied" "naming the folder and the reason"
expect_out "uploaded 2 files" "the rest still goes up"
expect_out "1 failed" "and the summary counts the failure"
expect_file "$T/perm/wsn/datastores/workspaceblobstore/d/z.txt" "a file after the locked folder arrives"

# names that are not UTF-8 are refused before any request, and escaped in messages
mkdir -p enc
printf 'bad\n' > "enc/$(printf 'bad\377name.txt')"
printf 'nl\n' > "enc/$(printf 'new\nline.txt')"
printf 'good\n' > enc/good.txt
f upload workspaceblobstore enc --target-path enc
expect_rc 1 "an upload with a name that is not UTF-8 exits 1"
expect_err 'enc/bad\xffname.txt' "naming it with the byte escaped"
expect_err "not valid UTF-8" "and the reason"
expect_err 'enc/new\nline.txt' "a newline in a name is escaped"
expect_eq "$(grep -c . "$ERR")" "3" "each message on one line (two files, one total)"
expect_out "uploaded 1 file" "the good file goes"
expect_out "2 failed" "the two others count as failed"
