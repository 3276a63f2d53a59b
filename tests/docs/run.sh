#!/usr/bin/env bash
# run.sh — the project's own account of the model is what the code cites:
# docs/MODEL.md exists, every section citation (§N or §N.M) in the sources,
# headers, tools, examples and tests names a numbered heading of it, and no
# source file points at a document outside the repository.  The resolver is
# first shown a made-up citation, which it must reject.
# Prints "N passed, M failed"; exits 1 on any failure.
set -u
cd "$(dirname "$0")/../.."
pass=0; fail=0
check() { # description, command
    if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi
}
model=docs/MODEL.md
check "$model exists and is not empty" '[ -s "$model" ]'

# the numbered headings of MODEL.md ("## 5.3 Title" or "## 5.3. Title")
headings=$(grep -E '^#+ +[0-9]+(\.[0-9]+)*\.? ' "$model" | sed -E 's/^#+ +([0-9.]+).*/\1/; s/\.$//' | sort -u)
check "MODEL.md has numbered sections" '[ -n "$headings" ]'

unresolved() { # citations read from stdin, one per line -> those without a heading
    while read -r c; do
        printf '%s\n' "$headings" | grep -qxF "$c" || echo "$c"
    done
}
check "a made-up citation (99.9) is reported" '[ "$(echo 99.9 | unresolved)" = 99.9 ]'

dirs="src cli include tools examples tests/unit"
cites=$(grep -rhoE '§ ?[0-9]+(\.[0-9]+)*' $dirs | sed -E 's/§ ?//' | sort -u)
check "the code cites MODEL.md sections" '[ -n "$cites" ]'
missing=$(printf '%s\n' "$cites" | unresolved | tr '\n' ' ')
check "every citation resolves to a MODEL.md heading (unresolved: ${missing:-none})" '[ -z "$missing" ]'

outside=$(grep -rlE 'VOXTRAL\.md|\.\./shared/' $dirs | tr '\n' ' ')
check "no source cites a document outside the repository (${outside:-none})" '[ -z "$outside" ]'

echo "tests/docs/run.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
