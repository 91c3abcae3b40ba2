# The datastore registry: register, create from Azure ML YAML, list, show,
# defaults, removal, overwrite rules, secrets kept out of sight.
. "$(dirname "$0")/../lib.sh"

f datastore list
expect_rc 0 "a new workspace lists"
expect_out "workspaceblobstore       local                  yes" "with workspaceblobstore, local, the default"
f datastore get-default
expect_eq "$(cat "$OUT")" "workspaceblobstore" "get-default names it"

f datastore register local mine --root "$T/nope"
expect_rc 1 "a missing local root is refused"
expect_err "pass --create-if-not-exists" "with what to do"
f datastore register local mine --root "$T/mine" --create-if-not-exists
expect_rc 0 "register local --create-if-not-exists"
[ -d "$T/mine" ] && _ok "the root folder was created" || _fail "the root folder was created"
f datastore register local mine --root "$T/mine"
expect_rc 1 "registering an existing name fails"
expect_err "pass --overwrite" "and says how to replace it"
f datastore register local mine --root "$T" --overwrite
expect_rc 0 "--overwrite replaces it"
f datastore show mine --json
expect_eq "$(json "$OUT" 'j["root"]')" "$T" "the replacement is what show returns"
f datastore register local bad-name --root "$T"
expect_rc 2 "a name with '-' is refused (Azure ML's rule)"
f datastore register nosuch x --root "$T"
expect_rc 2 "an unknown type is refused"
f datastore register local y --root "$T" --account a
expect_rc 2 "an option of another type is refused"
expect_err "--account does not apply to a local datastore" "with the option named"

export MY_KEY="c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY3ODkw"
f datastore register azure-blob blobs --account acct1 --container data --account-key-env MY_KEY
expect_rc 1 "registering a blob container checks access (here: unreachable)"
expect_err "--skip-validation registers it unchecked" "and says how to register it anyway"
f datastore register azure-blob blobs --account acct1 --container data --account-key-env MY_KEY --skip-validation
expect_rc 0 "register azure-blob with a key from the environment, unchecked"
f datastore register azure-blob blobs2 --account acct1 --container Bad_Name --account-key-env MY_KEY
expect_rc 2 "an invalid container name is refused"
expect_err "expected 3-63 lowercase letters" "with the rule"
f datastore register azure-blob blobs3 --account acct1 --container data --account-key-env A --sas-token-env B
expect_rc 2 "two credentials are refused"
f datastore register azure-file share --account acct1 --share myshare --sas-token-env NOT_SET_HERE
expect_rc 2 "an azure-file access check with a SAS from an unset variable cannot be made"
f datastore register azure-file share --account acct1 --share myshare --sas-token-env NOT_SET_HERE --skip-validation
expect_rc 0 "register azure-file with a SAS from an unset variable, unchecked"
expect_err "NOT_SET_HERE is not set now" "warns that the variable is unset"
printf '%s\n' "$MY_KEY" > keyfile
f datastore register azure-data-lake-gen2 lake --account acct1 --filesystem fs1 \
    --tenant-id t --client-id c --client-secret-file keyfile --store-secret --skip-validation
expect_rc 0 "register adls gen2 with a stored client secret"
secret=$(ls "$FERRY_WORKSPACE/secrets/")
expect_eq "$secret" "lake.client_secret" "the secret is stored under secrets/"
expect_eq "$(stat -c %a "$FERRY_WORKSPACE/secrets/lake.client_secret")" "600" "with mode 0600"
expect_eq "$(stat -c %a "$FERRY_WORKSPACE/secrets")" "700" "in a folder of mode 0700"
expect_eq "$(cat "$FERRY_WORKSPACE/secrets/lake.client_secret")" "$MY_KEY" "holding the secret"
# a register that fails never replaces a stored secret
printf 'another-secret-0123456789abcdef\n' > keyfile2
f datastore register azure-data-lake-gen2 lake --account acct1 --filesystem fs1 \
    --tenant-id t --client-id c --client-secret-file keyfile2 --store-secret
expect_err "datastore lake exists already" "registering a taken name without --overwrite fails"
expect_eq "$(cat "$FERRY_WORKSPACE/secrets/lake.client_secret")" "$MY_KEY" "and leaves the stored secret as it was"
f datastore register azure-blob kb --account devstoreaccount1 --container kbc \
    --account-url http://127.0.0.1:9/devstoreaccount1 --account-key-env MY_KEY --store-secret --skip-validation
export OTHER_KEY=$(printf 'another-key-0123456789abcdef' | base64)
FERRY_RETRIES=1 f datastore register azure-blob kb --account devstoreaccount1 --container kbc \
    --account-url http://127.0.0.1:9/devstoreaccount1 --account-key-env OTHER_KEY --store-secret --overwrite
expect_rc 1 "an --overwrite whose access check fails is refused"
expect_eq "$(cat "$FERRY_WORKSPACE/secrets/kb.account_key")" "$MY_KEY" "and the stored key is still the old one"
f datastore remove kb

f datastore list
expect_out "https://acct1.blob.core.windows.net/data" "list shows the blob URL"
expect_out "https://acct1.dfs.core.windows.net/fs1" "list shows the dfs URL"
f datastore show blobs
expect_out "account_key from env MY_KEY (value not shown)" "show names the credential's source"
f datastore list --json
expect_eq "$(json "$OUT" 'len(j)')" "5" "list --json has every datastore"
expect_eq "$(json "$OUT" '[d["name"] for d in j if d["default"]]')" "['workspaceblobstore']" "list --json marks the default"
grep -rqF "$MY_KEY" "$FERRY_WORKSPACE/datastores.json" && _fail "the registry holds no secret" || _ok "the registry holds no secret"

f datastore set-default blobs
expect_rc 0 "set-default"
f datastore get-default
expect_eq "$(cat "$OUT")" "blobs" "get-default follows"
f datastore set-default nosuch
expect_rc 1 "set-default of an unknown name fails"
f datastore remove blobs
expect_rc 0 "remove"
f datastore get-default
expect_rc 1 "removing the default leaves none"
f datastore remove lake
expect_no_file "$FERRY_WORKSPACE/secrets/lake.client_secret" "removing a datastore removes its stored secret"
f datastore remove nosuch
expect_rc 1 "removing an unknown name fails"
f datastore set-default workspaceblobstore

# Azure ML datastore YAML
cat > blob.yml <<YAML
\$schema: https://azuremlschemas.azureedge.net/latest/azureBlob.schema.json
name: blob_example
type: azure_blob
description: Datastore pointing to a blob container.
account_name: mytestblobstore
container_name: data-container
credentials:
  account_key: $MY_KEY
YAML
f datastore create --file blob.yml
expect_rc 1 "create from blob YAML checks access too"
expect_no_file "$FERRY_WORKSPACE/secrets/blob_example.account_key" "a datastore that failed its check leaves no secret behind"
f datastore create --file blob.yml --skip-validation
expect_rc 0 "create from Azure ML blob YAML with an inline key"
expect_file "$FERRY_WORKSPACE/secrets/blob_example.account_key" "the inline key is kept in the workspace"
f datastore show blob_example --json
expect_eq "$(json "$OUT" 'j["container_name"]+" "+j["endpoint"] if "endpoint" in j else j["container_name"]')" "data-container" "container read from the YAML"
cat > file.yml <<'YAML'
name: file_example
type: azure_file
account_name: mytestfilestore
file_share_name: my-share
endpoint: core.chinacloudapi.cn
credentials:
  sas_token: "?sv=2021-01-01&sig=abc"
YAML
f datastore create --file file.yml
expect_rc 1 "create from Azure ML file-share YAML checks access (this account is not reachable)"
f datastore create --file file.yml --skip-validation
expect_rc 0 "create from Azure ML file-share YAML, unchecked"
cat > adls.yml <<'YAML'
name: adls_example
type: azure_data_lake_gen2
account_name: mytestdatalakegen2
filesystem: my-gen2-container
credentials:
  tenant_id: 00000000-0000-0000-0000-000000000000
  client_id: 00000000-0000-0000-0000-000000000000
  client_secret: XXXXXXXXXXXXXXXXXXXXXXXX
YAML
f datastore create --file adls.yml
expect_rc 1 "create from Azure ML ADLS Gen2 YAML checks access (Entra ID is not reachable here)"
f datastore create --file adls.yml --skip-validation
expect_rc 0 "create from Azure ML ADLS Gen2 YAML, unchecked"
printf 'name: here\ntype: local\nroot: ./mine\n' > local.yml
mkdir -p mine
f datastore create --file local.yml
expect_rc 0 "create a local datastore from YAML (root relative to the file)"
f datastore show here --json
expect_eq "$(json "$OUT" 'j["root"]')" "$T/mine" "the root is made absolute"
printf 'name: bad\ntype: azure_blob\naccount_name: acct\ncontainer: x\n' > bad.yml
f datastore create --file bad.yml
expect_rc 2 "an unknown key in datastore YAML is refused"
expect_err "bad.yml:4:1: container: unknown key" "with file:line:col and the key"
printf 'name: bad\ntype: azure-blob\n' > bad2.yml
f datastore create --file bad2.yml
expect_rc 2 "a CLI spelling of the type in YAML is refused"
expect_err "bad2.yml:2:7: type: expected one of local, azure_blob, azure_file or azure_data_lake_gen2" "with the expected values"
f datastore create --file blob.yml --skip-validation
expect_rc 1 "create of an existing name fails without --overwrite"
f datastore create --file blob.yml --overwrite --skip-validation
expect_rc 0 "and works with it"

# a service principal needs Entra ID, which is not reachable from the tests
f ls adls_example
expect_rc 1 "a listing whose token cannot be had fails"
expect_err "asking for a token for the client secret stored in the workspace for client 00000000-0000-0000-0000-000000000000" "naming the identity"
expect_not_err "XXXXXXXXXXXXXXXXXXXXXXXX" "never its secret"

# names are case-insensitive, as in Azure ML; a long name is called too long
f datastore register local CaseName --root "$T" 
expect_rc 0 "register CaseName"
f datastore register local casename --root "$T"
expect_rc 1 "casename is the same name: refused"
expect_err "exists already as CaseName" "naming the one registered"
f datastore show CASENAME --json
expect_eq "$(json "$OUT" 'j["name"]')" "CaseName" "lookup ignores case"
f datastore register local "$(printf 'n%.0s' $(seq 300))" --root "$T"
expect_rc 2 "a 300-character name is refused"
expect_err "300 characters long; the limit is 255" "as too long, with the limit"
printf 'name: %s\ntype: local\nroot: .\n' "$(printf 'n%.0s' $(seq 256))" > long.yml
f datastore create --file long.yml
expect_err "256 characters long; the limit is 255" "from YAML too"
f datastore remove casename
expect_rc 0 "remove in another case"
# removing the default says so
f datastore register local dflt --root "$T"
f datastore set-default DFLT
f datastore get-default
expect_eq "$(cat "$OUT")" "dflt" "set-default keeps the registered spelling"
f datastore remove dflt
expect_rc 0 "removing the default datastore works"
expect_err "dflt was the default datastore: this workspace has no default now" "and says the workspace has no default now"
f datastore set-default workspaceblobstore
