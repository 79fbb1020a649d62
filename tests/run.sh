#!/bin/sh
# Runs each cmocka test program given, shows its output, and ends with one line
# "N passed, N failed" summed over all of them (a program that crashes or prints no cmocka summary
# counts as one failure). Exit status: 0 only when nothing failed.
set -u
passed=0
failed=0
for t in "$@"; do
    out=$(mktemp) || exit 2
    "$t" 2>&1 | tee "$out"
    rc=$?
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
    rm -f "$out"
    if [ -z "$p" ] && [ -z "$f" ]; then
        echo "tests/run.sh: $t printed no cmocka summary: counted as 1 failure"
        failed=$((failed + 1))
        continue
    fi
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
