# Nothing lost under injected faults: a proxy between ferry and Azurite
# answers 503 (with Retry-After) and 500, resets connections mid-body,
# truncates and stalls responses, and throttles, at a meaningful rate.
# Uploads and downloads of small and large files complete with every byte
# verified against the source.
. "$(dirname "$0")/../lib.sh"
need_azurite
C=f$(date +%s%N | tail -c 10)x$$
az_register direct

/usr/bin/python3 "$TOP/tests/faults/proxy.py" --upstream "$AZ_HOSTPORT" --rate 0.25 --seed 7 \
    --stats "$T/stats.json" --stall-seconds 4 >"$T/proxy.port" 2>"$T/proxy.err" &
ppid=$!
at_exit 'kill $ppid 2>/dev/null'
for _ in $(seq 50); do [ -s "$T/proxy.port" ] && break; sleep 0.1; done
port=$(head -1 "$T/proxy.port")
az_register faulty "$port"
expect_rc 0 "register through the faulty proxy (its access check retried as needed)"

mkdir -p data/small
for i in $(seq 60); do head -c $((RANDOM * 3)) /dev/urandom >"data/small/f$i.bin"; done
head -c $((20 * 1024 * 1024 + 777)) /dev/urandom >data/large1.bin
head -c $((12 * 1024 * 1024)) /dev/urandom >data/large2.bin
export FERRY_STALL_SECONDS=2 FERRY_RETRIES=8
f -vv upload faulty data --target-path d -j 8
expect_rc 0 "an upload under faults completes"
grep -c "again in" "$ERR" >"$T/retries.up" || true
f -vv download faulty back --prefix d/ -j 8
expect_rc 0 "a download under faults completes"
grep -c "again in" "$ERR" >"$T/retries.down" || true
expect_eq "$(find back -name '*.part' | wc -l)" "0" "no temporary file is left"
# every byte, checked against the source, also through a second path (no proxy)
lost=0 files=0 bytes=0
while IFS= read -r rel; do
    files=$((files + 1))
    bytes=$((bytes + $(stat -c %s "data/$rel")))
    cmp -s "data/$rel" "back/d/$rel" || { lost=$((lost + 1)); echo "# differs: $rel"; }
done < <(cd data && find . -type f | sed 's|^\./||')
f download direct clean --prefix d/
while IFS= read -r rel; do
    cmp -s "data/$rel" "clean/d/$rel" || { lost=$((lost + 1)); echo "# differs in the store: $rel"; }
done < <(cd data && find . -type f | sed 's|^\./||')
expect_eq "$lost" "0" "lost = 0: every file uploaded and downloaded through faults is byte-identical"
kill -TERM $ppid 2>/dev/null
wait $ppid 2>/dev/null
faults=$(json "$T/stats.json" 'j["faults"]')
[ $(( $(cat "$T/retries.up") + $(cat "$T/retries.down") )) -ge 5 ] && _ok "ferry retried (uploads and downloads)" ||
    _fail "ferry retried (uploads and downloads)" "$(cat "$T/retries.up") + $(cat "$T/retries.down")"
echo "# figures: requests $(json "$T/stats.json" 'j["requests"]'), faults injected $faults $(json "$T/stats.json" 'j["by_kind"]'), retries $(( $(cat "$T/retries.up") + $(cat "$T/retries.down") )), files verified $files, bytes verified $bytes, lost $lost"
[ "$faults" -ge 10 ] && _ok "the proxy injected a meaningful number of faults ($faults)" || _fail "the proxy injected a meaningful number of faults ($faults)"
for k in 503 500 reset truncate stall throttle; do
    n=$(json "$T/stats.json" "j['by_kind']['$k']")
    [ "$n" -ge 1 ] && _ok "faults of kind $k were injected ($n)" || _fail "faults of kind $k were injected"
done

# a 4xx that will not change is not retried
f datastore register azure-blob wrongkey --account devstoreaccount1 --container "$C" \
    --account-url "$AZURITE_BLOB_URL" --account-key-env NOPE_KEY --skip-validation
export NOPE_KEY=$(printf 'not-the-key-0123456789' | base64)
f -vv ls wrongkey
expect_rc 1 "a 403 fails"
expect_eq "$(grep -c 'again in' "$ERR")" "0" "and is not retried"
