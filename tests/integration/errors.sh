# Golden error messages: each bad job file gives exactly the message in its
# .err file (file:line:col, field, what is expected) and exit code 2.
. "$(dirname "$0")/../lib.sh"
for dir in bad semantic; do
    cd "$TOP/tests/fixtures/jobs/$dir"
    for file in *; do
        case "$file" in *.err) continue ;; esac
        golden="${file%.*}.err"
        run "$FERRY" validate "$file"
        if [ "$RC" -eq 2 ] && [ -f "$golden" ] && diff -u "$golden" "$ERR" > "$T/diff"; then
            _ok "$dir/$file: exit 2 and the golden message"
        else
            _fail "$dir/$file: exit 2 and the golden message" "exit $RC" "$(cat "$T/diff" 2>/dev/null | head -8)"
        fi
    done
done
cd "$T"
# validate with several files reports each bad one and counts them
f validate "$TOP/tests/fixtures/jobs/good/minimal.yml" "$TOP/tests/fixtures/jobs/bad/no-command.yml" "$TOP/tests/fixtures/jobs/semantic/dup-key.yml"
expect_rc 2 "validate of several files fails when one is bad"
expect_err "2 of 3 files are not valid" "and counts them"
expect_out "minimal.yml: valid" "the good one is still reported valid"
