# The Entra ID double (tests/doubles/entra) against Microsoft's
# @azure/identity (every credential kind ferry will have: secret,
# certificate, workload identity, managed identity by IMDS, App Service and
# Azure ML, DefaultAzureCredential), against curl with client assertions
# signed here by openssl, and its tokens against Azurite with --oauth basic
# (https), which must accept them and refuse an expired one. It needs no
# ferry; it runs for each build tests/run passes all the same.
. "$(dirname "$0")/../lib.sh"
DOUBLE=$TOP/tests/doubles/entra
ID() { node "$TOP/tests/azure/identity.js" "$@"; }
TEN=5a1c1e57-0000-4000-a000-00000000f3ee
CID=c11e0700-0000-4000-a000-0000000000a1
UAMI=0a0a0a0a-0000-4000-a000-0000000000b2
SYSMI=5e5e5e5e-0000-4000-a000-0000000000c3
ISSUER=https://oidc.ferry.test/cluster
SUBJECT=system:serviceaccount:jobs:ferry
export ENTRA_SECRET="app-secret-$RANDOM-$RANDOM" MI_SECRET="mi-secret-$RANDOM"
SCOPE=https://storage.azure.com/.default

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
# token_curl BODY [PATH]: POSTs the form BODY to the token endpoint; status in $STATUS, body in body.json
token_curl() {
    STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert cert.pem -d "$1" "$DURL/${2:-$TEN/oauth2/v2.0/token}")
}
# claims FILE: the access token's payload in FILE's access_token, as JSON in claims.json
claims() { json "$1" 'j["access_token"].split(".")[1]' | tr -- '-_' '+/' | base64 -d 2>/dev/null >claims.json; echo >>claims.json; }
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# assertion KEY HEADERJSON PAYLOADJSON: a JWT signed RS256 by openssl
assertion() {
    local input
    input="$(printf '%s' "$2" | b64url).$(printf '%s' "$3" | b64url)"
    printf '%s.%s' "$input" "$(printf '%s' "$input" | openssl dgst -sha256 -sign "$1" -binary | b64url)"
}

# --- keys and certificates, made here ---
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:login.microsoftonline.com" \
    -keyout key.pem -out cert.pem >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=ferry-app -keyout app.key -out app.crt >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=ferry-app -keyout other.key -out other.crt >/dev/null 2>&1
cat app.crt app.key >app.pem
cat other.crt other.key >other.pem
openssl genrsa -out fed.key 2048 >/dev/null 2>&1
openssl genrsa -out notfed.key 2048 >/dev/null 2>&1
openssl rsa -in fed.key -pubout -out fed.pub >/dev/null 2>&1

# --- options ---
run "$DOUBLE" --help
expect_rc 0 "--help exits 0"
expect_out "usage: entra" "and prints the usage"
run "$DOUBLE" --port 0 --host 0.0.0.0 --tenant-id "$TEN" --client-id "$CID" --client-secret-env ENTRA_SECRET
expect_rc 2 "a host that is not loopback is refused"
run "$DOUBLE" --port 0 --tenant-id "$TEN" --client-id "$CID" --client-secret-env NO_SUCH_VARIABLE_SET
expect_rc 2 "a secret variable that is not set is refused"

# --- start the double and Azurite (https, OAuth) ---
if start_double double.out --cert cert.pem --key key.pem --tenant-id "$TEN" --client-id "$CID" \
    --client-secret-env ENTRA_SECRET --client-cert app.crt --federated-issuer "$ISSUER" --federated-subject "$SUBJECT" \
    --federated-key fed.pub --mi-client-id "$UAMI" --mi-system-client-id "$SYSMI" --mi-secret-env MI_SECRET \
    --log "$T/entra.log"; then
    _ok "the double prints 'listening on https://127.0.0.1:PORT' first"
else
    _fail "the double starts" "$(cat double.out double.out.err)"
    exit 0
fi
at_exit 'kill $DPID 2>/dev/null; wait $DPID 2>/dev/null'
DHOST=${DURL#https://}
mkdir az
(cd az && exec "$TOP/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort 0 --inMemoryPersistence \
    --disableTelemetry --oauth basic --cert "$T/cert.pem" --key "$T/key.pem") >azurite.log 2>&1 &
AZPID=$!
at_exit 'kill $AZPID 2>/dev/null; wait $AZPID 2>/dev/null'
AZPORT=
for _ in $(seq 300); do
    AZPORT=$(sed -n 's/.*listens on https:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' azurite.log)
    [ -n "$AZPORT" ] && break
    sleep 0.1
done
expect_eq "${AZPORT:+up}" "up" "Azurite starts with https and --oauth basic"

export NODE_EXTRA_CA_CERTS=$T/cert.pem ENTRA_URL=$DURL ENTRA_TENANT=$TEN ENTRA_CLIENT=$CID
export AZURITE_HTTPS_URL=https://127.0.0.1:$AZPORT/devstoreaccount1
# MSAL's instance discovery goes to login.microsoftonline.com: the double is
# the proxy that answers it itself (loopback hosts bypass it: no_proxy).
export HTTPS_PROXY=http://$DHOST https_proxy=http://$DHOST

# --- curl: the token endpoint's answers ---
token_curl "grant_type=client_credentials&client_id=$CID&client_secret=wrong-secret&scope=$SCOPE"
expect_eq "$STATUS $(json body.json 'j["error"], j["error_codes"]')" "401 ('invalid_client', [7000215])" \
    "a wrong secret: 401 invalid_client, error_codes [7000215]"
expect_eq "$(json body.json '(j["error_description"].startswith("AADSTS7000215: Invalid client secret provided.") and
    all(s in j["error_description"] for s in ("\r\nTrace ID: " + j["trace_id"], "\r\nCorrelation ID: " + j["correlation_id"], "\r\nTimestamp: " + j["timestamp"])))')" \
    "True" "with AADSTS7000215 and Entra's Trace ID / Correlation ID / Timestamp lines"
expect_eq "$(json body.json 'sorted(j)')" "['correlation_id', 'error', 'error_codes', 'error_description', 'error_uri', 'timestamp', 'trace_id']" \
    "and exactly Entra's error fields"
expect_eq "$(grep -c "$ENTRA_SECRET" body.json)" "0" "which hold no secret"
token_curl "grant_type=client_credentials&client_id=00000000-1111-4000-a000-000000000000&client_secret=$ENTRA_SECRET&scope=$SCOPE"
expect_eq "$STATUS $(json body.json 'j["error"], j["error_codes"]')" "400 ('unauthorized_client', [700016])" "an unknown client: 400 unauthorized_client AADSTS700016"
token_curl "grant_type=client_credentials&client_id=$CID&client_secret=$ENTRA_SECRET&scope=$SCOPE" "no-such-tenant/oauth2/v2.0/token"
expect_eq "$STATUS $(json body.json 'j["error"], j["error_codes"]')" "400 ('invalid_request', [90002])" "an unknown tenant: 400 invalid_request AADSTS90002"
token_curl "grant_type=client_credentials&client_id=$CID&client_secret=$ENTRA_SECRET&scope=https://storage.azure.com/user_impersonation"
expect_eq "$STATUS $(json body.json 'j["error"], j["error_codes"]')" "400 ('invalid_scope', [1002012])" "a scope without /.default: 400 invalid_scope"
token_curl "grant_type=client_credentials&client_id=$CID&client_secret=$ENTRA_SECRET"
expect_eq "$STATUS $(json body.json 'j["error_codes"]')" "400 [900144]" "no scope: 400 AADSTS900144"
STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert cert.pem "$DURL/$TEN/oauth2/v2.0/token")
expect_eq "$STATUS $(json body.json 'j["error_codes"]')" "400 [900561]" "a GET on the token endpoint: 400 AADSTS900561"
token_curl "grant_type=client_credentials&client_id=$CID&client_secret=$ENTRA_SECRET&scope=$SCOPE"
expect_eq "$STATUS $(json body.json 'j["token_type"], j["expires_in"], j["ext_expires_in"], sorted(j)')" \
    "200 ('Bearer', 3600, 3600, ['access_token', 'expires_in', 'ext_expires_in', 'token_type'])" "the right secret: a Bearer token for 3600 s"
claims body.json
cp body.json good.json
expect_eq "$(json claims.json 'j["aud"], j["iss"], j["tid"], j["appid"], j["ver"], j["exp"] - j["iat"], j["nbf"] == j["iat"]')" \
    "('https://storage.azure.com', 'https://sts.windows.net/$TEN/', '$TEN', '$CID', '1.0', 3600, True)" \
    "its claims: aud, iss (sts.windows.net), tid, appid, ver, exp = iat + lifetime"
STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert cert.pem -u "$CID:$ENTRA_SECRET" \
    -d "grant_type=client_credentials&scope=$SCOPE" "$DURL/$TEN/oauth2/v2.0/token")
expect_eq "$STATUS" "200" "client_secret_basic (HTTP Basic) is accepted too"
token_curl "grant_type=client_credentials&client_id=$CID&client_secret=$ENTRA_SECRET&resource=https://storage.azure.com" "$TEN/oauth2/token"
expect_eq "$STATUS $(json body.json 'j["resource"], j["expires_in"], int(j["expires_on"]) - int(j["not_before"])')" \
    "200 ('https://storage.azure.com', '3600', 3600)" "the v1 endpoint with resource= answers in the v1 shape"

# --- curl: discovery ---
STATUS=$(curl -s -o oidc.json -w '%{http_code}' --cacert cert.pem "$DURL/$TEN/v2.0/.well-known/openid-configuration")
expect_eq "$STATUS $(json oidc.json 'j["token_endpoint"], j["issuer"]')" "200 ('$DURL/$TEN/oauth2/v2.0/token', '$DURL/$TEN/v2.0')" \
    "the discovery document's token_endpoint points at the double"
curl -s -o jwks.json --cacert cert.pem "$(json oidc.json 'j["jwks_uri"]')"
expect_eq "$(node -e '
const c = require("crypto"), fs = require("fs");
const jwks = JSON.parse(fs.readFileSync("jwks.json")), tok = JSON.parse(fs.readFileSync("good.json")).access_token;
const [h, p, s] = tok.split("."), kid = JSON.parse(Buffer.from(h, "base64url")).kid;
const k = jwks.keys.find((x) => x.kid === kid);
console.log(Boolean(k) && c.verify("sha256", Buffer.from(h + "." + p), c.createPublicKey({ key: k, format: "jwk" }), Buffer.from(s, "base64url")));')" \
    "true" "the token's signature verifies with the JWKS key its kid names"
STATUS=$(curl -s -o inst.json -w '%{http_code}' --cacert cert.pem \
    "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint=$DURL/$TEN/oauth2/v2.0/authorize")
expect_eq "$STATUS $(json inst.json 'j["tenant_discovery_endpoint"], j["metadata"][0]["preferred_network"]')" \
    "200 ('$DURL/$TEN/v2.0/.well-known/openid-configuration', '$DHOST')" \
    "instance discovery, asked of login.microsoftonline.com through the double as proxy, names the double"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' --cacert cert.pem "https://example.com/")
expect_eq "$STATUS" "000" "the proxy tunnels to no other host"

# --- curl: client assertions signed by openssl, not by MSAL ---
X5T=$(openssl x509 -in app.crt -outform DER | openssl dgst -sha1 -binary | b64url)
NOW=$(date +%s)
assert_curl() { # assert_curl KEY HEADER PAYLOAD
    token_curl "grant_type=client_credentials&client_id=$CID&scope=$SCOPE&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=$(assertion "$@")"
}
assert_curl app.key "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":\"$X5T\"}" \
    "{\"aud\":\"$DURL/$TEN/oauth2/v2.0/token\",\"iss\":\"$CID\",\"sub\":\"$CID\",\"exp\":$((NOW + 600)),\"nbf\":$NOW,\"jti\":\"j1\"}"
expect_eq "$STATUS" "200" "a certificate assertion (RS256, x5t) made by openssl gets a token"
assert_curl other.key "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":\"$X5T\"}" \
    "{\"aud\":\"$DURL/$TEN/oauth2/v2.0/token\",\"iss\":\"$CID\",\"sub\":\"$CID\",\"exp\":$((NOW + 600)),\"nbf\":$NOW,\"jti\":\"j2\"}"
expect_eq "$STATUS $(json body.json 'j["error"], j["error_codes"]')" "401 ('invalid_client', [700027])" "signed by another key: 401 AADSTS700027"
assert_curl app.key "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":\"$X5T\"}" \
    "{\"aud\":\"https://login.microsoftonline.com/$TEN/oauth2/v2.0/token\",\"iss\":\"$CID\",\"sub\":\"$CID\",\"exp\":$((NOW + 600)),\"nbf\":$NOW,\"jti\":\"j3\"}"
expect_eq "$STATUS $(json body.json 'j["error_codes"]')" "401 [50012]" "an audience that is not this token endpoint: 401 AADSTS50012"
assert_curl app.key "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":\"$X5T\"}" \
    "{\"aud\":\"$DURL/$TEN/oauth2/v2.0/token\",\"iss\":\"$CID\",\"sub\":\"$CID\",\"exp\":$((NOW - 900)),\"nbf\":$((NOW - 1500)),\"jti\":\"j4\"}"
expect_eq "$STATUS $(json body.json 'j["error_codes"]')" "401 [700024]" "an expired assertion: 401 AADSTS700024"
token_curl "grant_type=client_credentials&client_id=$CID&scope=$SCOPE&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=not.a.jwt"
expect_eq "$STATUS $(json body.json 'j["error_codes"]')" "400 [50027]" "a malformed assertion: 400 AADSTS50027"

# --- curl: managed identity endpoints (plain http on the same port) ---
IMDS="http://$DHOST/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://storage.azure.com"
STATUS=$(curl -s -o body.json -w '%{http_code}' "$IMDS")
expect_eq "$STATUS $(json body.json 'j')" "400 {'error': 'bad_request_102', 'error_description': 'Required metadata header not specified'}" \
    "IMDS without 'Metadata: true': 400 bad_request_102"
STATUS=$(curl -s -o body.json -w '%{http_code}' -H 'Metadata: true' "$IMDS&client_id=11111111-2222-4333-a444-555555555555")
expect_eq "$STATUS $(json body.json 'j')" "400 {'error': 'invalid_request', 'error_description': 'Identity not found'}" \
    "IMDS with a client_id it does not have: 400 Identity not found"
STATUS=$(curl -s -o body.json -w '%{http_code}' -H 'Metadata: true' "$IMDS&client_id=$UAMI")
expect_eq "$STATUS $(json body.json 'j["client_id"], j["resource"], int(j["expires_on"]) - int(j["not_before"]), j["expires_in"]')" \
    "200 ('$UAMI', 'https://storage.azure.com', 3600, '3600')" "IMDS over plain http: a token for the user-assigned identity, numbers as strings"
STATUS=$(curl -s -o body.json -w '%{http_code}' -H 'X-IDENTITY-HEADER: wrong' "http://$DHOST/msi/token?api-version=2019-08-01&resource=https://storage.azure.com")
expect_eq "$STATUS $(json body.json 'sorted(j)')" "401 ['correlationId', 'message', 'statusCode']" "App Service with a wrong X-IDENTITY-HEADER: 401"

# --- Microsoft's @azure/identity ---
# id_ok NAME EXPECTED-APPID CMD...: runs CMD (identity.js or a wrapper of it), expects a storage token for EXPECTED-APPID
id_ok() {
    local name=$1 appid=$2
    shift 2
    run "$@"
    if [ "$RC" -eq 0 ] && [ "$(json "$OUT" 'j["claims"]["aud"], j["claims"]["iss"], j["claims"]["tid"], j["claims"]["appid"]')" == \
        "('https://storage.azure.com', 'https://sts.windows.net/$TEN/', '$TEN', '$appid')" ]; then
        _ok "$name"
    else
        _fail "$name" "$(head -c 800 "$OUT")"
    fi
}
# id_fails NAME TEXT CMD...: CMD fails and its message has TEXT
id_fails() {
    local name=$1 text=$2
    shift 2
    run "$@"
    if [ "$RC" -ne 0 ] && grep -qF -- "$text" "$OUT"; then _ok "$name"; else _fail "$name" "$(head -c 800 "$OUT")"; fi
}
id_ok "ClientSecretCredential gets a token (instance discovery on, answered by the double)" "$CID" ID secret "$ENTRA_SECRET"
expect_eq "$(json "$OUT" 'j["header"]["alg"], j["claims"]["appidacr"], j["claims"]["exp"] - j["claims"]["iat"]')" "('RS256', '1', 3600)" \
    "signed RS256, appidacr 1 for a secret, exp - iat = 3600"
id_ok "ClientSecretCredential with disableInstanceDiscovery" "$CID" ID secret "$ENTRA_SECRET" no-discovery
id_fails "a wrong secret fails with AADSTS7000215 in the message" "AADSTS7000215: Invalid client secret provided" ID secret wrong-secret
expect_eq "$(json "$OUT" 'j["name"]')" "AuthenticationRequiredError" "(the error @azure/identity 4.13 makes of any token-service error)"
id_ok "ClientCertificateCredential (PS256, x5t#S256) gets a token" "$CID" ID cert app.pem
expect_eq "$(json "$OUT" 'j["claims"]["appidacr"]')" "2" "appidacr 2 for a certificate"
id_ok "ClientCertificateCredential sending its chain (x5c)" "$CID" ID cert app.pem chain
id_fails "a certificate the app does not have: AADSTS700027" "AADSTS700027" ID cert other.pem
ID mint-federated fed.key "$ISSUER" "$SUBJECT" >fed.jwt
ID mint-federated notfed.key "$ISSUER" "$SUBJECT" >notfed.jwt
ID mint-federated fed.key "$ISSUER" system:serviceaccount:other:sa >othersub.jwt
ID mint-federated fed.key "$ISSUER" "$SUBJECT" api://AzureADTokenExchange -900 >expired.jwt
workload() { AZURE_FEDERATED_TOKEN_FILE=$T/$1 AZURE_CLIENT_ID=$CID AZURE_TENANT_ID=$TEN AZURE_AUTHORITY_HOST=$DURL ID workload; }
id_ok "WorkloadIdentityCredential with a federated token minted here" "$CID" workload fed.jwt
id_fails "a federated token signed by another key: AADSTS700027" "AADSTS700027" workload notfed.jwt
id_fails "a federated token for another subject: AADSTS700213" "AADSTS700213" workload othersub.jwt
id_fails "an expired federated token: AADSTS700024" "AADSTS700024" workload expired.jwt
imds() { AZURE_POD_IDENTITY_AUTHORITY_HOST=$1 ID mi ${2:+"$2"}; }
id_ok "ManagedIdentityCredential by IMDS over http (AZURE_POD_IDENTITY_AUTHORITY_HOST): system-assigned" "$SYSMI" imds "http://$DHOST"
id_ok "ManagedIdentityCredential by IMDS over https: user-assigned by client id" "$UAMI" imds "$DURL" "$UAMI"
id_fails "IMDS, a client id the machine does not have: Identity not found" "Identity not found" imds "$DURL" 11111111-2222-4333-a444-555555555555
appsvc() { IDENTITY_ENDPOINT=$DURL/msi/token IDENTITY_HEADER=$1 ID mi ${2:+"$2"}; }
id_ok "ManagedIdentityCredential by App Service (IDENTITY_ENDPOINT/IDENTITY_HEADER)" "$SYSMI" appsvc "$MI_SECRET"
id_ok "App Service, user-assigned" "$UAMI" appsvc "$MI_SECRET" "$UAMI"
id_fails "App Service with a wrong IDENTITY_HEADER fails" "X-IDENTITY-HEADER" appsvc wrong
azml() { MSI_ENDPOINT=$DURL/msi/token MSI_SECRET=$1 DEFAULT_IDENTITY_CLIENT_ID=$SYSMI ID mi ${2:+"$2"}; }
id_ok "ManagedIdentityCredential by Azure ML (MSI_ENDPOINT/MSI_SECRET), user-assigned (clientid)" "$UAMI" azml "$MI_SECRET" "$UAMI"
id_ok "Azure ML, system-assigned (DEFAULT_IDENTITY_CLIENT_ID)" "$SYSMI" azml "$MI_SECRET"
id_fails "Azure ML with a wrong MSI_SECRET fails" "secret header" azml wrong "$UAMI"
dac() { AZURE_TENANT_ID=$TEN AZURE_CLIENT_ID=$CID AZURE_CLIENT_SECRET=$1 AZURE_AUTHORITY_HOST=$DURL ID default; }
id_ok "DefaultAzureCredential from AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET/AZURE_AUTHORITY_HOST" "$CID" dac "$ENTRA_SECRET"

# --- the tokens on Azure Storage (Azurite, --oauth basic) ---
run ID blob secret entra-secret "$ENTRA_SECRET"
expect_eq "$RC $(json "$OUT" 'j.get("bytes"), j.get("same")')" "0 (1048576, True)" \
    "Azurite accepts ClientSecretCredential's token: container, upload, download of 1 MiB"
AZURE_POD_IDENTITY_AUTHORITY_HOST=http://$DHOST run ID blob mi entra-imds "$UAMI"
expect_eq "$RC $(json "$OUT" 'j.get("bytes"), j.get("same")')" "0 (1048576, True)" "and a managed identity's (IMDS, user-assigned)"
token_curl "grant_type=client_credentials&client_id=$CID&client_secret=$ENTRA_SECRET&scope=https://vault.azure.net/.default"
run ID blob-token "$(json body.json 'j["access_token"]')" entra-vault
expect_eq "$RC $(json "$OUT" 'j.get("status"), j.get("code"), j.get("detail")')" "1 (403, 'AuthenticationFailed', 'Invalid token audience.')" \
    "a token for another resource: Azurite 403 Invalid token audience"
MAIN_PID=$DPID
if start_double short.out --cert cert.pem --key key.pem --tenant-id "$TEN" --client-id "$CID" --client-secret-env ENTRA_SECRET --token-lifetime 1; then
    _ok "a second double starts with --token-lifetime 1"
else
    _fail "a second double starts with --token-lifetime 1" "$(cat short.out short.out.err)"
fi
SHORT_PID=$DPID SHORT_URL=$DURL DPID=$MAIN_PID DURL=$ENTRA_URL
at_exit 'kill $SHORT_PID 2>/dev/null; wait $SHORT_PID 2>/dev/null'
STATUS=$(curl -s -o short.json -w '%{http_code}' --cacert cert.pem \
    -d "grant_type=client_credentials&client_id=$CID&client_secret=$ENTRA_SECRET&scope=$SCOPE" "$SHORT_URL/$TEN/oauth2/v2.0/token")
claims short.json
expect_eq "$STATUS $(json short.json 'j["expires_in"]') $(json claims.json 'j["exp"] - j["iat"]')" "200 1 1" "--token-lifetime 1: a token for 1 s"
sleep 2.2
run ID blob-token "$(json short.json 'j["access_token"]')" entra-expired
expect_eq "$RC $(json "$OUT" 'j.get("status"), j.get("code"), j.get("detail")')" \
    "1 (403, 'AuthenticationFailed', 'Lifetime validation failed. The token is expired.')" "Azurite refuses it once expired"

# --- the request log ---
LOG=$T/entra.log
expect_eq "$(grep -c "POST /$TEN/oauth2/v2.0/token kind=client_secret client=$CID outcome=AADSTS7000215 status=401" "$LOG" | sed 's/^[1-9][0-9]*$/some/')" \
    "some" "the log has a line per request: method, path, kind, client, outcome, status"
expect_eq "$(grep -c 'kind=imds client=- outcome=bad_request_102 status=400' "$LOG" | sed 's/^[1-9][0-9]*$/some/') $(grep -c 'kind=federated' "$LOG" | sed 's/^[1-9][0-9]*$/some/')" \
    "some some" "with managed-identity and federated requests too"
expect_eq "$(grep -cF -e "$ENTRA_SECRET" -e "$MI_SECRET" -e 'eyJ' -e 'wrong-secret' "$LOG")" "0" "and no secret, assertion or token"

# --- SIGTERM ---
kill -TERM "$DPID" "$SHORT_PID"
wait "$DPID"
RC=$?
expect_rc 0 "SIGTERM stops the double with status 0"
wait "$SHORT_PID"
expect_eq "$?" "0" "and the second one"
expect_eq "$(kill -0 "$DPID" 2>/dev/null || kill -0 "$SHORT_PID" 2>/dev/null || echo gone)" "gone" "no double is left running"
