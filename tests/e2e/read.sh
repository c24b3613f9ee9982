#!/bin/bash
# read.sh — `dentsync read FILE [--json] [--all]` on one export of each
# format and on broken ones: the sniffed dialect comes first (format,
# encoding, delimiter, quote, header line, titles), then the rows with their
# numbers and lines, the notices and an end object with the counts; a
# broken file ends with its error naming the file and the position (in the
# JSON end object too) and exit status 1; a row over a field cap comes cut,
# with its error, and the rows after it whole; a recurring calendar event changed
# in one occurrence comes once per occurrence. Needs no PostgreSQL.
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"
agent=$BUILD/dentsync
corpus=$top/tests/fuzz/corpus

work=$(mktemp -d /tmp/dentsync-e2e-read.XXXXXX)
trap 'rm -rf "$work"' EXIT

# jq-free JSON checks: python3 reads the lines.
# json_check FILE EXPR: EXPR over `lines` (the parsed objects) must be true.
json_check() {
    python3 - "$1" "$2" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
sys.exit(0 if eval(sys.argv[2], {"lines": lines}) else 1)
PY
}

# --- CSV with a title, a trailer and ~ quotes ------------------------------------
printf 'Patient list\r\n~id~|~name~|~note~\r\n~1~|~Ann~|~a|b~\r\n~2~|~Zo\303\253~|~~~~\r\nTotal records: 2\r\n' \
    >"$work/report.csv"
"$agent" read --json --all "$work/report.csv" >"$work/csv.json" 2>"$work/csv.err"
check "CSV: exit 0" test $? -eq 0
check "CSV: the dialect first: csv, utf-8, '|', '~', header on line 2 below one title" \
    json_check "$work/csv.json" 'lines[0]["type"] == "dialect" and lines[0]["format"] == "csv" and lines[0]["encoding"] == "utf-8" and lines[0]["delimiter"] == "|" and lines[0]["quote"] == "~" and lines[0]["header_line"] == 2 and lines[0]["title_lines"] == 1 and lines[0]["header"] == ["id", "name", "note"]'
check "CSV: both rows, numbered, with their lines and fields" \
    json_check "$work/csv.json" '[(l["row"], l["line"], l["fields"]) for l in lines if l["type"] == "row"] == [(1, 3, ["1", "Ann", "a|b"]), (2, 4, ["2", "Zo\u00eb", "~"])]'
check "CSV: the title and the trailer are notices; the end counts them" \
    json_check "$work/csv.json" 'sorted((l["kind"], l["line"]) for l in lines if l["type"] == "notice") == [(1, 1), (2, 5)] and lines[-1]["type"] == "end" and lines[-1]["complete"] and lines[-1]["rows"] == 2 and lines[-1]["trailer_lines"] == 1 and "error" not in lines[-1]'
"$agent" read "$work/report.csv" >"$work/csv.txt" 2>&1
check "CSV: the text view names the dialect" \
    grep -q "^delimiter:.*|" "$work/csv.txt"

# --- XLS (parsed in a child process) and XLSX -------------------------------------
"$agent" read --json --all "$corpus/read_xls/report-title-trailer.xls" >"$work/xls.json" 2>/dev/null
check "XLS: sheet, header row 3 below two titles; three rows; two trailers" \
    json_check "$work/xls.json" 'lines[0]["format"] == "xls" and lines[0]["sheet"] == "report" and lines[0]["header_line"] == 3 and lines[0]["title_lines"] == 2 and len([l for l in lines if l["type"] == "row"]) == 3 and lines[-1]["trailer_lines"] == 2 and lines[-1]["complete"]'
"$agent" read --json --all "$corpus/read_xlsx/shared-strings.xlsx" >"$work/xlsx.json" 2>/dev/null
check "XLSX: the dialect says xlsx and names the sheet; rows follow" \
    json_check "$work/xlsx.json" 'lines[0]["format"] == "xlsx" and lines[0]["sheet"] != "" and any(l["type"] == "row" for l in lines) and lines[-1]["complete"]'
"$agent" read --json "$corpus/read_xls/freexl-1.0.6-iconv-stack-overread.xls" >"$work/bad-xls.json" 2>"$work/bad-xls.err"
check "XLS freexl cannot read safely: exit 1" test $? -eq 1
check "XLS freexl cannot read safely: the error names the file, in the JSON end too" \
    json_check "$work/bad-xls.json" 'lines[-1]["type"] == "end" and not lines[-1]["complete"] and "freexl-1.0.6-iconv-stack-overread.xls" in lines[-1]["error"] and "XLS: " in lines[-1]["error"]'

# --- ICS: a changed occurrence replaces its series' one ---------------------------
d() { date -u -d "@$(($(date +%s) + $1 * 86400))" +%Y%m%d; }
cat >"$work/cal.ics" <<ICS
BEGIN:VCALENDAR
VERSION:2.0
BEGIN:VEVENT
UID:series
DTSTART:$(d 1)T100000Z
RRULE:FREQ=DAILY;COUNT=3
RDATE:$(d 9)T100000Z
EXDATE:$(d 2)T100000Z
END:VEVENT
BEGIN:VEVENT
UID:series
RECURRENCE-ID:$(d 3)T100000Z
DTSTART:$(d 3)T150000Z
END:VEVENT
END:VCALENDAR
ICS
"$agent" read --json --all "$work/cal.ics" >"$work/ics.json" 2>/dev/null
check "ICS: days 1 and 9 of the series, day 3 once (moved to 15:00), day 2 left out" \
    json_check "$work/ics.json" 'sorted((l["fields"][1][:10], l["fields"][2][11:16]) for l in lines if l["type"] == "row") == sorted([("'"$(d 1 | sed 's/\(....\)\(..\)\(..\)/\1-\2-\3/')"'", "10:00"), ("'"$(d 3 | sed 's/\(....\)\(..\)\(..\)/\1-\2-\3/')"'", "15:00"), ("'"$(d 9 | sed 's/\(....\)\(..\)\(..\)/\1-\2-\3/')"'", "10:00")])'

# --- a row over a cap: cut and reported, the rows after it read -------------------
{
    printf 'id,note,x\n1,a,b\n2,"'
    head -c 200000 /dev/zero | tr '\0' 'q'
    printf '\nstill quoted",c\n3,d,e\n'
} >"$work/long-field.csv"
"$agent" read --json --all "$work/long-field.csv" >"$work/long.json" 2>/dev/null
check "long field: exit 0" test $? -eq 0
check "long field: row 2 cut with FIELD_TOO_LONG on field 2, row 3 on line 5 read whole" \
    json_check "$work/long.json" '[(l["row"], l["line"], l["fields"], l.get("error"), l.get("error_field")) for l in lines if l["type"] == "row"] == [(1, 2, ["1", "a", "b"], None, None), (2, 3, ["2"], "FIELD_TOO_LONG", 2), (3, 5, ["3", "d", "e"], None, None)] and lines[-1]["cut_rows"] == 1 and lines[-1]["complete"]'

# --- broken files: the error names the file and the position ----------------------
printf 'a,b\n1,"open\n2,3\n' >"$work/unbalanced.csv"
"$agent" read --all "$work/unbalanced.csv" >"$work/unb.txt" 2>"$work/unb.err"
check "unbalanced quote: exit 1" test $? -eq 1
check "unbalanced quote: the error names the file and the line the row starts on" \
    grep -q "unbalanced.csv:1: quoted field not closed at the end of the file (row starts at line 2)" "$work/unb.err"
: >"$work/empty.csv"
"$agent" read --json "$work/empty.csv" >"$work/empty.json" 2>/dev/null
check "empty file: exit 1 and an end object with the error" \
    json_check "$work/empty.json" 'len(lines) == 1 and lines[0]["type"] == "end" and "empty.csv: no header row" in lines[0]["error"]'

e2e_summary
