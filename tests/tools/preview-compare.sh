#!/bin/bash
# preview-compare.sh — `dentsync preview` of two builds, byte for byte: its
# standard output, its standard error and its exit status on every file
# under samples/ and tests/fuzz/, on generated exports (20,000 appointments
# and patients, one of them printed past the output preview holds) and on
# made-up files whose later rows change the date order, or that fail to
# read after some rows; each in four ways (the first rows, --all, --json,
# --all --json, and --sheet '*' for workbooks), without a configuration
# and with practices of date_order auto, DMY and MDY.
#
#   bash tests/tools/preview-compare.sh OLD_DENTSYNC NEW_DENTSYNC
#
# Prints each difference, then `N same, N different` (exit 1 if any).
set -u
set -f # MODE holds --sheet *

top=$(cd "$(dirname "$0")/../.." && pwd)
old=$1
new=$2
work=$(mktemp -d /tmp/preview-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT

# --- the made-up files ---------------------------------------------------------
mk=$work/files
mkdir -p "$mk"
. "$top/tests/lib/preview.sh"
preview_vote_files "$mk"
{
    printf 'Patient ID,First Name,Last Name,Date of Birth,Email\n'
    printf 'P1,Ann,One,1980-01-01,p1@example.com\nP2,Bob,Two,1981-02-02,p2@example.com\n'
    printf 'P3,Cid,"Three,1982-03-03,p3@example.com\n'
} >"$mk/open-quote.csv"
{
    printf 'Patient ID,First Name,Last Name,Date of Birth,Email\n'
    printf 'P1,Ann,One,1980-01-01,p1@example.com\nP2,Bob,Two,1981-02-02,p2@example.com\n'
    printf 'P3,Cid,Th\000ree,1982-03-03,p3@example.com\n'
} >"$mk/nul.csv"
sh "$top/samples/generate-bench.sh" -t appointments -n 20000 -m 5000 -o "$mk/appointments.csv"
sh "$top/samples/generate-bench.sh" -t patients -n 20000 -o "$mk/patients.csv"
# 20,000 patients whose last row only reads as DD/MM/YYYY.
{
    cat "$mk/patients.csv"
    printf '99999,Zed,Last,,,13/02/1990,,,,,,,,,,,,,,,,\r\n'
} >"$mk/patients-dmy-last.csv"

# --- the configurations --------------------------------------------------------
preview_conf "$work/auto.conf"
preview_conf "$work/dmy.conf" DMY
preview_conf "$work/mdy.conf" MDY

same=0
different=0
run() { # FILE MODE CONF
    local f=$1 mode=$2 c=$3 tag
    tag=$(printf '%s|%s|%s' "$f" "$mode" "$c" | md5sum | cut -c1-12)
    # shellcheck disable=SC2086 # MODE is several words
    "$old" preview -c "$c" $mode "$f" >"$work/o.out" 2>"$work/o.err"
    echo $? >"$work/o.rc"
    # shellcheck disable=SC2086
    "$new" preview -c "$c" $mode "$f" >"$work/n.out" 2>"$work/n.err"
    echo $? >"$work/n.rc"
    if cmp -s "$work/o.out" "$work/n.out" && cmp -s "$work/o.err" "$work/n.err" &&
        cmp -s "$work/o.rc" "$work/n.rc"; then
        same=$((same + 1))
    else
        different=$((different + 1))
        echo "different: preview -c $c $mode $f ($tag)"
        diff <(cat "$work/o.out" "$work/o.err" "$work/o.rc") \
            <(cat "$work/n.out" "$work/n.err" "$work/n.rc") | head -10
    fi
}

while IFS= read -r f; do
    for c in "$work/none.conf" "$work/auto.conf" "$work/dmy.conf" "$work/mdy.conf"; do
        for mode in "" "--all" "--json" "--all --json"; do
            run "$f" "$mode" "$c"
        done
        case $f in *.xls | *.xlsx) run "$f" "--sheet *" "$c" ;; esac
    done
done < <(find "$top/samples" "$top/tests/fuzz" "$mk" -type f | sort)
echo "$same same, $different different"
[ "$different" -eq 0 ]
