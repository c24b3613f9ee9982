#!/bin/sh
# generate-bench.sh — large synthetic exports for `make bench`: appointments
# in the generic shape (template generic-appointments) and the patients they
# refer to (template generic-patients).
#
#   sh samples/generate-bench.sh -t appointments|patients [-n ROWS]
#       [-s FIRST] [-m PATIENTS] [-c PERCENT] [-o CSV]
#
#   -t TYPE      appointments or patients (default appointments)
#   -n ROWS      data rows (default 1000000)
#   -s FIRST     number the rows from FIRST (default 1): rows FIRST .. FIRST +
#                ROWS - 1 of the same endless sequence, for a file of new
#                rows that follows an earlier one
#   -m PATIENTS  appointments: how many patients they refer to, ids 1001 ..
#                1000 + PATIENTS (default ROWS / 4, at least 1); generate
#                the patients file with -t patients -n PATIENTS
#   -c PERCENT   change this share of the rows (0-100, default 0): the same
#                keys with another note and status, for the delta figure
#   -o CSV       where the export goes (default: standard output)
#
# Everything is made up: first and last names from two fixed lists of 30
# (accents: José, Zoë, Müller, García; apostrophes: O'Brien, D'Angelo),
# phone numbers in the fictional 555-0100..555-0199 range under 60 area
# codes (6,000 numbers, so a number is shared by a few patients, as in a
# family) written in five styles, e-mail domains example.com and example.org. No randomness and no
# input: the same options give the same bytes, with any POSIX sh and awk
# (mawk writes about 1 GB in under a minute).
#
# The CSV is written the way Excel's "CSV UTF-8" writes it: a UTF-8 byte
# order mark, CRLF between rows, a bare LF inside a quoted cell, quotes only
# where needed. Notes hold commas, quotes and line breaks.
#
# Patients: every row has a Patient ID (1000 + i) and (first name, last
# name, date of birth) never repeats below 22 million rows, so matching in
# the cloud finds exactly one record per row.
#
# Appointments: every row has an Appointment ID (A<i>) and the Patient ID of
# one of the PATIENTS patients, with that patient's name and a phone of the
# patient in another style. Provider and operatory go together (40 pairs)
# and each pair has its own sequence of hour-long slots, 9 a day from 8:00
# (start at most 10 minutes past the hour, at most 45 minutes long), so no two live appointments overlap: the cloud reports no scheduling
# conflict and stores every row.
set -eu

type=appointments
rows=1000000
first=1
patients=
change=0
csv=
while getopts t:n:s:m:c:o: opt; do
    case $opt in
    t) type=$OPTARG ;;
    n) rows=$OPTARG ;;
    s) first=$OPTARG ;;
    m) patients=$OPTARG ;;
    c) change=$OPTARG ;;
    o) csv=$OPTARG ;;
    *)
        echo "usage: generate-bench.sh -t appointments|patients [-n ROWS] [-s FIRST] [-m PATIENTS] [-c PERCENT] [-o CSV]" >&2
        exit 2
        ;;
    esac
done
case $type in
appointments | patients) ;;
*)
    echo "generate-bench.sh: -t wants appointments or patients" >&2
    exit 2
    ;;
esac
for v in "$rows" "$first" "$change" ${patients:+"$patients"}; do
    case $v in
    '' | *[!0-9]*)
        echo "generate-bench.sh: -n, -s, -m and -c want a number" >&2
        exit 2
        ;;
    esac
done
if [ "$change" -gt 100 ]; then
    echo "generate-bench.sh: -c wants a percentage (0-100)" >&2
    exit 2
fi
if [ -z "$patients" ]; then
    patients=$((rows / 4))
fi
[ "$patients" -ge 1 ] || patients=1

LC_ALL=C
export LC_ALL
umask 077
if [ -n "$csv" ]; then
    out=$csv.tmp
    exec 3>"$out"
else
    out=
    exec 3>&1
fi

awk -v type="$type" -v first="$first" -v rows="$rows" -v npat="$patients" -v change="$change" '
# Quotes a CSV cell when it holds a delimiter, a quote, a line break or
# white space at either end.
function cell(v) {
    if (v ~ /[",\r\n]/ || v ~ /^ / || v ~ / $/) {
        gsub(/"/, "\"\"", v)
        return "\"" v "\""
    }
    return v
}
# A date from a day counter c: 28-day months so every counter is a real date.
function shown(base, c, style,    Y, M, D) {
    Y = base + int(c / 336)
    M = 1 + int(c / 28) % 12
    D = 1 + c % 28
    if (style == 0) return sprintf("%04d-%02d-%02d", Y, M, D)
    if (style == 1) return sprintf("%02d/%02d/%04d", M, D, Y)
    if (style == 2) return sprintf("%d/%d/%04d", M, D, Y)
    return sprintf("%04d/%02d/%02d", Y, M, D)
}
# A phone in the fictional range: area code, 555, 01xx, in one of five styles.
function phone(area, xx, style,    line) {
    line = "01" sprintf("%02d", xx)
    if (style == 0) return "(" area ") 555-" line
    if (style == 1) return area ".555." line
    if (style == 2) return area "555" line
    if (style == 3) return area "-555-" line
    return "+1 " area " 555 " line
}
# Patient i: the fields both files agree on.
function patient(i) {
    pa = i % nf
    pb = int(i / nf) % nl
    pdob = int(i / (nf * nl))
    parea = AREA[int(i / 7) % narea + 1]
    pxx = (i * 7) % 100
}
# Whether row i is one of the changed ones (about change percent of them,
# spread over the file).
function changed(i) {
    return change > 0 && (i * 37) % 100 < change
}
BEGIN {
    nf = split("Ann,Robert,José,Zoë,Maria,David,Renée,Liam,Aisha,Chen,Olivia,Noah,Fatima,Ethan,Sofia,Lucas,Amara,Mateo,Hannah,Omar,Grace,Kenji,Elena,Samuel,Priya,Jonah,Chloé,Andrés,Ingrid,Tomás", F, ",")
    split("ann,robert,jose,zoe,maria,david,renee,liam,aisha,chen,olivia,noah,fatima,ethan,sofia,lucas,amara,mateo,hannah,omar,grace,kenji,elena,samuel,priya,jonah,chloe,andres,ingrid,tomas", FA, ",")
    nl = split("Lee,O'"'"'Brien,García,Nguyen,Smith,Kowalski,Müller,Okafor,Dubois,Patel,Johnson,D'"'"'Angelo,Rossi,Kim,Haddad,Novak,Larsen,Silva,Cohen,Murphy,Tanaka,Schmidt,Brown,Costa,Ivanova,Moreau,Walker,Singh,Nakamura,Fernández", L, ",")
    split("lee,obrien,garcia,nguyen,smith,kowalski,muller,okafor,dubois,patel,johnson,dangelo,rossi,kim,haddad,novak,larsen,silva,cohen,murphy,tanaka,schmidt,brown,costa,ivanova,moreau,walker,singh,nakamura,fernandez", LA, ",")
    narea = split("312,617,415,206,303,512,718,404,612,702,201,202,205,210,213,214,215,216,217,219,224,225,228,229,231,234,239,240,248,251,252,253,254,256,260,262,267,269,270,276,281,301,302,304,305,307,308,309,310,313,314,315,316,317,318,319,320,321,323,325", AREA, ",")
    split("Maple St,Oak Ave,Cedar Ln,Elm St,Pine Rd,Birch Way,Lake Dr,Hill St,Park Ave,River Rd", STREET, ",")
    split("Springfield,Boston,Portland,Austin,Madison,Denver,Seattle,Burlington,Chicago,Santa Fe", CITY, ",")
    split("IL,MA,OR,TX,WI,CO,WA,VT,IL,NM", STATE, ",")
    split("62701,02139,97205,78701,53703,80202,98101,05401,60614-1234,87501", ZIP, ",")
    split("M,F,Male,Female,F,M,O,", GD, ",")
    split("Active,Patient,active,Inactive,Active,NonPatient,Archived,Active,Prospective,", SD, ",")
    split("Scheduled,Confirmed,Complete,Kept,confirmed,Booked,No Show,Broken,Cancelled,scheduled", AS, ",")
    split("Recall,New Patient Exam,Crown Prep,Filling,Hygiene,Emergency,Extraction,Consult", AT, ",")
    split("Prefers morning appointments, calls ahead|Allergic to latex.\nPremedicate before cleanings|Goes by \"Doc\" at work|  Needs wheelchair access |Crown seat; bring temp, check bite|Parent: María-José Núñez (guardian)|Anxious — nitrous, headphones|Ask about the insurance card, it changed in March", NOTE, "|")
    n_notes = 8

    printf "\357\273\277"
    if (type == "patients")
        printf "Patient ID,First Name,Last Name,Middle Name,Preferred Name,Date of Birth,Gender,Email,Mobile Phone,Home Phone,Work Phone,Address,Address 2,City,State,Zip,Country,Status,Provider ID,First Visit,Last Visit,Notes\r\n"
    else
        printf "Appointment ID,Patient ID,Last Name,First Name,Phone,Start,Duration,Status,Provider,Operatory,Type,Notes\r\n"

    for (i = first; i < first + rows; i++) {
        ch = changed(i)
        if (type == "patients") {
            patient(i)
            t = (i * 3) % 10 + 1
            note = ""
            if (i % 5 == 0) note = NOTE[i % n_notes + 1]
            if (ch) note = "Updated " i ", see chart"
            out = (1000 + i) "," cell(F[pa + 1]) "," cell(L[pb + 1]) "," \
                (i % 4 == 1 ? substr("ABCDEFGHJKLMNPRSTW", i % 18 + 1, 1) : "") ",," \
                shown(1930, pdob * 97 % 25000 + (pa * 31 + pb) % 97, i % 4) "," GD[i % 8 + 1] "," \
                (i % 5 != 2 ? (i % 3 == 0 ? toupper(substr(FA[pa + 1], 1, 1)) substr(FA[pa + 1], 2) : FA[pa + 1]) "." LA[pb + 1] i "@" (i % 2 ? "example.com" : "example.org") : "") "," \
                cell(phone(parea, pxx, i % 5)) "," \
                (i % 3 == 0 ? cell(phone(AREA[(i + 3) % 10 + 1], (i * 13) % 100, (i + 2) % 5)) : "") ",," \
                cell((10 + (i * 37) % 990) " " STREET[i % 10 + 1]) "," \
                (i % 5 == 1 ? "Apt " (1 + i % 20) : "") "," cell(CITY[t]) "," STATE[t] "," ZIP[t] "," \
                (i % 4 == 0 ? "US" : "") "," SD[i % 10 + 1] "," (i % 3 == 1 ? "DR1" : "HYG2") "," \
                (i % 4 == 2 ? shown(2005, (i * 97) % 5000, (i + 1) % 4) : "") "," \
                (i % 3 != 0 ? shown(2021, (i * 61) % 1300, i % 3) : "") "," cell(note)
        }
        else {
            p = (i * 7919) % npat + 1
            patient(p)
            pair = i % 40
            slot = int(i / 40)
            day = int(slot / 9)
            hour = 8 + slot % 9
            minute = int(i / 3) % 3 * 5
            st = AS[i % 10 + 1]
            note = ""
            if (i % 3 == 0) note = NOTE[i % n_notes + 1]
            if (ch) {
                note = "Rescheduled by phone, row " i
                st = (st ~ /^[Cc]ancel/) ? "Scheduled" : "Cancelled"
            }
            start = shown(2020, day, i % 3 == 0 ? 1 : 0)
            out = "A" i "," (1000 + p) "," cell(L[pb + 1]) "," cell(F[pa + 1]) "," \
                cell(phone(parea, pxx, (i + 1) % 5)) "," \
                start (i % 3 == 0 ? sprintf(" %d:%02d %s", hour > 12 ? hour - 12 : hour, minute, hour >= 12 ? "PM" : "AM") : sprintf(" %02d:%02d", hour, minute)) "," \
                (15 + (i % 3) * 15) "," st "," "DR" (pair % 20 + 1) (pair < 20 ? "" : "B") "," \
                cell("Chair " (pair + 1)) "," cell(AT[i % 8 + 1]) "," cell(note)
        }
        printf "%s\r\n", out
    }
}
' >&3
exec 3>&-
if [ -n "$out" ]; then
    mv "$out" "$csv"
fi
