# SharedKey signing cross-checked live with the official Azure SDK for
# JavaScript: the SDK builds and signs a fresh set of requests (new dates,
# new request ids), and ferry's signer must give the same Authorization
# for each (build/unit/test_auth does the comparing).
. "$(dirname "$0")/../lib.sh"
if node "$TOP/tests/azure/sign.js" >"$T/vectors.jsonl" 2>"$ERR" && [ -s "$T/vectors.jsonl" ]; then
    _ok "the SDK signed its requests"
else
    _fail "the SDK signed its requests" "node tests/azure/sign.js failed"
    exit 0
fi
"$TOP/build/unit/test_auth" "$T/vectors.jsonl" >"$T/auth.tap" 2>&1
rc=$?
grep -E '^(not )?ok .*(live|SDK signed)' "$T/auth.tap"
expect_eq "$rc" "0" "the signer's test ran to its end on the SDK's fresh requests"
