# Plain https inputs: files on a web server (tests/doubles/web.py, TLS on
# loopback with a CA made here), read with ranges, retries and If-Range;
# ETag or Last-Modified as the version (and the cache key); redirects to
# https followed, to http refused; a uri_folder or an output on a plain URL
# refused; an archive on the server unpacked by a job.
. "$(dirname "$0")/../lib.sh"
mkdir -p www/data
head -c $((40 * 1024 * 1024 + 7)) /dev/urandom >www/data/big.bin
printf 'sepal,petal\n1,2\n' >www/data/iris.csv
mkdir -p src/a && printf 'inside\n' >src/a/x.txt && tar -czf www/data/images.tar.gz -C src .
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" \
    -keyout key.pem -out cert.pem -days 1 2>/dev/null
# web NAME [ARGS...]: a server on a free port; $NAME_URL is its address
web() {
    local n=$1
    shift
    /usr/bin/python3 "$TOP/tests/doubles/web.py" --root www --cert cert.pem --key key.pem \
        --stats "$T/$n.json" "$@" >"$T/$n.out" 2>"$T/$n.err" &
    local pid=$!
    at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
    eval "${n}_PID=$pid"
    for _ in $(seq 100); do grep -q '^listening on' "$T/$n.out" && break; sleep 0.1; done
    eval "${n}_URL=$(sed -n 's/^listening on //p' "$T/$n.out")"
}
stats() { kill "$(eval echo "\$${1}_PID")"; sleep 0.3; }
web plain
web noetag --no-etag
web flaky --faults 2 --fail-after 100000
web slow --bps $((8 << 20))
web whole --faults 1 --fail-after 100000 --whole-after-cut
web shifted --faults 1 --fail-after 100000 --shifted-after-cut
web shifted2 --faults 1 --fail-after 100000 --shifted-after-cut
web whole2 --faults 1 --fail-after 100000 --whole-after-cut
U=$plain_URL

f download "$U/data/big.bin" got1
expect_rc 1 "without the server's CA, https fails"
expect_err "CURL_CA_BUNDLE" "and says how to trust a private CA"
export CURL_CA_BUNDLE=$T/cert.pem
f download "$U/data/big.bin" got1
expect_rc 0 "ferry download of a plain https URL"
expect_same www/data/big.bin got1/big.bin "40 MiB read whole, right (in ranges)"
f download "$flaky_URL/data/big.bin" got2
expect_rc 0 "a server that cuts two bodies short: retried"
expect_same www/data/big.bin got2/big.bin "and the file is right"
stats flaky
# a cut read goes on from where it stopped: the server counts whole 64 KiB pieces sent, so
# with the two cut tries it sent less than the file; starting those reads again, more
expect_eq "$(json "$T/flaky.json" 'j["faults"], j["body_bytes"] < 40 * 1024 * 1024 + 7')" \
    "(2, True)" "each of the two cut reads asked only for the bytes that had not arrived"
# recovers NAME KIND LOG WHAT: a server that answers the rest of a cut read oddly (KIND in its
# stats): the answer is not used (LOG says so), the read starts again, and the file is right
recovers() {
    f -v download "$(eval echo "\$${1}_URL")/data/big.bin" "got-$1"
    expect_rc 0 "a server that answers the rest of a cut read $4: still read"
    expect_err "$3" "that answer is not used: the read starts again from the start of the range"
    expect_same www/data/big.bin "got-$1/big.bin" "and the file is right"
    stats "$1"
    expect_eq "$(json "$T/$1.json" "j['faults'], j['$2']")" "(1, 1)" "(one cut, one $2 answer)"
}
recovers whole whole "came as HTTP 200, not 206; from the start of the range" "with the whole file (200)"
recovers shifted shifted "came as HTTP 206 with bytes " "with a 206 from elsewhere in the file"
FERRY_RETRIES=2 f download "$shifted2_URL/data/big.bin" got2t
expect_rc 1 "with no try left after the shifted answer, the download fails"
expect_err "were asked for and came as HTTP 206 with bytes " "saying which bytes came instead"
expect_no_file got2t/big.bin "and no file is presented as complete"
FERRY_RETRIES=2 f download "$whole2_URL/data/big.bin" got2u
expect_rc 1 "with no try left after a 200 to the rest of a cut read, the download fails"
expect_err "came as HTTP 200, not 206; the file changed on the server, or the server ignores byte ranges" \
    "saying what usually causes it"
expect_no_file got2u/big.bin "and no file is presented as complete"
f download "$U/to-https/data/iris.csv" got3
expect_rc 0 "a redirect to https is followed"
expect_same www/data/iris.csv got3/iris.csv "to the file"
f download "$U/to-http/data/iris.csv" got4
expect_rc 1 "a redirect to plain http is refused"
expect_err "redirected ferry to a URL that is not https" "saying so"
expect_no_file got4/iris.csv "and nothing is written"
f download "$U/data/nothing.bin" got5
expect_rc 1 "a missing file is an error"
expect_err "no such file on the server (HTTP 404)" "naming the status"

# --- jobs ---
cat >job.yml <<YAML
command: cat \${{inputs.iris}} > \${{outputs.o}}/iris.csv; md5sum < \${{inputs.big}} | cut -c1-32 > \${{outputs.o}}/big.md5
inputs:
  iris:
    type: uri_file
    path: $U/data/iris.csv
    mode: download
  big:
    type: uri_file
    path: $noetag_URL/data/big.bin
    mode: ro_mount
outputs:
  o:
    path: azureml://datastores/workspaceblobstore/paths/web/
YAML
f run job.yml --run-id w1
expect_rc 0 "a job with plain https inputs (download and ro_mount) runs"
DS=$FERRY_WORKSPACE/datastores/workspaceblobstore
expect_same www/data/iris.csv "$DS/web/iris.csv" "the downloaded input"
expect_eq "$(cat "$DS/web/big.md5")" "$(md5sum <www/data/big.bin | cut -c1-32)" "the mounted one, from a server without ETags"
M=$FERRY_WORKSPACE/runs/w1/manifest.json
expect_eq "$(json "$M" 'len(j["inputs"][0]["files"][0]["etag"]) == 32')" "True" "the manifest records the server's ETag"
f run job.yml --run-id w2
expect_rc 0 "the same job again"
expect_err "input iris: downloaded 1 file (0 B, 1 from the cache)" "the file comes from the node cache (the ETag is the key)"
cat >folder.yml <<YAML
command: ls \${{inputs.d}}
inputs:
  d:
    type: uri_folder
    path: $U/data/
YAML
f validate folder.yml
expect_rc 2 "a uri_folder on a plain https URL is refused"
expect_err "a plain https URL" "saying why"
cat >out.yml <<YAML
command: echo
outputs:
  o:
    type: uri_folder
    path: $U/data/up/x.bin
YAML
f plan out.yml
expect_rc 2 "an output to a plain https URL is refused"
expect_err "cannot be written" "saying why"
cat >unpack.yml <<YAML
command: cat \${{inputs.images}}/a/x.txt > \${{outputs.o}}/x.txt
inputs:
  images:
    type: uri_file
    path: $U/data/images.tar.gz
    unpack: true
outputs:
  o:
    path: azureml://datastores/workspaceblobstore/paths/web-unpacked/
YAML
f run unpack.yml --run-id w3
expect_rc 0 "an archive on a web server, unpacked by a job"
expect_eq "$(cat "$DS/web-unpacked/x.txt")" "inside" "holds the archive's file"
f download "$U/data/images.tar.gz" got6 --unpack
expect_rc 0 "ferry download URL --unpack"
expect_eq "$(cat got6/a/x.txt)" "inside" "extracts it"
stats plain
expect_eq "$(json "$T/plain.json" 'j["gets"].get("/data/iris.csv")')" "2" "the server sent iris.csv twice in all (download, the redirect's), not for the cached run"

# --- a download killed part-way resumes (Range, If-Range) ---
recorded() {
    /usr/bin/python3 -c 'import os,sys; print(int(os.getxattr(sys.argv[1], "user.ferry.partial").split()[3]))' "$1" 2>/dev/null || echo 0
}
bg download "$slow_URL/data/big.bin" resumed -j 1
for _ in $(seq 300); do [ "$(recorded resumed/.big.bin.ferry-partial)" -ge 2 ] && break; sleep 0.1; done
have=$(recorded resumed/.big.bin.ferry-partial)
signal_bg KILL
[ "$have" -ge 2 ] && _ok "a slow download from a web server records its blocks as they land ($have)" ||
    _fail "a slow download from a web server records its blocks as they land" "$have"
expect_no_file resumed/big.bin "killed: nothing under the final name"
kill -USR1 "$slow_PID"
f download "$slow_URL/data/big.bin" resumed
expect_rc 0 "the same download again completes"
expect_out "already there" "resuming from the blocks on disk"
expect_same www/data/big.bin resumed/big.bin "and the file is whole"
