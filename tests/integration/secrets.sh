# No secret in any output, log, manifest or registry, at any verbosity, on
# success or failure; secrets stored by ferry are private files.
. "$(dirname "$0")/../lib.sh"
KEY="S2V5LWZvci1zZWNyZXRzLXRlc3Qtb25seS0wMTIzNDU2Nzg5QUJDREVGR0hJSktMTU5PUA=="
SIG="c2lnbmF0dXJlLXNlY3JldC12YWx1ZS0xMjM0NQ"
SAS="sv=2022-11-02&ss=b&srt=co&sp=rl&se=2030-01-01T00:00:00Z&sig=$SIG"
CS="client-secret-for-tests-0123456789"
# The key stays in ferry's environment (datastore kb reads it from there),
# so the command's environment must not inherit it.
export FERRY_TEST_KEY=$KEY
ALL=$T/all-output
: > "$ALL"
keep() { cat "$OUT" "$ERR" >> "$ALL"; }

f -vv datastore register azure-blob kb --account acct --container data --account-key-env FERRY_TEST_KEY --skip-validation; keep
FERRY_TEST_SAS=$SAS f -vv datastore register azure-blob sb --account acct --container data --sas-token-env FERRY_TEST_SAS --store-secret --skip-validation; keep
printf '%s' "$CS" > cs.txt
f -vv datastore register azure-data-lake-gen2 lk --account acct --filesystem fs1 --tenant-id t --client-id c --client-secret-file cs.txt; keep
printf 'name: yb\ntype: azure_blob\naccount_name: acct\ncontainer_name: data\ncredentials:\n  account_key: "%s"\n' "$KEY" > yb.yml
f -vv datastore create --file yb.yml --skip-validation; keep
expect_rc 0 "datastores with every kind of secret registered"
for c in "datastore list" "datastore list --json" "datastore show kb" "datastore show sb --json" \
    "datastore show lk" "datastore show yb --json" "ls kb" "ls sb" "download yb out" "upload lk ."; do
    # shellcheck disable=SC2086
    f -vv $c; keep
done
printf 'command: echo hi\ninputs:\n  d: {type: uri_folder, path: "azureml://datastores/sb/paths/x"}\n' > job.yml
f -vv plan job.yml; keep
f -vv run job.yml; keep
expect_rc 122 "a run whose input cannot be reached fails before the command"
printf 'command: echo hi\ninputs:\n  d: {type: uri_folder, path: "azureml://datastores/lk/paths/x"}\n' > job2.yml
f -vv run job2.yml; keep
expect_rc 121 "a run on a datastore that cannot move data fails"
printf 'command: env; echo $FERRY_TEST_KEY | wc -c\noutputs:\n  o:\n' > local.yml
f -vv run local.yml --run-id loc; keep
expect_rc 0 "a local run at -vv"
# a secret given where its variable's name or its file's path belongs is refused, unechoed
f datastore register azure-blob k2 --account acct --container data --account-key-env "$KEY" --skip-validation; keep
expect_rc 2 "--account-key-env given the key itself is refused"
expect_err "not the secret itself" "saying the flag takes a variable's name"
f datastore register azure-blob k2 --account acct --container data --sas-token-env "$SAS" --skip-validation; keep
expect_rc 2 "--sas-token-env given the SAS itself is refused"
f datastore register azure-data-lake-gen2 k2 --account acct --filesystem fs1 --client-secret-env "$CS" --tenant-id t --client-id c; keep
expect_rc 2 "--client-secret-env given the secret itself is refused"
f datastore register azure-blob k2 --account acct --container data --account-key-file "$KEY" --skip-validation; keep
expect_rc 2 "--account-key-file given the key itself is refused"
f datastore register azure-blob k2 --account acct --container data --sas-token-file "$SAS" --skip-validation; keep
expect_rc 2 "--sas-token-file given the SAS itself is refused"
f datastore show k2
expect_rc 1 "none of them was registered"
# a SAS inside --account-url would be stored in the registry, shown, and never used
f datastore register azure-blob k3 --account acct --container data --account-url "http://127.0.0.1:9/acct?$SAS" --skip-validation; keep
expect_rc 2 "an --account-url carrying a SAS is refused"
expect_err "--sas-token-env" "pointing at --sas-token-env"
printf 'name: k4\ntype: azure_blob\naccount_name: acct\ncontainer_name: data\naccount_url: "http://127.0.0.1:9/acct?%s"\n' "$SAS" > k4.yml
f datastore create --file k4.yml --skip-validation; keep
expect_rc 2 "so is an account_url with a SAS in a datastore YAML"

# the greps below look where the secrets would have been: the SAS URLs were
# logged (masked), and the command's environment was printed
grep -q 'sig=REDACTED' "$ALL" && _ok "requests with the SAS were logged, masked" || _fail "requests with the SAS were logged, masked"
grep -q 'FERRY_RUN_ID=loc' "$ALL" && _ok "the command's environment was printed" || _fail "the command's environment was printed"
for s in "$KEY" "$SIG" "$CS"; do
    n=$(grep -cF -- "$s" "$ALL")
    expect_eq "$n" "0" "no output line holds the secret ${s:0:6}..."
    n=$(grep -rlF -- "$s" "$FERRY_WORKSPACE" | grep -v "/secrets/" | wc -l)
    expect_eq "$n" "0" "no workspace file outside secrets/ holds ${s:0:6}... (registry, ferry.log, manifest)"
done
expect_eq "$(stat -c %a "$FERRY_WORKSPACE/secrets/sb.sas_token")" "600" "a stored SAS is mode 0600"
expect_eq "$(stat -c %a "$FERRY_WORKSPACE/secrets/yb.account_key")" "600" "a key from YAML is stored with mode 0600"
expect_eq "$(stat -c %a "$FERRY_WORKSPACE/datastores.json")" "600" "the registry is mode 0600"
