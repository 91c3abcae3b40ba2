# --check-md5, azcopy's policy: a blob whose stored MD5 does not match its
# bytes (small: checked whole; large: in blocks) fails by default, is kept
# with a warning under LogOnly, is not hashed under NoCheck; a blob with no
# MD5 passes by default and fails under FailIfDifferentOrMissing. The
# manifest records the policy. Blobs written by Microsoft's SDK.
. "$(dirname "$0")/../lib.sh"
need_azurite
C=k$(date +%s%N | tail -c 9)x$$
az_register blob
head -c 100000 /dev/urandom >small.bin
head -c $((40 * 1024 * 1024 + 3)) /dev/urandom >big.bin
SDK put "$C" bad/small.bin small.bin single wrong-md5 >/dev/null
SDK put "$C" bad/big.bin big.bin blocks wrong-md5 >/dev/null
SDK put "$C" none/small.bin small.bin single none >/dev/null
SDK put "$C" none/big.bin big.bin blocks none >/dev/null
for n in small big; do
    f download blob "def-$n" --prefix "bad/$n.bin"
    expect_rc 1 "$n: a blob whose MD5 differs fails by default (FailIfDifferent)"
    expect_err "content does not match the blob's MD5" "$n: saying so"
    expect_no_file "def-$n/bad/$n.bin" "$n: and the file is not kept"
    f download blob "log-$n" --prefix "bad/$n.bin" --check-md5 LogOnly
    expect_rc 0 "$n: LogOnly keeps it"
    expect_err "kept, as --check-md5 is LogOnly" "$n: with a warning"
    expect_same "$n.bin" "log-$n/bad/$n.bin" "$n: the bytes as they were"
    f download blob "no-$n" --prefix "bad/$n.bin" --check-md5 nocheck
    expect_rc 0 "$n: NoCheck (any case) does not hash"
    expect_not_err "MD5" "$n: and says nothing of MD5s"
    f download blob "miss-$n" --prefix "none/$n.bin"
    expect_rc 0 "$n: a blob with no MD5 passes by default"
    f download blob "missfail-$n" --prefix "none/$n.bin" --check-md5 FailIfDifferentOrMissing
    expect_rc 1 "$n: and fails under FailIfDifferentOrMissing"
    expect_err "no MD5 to check it by" "$n: saying why"
done
f download blob x --prefix bad/ --check-md5 sometimes
expect_rc 2 "an unknown policy is a usage error"
printf 'command: cat ${{inputs.f}} > /dev/null\ninputs:\n  f:\n    type: uri_file\n    path: azureml://datastores/blob/paths/bad/small.bin\n    mode: download\n' >job.yml
f run job.yml --run-id k1 --check-md5 LogOnly
expect_rc 0 "a run with --check-md5 LogOnly stages the blob"
expect_eq "$(json "$FERRY_WORKSPACE/runs/k1/manifest.json" 'j["check_md5"]')" "LogOnly" "the manifest records the policy"
f run job.yml --run-id k2
expect_rc 122 "the default policy fails the staging (exit 122)"
