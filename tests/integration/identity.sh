# Entra ID identities, end to end: ferry gets bearer tokens from the
# project's Entra ID double (tests/doubles/entra, https) as a service
# principal (secret, certificate), a workload identity, and a managed
# identity (IMDS, App Service, Azure ML compute), and moves data with them
# to Azurite (https, --oauth basic: it checks each token's audience, issuer
# and lifetime) and to the ADLS Gen2 double, checked with Microsoft's SDKs.
# Also: a wrong secret fails clearly and is never shown; a token that
# expires mid-transfer is renewed; a job reads an abfss:// input on ADLS
# and writes its output to an identity-based blob datastore.
. "$(dirname "$0")/../lib.sh"
TEN=7e4a0000-0000-4000-a000-0000000000f1
CID=c1a00000-0000-4000-a000-0000000000a1
UAMI=0a0a0a0a-0000-4000-a000-0000000000b2
ISSUER=https://oidc.ferry.test/cluster
SUBJECT=system:serviceaccount:jobs:ferry
export ENTRA_SECRET="app-secret-$RANDOM-$RANDOM-$RANDOM" MI_SECRET="mi-secret-$RANDOM-$RANDOM"
export AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
C=c$(date +%s%N | tail -c 9)x$$
ALL=$T/all-output
: >"$ALL"
keep() { cat "$OUT" "$ERR" >>"$ALL"; }

# --- certificates, servers ---
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:devstoreaccount1.dfs.core.windows.net" \
    -keyout key.pem -out cert.pem >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=ferry-app -keyout app.key -out app.crt >/dev/null 2>&1
cat app.crt app.key >app.pem
openssl genrsa -out fed.key 2048 >/dev/null 2>&1
openssl rsa -in fed.key -pubout -out fed.pub >/dev/null 2>&1
export CURL_CA_BUNDLE=$T/cert.pem NODE_EXTRA_CA_CERTS=$T/cert.pem

# serve NAME CMD...: starts a server printing "listening on URL" (or Azurite's "listens on");
# its URL in ${NAME}_URL
serve() {
    local name=$1 url=
    shift
    "$@" >"$T/$name.out" 2>"$T/$name.err" &
    echo $! >"$T/$name.pid"
    at_exit "kill \$(cat '$T/$name.pid') 2>/dev/null"
    for _ in $(seq 300); do
        url=$(sed -n 's/^listening on \(https\?:\/\/[0-9.:]*\).*/\1/p; s/.*listens on \(https:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$T/$name.out" | head -1)
        [ -n "$url" ] && break
        sleep 0.1
    done
    printf -v "${name}_URL" '%s' "$url"
    [ -n "$url" ] || _fail "$name starts" "$(cat "$T/$name.out" "$T/$name.err" | tail -5)"
}
ENTRA_ARGS=(--cert cert.pem --key key.pem --tenant-id "$TEN" --client-id "$CID" --client-secret-env ENTRA_SECRET
    --client-cert app.crt --federated-issuer "$ISSUER" --federated-subject "$SUBJECT" --federated-key fed.pub
    --mi-client-id "$UAMI" --mi-secret-env MI_SECRET)
serve ENTRA "$TOP/tests/doubles/entra" --port 0 "${ENTRA_ARGS[@]}" --log "$T/entra.log"
mkdir az
serve AZ sh -c "cd az && exec '$TOP/node_modules/.bin/azurite-blob' --blobHost 127.0.0.1 --blobPort 0 \
    --inMemoryPersistence --disableTelemetry --oauth basic --cert '$T/cert.pem' --key '$T/key.pem'"
serve ADLS "$TOP/tests/doubles/adls" --port 0 --cert cert.pem --key key.pem --log "$T/adls.log"
export AZURE_AUTHORITY_HOST=$ENTRA_URL
BLOB=$AZ_URL/devstoreaccount1
export AZURITE_BLOB_URL=$BLOB AZURE_ADLS_URL=$ADLS_URL/devstoreaccount1
SP=(--tenant-id "$TEN" --client-id "$CID")
tokens() { grep -c "$1" "$T/entra.log" || true; }

mkdir -p tree/a/b
for i in 1 2 3; do head -c $((i * 1000)) /dev/urandom >"tree/a/b/f$i.bin"; done
head -c $((20 * 1024 * 1024 + 7)) /dev/urandom >tree/big.bin
# roundtrip NAME KIND: upload the tree to NAME under KIND/, download it, compare; the SDK lists it
roundtrip() {
    f upload "$1" tree --target-path "$2"; keep
    expect_rc 0 "$2: ferry uploads with the token"
    f download "$1" "back-$2" --prefix "$2/"; keep
    expect_rc 0 "$2: and downloads"
    expect_eq "$(cd "back-$2/$2" && find . -type f -exec md5sum {} + | sort -k2 | md5sum)" \
        "$(cd tree && find . -type f -exec md5sum {} + | sort -k2 | md5sum)" "$2: every byte back"
}

# --- a service principal with a secret, on blob (Azurite) ---
f datastore register azure-blob bsp --account devstoreaccount1 --container "$C" --account-url "$BLOB" \
    "${SP[@]}" --client-secret-env ENTRA_SECRET --create-if-not-exists; keep
expect_rc 0 "a blob datastore with a service principal's secret registers (Azurite takes the token)"
before=$(tokens "kind=client_secret .*status=200")
roundtrip bsp secret
expect_eq "$(( $(tokens "kind=client_secret .*status=200") - before ))" "2" \
    "one token for each transfer, shared by all its workers (two processes, two tokens)"
SDK list "$C" secret/ >list.json
expect_eq "$(json list.json '[e["md5"] for e in j if e["name"] == "secret/big.bin"][0]')" "$(b64md5 tree/big.bin)" \
    "the SDK sees the large blob with the file's MD5"

# --- a wrong secret fails clearly ---
export BAD_SECRET="not-the-secret-$RANDOM-$RANDOM"
f datastore register azure-blob bad --account devstoreaccount1 --container "$C" --account-url "$BLOB" \
    "${SP[@]}" --client-secret-env BAD_SECRET; keep
expect_rc 1 "a wrong client secret is refused at registration"
expect_err "AADSTS7000215" "in Entra's words"
expect_err "the client secret from \$BAD_SECRET for client $CID in tenant $TEN" "naming the identity"

# --- a certificate ---
f datastore register azure-blob bcert --account devstoreaccount1 --container "$C" --account-url "$BLOB" \
    "${SP[@]}" --client-cert-file app.pem; keep
expect_rc 0 "a service principal's certificate (a signed client assertion)"
roundtrip bcert cert
printf 'not a pem\n' >junk.pem
f datastore register azure-blob bjunk --account devstoreaccount1 --container "$C" --account-url "$BLOB" \
    "${SP[@]}" --client-cert-file junk.pem; keep
expect_rc 2 "a file that is no certificate is refused"
expect_err "no certificate found" "saying what is wrong with it"

# --- workload identity ---
node "$TOP/tests/azure/identity.js" mint-federated fed.key "$ISSUER" "$SUBJECT" >fed.token
f datastore register azure-blob bwl --account devstoreaccount1 --container "$C" --account-url "$BLOB" \
    --identity --skip-validation; keep
expect_rc 0 "--identity registers with no secret"
AZURE_FEDERATED_TOKEN_FILE=$T/fed.token AZURE_CLIENT_ID=$CID AZURE_TENANT_ID=$TEN f upload bwl tree --target-path wl; keep
expect_rc 0 "workload identity: a federated token from AZURE_FEDERATED_TOKEN_FILE"
expect_eq "$(tokens "kind=federated .*status=200")" "1" "(exchanged at the token endpoint)"

# --- Azure ML YAML without credentials: the identity where ferry runs ---
cat >noscreds.yml <<YAML
\$schema: https://azuremlschemas.azureedge.net/latest/azureBlob.schema.json
name: byaml
type: azure_blob
account_name: devstoreaccount1
container_name: $C
account_url: $BLOB
YAML
AZURE_POD_IDENTITY_AUTHORITY_HOST=${ENTRA_URL/https/http} f datastore create --file noscreds.yml; keep
expect_rc 0 "a datastore YAML with no credentials registers, its access checked with the managed identity"
f datastore show byaml --json
expect_eq "$(json "$OUT" 'j["credential"]["kind"]')" "identity" "its credential is the environment's identity"

# --- managed identities ---
AZURE_POD_IDENTITY_AUTHORITY_HOST=${ENTRA_URL/https/http} f upload bwl tree --target-path imds; keep
expect_rc 0 "a managed identity from IMDS"
AZURE_POD_IDENTITY_AUTHORITY_HOST=${ENTRA_URL/https/http} f download bwl back-imds --prefix imds/; keep
expect_same tree/big.bin back-imds/imds/big.bin "and back"
f datastore register azure-blob buami --account devstoreaccount1 --container "$C" --account-url "$BLOB" \
    --identity --client-id "$UAMI" --skip-validation; keep
AZURE_POD_IDENTITY_AUTHORITY_HOST=${ENTRA_URL/https/http} f upload buami tree --target-path uami; keep
expect_rc 0 "a user-assigned managed identity (--client-id)"
expect_eq "$(grep -c "$UAMI" "$T/entra.log")" "1" "(asked for by its client id)"
IDENTITY_ENDPOINT=$ENTRA_URL/msi/token IDENTITY_HEADER=$MI_SECRET f upload bwl tree --target-path appsvc; keep
expect_rc 0 "App Service's managed identity (IDENTITY_ENDPOINT, IDENTITY_HEADER)"
MSI_ENDPOINT=$ENTRA_URL/msi/token MSI_SECRET=$MI_SECRET f upload bwl tree --target-path aml; keep
expect_rc 0 "Azure ML compute's managed identity (MSI_ENDPOINT, MSI_SECRET)"
MSI_ENDPOINT=$ENTRA_URL/msi/token MSI_SECRET=wrong-secret-value f upload bwl tree --target-path aml2; keep
expect_rc 1 "a managed identity endpoint that refuses fails the transfer"
expect_err "Entra ID refused the managed identity" "saying which identity was refused"
AZURE_CLIENT_SECRET=$ENTRA_SECRET AZURE_CLIENT_ID=$CID AZURE_TENANT_ID=$TEN f download bwl back-env --prefix aml/; keep
expect_rc 0 "a service principal in AZURE_* variables comes first for --identity"
expect_same tree/big.bin back-env/aml/big.bin "and reads what the managed identity wrote"

# --- a token that expires mid-transfer is renewed ---
serve SHORT "$TOP/tests/doubles/entra" --port 0 "${ENTRA_ARGS[@]}" --token-lifetime 2 --log "$T/short.log"
mkdir -p many
for i in $(seq 1500); do printf '%s' "$i" >"many/f$i.txt"; done
AZURE_AUTHORITY_HOST=$SHORT_URL f upload bsp many --target-path short -j 1; keep
expect_rc 0 "an upload of 1,500 files, one at a time, with 2-second tokens completes"
expect_out "uploaded 1500 files" "every file"
n=$(grep -c "200" "$T/short.log" || true)
[ "$n" -ge 2 ] && _ok "its token was renewed as it went ($n tokens)" || _fail "its token was renewed as it went" "$n tokens: $(cat "$T/short.log")"

# --- ADLS Gen2 (the double, https) with a service principal ---
f datastore register azure-data-lake-gen2 lake --account devstoreaccount1 --filesystem fs1 \
    --account-url "$ADLS_URL/devstoreaccount1" "${SP[@]}" --client-secret-env ENTRA_SECRET --create-if-not-exists; keep
expect_rc 0 "an ADLS Gen2 datastore with a service principal registers, creating its filesystem"
roundtrip lake adls
expect_eq "$(node "$TOP/tests/azure/adls_sdk.js" props fs1 adls/big.bin | json /dev/stdin 'j["md5"]')" "$(b64md5 tree/big.bin)" \
    "the datalake SDK reads the file's MD5 from the filesystem"
expect_eq "$(grep -c 'Bearer' "$T/adls.log")" "0" "(the double's log holds no token)"

# --- every other credential kind on ADLS too ---
LAKE=(--account devstoreaccount1 --filesystem fs1 --account-url "$ADLS_URL/devstoreaccount1")
f datastore register azure-data-lake-gen2 lcert "${LAKE[@]}" "${SP[@]}" --client-cert-file app.pem; keep
expect_rc 0 "ADLS: a service principal's certificate"
roundtrip lcert adls-cert
f datastore register azure-data-lake-gen2 lid "${LAKE[@]}" --identity --skip-validation; keep
AZURE_FEDERATED_TOKEN_FILE=$T/fed.token AZURE_CLIENT_ID=$CID AZURE_TENANT_ID=$TEN f upload lid tree --target-path adls-wl; keep
expect_rc 0 "ADLS: workload identity"
AZURE_POD_IDENTITY_AUTHORITY_HOST=${ENTRA_URL/https/http} f download lid back-adls-wl --prefix adls-wl/; keep
expect_rc 0 "ADLS: a managed identity from IMDS reads it back"
expect_same tree/big.bin back-adls-wl/adls-wl/big.bin "byte for byte"
IDENTITY_ENDPOINT=$ENTRA_URL/msi/token IDENTITY_HEADER=$MI_SECRET f upload lid tree --target-path adls-appsvc; keep
expect_rc 0 "ADLS: App Service's managed identity"
MSI_ENDPOINT=$ENTRA_URL/msi/token MSI_SECRET=$MI_SECRET f upload lid tree --target-path adls-aml; keep
expect_rc 0 "ADLS: Azure ML compute's managed identity"
f datastore register azure-data-lake-gen2 lbad "${LAKE[@]}" "${SP[@]}" --client-secret-env BAD_SECRET; keep
expect_rc 1 "ADLS: a wrong client secret is refused"
expect_err "AADSTS7000215" "in Entra's words"
AZURE_AUTHORITY_HOST=$SHORT_URL f upload lake many --target-path adls-short -j 1; keep
expect_rc 0 "ADLS: 1,500 files one at a time with 2-second tokens"
n2=$(grep -c "200" "$T/short.log" || true)
[ "$n2" -ge $((n + 2)) ] && _ok "ADLS: the token was renewed as it went ($((n2 - n)) tokens)" || _fail "ADLS: the token was renewed as it went" "$((n2 - n))"

# --- a job: input on ADLS by abfss://, output to an identity-based blob datastore ---
export FERRY_CONNECT_TO="devstoreaccount1.dfs.core.windows.net:443:127.0.0.1:${ADLS_URL##*:}"
export no_proxy=$no_proxy,devstoreaccount1.dfs.core.windows.net NO_PROXY=$NO_PROXY,devstoreaccount1.dfs.core.windows.net
f datastore register azure-data-lake-gen2 lakehost --account devstoreaccount1 --filesystem fs1 \
    "${SP[@]}" --client-secret-env ENTRA_SECRET; keep
expect_rc 0 "an ADLS datastore by its real host name (reached on loopback through FERRY_CONNECT_TO)"
f datastore register azure-blob outblob --account devstoreaccount1 --container "$C" --account-url "$BLOB" \
    --identity --skip-validation; keep
cat >job.yml <<'YAML'
command: >-
  sh -c 'md5sum ${{inputs.data}}/big.bin | cut -d" " -f1 > ${{outputs.out}}/md5.txt'
inputs:
  data:
    type: uri_folder
    path: abfss://fs1@devstoreaccount1.dfs.core.windows.net/adls/
    mode: download
outputs:
  out:
    type: uri_folder
    path: azureml://datastores/outblob/paths/jobout/
    mode: upload
YAML
AZURE_POD_IDENTITY_AUTHORITY_HOST=${ENTRA_URL/https/http} f run job.yml --run-id idjob; keep
expect_rc 0 "a job with an abfss:// input on ADLS and an output on an identity-based blob datastore"
SDK get "$C" jobout/md5.txt md5.txt >/dev/null
expect_eq "$(cat md5.txt)" "$(md5sum <tree/big.bin | cut -d' ' -f1)" "the command read the ADLS input; its output is in the container"

# --- nothing secret in any output ---
for s in "$ENTRA_SECRET" "$MI_SECRET" "$BAD_SECRET" "$(cut -c1-40 fed.token)"; do
    if grep -qF -- "$s" "$ALL"; then _fail "no secret or token in any output" "found ${s:0:6}..."; else _ok "no secret or token in any output (${s:0:6}...)"; fi
done
if grep -q 'eyJ[A-Za-z0-9_-]\{20,\}\.' "$ALL"; then _fail "no JWT in any output" "$(grep -o 'eyJ[A-Za-z0-9_-]*' "$ALL" | head -1 | cut -c1-12)"; else _ok "no JWT in any output"; fi
