#!/bin/sh
# Runs each cmocka test program given, shows its output, and ends with one line
# "N passed, N failed, N skipped" summed over all of them (CI reads that last line).
# A program counts as one more failure when it prints no cmocka summary (it crashed or hung up
# early) or when it exits nonzero although none of its tests failed: a sanitizer report at exit,
# a leak, an abort in teardown. Skipped tests are listed, by program, before the last line, and
# so are failed ones, each with the reason an integration case gave (its "ERROR: file:line:
# [name] ..." line): a CI log cut to its head and tail still says what failed and why.
# Exit status: 0 only when nothing failed.
set -u
passed=0
failed=0
skipped=0
skiplist=$(mktemp) || exit 2
faillist=$(mktemp) || exit 2
trap 'rm -f "$skiplist" "$faillist"' EXIT
for t in "$@"; do
    out=$(mktemp) || exit 2
    rcfile=$(mktemp) || exit 2
    # The pipe's status is tee's: the program's own goes through a file.
    { "$t" 2>&1; echo $? > "$rcfile"; } | tee "$out"
    rc=$(cat "$rcfile")
    rc=${rc:-255}
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
    s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
    # Names of skipped tests: "[  SKIPPED ] name" lines (printed when run and again in the
    # summary), not the count line.
    sed -n 's/^\[  SKIPPED \] \(.*\)$/\1/p' "$out" | grep -v '^[0-9]* test(s)' | awk '!seen[$0]++' |
        while IFS= read -r name; do echo "  $(basename "$t"): $name"; done >> "$skiplist"
    sed -n 's/^\[  FAILED  \] \(.*\)$/\1/p' "$out" | grep -v '^[0-9]* test(s)' | awk '!seen[$0]++' |
        while IFS= read -r name; do
            echo "  $(basename "$t"): $name"
            grep -o "ERROR: [^ ]*:[0-9]*: \[$name\] .*" "$out" | cut -c1-400 | sed 's/^/      /'
        done >> "$faillist"
    rm -f "$out" "$rcfile"
    if [ -z "$p" ] && [ -z "$f" ]; then
        echo "tests/run.sh: $t printed no cmocka summary (exit status $rc): counted as 1 failure"
        failed=$((failed + 1))
        continue
    fi
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    skipped=$((skipped + ${s:-0}))
    if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
        echo "tests/run.sh: $t exited with status $rc although none of its tests failed (sanitizer or crash at exit?): counted as 1 failure"
        failed=$((failed + 1))
    fi
done
if [ -s "$skiplist" ]; then
    echo "skipped:"
    cat "$skiplist"
fi
if [ -s "$faillist" ]; then
    echo "failed:"
    cat "$faillist"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
