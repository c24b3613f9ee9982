#!/bin/sh
# generate.sh — synthetic patients in the generic export shape, and the
# canonical records they must become.
#
#   sh samples/generate.sh [-n ROWS] [-o CSV] [-e EXPECTED]
#
#   -n ROWS      number of patients (default 30)
#   -o CSV       where the export goes (default: standard output)
#   -e EXPECTED  also write the expected canonical records there
#
# The committed sample and its expected records are made with
#
#   sh samples/generate.sh -n 30 -o samples/patients.csv \
#       -e tests/e2e/expected/patients.tsv
#
# Everything is made up: names from two fixed lists, phone numbers in the
# fictional 555-0100..555-0199 range, addresses on invented streets,
# e-mail domains example.com and example.org. No randomness and no input:
# the same ROWS give the same bytes, with any POSIX sh and awk.
#
# The CSV is written the way Excel's "CSV UTF-8" writes it: a UTF-8 byte
# order mark, CRLF between rows, a bare LF inside a quoted cell, quotes only
# where needed. Row i (1-based) uses first name i mod 30 and a last name
# chosen so that (first, last, date of birth) never repeats; every 6th
# patient (i mod 6 = 4) has no Patient ID and is matched by name + date of
# birth, or by e-mail when it has no date of birth (i mod 12 = 10).
#
# EXPECTED has one line per patient: the 22 canonical fields in the order
# of DESIGN.md (external_id ... notes) joined by '|', absent fields empty,
# lines sorted by byte value (LC_ALL=C sort). One note holds a line break;
# in EXPECTED it is written as the two characters \n, so every record is
# one line. tests/e2e/expected/README says how the cloud's rows are put in
# the same form.
set -eu

rows=30
csv=
expected=
while getopts n:o:e: opt; do
    case $opt in
    n) rows=$OPTARG ;;
    o) csv=$OPTARG ;;
    e) expected=$OPTARG ;;
    *)
        echo "usage: generate.sh [-n ROWS] [-o CSV] [-e EXPECTED]" >&2
        exit 2
        ;;
    esac
done
case $rows in
'' | *[!0-9]*)
    echo "generate.sh: -n wants a number" >&2
    exit 2
    ;;
esac

LC_ALL=C
export LC_ALL
umask 077
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ds-generate.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

awk -v rows="$rows" -v csvout="$tmp/out.csv" -v canonout="$tmp/canon" '
function split_list(s, arr) {
    return split(s, arr, ",")
}
# Quotes a CSV cell when it holds a delimiter, a quote, a line break or
# white space at either end.
function cell(v) {
    if (v ~ /[",\r\n]/ || v ~ /^ / || v ~ / $/) {
        gsub(/"/, "\"\"", v)
        return "\"" v "\""
    }
    return v
}
# Replaces each line break by a backslash and an n (no gsub: awks differ in
# how they treat backslashes in a replacement).
function escape_newlines(s,    out, k) {
    out = ""
    while ((k = index(s, "\n")) > 0) {
        out = out substr(s, 1, k - 1) "\\" "n"
        s = substr(s, k + 1)
    }
    return out s
}
# A date from a day counter c: 28-day months so every counter is a real date.
function ymd(base, c) {
    Y = base + int(c / 336)
    M = 1 + int(c / 28) % 12
    D = 1 + c % 28
}
function iso() {
    return sprintf("%04d-%02d-%02d", Y, M, D)
}
function shown(style) {
    if (style == 0) return sprintf("%04d-%02d-%02d", Y, M, D)
    if (style == 1) return sprintf("%02d/%02d/%04d", M, D, Y)
    if (style == 2) return sprintf("%d/%d/%04d", M, D, Y)
    return sprintf("%04d/%02d/%02d", Y, M, D)
}
# A phone in the fictional range: area code, 555, 01xx, in one of five styles.
function phone(area, xx, style) {
    P = "+1" area "55501" sprintf("%02d", xx)
    line = "01" sprintf("%02d", xx)
    if (style == 0) return "(" area ") 555-" line
    if (style == 1) return area ".555." line
    if (style == 2) return area "555" line
    if (style == 3) return area "-555-" line
    return "+1 " area " 555 " line
}
BEGIN {
    nf = split_list("Ann,Robert,José,Zoë,Maria,David,Renée,Liam,Aisha,Chen,Olivia,Noah,Fatima,Ethan,Sofia,Lucas,Amara,Mateo,Hannah,Omar,Grace,Kenji,Elena,Samuel,Priya,Jonah,Chloé,Andrés,Ingrid,Tomás", F)
    split_list("ann,robert,jose,zoe,maria,david,renee,liam,aisha,chen,olivia,noah,fatima,ethan,sofia,lucas,amara,mateo,hannah,omar,grace,kenji,elena,samuel,priya,jonah,chloe,andres,ingrid,tomas", FA)
    nl = split_list("Lee,O'"'"'Brien,García,Nguyen,Smith,Kowalski,Müller,Okafor,Dubois,Patel,Johnson,D'"'"'Angelo,Rossi,Kim,Haddad,Novak,Larsen,Silva,Cohen,Murphy,Tanaka,Schmidt,Brown,Costa,Ivanova,Moreau,Walker,Singh,Nakamura,Fernández", L)
    split_list("lee,obrien,garcia,nguyen,smith,kowalski,muller,okafor,dubois,patel,johnson,dangelo,rossi,kim,haddad,novak,larsen,silva,cohen,murphy,tanaka,schmidt,brown,costa,ivanova,moreau,walker,singh,nakamura,fernandez", LA)
    split_list("312,617,415,206,303,512,718,404,612,702", AREA)
    split_list("Maple St,Oak Ave,Cedar Ln,Elm St,Pine Rd,Birch Way,Lake Dr,Hill St,Park Ave,River Rd", STREET)
    split_list("Springfield,Boston,Portland,Austin,Madison,Denver,Seattle,Burlington,Chicago,Santa Fe", CITY)
    split_list("IL,MA,OR,TX,WI,CO,WA,VT,IL,NM", STATE)
    split_list("62701,02139,97205,78701,53703,80202,98101,05401,60614-1234,87501", ZIP)
    split_list("M,F,Male,Female,F,M,O,", GD)
    split_list("male,female,male,female,female,male,other,", GC)
    split_list("Active,Patient,active,Inactive,Active,NonPatient,Archived,Active,Prospective,", SD)
    split_list("active,active,active,inactive,active,inactive,archived,active,prospect,", SC)
    split_list("Marie,James,Lynn,Ray", MIDDLE)
    initials = "ABCDEFGHJKLMNPRSTW"

    printf "\357\273\277" > csvout
    printf "Patient ID,First Name,Last Name,Middle Name,Preferred Name,Date of Birth,Gender,Email,Mobile Phone,Home Phone,Work Phone,Address,Address 2,City,State,Zip,Country,Status,Provider ID,First Visit,Last Visit,Notes\r\n" > csvout

    for (i = 1; i <= rows; i++) {
        a = i % nf
        q = int(i / nf)
        b = (7 * i + q) % nl
        r = i % 900
        k = 0
        for (f = 1; f <= 22; f++) { d[f] = ""; c[f] = "" }

        # external_id
        if (i % 6 != 4) { d[1] = 1000 + i; c[1] = d[1] }
        # names
        d[2] = F[a + 1]; c[2] = d[2]
        d[3] = L[b + 1]; c[3] = d[3]
        if (i % 4 == 1) { d[4] = substr(initials, i % 18 + 1, 1); c[4] = d[4] }
        if (i % 4 == 3) { d[4] = MIDDLE[i % 4 + 1]; c[4] = d[4] }
        if (d[2] == "Robert") { d[5] = "Bob"; c[5] = "Bob" }
        if (d[2] == "Samuel") { d[5] = "Sam"; c[5] = "Sam" }
        if (d[2] == "Elena")  { d[5] = "Lena"; c[5] = "Lena" }
        # date_of_birth (absent when the row is matched by e-mail)
        if (i % 12 != 10) {
            ymd(1930, (r * 9973) % 25000 + int(i / 900))
            d[6] = shown(i % 4); c[6] = iso()
        }
        # gender
        d[7] = GD[i % 8 + 1]; c[7] = GC[i % 8 + 1]
        # email
        if (i % 5 != 2 || i % 12 == 10) {
            e = FA[a + 1] "." LA[b + 1] i "@" (i % 2 ? "example.com" : "example.org")
            c[8] = e
            if (i % 3 == 0) {
                e = toupper(substr(e, 1, 1)) substr(e, 2)
                sub(/@example/, "@Example", e)
            }
            d[8] = e
        }
        # phones
        if (i % 7 != 3) { d[9] = phone(AREA[i % 10 + 1], (i * 7) % 100, i % 5); c[9] = P }
        if (i % 3 == 0) { d[10] = phone(AREA[(i + 3) % 10 + 1], (i * 13) % 100, (i + 2) % 5); c[10] = P }
        if (i % 8 == 5) { d[11] = phone(AREA[(i + 5) % 10 + 1], (i * 17) % 100, (i + 1) % 5); c[11] = P }
        # address
        d[12] = (10 + (i * 37) % 990) " " STREET[i % 10 + 1]; c[12] = d[12]
        if (i % 5 == 1) { d[13] = "Apt " (1 + i % 20) substr("ABCD", i % 4 + 1, 1); c[13] = d[13] }
        if (i % 9 == 4) { d[13] = "Suite 200"; c[13] = d[13] }
        t = (i * 3) % 10 + 1
        d[14] = CITY[t]; c[14] = d[14]
        d[15] = STATE[t]; c[15] = d[15]
        if (i % 11 == 6) d[15] = tolower(d[15])
        d[16] = ZIP[t]; c[16] = d[16]
        if (i % 4 == 0) { d[17] = "US"; c[17] = "US" }
        if (i % 4 == 2) { d[17] = "us"; c[17] = "US" }
        # status, provider
        d[18] = SD[i % 10 + 1]; c[18] = SC[i % 10 + 1]
        if (i % 3 == 1) { d[19] = "DR1"; c[19] = "DR1" }
        if (i % 3 == 2) { d[19] = "HYG2"; c[19] = "HYG2" }
        # visits; 0001-01-01 is how Open Dental writes "no date"
        if (i % 4 == 2) { ymd(2005, (i * 97) % 5000); d[20] = shown((i + 1) % 4); c[20] = iso() }
        if (i % 4 == 0) d[20] = "0001-01-01"
        if (i % 3 != 0) { ymd(2021, (i * 61) % 1300); d[21] = shown(i % 3); c[21] = iso() }
        # notes
        n = i % 30
        if (n == 5)  { d[22] = "Prefers morning appointments, calls ahead"; c[22] = d[22] }
        if (n == 13) { d[22] = "Allergic to latex.\nPremedicate before cleanings"; c[22] = d[22] }
        if (n == 20) { d[22] = "Goes by \"Doc\" at work"; c[22] = d[22] }
        if (n == 26) { d[22] = "  Needs wheelchair access "; c[22] = "Needs wheelchair access" }

        out = cell(d[1])
        canon = c[1]
        for (f = 2; f <= 22; f++) {
            out = out "," cell(d[f])
            canon = canon "|" c[f]
        }
        printf "%s\r\n", out > csvout
        # A line break inside a value is written as the two characters \n
        # (tests/e2e/expected/README); no value holds a backslash or a |.
        canon = escape_newlines(canon)
        print canon > canonout
    }
}
'

if [ -n "$expected" ]; then
    sort "$tmp/canon" > "$tmp/expected"
    mv "$tmp/expected" "$expected"
fi
if [ -n "$csv" ]; then
    mv "$tmp/out.csv" "$csv"
else
    cat "$tmp/out.csv"
fi
