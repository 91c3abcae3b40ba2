# The Azure Files double (tests/doubles/azure-files) against Microsoft's
# SDK for JavaScript (the conformance run of tests/azure/files_sdk.js) and
# against curl with Shared Keys signed here by openssl: no credentials, a
# wrong key, versions, a SAS, a body over 4 MiB, https, SIGTERM. It needs
# no ferry; it runs for each build tests/run passes all the same.
. "$(dirname "$0")/../lib.sh"
DOUBLE=$TOP/tests/doubles/azure-files
FSDK() { node "$TOP/tests/azure/files_sdk.js" "$@"; }
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
WRONG_KEY=$(printf 'not-the-account-key-0123456789abcdef' | base64)

# start_double LOGFILE ARGS...: the double in the background; its pid in $DPID, base URL in $DURL
start_double() {
    local out=$1
    shift
    "$DOUBLE" --port 0 "$@" >"$out" 2>"$out.err" &
    DPID=$!
    DURL=
    for _ in $(seq 100); do
        DURL=$(sed -n '1s/^listening on \(https\?:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$out")
        [ -n "$DURL" ] && return 0
        sleep 0.1
    done
    return 1
}
# sk_curl KEY METHOD PATH [QUERY [VERSION]]: curl with a Shared Key made here,
# not by an SDK (no body; QUERY plain name=value pairs joined by &; VERSION
# "none" sends no x-ms-version). Status in $STATUS, body in body.xml,
# headers in head.txt.
sk_curl() {
    local key=$1 method=$2 path=$3 query=${4:-} version=${5:-2025-11-05}
    local date canon sts sig vh=() hexkey
    date=$(LC_ALL=C TZ=GMT date '+%a, %d %b %Y %H:%M:%S GMT')
    canon=
    if [ -n "$query" ]; then
        canon=$(printf '%s\n' "${query//&/$'\n'}" | LC_ALL=C sort | sed 's/=/:/' | sed 's/^/\\n/' | tr -d '\n')
    fi
    sts="$method\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:$date\n"
    if [ "$version" != none ]; then sts+="x-ms-version:$version\n"; vh=(-H "x-ms-version: $version"); fi
    sts+="/devstoreaccount1/devstoreaccount1/$path$canon"
    hexkey=$(printf '%s' "$key" | base64 -d | od -An -tx1 | tr -d ' \n')
    sig=$(printf '%b' "$sts" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary | base64)
    STATUS=$(curl -s -o body.xml -D head.txt -w '%{http_code}' -X "$method" -H "x-ms-date: $date" "${vh[@]}" \
        -H "Authorization: SharedKey devstoreaccount1:$sig" "$DURL/devstoreaccount1/$path${query:+?$query}")
}
errcode() { sed -n 's/^x-ms-error-code: *\([A-Za-z]*\).*/\1/Ip' head.txt; }

# --- start, and the official SDK's conformance run ---
run "$DOUBLE" --help
expect_rc 0 "--help exits 0"
expect_out "usage: azure-files" "and prints the usage"
run "$DOUBLE" --port 0 --host 0.0.0.0
expect_rc 2 "a host that is not loopback is refused"
if start_double double.out --log "$T/requests.log"; then _ok "the double prints 'listening on http://127.0.0.1:PORT' first"; else
    _fail "the double starts" "$(cat double.out double.out.err)"; exit 0; fi
at_exit 'kill $DPID 2>/dev/null'
export AZURE_FILES_URL=$DURL/devstoreaccount1
run FSDK conformance
expect_rc 0 "the official SDK's conformance run passes every check"
if [ "$RC" -ne 0 ]; then sed 's/},{/},\n{/g' "$OUT" | sed 's/^/#   /'; fi
expect_eq "$(json "$OUT" 'len(j["failed"])')" "0" "no check failed ($(json "$OUT" 'j["passed"]') passed)"

# --- curl: no credentials, a Shared Key signed here, a wrong key ---
STATUS=$(curl -s -o body.xml -D head.txt -w '%{http_code}' "$DURL/devstoreaccount1/?comp=list")
expect_eq "$STATUS $(errcode)" "401 NoAuthenticationInformation" "a request without credentials: 401 NoAuthenticationInformation"
sk_curl "$KEY" PUT curlshare restype=share
expect_eq "$STATUS" "201" "a Shared Key signed by openssl (not an SDK) creates a share"
sk_curl "$KEY" GET "" "comp=list&prefix=curl"
expect_eq "$STATUS $(grep -o '<Name>curlshare</Name>' body.xml)" "200 <Name>curlshare</Name>" "and lists it (query in the signature)"
sk_curl "$WRONG_KEY" GET curlshare restype=share
expect_eq "$STATUS $(errcode)" "403 AuthenticationFailed" "a Shared Key made with another key: 403 AuthenticationFailed"
expect_eq "$(grep -o '<Code>AuthenticationFailed</Code>' body.xml)" "<Code>AuthenticationFailed</Code>" "with the code in the XML body"
expect_eq "$(grep -c '<AuthenticationErrorDetail>' body.xml)" "1" "and an AuthenticationErrorDetail"
expect_eq "$(grep -cF -e "$KEY" -e "$WRONG_KEY" body.xml head.txt | awk -F: '{s+=$2} END {print s}')" "0" "which holds no key"
sk_curl "$KEY" GET curlshare restype=share none
expect_eq "$STATUS $(errcode)" "400 MissingRequiredHeader" "no x-ms-version: 400 MissingRequiredHeader"
sk_curl "$KEY" GET curlshare restype=share 2030-01-01
expect_eq "$STATUS $(errcode)" "400 InvalidHeaderValue" "an x-ms-version from the future: 400 InvalidHeaderValue"
sk_curl "$KEY" GET curlshare restype=share 2021-04-10
expect_eq "$STATUS" "200" "an older x-ms-version (2021-04-10) is served"
STATUS=$(curl -s -o body.xml -D head.txt -w '%{http_code}' -X PATCH "$DURL/devstoreaccount1/curlshare?restype=share")
expect_eq "$STATUS $(errcode)" "405 UnsupportedHttpVerb" "PATCH: 405 UnsupportedHttpVerb"

# --- a SAS by the SDK, used by curl ---
SAS=$(FSDK sas curlshare rcwdl 60 | json /dev/stdin 'j["sas"]')
STATUS=$(curl -s -o body.xml -D head.txt -w '%{http_code}' "$DURL/devstoreaccount1/curlshare?restype=share&$SAS")
expect_eq "$STATUS" "200" "a share SAS with no x-ms-version (its sv stands in)"
STATUS=$(curl -s -o body.xml -D head.txt -w '%{http_code}' "$DURL/devstoreaccount1/curlshare?restype=share&timeout=30&$SAS")
expect_eq "$STATUS" "200" "a parameter that is not part of the SAS (timeout) does not disturb it"
STATUS=$(curl -s -o body.xml -D head.txt -w '%{http_code}' "$DURL/devstoreaccount1/curlshare?restype=share&${SAS/sp=rcwdl/sp=rcwdlx}")
expect_eq "$STATUS $(errcode)" "403 AuthenticationFailed" "a SAS whose permissions were edited: 403 AuthenticationFailed"
STATUS=$(curl -s -o body.xml -D head.txt -w '%{http_code}' "$DURL/devstoreaccount1/curlshare?restype=share&${SAS/sp=rcwdl/sp=rl}")
expect_eq "$STATUS $(errcode)" "403 AuthenticationFailed" "and one narrowed by hand too (the signature covers sp)"
STATUS=$(curl -s -o body.xml -D head.txt -w '%{http_code}' -X PUT -H 'x-ms-type: file' -H 'x-ms-content-length: 8388608' \
    -H 'Content-Length: 0' -H 'x-ms-version: 2025-11-05' "$DURL/devstoreaccount1/curlshare/big.bin?$SAS")
expect_eq "$STATUS" "201" "curl creates an 8 MiB file (Content-Length: 0, as the Python SDK sends)"
head -c $((4 * 1024 * 1024 + 1)) /dev/zero >over.bin
STATUS=$(curl -s -o body.xml -D head.txt -w '%{http_code}' -X PUT -H 'x-ms-write: update' -H "x-ms-range: bytes=0-4194304" \
    -H 'x-ms-version: 2025-11-05' --data-binary @over.bin "$DURL/devstoreaccount1/curlshare/big.bin?comp=range&$SAS")
expect_eq "$STATUS $(errcode)" "413 RequestBodyTooLarge" "a Put Range of 4 MiB + 1: 413 RequestBodyTooLarge"
STATUS=$(curl -s -o body.xml -D head.txt -w '%{http_code}' -H 'x-ms-version: 2025-11-05' -H 'x-ms-range: bytes=9000000-' \
    "$DURL/devstoreaccount1/curlshare/big.bin?$SAS")
expect_eq "$STATUS $(errcode)" "416 InvalidRange" "a GET starting past the end: 416 InvalidRange"

# --- the helper commands ferry's tests will use ---
head -c 5000000 /dev/urandom >five.bin
run FSDK put curlshare "deep/er/five.bin" five.bin parallel
expect_rc 0 "put (parallel ranges) into new folders"
run FSDK get curlshare deep/er/five.bin five.back
expect_same five.bin five.back "get returns the bytes"
FSDK list curlshare >list.json
expect_eq "$(json list.json '[(e["name"], e.get("size"), e.get("md5"), e.get("dir", False)) for e in j if e["name"].startswith("deep")]')" \
    "[('deep', None, None, True), ('deep/er', None, None, True), ('deep/er/five.bin', 5000000, '$(b64md5 five.bin)', False)]" \
    "list walks the tree with sizes and stored MD5s"
run FSDK props curlshare deep/er/five.bin
expect_eq "$(json "$OUT" 'j["md5"]')" "$(b64md5 five.bin)" "props gives the MD5"
mkdir -p tree/a/b && head -c 300000 /dev/urandom >tree/a/b/x.bin && printf 'y\n' >tree/y.txt && : >tree/a/empty
run FSDK upload-dir curlshare up tree
expect_eq "$RC $(json "$OUT" 'j["files"], j["bytes"]')" "0 (3, 300002)" "upload-dir sends a tree"
run FSDK download-dir curlshare up back
expect_eq "$(diff -r tree back && echo same)" "same" "download-dir brings it back whole"
run FSDK rm curlshare deep/er/five.bin
expect_rc 0 "rm removes a file"
run FSDK props curlshare deep/er/five.bin
expect_rc 1 "which is then gone"
expect_eq "$(grep -c 'sig=REDACTED' "$T/requests.log") $(grep -c 'sig=[^R&]' "$T/requests.log")" \
    "$(grep -c 'sig=' "$T/requests.log") 0" "the request log redacts every signature"
expect_eq "$(grep -c '^PUT /devstoreaccount1/curlshare/up/a/b/x.bin 201 -$' "$T/requests.log")" "1" "and has a line per request: method, path, status, error code"

# --- SIGTERM ---
kill -TERM "$DPID"
wait "$DPID"
RC=$?
expect_rc 0 "SIGTERM stops the double with status 0"
expect_eq "$(kill -0 "$DPID" 2>/dev/null && echo running || echo gone)" "gone" "and no process is left"

# --- https with a CA made here ---
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem >/dev/null 2>&1
if start_double tls.out --cert cert.pem --key key.pem; then _ok "with --cert/--key it says 'listening on https://...'"; else
    _fail "the double starts with TLS" "$(cat tls.out tls.out.err)"; exit 0; fi
expect_eq "${DURL%%:*}" "https" "an https URL"
STATUS=$(curl -s -o body.xml -D head.txt -w '%{http_code}' --cacert cert.pem "$DURL/devstoreaccount1/?comp=list")
expect_eq "$STATUS $(errcode)" "401 NoAuthenticationInformation" "curl --cacert gets an answer over TLS"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' "$DURL/devstoreaccount1/?comp=list")
expect_eq "$STATUS" "000" "without the CA curl refuses the certificate"
export AZURE_FILES_URL=$DURL/devstoreaccount1
NODE_EXTRA_CA_CERTS=$T/cert.pem FSDK create tlsshare >/dev/null &&
    NODE_EXTRA_CA_CERTS=$T/cert.pem FSDK put tlsshare d/five.bin five.bin parallel >/dev/null &&
    NODE_EXTRA_CA_CERTS=$T/cert.pem FSDK get tlsshare d/five.bin five.tls >/dev/null
expect_same five.bin five.tls "the SDK round-trips 5 MB over TLS"
kill -TERM "$DPID"
wait "$DPID"
expect_eq "$?" "0" "SIGTERM stops the TLS double too"
