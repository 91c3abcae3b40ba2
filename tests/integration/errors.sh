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

# Input-driven nesting is bounded: 50,000 nested lists or mappings are an
# error with file:line:col, not a crash of the stack
{ printf 'command: echo\ninputs:\n  a: '; head -c 50000 /dev/zero | tr '\0' '['; echo; } > deep.yml
{ printf 'command: echo\ninputs:\n  a: '; for _ in $(seq 50000); do printf '{a: '; done; echo; } > deep-map.yml
for cmd in validate plan run; do
    f $cmd deep.yml
    [ "$cmd" = run ] && want=121 || want=2
    expect_rc $want "$cmd of 50,000 nested lists exits $want"
    expect_err "deep.yml:3:516: nested deeper than 512 levels" "$cmd says where and why"
done
f validate deep-map.yml
expect_rc 2 "50,000 nested mappings exit 2"
expect_err "deep-map.yml:3:2046: nested deeper than 512 levels" "and say where"

# 400,000 keys in one mapping load in linear time (comparing every pair took
# minutes); the bound is generous, only a quadratic check reaches it
awk 'BEGIN { print "command: echo"; print "environment_variables:";
             for (i = 0; i < 400000; i++) printf "  K%d: v%d\n", i, i }' > many.yml
run timeout 60 "$FERRY" validate many.yml
expect_rc 0 "a mapping of 400,000 keys validates"
printf '  K123456: again\n' >> many.yml
run timeout 60 "$FERRY" validate many.yml
expect_rc 2 "a duplicate among them is found"
expect_err "many.yml:400003:3: duplicate key 'K123456' (first at line 123459)" "with both lines"

# a folder is not a job file, and says so
f validate "$T"
expect_rc 2 "validate of a folder exits 2"
expect_err "$T: a folder, not a job file" "and says it is a folder"
