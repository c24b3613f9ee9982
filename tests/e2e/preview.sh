#!/bin/bash
# preview.sh — `dentsync preview` reads a file once when it can, and shows
# the same as when every row voted on the date order before any was shown:
#
#   1. rows mapped before a later row tells the order (ISO dates first, then
#      03/04/1980, then 13/02/1990) are shown in the order the whole file
#      tells (DD/MM), past the 100 rows shown without --all too; with a
#      practice that says MDY, the later row's hint is on the failed row;
#   2. a file of MM/DD dates is read MM/DD;
#   3. a file that fails to read after some rows (a quote left open at its
#      end, a NUL) prints only its error, in every mode;
#   4. an output larger than preview holds in memory (20,000 patients with
#      --all --json, the last one only DD/MM reads) is shown whole, each
#      row and key counted once, the last row with the hint its vote gave.
# Needs no PostgreSQL.
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"
agent=$BUILD/dentsync

work=$(mktemp -d /tmp/dentsync-e2e-preview.XXXXXX)
trap 'rm -rf "$work"' EXIT

# jq-free JSON checks: python3 reads the lines.
# json_check FILE EXPR: EXPR over `lines` (the parsed objects) must be true.
json_check() {
    python3 - "$1" "$2" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
rows = {l["row"]: l for l in lines if "row" in l}
summary = lines[-1].get("summary", {})
sys.exit(0 if eval(sys.argv[2], {"lines": lines, "rows": rows, "summary": summary}) else 1)
PY
}

# A practice without date_order (auto), and one that says MDY.
. "$top/tests/lib/preview.sh"
preview_conf "$work/auto.conf"
preview_conf "$work/mdy.conf" MDY

# --- 1. a later row tells the order ----------------------------------------------
preview_vote_files "$work"
"$agent" preview -c "$work/auto.conf" --all --json "$work/iso-then-dmy.csv" >"$work/dmy.json" 2>"$work/dmy.err"
check "ISO rows, then 03/04/1980, then 13/02/1990: row 6 is the 3rd of April (DD/MM, as row 7 tells)" \
    json_check "$work/dmy.json" 'rows[6]["record"]["date_of_birth"] == "1980-04-03" and rows[7]["record"]["date_of_birth"] == "1990-02-13"'
check "… every row valid, shown once, the whole file" \
    json_check "$work/dmy.json" 'summary["rows"] == 7 and summary["valid"] == 7 and summary["complete"] and sorted(rows) == list(range(1, 8))'
"$agent" preview -c "$work/auto.conf" "$work/iso-then-dmy.csv" >"$work/dmy.txt" 2>&1
check "… and on the terminal: 7 valid, 0 invalid" \
    grep -q '^7 row(s) previewed (the whole file): 7 valid, 0 invalid' "$work/dmy.txt"
"$agent" preview -c "$work/mdy.conf" "$work/iso-then-dmy.csv" >"$work/mdy.txt" 2>&1
check "under date_order = MDY the last row fails with the hint its own vote gives" \
    grep -q "^ *7  invalid *date_of_birth: .*1 rows in this column only read as DD/MM/YYYY" "$work/mdy.txt"
check "… and row 6 is the 4th of March, valid" \
    grep -q '^ *6  valid ' "$work/mdy.txt"

"$agent" preview -c "$work/auto.conf" --json "$work/dmy-after-100.csv" >"$work/late.json" 2>&1
check "without --all, row 151 past the 100 rows shown still tells row 1's order (DD/MM)" \
    json_check "$work/late.json" 'rows[1]["record"]["date_of_birth"] == "1980-04-03" and summary["rows"] == 100 and not summary["complete"]'

# --- 2. MM/DD dates ----------------------------------------------------------------
"$agent" preview -c "$work/auto.conf" --all --json "$work/iso-then-mdy.csv" >"$work/mdy.json" 2>&1
check "ISO rows, then 03/04/1980, then 02/13/1990: row 6 is the 4th of March (MM/DD)" \
    json_check "$work/mdy.json" 'rows[6]["record"]["date_of_birth"] == "1980-03-04" and summary["valid"] == 7'

# --- 3. a read error after some rows -------------------------------------------------
{
    printf 'Patient ID,First Name,Last Name,Date of Birth,Email\n'
    i=1
    while [ $i -le 150 ]; do
        printf 'P%d,Ann,Row,1980-01-01,p%d@example.com\n' "$i" "$i"
        i=$((i + 1))
    done
} >"$work/rows.csv"
{ cat "$work/rows.csv"; printf 'P151,Cid,"Three,1982-03-03,p3@example.com\n'; } >"$work/open-quote.csv"
{ cat "$work/rows.csv"; printf 'P151,Cid,Th\000ree,1982-03-03,p3@example.com\n'; } >"$work/nul.csv"
for f in open-quote nul; do
    for mode in "" "--all" "--json" "--all --json"; do
        # shellcheck disable=SC2086 # MODE is zero to two words
        "$agent" preview -c "$work/auto.conf" $mode "$work/$f.csv" >"$work/$f.out" 2>"$work/$f.err"
        rc=$?
        check "$f.csv (fails after 150 rows), preview ${mode:-(first rows)}: exit 1, nothing on stdout, one error line" \
            sh -c "[ $rc -eq 1 ] && [ ! -s '$work/$f.out' ] && [ \$(wc -l <'$work/$f.err') -eq 1 ] &&
                   grep -q '^dentsync preview: .*$f.csv:' '$work/$f.err'"
    done
done

# --- 4. more output than preview holds (64 MiB), and a late vote in a long file ----------
# 170,000 patients whose dates change nothing: --all --json is 72 MB, more
# than preview holds, so the rows are previewed again and printed as they
# come. Checked line by line (awk): a JSON parser would hold all of it.
sh "$top/samples/generate-bench.sh" -t patients -n 170000 -o "$work/huge.csv"
"$agent" preview -c "$work/auto.conf" --all --json "$work/huge.csv" >"$work/huge.json" 2>"$work/huge.err"
rc=$?
check "170,000 patients --all --json: exit 0, more than preview holds (over 64 MiB)" \
    sh -c "[ $rc -eq 0 ] && [ \$(wc -c <'$work/huge.json') -gt 67108864 ] && [ ! -s '$work/huge.err' ]"
check "… every row once, in order, then the summary of the whole file" \
    sh -c "awk 'NR == 1 { next } /^\\{\"row\":/ { split(\$0, a, /[:,]/); if (a[2] != ++n) bad = 1; next }
                /^\\{\"summary\":\\{\"rows\":170000,\"complete\":true,\"valid\":170000,/ { s++; next }
                { bad = 1 } END { exit !(n == 170000 && s == 1 && !bad) }' '$work/huge.json'"
rm -f "$work/huge.json"

# 20,001 patients (8 MB of JSON) whose last row votes for DD/MM.
sh "$top/samples/generate-bench.sh" -t patients -n 20000 -o "$work/many.csv"
printf '99999,Zed,Last,,,13/02/1990,,,,,,,,,,,,,,,,\r\n' >>"$work/many.csv"
"$agent" preview -c "$work/auto.conf" --all --json "$work/many.csv" >"$work/many.json" 2>"$work/many.err"
check "… every row once, in order, each key counted once (no duplicate)" \
    json_check "$work/many.json" 'sorted(rows) == list(rows) == list(range(1, 20002)) and summary["rows"] == 20001 and summary["duplicate"] == 0 and summary["complete"]'
check "… the last row fails with the hint its own vote gave (the column also has MM/DD-only dates)" \
    json_check "$work/many.json" 'rows[20001]["status"] == "invalid" and "1 rows in this column only read as DD/MM/YYYY" in rows[20001]["reason"] and summary["valid"] == 20000'
"$agent" preview -c "$work/auto.conf" --all "$work/many.csv" >"$work/many.txt" 2>&1
check "… the same counts on the terminal" \
    grep -q '^20001 row(s) previewed (the whole file): 20000 valid, 1 invalid, 0 duplicate' "$work/many.txt"

e2e_summary
