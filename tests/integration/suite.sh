# The test harness itself: a test file that fails half-way still stops
# every process it started (one trap per file, tests/lib.sh), so make check
# leaves nothing running.
. "$(dirname "$0")/../lib.sh"
cat >"$T/inner.sh" <<INNER
. "$TOP/tests/lib.sh"
sleep 300 & echo \$! >"$T/plain.pid"
( trap '' TERM; exec sleep 301 ) & echo \$! >"$T/deaf.pid"
exit 3
INNER
run setsid -w bash "$T/inner.sh"
expect_rc 3 "a test file that stops half-way (exit 3)"
for which in plain deaf; do
    pid=$(cat "$T/$which.pid" 2>/dev/null)
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
        _ok "its $which background process is gone"
    else
        _fail "its $which background process is gone" "pid ${pid:-?} still runs"
        [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    fi
done
