# The ADLS Gen2 double (tests/doubles/adls) against Microsoft's datalake SDK
# for JavaScript (the conformance run of tests/azure/adls_sdk.js, its bearer
# checks on a TLS instance) and against curl with Shared Keys signed here by
# openssl: no credentials, a wrong key, the dfs JSON errors, a bearer token
# with the wrong audience, https, SIGTERM. It needs no ferry; it runs for
# each build tests/run passes all the same.
. "$(dirname "$0")/../lib.sh"
DOUBLE=$TOP/tests/doubles/adls
ASDK() { node "$TOP/tests/azure/adls_sdk.js" "$@"; }
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
WRONG_KEY=$(printf 'not-the-account-key-0123456789abcdef' | base64)

# start_double OUTFILE ARGS...: the double in the background; pid in $DPID, base URL in $DURL
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
# sk_curl KEY METHOD PATH [QUERY [EXTRA-CURL-ARGS...]]: curl with a Shared Key made here
# (no body; QUERY plain name=value pairs joined by &). Status in $STATUS, body in body.out,
# headers in head.txt.
sk_curl() {
    local key=$1 method=$2 path=$3 query=${4:-} date canon sts sig hexkey
    shift 4 2>/dev/null || shift $#
    date=$(LC_ALL=C TZ=GMT date '+%a, %d %b %Y %H:%M:%S GMT')
    canon=
    if [ -n "$query" ]; then
        canon=$(printf '%s\n' "${query//&/$'\n'}" | LC_ALL=C sort | sed 's/=/:/' | sed 's/^/\\n/' | tr -d '\n')
    fi
    sts="$method\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:$date\nx-ms-version:2025-11-05\n/devstoreaccount1/devstoreaccount1/$path$canon"
    hexkey=$(printf '%s' "$key" | base64 -d | od -An -tx1 | tr -d ' \n')
    sig=$(printf '%b' "$sts" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary | base64)
    STATUS=$(curl -s -o body.out -D head.txt -w '%{http_code}' -X "$method" -H "x-ms-date: $date" -H 'x-ms-version: 2025-11-05' \
        -H "Authorization: SharedKey devstoreaccount1:$sig" "$@" "$DURL/devstoreaccount1/$path${query:+?$query}")
}
errcode() { sed -n 's/^x-ms-error-code: *\([A-Za-z]*\).*/\1/Ip' head.txt; }
jwt() { # jwt CLAIMS-JSON: an unsigned-verified token (random signature)
    local enc='base64 -w0 | tr "+/" "-_" | tr -d "="'
    printf '%s.%s.%s' "$(printf '{"alg":"RS256","typ":"JWT"}' | eval "$enc")" "$(printf '%s' "$1" | eval "$enc")" \
        "$(head -c 64 /dev/urandom | eval "$enc")"
}

# --- start, and the official SDK's conformance run (bearer checks on a TLS twin) ---
run "$DOUBLE" --help
expect_rc 0 "--help exits 0"
expect_out "usage: adls" "and prints the usage"
run "$DOUBLE" --port 0 --host 0.0.0.0
expect_rc 2 "a host that is not loopback is refused"
if start_double double.out --log "$T/requests.log"; then _ok "the double prints 'listening on http://127.0.0.1:PORT' first"; else
    _fail "the double starts" "$(cat double.out double.out.err)"; exit 0; fi
HPID=$DPID HURL=$DURL
at_exit 'kill $HPID 2>/dev/null'
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem >/dev/null 2>&1
if start_double tls.out --cert cert.pem --key key.pem; then _ok "with --cert/--key it says 'listening on https://...'"; else
    _fail "the double starts with TLS" "$(cat tls.out tls.out.err)"; exit 0; fi
TPID=$DPID TURL=$DURL
at_exit 'kill $TPID 2>/dev/null'
expect_eq "${TURL%%:*}" "https" "an https URL"
export AZURE_ADLS_URL=$HURL/devstoreaccount1 AZURE_ADLS_TLS_URL=$TURL/devstoreaccount1
NODE_EXTRA_CA_CERTS=$T/cert.pem run ASDK conformance
expect_rc 0 "the official SDK's conformance run passes every check"
if [ "$RC" -ne 0 ]; then sed 's/},{/},\n{/g' "$OUT" | sed 's/^/#   /'; fi
expect_eq "$(json "$OUT" 'len(j["failed"]), j["skipped"]')" "(0, [])" "no check failed or was skipped ($(json "$OUT" 'j["passed"]') passed)"

# --- curl on the http double: no credentials, a Shared Key signed here, a wrong key ---
DURL=$HURL
STATUS=$(curl -s -o body.out -D head.txt -w '%{http_code}' "$DURL/devstoreaccount1/?resource=account")
expect_eq "$STATUS $(errcode)" "401 NoAuthenticationInformation" "a dfs request without credentials: 401 NoAuthenticationInformation"
expect_eq "$(json body.out 'j["error"]["code"]')" "NoAuthenticationInformation" "with the dfs JSON error body"
sk_curl "$KEY" PUT curlfs resource=filesystem
expect_eq "$STATUS" "201" "a Shared Key signed by openssl (not an SDK) creates a filesystem"
sk_curl "$KEY" PUT curlfs/a/b/c.txt resource=file
expect_eq "$STATUS" "201" "and a file, its parents made on the way"
sk_curl "$KEY" GET curlfs "recursive=true&resource=filesystem"
expect_eq "$STATUS $(json body.out '[(p["name"], p.get("isDirectory")) for p in j["paths"]]')" \
    "200 [('a', 'true'), ('a/b', 'true'), ('a/b/c.txt', None)]" "List Paths gives JSON, directories first, isDirectory only on them"
sk_curl "$KEY" GET curlfs "directory=nope&recursive=true&resource=filesystem"
expect_eq "$STATUS $(errcode) $(json body.out 'j["error"]["code"]')" "404 PathNotFound PathNotFound" "a missing directory: 404 PathNotFound"
expect_eq "$(json body.out 'j["error"]["message"].split(chr(10))[0], j["error"]["message"].split(chr(10))[1][:10]')" \
    "('The specified path does not exist.', 'RequestId:')" "the message carries RequestId and Time, as Azure's"
sk_curl "$KEY" PUT curlfs/a/b resource=file
expect_eq "$STATUS $(errcode)" "409 PathConflict" "a file where a directory is: 409 PathConflict"
sk_curl "$KEY" DELETE curlfs/a recursive=false
expect_eq "$STATUS $(errcode)" "409 DirectoryNotEmpty" "deleting a non-empty directory without recursive: 409 DirectoryNotEmpty"
sk_curl "$KEY" GET curlfs/nope.txt "" -H 'Accept: application/xml'
expect_eq "$STATUS $(errcode) $(grep -o '<Code>BlobNotFound</Code>' body.out)" "404 BlobNotFound <Code>BlobNotFound</Code>" \
    "a Blob read of a missing path: 404 BlobNotFound in XML"
sk_curl "$WRONG_KEY" GET curlfs "recursive=true&resource=filesystem"
expect_eq "$STATUS $(errcode) $(json body.out 'j["error"]["code"]')" "403 AuthenticationFailed AuthenticationFailed" \
    "a Shared Key made with another key: 403 AuthenticationFailed, JSON on dfs"
expect_eq "$(grep -cF -e "$KEY" -e "$WRONG_KEY" body.out head.txt | awk -F: '{s+=$2} END {print s}')" "0" "which holds no key"
STATUS=$(curl -s -o body.out -D head.txt -w '%{http_code}' -H "Authorization: Bearer $(jwt '{"aud":"https://storage.azure.com","iss":"https://sts.windows.net/t/","exp":9999999999}')" \
    -H 'x-ms-version: 2025-11-05' "$DURL/devstoreaccount1/curlfs?resource=filesystem&recursive=true")
expect_eq "$STATUS $(errcode)" "403 AuthenticationFailed" "a bearer token over plain http: 403 AuthenticationFailed (as Azurite)"

# --- the helper commands ferry's tests will use ---
head -c 9000000 /dev/urandom >nine.bin
run ASDK put curlfs deep/er/nine.bin nine.bin parallel
expect_rc 0 "put (parallel appends) into new folders"
run ASDK get curlfs deep/er/nine.bin nine.back
expect_same nine.bin nine.back "get returns the bytes"
ASDK list curlfs deep >list.json
expect_eq "$(json list.json '[(e["name"], e.get("size"), e.get("md5"), e.get("dir", False)) for e in j]')" \
    "[('deep/er', None, None, True), ('deep/er/nine.bin', 9000000, '$(b64md5 nine.bin)', False)]" "list walks the tree with sizes and stored MD5s"
run ASDK put curlfs deep/bad.bin nine.bin single wrong-md5
run ASDK props curlfs deep/bad.bin
expect_eq "$(json "$OUT" 'j["size"], j["md5"] != "'"$(b64md5 nine.bin)"'"')" "(9000000, True)" "put wrong-md5 stores another MD5"
SAS=$(ASDK sas curlfs rl 60 | json /dev/stdin 'j["sas"]')
STATUS=$(curl -s -o body.out -D head.txt -w '%{http_code}' -H 'x-ms-version: 2025-11-05' "$DURL/devstoreaccount1/curlfs/deep/er/nine.bin?$SAS")
expect_eq "$STATUS $(wc -c <body.out)" "200 9000000" "a filesystem SAS from the helper reads with curl"
STATUS=$(curl -s -o body.out -D head.txt -w '%{http_code}' -X PUT -H 'x-ms-version: 2025-11-05' "$DURL/devstoreaccount1/curlfs/x?resource=file&$SAS")
expect_eq "$STATUS $(errcode)" "403 AuthorizationPermissionMismatch" "and may not write (sp=rl)"
SAS=$(ASDK sas curlfs rl -5 | json /dev/stdin 'j["sas"]')
STATUS=$(curl -s -o body.out -D head.txt -w '%{http_code}' -H 'x-ms-version: 2025-11-05' "$DURL/devstoreaccount1/curlfs/deep/er/nine.bin?$SAS")
expect_eq "$STATUS $(errcode)" "403 AuthenticationFailed" "an expired SAS: 403 AuthenticationFailed"
mkdir -p tree/a/b && head -c 300000 /dev/urandom >tree/a/b/x.bin && printf 'y\n' >tree/y.txt && : >tree/a/empty
run ASDK upload-dir curlfs up tree
expect_eq "$RC $(json "$OUT" 'j["files"], j["bytes"]')" "0 (3, 300002)" "upload-dir sends a tree"
run ASDK download-dir curlfs up back
expect_eq "$(diff -r tree back && echo same)" "same" "download-dir brings it back whole"
run ASDK rm curlfs deep
expect_rc 0 "rm removes a directory tree"
run ASDK props curlfs deep/er/nine.bin
expect_rc 1 "which is then gone"
expect_eq "$(grep -c 'sig=REDACTED' "$T/requests.log") $(grep -c 'sig=[^R&]' "$T/requests.log")" \
    "$(grep -c 'sig=' "$T/requests.log") 0" "the request log redacts every signature"

# --- the TLS double: curl with the CA, bearer tokens ---
DURL=$TURL
STATUS=$(curl -s -o body.out -D head.txt -w '%{http_code}' --cacert cert.pem "$DURL/devstoreaccount1/?resource=account")
expect_eq "$STATUS $(errcode)" "401 NoAuthenticationInformation" "curl --cacert gets an answer over TLS"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' "$DURL/devstoreaccount1/?resource=account")
expect_eq "$STATUS" "000" "without the CA curl refuses the certificate"
NOW=$(date +%s)
STATUS=$(curl -s -o body.out -D head.txt -w '%{http_code}' --cacert cert.pem -H 'x-ms-version: 2025-11-05' \
    -H "Authorization: Bearer $(jwt "{\"aud\":\"https://storage.azure.com\",\"iss\":\"https://sts.windows.net/t1/\",\"nbf\":$((NOW - 60)),\"exp\":$((NOW + 600))}")" \
    "$DURL/devstoreaccount1/?resource=account")
expect_eq "$STATUS" "200" "a bearer token for https://storage.azure.com lists filesystems"
STATUS=$(curl -s -o body.out -D head.txt -w '%{http_code}' --cacert cert.pem -H 'x-ms-version: 2025-11-05' \
    -H "Authorization: Bearer $(jwt "{\"aud\":\"https://management.azure.com\",\"iss\":\"https://sts.windows.net/t1/\",\"nbf\":$((NOW - 60)),\"exp\":$((NOW + 600))}")" \
    "$DURL/devstoreaccount1/?resource=account")
expect_eq "$STATUS $(errcode) $(grep -ci '^www-authenticate: Bearer' head.txt)" "401 InvalidAuthenticationInfo 1" \
    "one for another audience: 401 InvalidAuthenticationInfo with a WWW-Authenticate challenge"
STATUS=$(curl -s -o body.out -D head.txt -w '%{http_code}' --cacert cert.pem -H 'x-ms-version: 2025-11-05' \
    -H "Authorization: Bearer $(jwt "{\"aud\":\"https://storage.azure.com\",\"iss\":\"https://sts.windows.net/t1/\",\"nbf\":$((NOW - 7200)),\"exp\":$((NOW - 3600))}")" \
    "$DURL/devstoreaccount1/?resource=account")
expect_eq "$STATUS $(errcode)" "401 InvalidAuthenticationInfo" "an expired one: 401 InvalidAuthenticationInfo"

# --- SIGTERM ---
for p in "$HPID" "$TPID"; do
    kill -TERM "$p"
    wait "$p"
    RC=$?
    expect_rc 0 "SIGTERM stops the double ($p) with status 0"
    expect_eq "$(kill -0 "$p" 2>/dev/null && echo running || echo gone)" "gone" "and no process is left"
done
