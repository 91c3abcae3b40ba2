# Sourced by each integration test. Prints TAP lines ("ok - ...",
# "not ok - ..."); tests/run counts them. Every test file gets a private
# folder and workspace.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FERRY=${FERRY:-$TOP/ferry}
case "$FERRY" in /*) ;; *) FERRY=$TOP/$FERRY ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/ferry-test.XXXXXX")
# One trap per test file: the cleanups it registered (at_exit), then every
# process it started, also when it fails half-way. tests/run starts each
# test file as a session of its own (setsid), so "every process in this
# session" is exactly what the test started; run by hand, outside such a
# session, only the registered cleanups run.
_at_exit=()
at_exit() { _at_exit+=("$1"); }
_stop_session() {
    [ "$(ps -o sid= -p $$ | tr -d ' ')" = "$$" ] || return 0
    local p left
    for sig in TERM KILL; do
        left=$(pgrep -s $$ | grep -vx -e "$$" -e "$BASHPID" || true)
        [ -z "$left" ] && return 0
        for p in $left; do kill -"$sig" "$p" 2>/dev/null; done
        for _ in $(seq 30); do
            left=$(pgrep -s $$ | grep -vx -e "$$" -e "$BASHPID" || true)
            [ -z "$left" ] && return 0
            sleep 0.1
        done
    done
}
_on_exit() {
    local c
    for c in "${_at_exit[@]}"; do eval "$c"; done
    _stop_session
    rm -rf "$T"
}
trap _on_exit EXIT
[ -n "${FERRY_TEST_SID_FILE:-}" ] && echo $$ >"$FERRY_TEST_SID_FILE"
export FERRY_WORKSPACE=$T/ws
export FERRY_PROGRESS_INTERVAL=1000
# A guard: any request to a host that is not loopback goes to a closed
# loopback port instead of the network (tests name made-up accounts).
export http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9
export no_proxy=127.0.0.1,localhost,::1 NO_PROXY=127.0.0.1,localhost,::1
cd "$T"
OUT=$T/.out
ERR=$T/.err

_ok() { echo "ok - $1"; }
_fail() {
    echo "not ok - $1"
    shift
    for l in "$@"; do printf '#   %s\n' "$l"; done
    if [ -s "$ERR" ]; then sed 's/^/#   stderr: /' "$ERR" | head -20; fi
}

# run CMD...: runs it, keeping stdout in $OUT, stderr in $ERR, status in $RC.
run() {
    "$@" >"$OUT" 2>"$ERR"
    RC=$?
}

# f ARGS...: runs ferry.
f() { run "$FERRY" "$@"; }

# The scheduler's side: start ferry, wait for a sign of progress, signal it.
# bg ARGS...: starts ferry in the background (stdout in $OUT, stderr in $ERR); pid in $BG.
bg() {
    "$FERRY" "$@" >"$OUT" 2>"$ERR" &
    BG=$!
}
# wait_for PATH [SECONDS]: until PATH exists (10 s at most); false if it never does.
wait_for() {
    local i
    for i in $(seq $((${2:-10} * 10))); do [ -e "$1" ] && return 0; sleep 0.1; done
    return 1
}
# signal_run SIG FILE ARGS...: ferry ARGS in the background; once FILE exists (a failure
# if it never does), SIG to it; its status in $RC.
signal_run() {
    local sig=$1 mark=$2
    shift 2
    bg "$@"
    wait_for "$mark" || _fail "ferry $* wrote $mark" "it never appeared"
    signal_bg "$sig"
}
# signal_bg SIG: sends SIG to the background ferry and waits for it; its status in $RC.
signal_bg() {
    kill -"$1" "$BG" 2>/dev/null
    wait "$BG" 2>/dev/null
    RC=$?
}

expect_rc() { # expect_rc N NAME
    if [ "$RC" -eq "$1" ]; then _ok "$2"; else _fail "$2" "exit code $RC, expected $1"; fi
}
expect_out() { # expect_out TEXT NAME: stdout contains TEXT
    if grep -qF -- "$1" "$OUT"; then _ok "$2"; else _fail "$2" "stdout lacks: $1" "stdout: $(head -c 600 "$OUT")"; fi
}
expect_err() { # expect_err TEXT NAME: stderr contains TEXT
    if grep -qF -- "$1" "$ERR"; then _ok "$2"; else _fail "$2" "stderr lacks: $1"; fi
}
expect_not_out() {
    if grep -qF -- "$1" "$OUT"; then _fail "$2" "stdout has: $1"; else _ok "$2"; fi
}
expect_not_err() {
    if grep -qF -- "$1" "$ERR"; then _fail "$2" "stderr has: $1"; else _ok "$2"; fi
}
expect_eq() { # expect_eq ACTUAL EXPECTED NAME
    if [ "$1" == "$2" ]; then _ok "$3"; else _fail "$3" "got:      $1" "expected: $2"; fi
}
expect_file() { if [ -f "$1" ]; then _ok "$2"; else _fail "$2" "no file $1"; fi; }
expect_no_file() { if [ -e "$1" ] || [ -L "$1" ]; then _fail "$2" "$1 exists"; else _ok "$2"; fi; }
expect_same() { # expect_same FILE1 FILE2 NAME
    if cmp -s "$1" "$2"; then _ok "$3"; else _fail "$3" "$1 and $2 differ"; fi
}
# Azure Blob tests begin with need_azurite: Azurite's well-known key in
# $AZURITE_KEY, or one failure and an exit when tests/run could not start it.
need_azurite() {
    if [ -z "${AZURITE_BLOB_URL:-}" ]; then
        _fail "Azurite is running (tests/run starts it; is node_modules installed?)"
        exit 0
    fi
    export AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
    AZ_HOSTPORT=${AZURITE_BLOB_URL#http://}
    AZ_HOSTPORT=${AZ_HOSTPORT%%/*}
}
# az_register NAME [PORT]: a blob datastore on container $C (made when missing), reached
# directly or, with PORT, through a proxy on that loopback port.
az_register() {
    local url=$AZURITE_BLOB_URL
    [ -n "${2:-}" ] && url="http://127.0.0.1:$2/devstoreaccount1"
    f datastore register azure-blob "$1" --account devstoreaccount1 --container "$C" \
        --account-url "$url" --account-key-env AZURITE_KEY --create-if-not-exists
}
# SDK CMD ARGS...: the official Azure SDK for JavaScript, as a second client.
SDK() { node "$TOP/tests/azure/sdk.js" "$@"; }
# b64md5 FILE: its MD5 as Azure writes it (base64).
b64md5() { openssl md5 -binary "$1" | base64; }
# json FILE EXPR: evaluates a Python expression on the parsed JSON `j`.
json() { /usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# need_files_double [ARGS...]: starts the Azure Files double (tests/doubles/azure-files) on a
# free loopback port for this test file, stopped when it ends; FILES_URL is its account URL
# (http://127.0.0.1:PORT/devstoreaccount1), AZURE_FILES_URL the same for files_sdk.js.
need_files_double() {
    export AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
    "$TOP/tests/doubles/azure-files" --port 0 "$@" >"$T/.files-double" 2>"$T/.files-double.err" &
    local pid=$! i
    at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
    for i in $(seq 100); do
        grep -q '^listening on' "$T/.files-double" 2>/dev/null && break
        sleep 0.1
    done
    FILES_URL="$(sed -n 's/^listening on //p' "$T/.files-double" | head -1)"
    if [ -z "$FILES_URL" ]; then
        _fail "the Azure Files double starts" "$(cat "$T/.files-double.err")"
        exit 0
    fi
    FILES_URL=$FILES_URL/devstoreaccount1
    export AZURE_FILES_URL=$FILES_URL
}
# FSDK CMD ARGS...: Microsoft's @azure/storage-file-share, as a second client of the double.
FSDK() { node "$TOP/tests/azure/files_sdk.js" "$@"; }
# need_adls_double [ARGS...]: starts the ADLS Gen2 double (tests/doubles/adls) for this test
# file; ADLS_URL is its account URL (http://127.0.0.1:PORT/devstoreaccount1), AZURE_ADLS_URL
# the same for adls_sdk.js, ADLS_HOSTPORT its host:port.
need_adls_double() {
    export AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
    "$TOP/tests/doubles/adls" --port 0 "$@" >"$T/.adls-double" 2>"$T/.adls-double.err" &
    local pid=$! i
    at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
    for i in $(seq 100); do
        grep -q '^listening on' "$T/.adls-double" 2>/dev/null && break
        sleep 0.1
    done
    ADLS_URL="$(sed -n 's/^listening on //p' "$T/.adls-double" | head -1)"
    if [ -z "$ADLS_URL" ]; then
        _fail "the ADLS double starts" "$(cat "$T/.adls-double.err")"
        exit 0
    fi
    ADLS_HOSTPORT=${ADLS_URL#*://}
    ADLS_URL=$ADLS_URL/devstoreaccount1
    export AZURE_ADLS_URL=$ADLS_URL
}
# ASDK CMD ARGS...: Microsoft's @azure/storage-file-datalake, as a second client of the double.
ASDK() { node "$TOP/tests/azure/adls_sdk.js" "$@"; }
