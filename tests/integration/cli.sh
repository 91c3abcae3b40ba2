# The command line: help, shape, options anywhere, exit codes for misuse.
. "$(dirname "$0")/../lib.sh"

f --help
expect_rc 0 "--help exits 0"
expect_out "usage: ferry [global options] COMMAND" "--help shows the usage line"
expect_out "ferry datastore register TYPE NAME" "--help lists the datastore commands"

f
expect_rc 2 "no command is a usage error (2)"
expect_err "usage: ferry" "no command prints the usage to stderr"

f --version
expect_rc 0 "--version exits 0"
expect_out "ferry 0." "--version prints the version"

for c in init "datastore register" "datastore create" "datastore list" "datastore show" \
    "datastore set-default" "datastore get-default" "datastore remove" upload upload-files \
    download ls validate plan run; do
    # shellcheck disable=SC2086
    f $c --help
    if [ "$RC" -eq 0 ] && grep -q "^usage: ferry $c" "$OUT"; then _ok "ferry $c --help"; else _fail "ferry $c --help" "rc=$RC"; fi
done
f datastore list -h
expect_rc 0 "-h works after a command"

f frobnicate
expect_rc 2 "an unknown command exits 2"
expect_err "unknown command 'frobnicate'" "and names it"
f datastore frob
expect_rc 2 "an unknown datastore subcommand exits 2"
f upload --nope
expect_rc 2 "an unknown option exits 2"
expect_err "unknown option --nope" "and names it"
f upload onlyone
expect_rc 2 "too few arguments exits 2"
expect_err "usage: ferry upload NAME SRC_DIR" "and shows the command's usage"

# global options before or after the command, options in any order
f datastore list --workspace "$T/other"
expect_rc 0 "--workspace after the command"
expect_file "$T/other/datastores.json" "the workspace given after the command is the one used"
f --workspace="$T/other2" -q datastore list
expect_rc 0 "--workspace=DIR before the command"
expect_file "$T/other2/datastores.json" "--workspace=DIR is used"
f datastore list --progress none -vv
expect_rc 0 "--progress and -vv after the command"
f --progress bogus datastore list
expect_rc 2 "a bad --progress value exits 2"

# a secret is never an argv value
f datastore register azure-blob x --account acct --container cont --account-key SECRETVALUE123
expect_rc 2 "--account-key VALUE is refused"
expect_err "never taken on the command line" "with the reason"
expect_err "--account-key-env" "and what to use instead"
expect_not_err "SECRETVALUE123" "without echoing the value"
f datastore register azure-blob x --account acct --container cont --sas-token=sv=1
expect_rc 2 "--sas-token=VALUE is refused too"

# workspace discovery: $FERRY_WORKSPACE, then .ferry/ upward, then XDG
mkdir -p proj/a/b
(cd proj && "$FERRY" init >/dev/null 2>&1)
expect_file proj/.ferry/datastores.json "init without DIR creates ./.ferry"
(cd proj/a/b && unset FERRY_WORKSPACE && "$FERRY" -v datastore list >"$OUT" 2>"$ERR")
expect_err "workspace $T/proj/.ferry" "the nearest .ferry/ upward is found"
(unset FERRY_WORKSPACE; cd / && XDG_DATA_HOME=$T/xdg "$FERRY" datastore list >"$OUT" 2>&1)
expect_file "$T/xdg/ferry/datastores.json" "else \$XDG_DATA_HOME/ferry"

# help wherever a user asks for it; a bad option is called one
f datastore --help
expect_rc 0 "ferry datastore --help exits 0"
expect_out "ferry datastore register TYPE NAME" "and lists the datastore commands"
f help datastore
expect_rc 0 "ferry help datastore too"
f help run
expect_rc 0 "ferry help run exits 0"
expect_out "usage: ferry run JOB" "and is ferry run --help"
f help datastore show
expect_out "usage: ferry datastore show NAME" "ferry help datastore show"
f help frobnicate
expect_rc 2 "ferry help of an unknown command exits 2"
f --bogus ls
expect_rc 2 "an unknown option before the command exits 2"
expect_err "unknown option --bogus" "and is called an unknown option"
expect_not_err "unknown command" "not an unknown command"

# one line per message: a name's control characters are escaped
f ls "$(printf 'no\nsuch')"
expect_rc 1 "an unknown datastore with a newline in its name"
expect_eq "$(wc -l <"$ERR")" "1" "is reported on one line"
expect_err 'no datastore named no\nsuch' "with the newline escaped"
# the placeholder for backends' options is no option itself (it crashed)
f datastore register azure-blob foo '--*backend' v
expect_rc 2 "'--*backend' is an unknown option, not a crash"
expect_err "unknown option --*backend" "and is named"
# a job file that is not there: exit 1 (not a job's problem: exit 2)
f validate "$T/no-such-job.yml"
expect_rc 1 "validate of a missing file exits 1"
expect_err "no-such-job.yml: No such file or directory" "and says so"
