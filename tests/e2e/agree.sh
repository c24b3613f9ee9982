#!/bin/bash
# agree.sh — what `dentsync preview` calls valid is what the cloud takes.
# Every sample export under samples/ that a built-in template maps goes
# through `dentsync preview --json` and then, with `dentsync import`, through
# the real cloud and PostgreSQL. Run by tests/e2e/run.sh, which starts the
# PostgreSQL cluster; run alone it starts its own.
#
#   1. the list below names every sample file (a new sample must be added);
#   2. one practice per practice-management system, a folder per import
#      type; one agent takes the patients first, then the appointments, then
#      the rest, so that ledgers and services refer to patients and
#      appointments that exist;
#   3. row by row, preview and the cloud agree: a row valid in preview is
#      never `rejected` by the cloud (the agent and the cloud apply one rule
#      book, proto/rules.c): it is created, or waits in needs_review (a
#      sample appointment of a patient the samples do not have); a row
#      preview does not call valid makes no record; every file creates
#      records;
#   4. the records are there: PostgreSQL holds one row of patients,
#      appointments, treatments or payments per created item, per practice;
#   5. name-only references (the Dentrix ledger) link to the patient of that
#      name and say so (patient_match); with name-only matching turned off
#      for the practice they wait in needs_review instead;
#   6. the calendar (ics-appointments) arrives field by field: the start in
#      UTC whatever the event's TZID, the length, the status, the patient
#      found by the attendee's e-mail or phone or the id in SUMMARY, the
#      organizer as provider, the location as operatory; a changed
#      occurrence is its own appointment, and a calendar exported again
#      with it moved updates that appointment.
#   7. columns no template lists arrive by synonym, field by field: a UK
#      patient list (Forename, D.O.B., County) and a Dentrix appointment
#      list whose status is "Appt Status" (docs/templates.md, "Synonyms");
#      the job's binding is shown by `dentsync job` and kept by the cloud;
#   9. locations: the Open Dental appointments of three clinics arrive with
#      their ClinicNum as location, field by field; their folder says
#      location = Main Street, which the rows without a clinic (ClinicNum
#      0, and every row of the raw sample) take; dentsync jobs and the
#      status page's jobs say so.
#   8. a folder with import_type = auto: a patients file and an
#      appointments file arrive as their types, a file two admin templates
#      of two types fit equally is held (AMBIGUOUS_TYPE) with both.
#
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/e2e.sh"

e2e_work agree
e2e_pg

agent=$BUILD/dentsync
cloud=$BUILD/dentsync-cloud

# practice  import type  sample file (patients first in each practice)
files="dentrix patients pms/dentrix-patients.csv
dentrix appointments pms/dentrix-appointments.csv
dentrix appointments pms/dentrix-appointments-status.csv
dentrix financial pms/dentrix-ledger.txt
eaglesoft patients pms/eaglesoft-patients.csv
eaglesoft appointments pms/eaglesoft-appointments.csv
eaglesoft treatments pms/eaglesoft-services.csv
odhuman patients pms/opendental-patients-human.csv
odhuman appointments pms/opendental-appointments-human.csv
odhuman treatments pms/opendental-procedures-human.csv
odhuman financial pms/opendental-payments-human.csv
odraw patients pms/opendental-patients-raw.csv
odraw appointments pms/opendental-appointments-raw.csv
odraw appointments pms/opendental-appointments-clinics.csv
odraw treatments pms/opendental-procedures-raw.csv
odraw financial pms/opendental-payments-raw.csv
softdent patients pms/softdent-patients.txt
softdent appointments pms/softdent-appointments.txt
softdent financial pms/softdent-transactions.txt
generic patients patients.csv
generic patients pms/multi-sheet.xlsx
generic appointments pms/generic-appointments.csv
generic appointments pms/calendar-appointments.ics
generic treatments pms/generic-treatments.csv
generic financial pms/generic-financial.csv
uk patients pms/uk-patients.csv"
practices="dentrix eaglesoft odhuman odraw softdent generic uk"

# --- 1. every sample is listed ----------------------------------------------------------
missing=
for f in "$top"/samples/patients.csv "$top"/samples/pms/*; do
    rel=${f#"$top"/samples/}
    echo "$files" | grep -q " $rel\$" || missing="$missing $rel"
done
check "every sample export is in the list${missing:+ (missing:$missing)}" test -z "$missing"

# --- 2. a practice per system, a folder per practice and type ----------------------------
e2e_practice_migrated "e2e-agree-dentrix-$$"
mv "$work/token" "$work/token.dentrix"
e2e_cloud
conf=$work/dentsync.conf
cat >"$conf" <<EOF
[agent]
state_dir = $work/state
template_dir = $work/templates
log_level = info
settle_seconds = 0.1
rescan_seconds = 0.3

[cloud]
url = $CLOUD_URL
batch_rows = 100
timeout_seconds = 5
retry_min_seconds = 0.05
retry_max_seconds = 0.3
EOF
mkdir -p "$work/state" "$work/templates" "$work/in/uk-auto"
# Two admin templates of two import types that read one shape alike.
for t in acme-visits:appointments acme-charges:financial; do
    printf '{"id": "%s", "import_type": "%s", "recognition": {"required": ["Ref", "When", "Value"]},
 "fields": {"external_id": {"columns": ["Ref"]}}}\n' "${t%%:*}" "${t#*:}" >"$work/templates/${t%%:*}.json"
done
for p in $practices; do
    if [ "$p" != dentrix ]; then
        e2e_practice "e2e-agree-$p-$$"
        mv "$work/token" "$work/token.$p"
    fi
    tz=America/Chicago
    [ "$p" = uk ] && tz=Europe/London
    printf '\n[practice %s]\ntoken_file = %s\ntimezone = %s\n' \
        "$p" "$work/token.$p" "$tz" >>"$conf"
    for t in patients appointments treatments financial; do
        mkdir -p "$work/in/$p-$t"
        printf '\n[folder %s-%s]\npath = %s\npractice = %s\nimport_type = %s\n' \
            "$p" "$t" "$work/in/$p-$t" "$p" "$t" >>"$conf"
        [ "$p-$t" = odraw-appointments ] && printf 'location = Main Street\n' >>"$conf"
    done
done
printf '\n[folder uk-auto]\npath = %s\npractice = uk\nimport_type = auto\n' "$work/in/uk-auto" >>"$conf"
check "the config with a folder per practice and type, and one of import_type auto, is accepted" \
    "$agent" check-config -c "$conf"

# --- 3. preview, import, and the verdicts row by row ------------------------------------
# practice_of NAME: the id of practice e2e-agree-NAME.
practice_of() { pq "SELECT id FROM practices WHERE name = 'e2e-agree-$1-$$'"; }

# verdicts PREVIEW_JSON TYPE: "type row verdict" per row of the preview.
verdicts() {
    jq -r --arg t "$2" 'select(.row != null) | "\(.import_type // $t) \(.row) \(.status)"' "$1"
}

echo "$files" >"$work/files"
while read -r p t rel; do
    name=$(basename "$rel")
    out=$work/preview.$p.$name.json
    "$agent" preview -c "$conf" "$top/samples/$rel" --folder "$p-$t" --json --all >"$out" 2>"$out.err"
    verdicts "$out" "$t" | awk -v p="$p" -v n="$name" '{ print p, n, $0 }' >>"$work/verdicts"
done <"$work/files"

# The agent, then the files in three waves: patients, appointments, the rest
# (ledgers, services, payments refer to the patients and appointments).
"$agent" run -c "$conf" >>"$work/agent.log" 2>&1 &
agent_pid=$!
# drop TYPES: every listed file of those import types into its folder.
drop() {
    while read -r p t rel; do
        case " $1 " in *" $t "*) ;; *) continue ;; esac
        cp "$top/samples/$rel" "$work/in/$p-$t/.$(basename "$rel").tmp"
        mv "$work/in/$p-$t/.$(basename "$rel").tmp" "$work/in/$p-$t/$(basename "$rel")"
    done <"$work/files"
}
# count TYPES: how many listed files are of those import types.
count() { awk -v types=" $1 " 'index(types, " " $2 " ") > 0' "$work/files" | wc -l; }
n_patients=$(count patients)
n_appointments=$(count "patients appointments")
n_all=$(count "patients appointments treatments financial")
drop patients
check "every patients sample is imported ($n_patients)" wait_done "$work" "$n_patients" 60
drop appointments
check "every appointments sample is imported ($n_appointments in all)" \
    wait_done "$work" "$n_appointments" 60
drop "treatments financial"
check "every treatments and financial sample is imported ($n_all in all)" \
    wait_done "$work" "$n_all" 60

# Row by row: valid in preview -> never rejected by the cloud (created,
# updated, unchanged, or waiting in needs_review); otherwise no record.
while read -r p t rel; do
    name=$(basename "$rel")
    pid=$(practice_of "$p")
    pq "SELECT j.import_type, i.row_number, i.status
          FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id AND j.practice_id = i.practice_id
         WHERE j.practice_id = '$pid' AND j.filename = '$name'" | tr '|' ' ' >"$work/cloud.$name"
    valid=$(awk -v p="$p" -v n="$name" '$1 == p && $2 == n && $5 == "valid"' "$work/verdicts" | wc -l)
    check "$rel: preview calls rows valid ($valid)" test "$valid" -gt 0
    bad=$(awk -v p="$p" -v n="$name" '$1 == p && $2 == n { print $3, $4, $5 }' "$work/verdicts" |
        awk -v cloud="$work/cloud.$name" '
        BEGIN { while ((getline l < cloud) > 0) { split(l, f, " "); st[f[1] " " f[2]] = f[3] } }
        { k = $1 " " $2; c = (k in st) ? st[k] : "none"
          if ($3 == "valid" && (c == "rejected" || c == "none")) print k ": preview valid, cloud " c
          if ($3 != "valid" && (c == "created" || c == "updated" || c == "unchanged")) print k ": preview " $3 ", cloud " c }')
    check "$rel: no row valid in preview is rejected by the cloud, no other row makes a record${bad:+ ($(echo "$bad" | head -n 3 | tr '\n' ';'))}" \
        test -z "$bad"
    check "$rel: the cloud created records from it" \
        test "$(grep -c ' created$' "$work/cloud.$name")" -gt 0
done <"$work/files"

# --- 4. the records, per practice and table ----------------------------------------------
for p in $practices; do
    pid=$(practice_of "$p")
    for t in patients appointments treatments financial; do
        table=$t
        [ "$t" = financial ] && table=payments
        want=$(pq "SELECT count(DISTINCT i.created_record_id) FROM import_job_items i
                     JOIN import_jobs j ON j.id = i.job_id AND j.practice_id = i.practice_id
                    WHERE j.practice_id = '$pid' AND j.import_type = '$t' AND i.status = 'created'")
        got=$(pq "SELECT count(*) FROM $table WHERE practice_id = '$pid' AND deleted_at IS NULL")
        check "$p: $want $t items created, $got records in PostgreSQL" test "$got" -eq "$want"
    done
    check "$p: every appointment, treatment and payment is tied to a patient of the practice" \
        test "$(pq "SELECT (SELECT count(*) FROM appointments WHERE practice_id = '$pid' AND patient_id IS NULL)
                  + (SELECT count(*) FROM treatments WHERE practice_id = '$pid' AND patient_id IS NULL)
                  + (SELECT count(*) FROM payments WHERE practice_id = '$pid' AND patient_id IS NULL)")" -eq 0
done

# --- 5. name-only references ---------------------------------------------------------------
pid=$(practice_of dentrix)
check "the Dentrix ledger's rows say their patient was matched by name only" \
    test "$(pq "SELECT count(*) FILTER (WHERE i.patient_match = 'name_only') || '/' || count(*)
              FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id AND j.practice_id = i.practice_id
             WHERE j.practice_id = '$pid' AND j.filename = 'dentrix-ledger.txt'")" = "12/12"
check "… and each is tied to the patient of that name" \
    test "$(pq "SELECT count(*) FROM payments t JOIN patients p ON p.id = t.patient_id
              WHERE t.practice_id = '$pid' AND p.last_name IN ('Okafor', 'Haddad')")" -eq 6
pid=$(practice_of eaglesoft)
check "the Eaglesoft services are tied to their appointment's patient" \
    test "$(pq "SELECT count(*) FROM treatments t JOIN appointments a ON a.practice_id = t.practice_id
                 AND a.external_id = t.appointment_external_id AND a.patient_id = t.patient_id
              WHERE t.practice_id = '$pid'")" -eq 10
"$cloud" practice set "e2e-agree-dentrix-$$" --name-only-match off --db "$DS_OWNER_DB" >/dev/null
check "practice set --name-only-match off is stored" \
    test "$(pq "SELECT name_only_match FROM practices WHERE name = 'e2e-agree-dentrix-$$'")" = f
# The ledger again, every amount another: new rows that name their patients only.
sed '2,$ s/\.00/.01/g' "$top/samples/pms/dentrix-ledger.txt" >"$work/ledger2.txt"
cp "$work/ledger2.txt" "$work/in/dentrix-financial/.ledger2.tmp"
mv "$work/in/dentrix-financial/.ledger2.tmp" "$work/in/dentrix-financial/ledger2.txt"
check "the second ledger is done" wait_done "$work" $((n_all + 1)) 60
pid=$(practice_of dentrix)
check "with name-only matching off, the ledger's rows wait in needs_review (PATIENT_NOT_FOUND)" \
    test "$(pq "SELECT string_agg(DISTINCT i.status || ':' || i.error_code, ',') || '/' || count(*)
              FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id AND j.practice_id = i.practice_id
             WHERE j.practice_id = '$pid' AND j.filename = 'ledger2.txt'")" = "needs_review:PATIENT_NOT_FOUND/12"

# --- 6. the calendar, field by field -----------------------------------------------------
pid=$(practice_of generic)
# appt EXTERNAL_ID: start (UTC), minutes, status, the patient (external id, else last
# name), provider and operatory of the appointment, "|"-separated.
appt() {
    pq "SELECT to_char(a.start_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
               a.duration_minutes, a.status, coalesce(p.external_id, p.last_name),
               coalesce(a.provider, '-'), coalesce(a.operatory, '-')
          FROM appointments a JOIN patients p ON p.id = a.patient_id
         WHERE a.practice_id = '$pid' AND a.external_id = '$1' AND a.deleted_at IS NULL"
}
check "calendar: a TZID event (Europe/London, summer) starts at 09:00 UTC, 45 min, confirmed, patient by e-mail" \
    test "$(appt ics-tz-1@clinic.example)" = "2027-06-15T09:00:00Z|45|confirmed|1001|dr.lee@clinic.example|Op 3"
check "calendar: a UTC event with a DURATION, tentative, patient by tel: attendee" \
    test "$(appt ics-utc-2@clinic.example)" = "2027-06-16T14:30:00Z|30|tentative|1002|dr.lee@clinic.example|Op 1"
check "calendar: a cancelled event (America/Chicago) is stored cancelled" \
    test "$(appt ics-cxl-3@clinic.example)" = "2027-06-17T13:00:00Z|60|cancelled|1003|dr.lee@clinic.example|Op 2"
check "calendar: the patient id written in SUMMARY links the patient" \
    test "$(appt ics-sum-4@clinic.example)" = "2027-06-18T18:30:00Z|45|confirmed|1005|dr.patel@clinic.example|Op 3"
check "calendar: the changed occurrence is its own appointment at its new time" \
    test "$(appt ics-series-5@clinic.example/20270107T220000Z)" = "2027-01-08T15:00:00Z|45|confirmed|Nakamura|hyg.kim@clinic.example|Hyg 1"
check "calendar: SUMMARY and DESCRIPTION are the notes" \
    test "$(pq "SELECT notes FROM appointments WHERE practice_id = '$pid'
                AND external_id = 'ics-tz-1@clinic.example'")" = "$(printf 'Check-up\nBring the new X-rays')"
series=$(jq -r 'select(.row != null and .status == "valid") | .key' \
    "$work/preview.generic.calendar-appointments.ics.json" | grep -c '^ext:ics-series-5@')
check "calendar: every occurrence of the series in the window is an appointment ($series)" \
    test "$(pq "SELECT count(*) FROM appointments WHERE practice_id = '$pid'
                AND external_id LIKE 'ics-series-5@clinic.example/%' AND deleted_at IS NULL")" -eq "$series"
check "calendar: none of them stands at the time the change moved away from" \
    test "$(pq "SELECT count(*) FROM appointments WHERE practice_id = '$pid'
                AND start_at = '2027-01-07T22:00:00Z'")" -eq 0
# The calendar exported again, the changed occurrence moved by an hour.
sed -e 's/20270108T090000/20270108T100000/' -e 's/20270108T094500/20270108T104500/' \
    "$top/samples/pms/calendar-appointments.ics" >"$work/in/generic-appointments/.cal2.tmp"
mv "$work/in/generic-appointments/.cal2.tmp" "$work/in/generic-appointments/calendar2.ics"
check "the calendar exported again is done" wait_done "$work" $((n_all + 2)) 60
check "calendar: exported again, the moved occurrence updates its appointment" \
    test "$(appt ics-series-5@clinic.example/20270107T220000Z)" = "2027-01-08T16:00:00Z|45|confirmed|Nakamura|hyg.kim@clinic.example|Hyg 1"
check "… and it alone is sent again, as an update (the other events are unchanged)" \
    test "$(pq "SELECT string_agg(DISTINCT i.status, ',' ORDER BY i.status)
              FROM import_job_items i JOIN import_jobs j ON j.id = i.job_id AND j.practice_id = i.practice_id
             WHERE j.practice_id = '$pid' AND j.filename = 'calendar2.ics'")" = "updated"
# --- 6. synonyms, field by field ---------------------------------------------------------
pid=$(practice_of uk)
check "uk-patients.csv: Forename, Surname, D.O.B. (DD/MM/YYYY), County, Postcode, phones, E-mail arrive" \
    test "$(pq "SELECT first_name || '|' || last_name || '|' || date_of_birth || '|' || state || '|' ||
                     postal_code || '|' || phone_mobile || '|' || phone_home || '|' || email
              FROM patients WHERE practice_id = '$pid' AND external_id = 'UK101'")" = \
    "Robert|Okafor|1955-02-14|WEST YORKSHIRE|LS1 4AP|+447700900101|+442079460101|robert.okafor@example.co.uk"
check "… every one of its 8 patients with a first name and a date of birth" \
    test "$(pq "SELECT count(*) FROM patients WHERE practice_id = '$pid' AND external_id LIKE 'UK%'
                  AND first_name IS NOT NULL AND date_of_birth IS NOT NULL")" -eq 8
pid=$(practice_of dentrix)
check "dentrix-appointments-status.csv: its Appt Status and Appointment Type arrive" \
    test "$(pq "SELECT string_agg(external_id || ':' || status || ':' || appointment_type, ',' ORDER BY external_id)
              FROM appointments WHERE practice_id = '$pid' AND external_id IN ('701', '703', '705')")" = \
    "701:scheduled:Recall,703:completed:Emergency,705:cancelled:Filling"
check "… every appointment of a known patient (8) with a status and a type" \
    test "$(pq "SELECT count(*) FROM appointments WHERE practice_id = '$pid' AND external_id LIKE '7__'
                  AND appointment_type IS NOT NULL")" -eq 8
job=$(queue_sql "$work" "SELECT id FROM jobs WHERE filename = 'uk-patients.csv'")
check "… dentsync job says which columns the synonyms bound" \
    test "$("$agent" job -c "$conf" --json "$job" |
        jq -r '[.binding.fields[] | select(.by == "synonym") | .column + ">" + .field] | join(",")')" = \
    "Forename>first_name,D.O.B.>date_of_birth,County>state"
"$agent" job -c "$conf" "$job" >"$work/job.out" 2>&1
check "… in words too" grep -q 'Forename -> first_name (synonym)' "$work/job.out"
check "… and the cloud keeps it with the import job" \
    test "$(pq "SELECT string_agg(f->>'column' || '>' || (f->>'field'), ',')
              FROM import_jobs j, jsonb_array_elements(j.binding->'fields') f
             WHERE j.filename = 'uk-patients.csv' AND f->>'by' = 'synonym'")" = \
    "Forename>first_name,D.O.B.>date_of_birth,County>state"

# --- 9. locations ---------------------------------------------------------------------------
pid=$(practice_of odraw)
# od_appt EXTERNAL_ID: start (UTC), minutes, status, patient, provider, operatory, location.
od_appt() {
    pq "SELECT to_char(a.start_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
               a.duration_minutes, a.status, p.external_id, a.provider, a.operatory,
               coalesce(a.location, '-')
          FROM appointments a JOIN patients p ON p.id = a.patient_id
         WHERE a.practice_id = '$pid' AND a.external_id = '$1' AND a.deleted_at IS NULL"
}
check "locations: an appointment of clinic 1 arrives field by field with its location" \
    test "$(od_appt 5101)" = "2024-04-02T14:15:00Z|30|scheduled|1001|2|2|1"
check "locations: … one of clinic 3" \
    test "$(od_appt 5103)" = "2024-04-04T16:45:00Z|30|no_show|1003|2|1|3"
check "locations: a row of no clinic (ClinicNum 0) takes the folder's location" \
    test "$(od_appt 5104)" = "2024-04-05T17:00:00Z|30|scheduled|1004|1|2|Main Street"
check "locations: the clinics file's appointments by location" \
    test "$(pq "SELECT string_agg(l || ':' || n, ',' ORDER BY l) FROM
                  (SELECT location AS l, count(*) AS n FROM appointments
                    WHERE practice_id = '$pid' AND external_id LIKE '51__' GROUP BY 1) x")" = \
    "1:3,2:3,3:3,Main Street:3"
check "locations: every appointment of the raw sample (no clinic) has the folder's location" \
    test "$(pq "SELECT string_agg(DISTINCT coalesce(location, '-'), ',') || '/' || count(*)
              FROM appointments WHERE practice_id = '$pid' AND external_id LIKE '50__'")" = \
    "Main Street/$(pq "SELECT count(*) FROM appointments WHERE practice_id = '$pid' AND external_id LIKE '50__'")"
check "locations: other folders' records have none" \
    test "$(pq "SELECT count(*) FROM payments WHERE location IS NOT NULL")" -eq 0
"$agent" jobs -c "$conf" --json --limit 100 >"$work/jobs.json"
check "locations: dentsync jobs says the clinics file's location is ClinicNum, else Main Street" \
    test "$(jq -r 'select(.filename == "opendental-appointments-clinics.csv") | .location.text' "$work/jobs.json")" = \
    "from column ClinicNum, else Main Street"
check "locations: … and the patients of that practice take it from ClinicNum" \
    test "$(jq -r 'select(.filename == "opendental-patients-raw.csv") | .location.column + "/" + (.location.fixed // "-")' "$work/jobs.json")" = \
    "ClinicNum/-"
"$agent" jobs -c "$conf" >"$work/jobs.out"
check "locations: … in the table too" \
    grep -q 'opendental-appointme.*from column ClinicNum, else Main Street' "$work/jobs.out"

# --- 7. import_type = auto ------------------------------------------------------------------
sed 's/UK1/AU1/; s/example\.co\.uk/example.com.au/' "$top/samples/pms/uk-patients.csv" >"$work/au-patients.csv"
printf '%s\r\n' 'Appt ID,Patient No,Appt Date,Appt Time,Mins,Appt Status,Surgery,Clinician' \
    'V1,AU101,25/03/2024,09:30,30,Completed,Surgery 1,Dr Shah' \
    'V2,AU102,26/03/2024,14:00,45,Cancelled,Surgery 2,Dr Shah' >"$work/au-appointments.csv"
printf 'Ref,When,Value\nR1,2024-03-01,5\n' >"$work/acme.csv"
cp "$work/au-patients.csv" "$work/in/uk-auto/.p.tmp" && mv "$work/in/uk-auto/.p.tmp" "$work/in/uk-auto/au-patients.csv"
check "import_type auto: the patients file arrives as patients" \
    wait_for 60 "SELECT import_type FROM import_jobs WHERE filename = 'au-patients.csv' AND status = 'completed'" patients
cp "$work/au-appointments.csv" "$work/in/uk-auto/.a.tmp" && mv "$work/in/uk-auto/.a.tmp" "$work/in/uk-auto/au-appointments.csv"
check "… the appointments file as appointments" \
    wait_for 60 "SELECT import_type FROM import_jobs WHERE filename = 'au-appointments.csv' AND status = 'completed'" appointments
pid=$(practice_of uk)
check "… its records field by field, tied to their patients" \
    test "$(pq "SELECT string_agg(a.external_id || ':' || a.status || ':' || a.operatory || ':' || a.provider || ':' ||
                                  (a.start_at AT TIME ZONE 'UTC') || ':' || p.first_name, ',' ORDER BY a.external_id)
              FROM appointments a JOIN patients p ON p.id = a.patient_id WHERE a.practice_id = '$pid'")" = \
    "V1:completed:Surgery 1:Dr Shah:2024-03-25 09:30:00:Robert,V2:cancelled:Surgery 2:Dr Shah:2024-03-26 14:00:00:Maria"
cp "$work/acme.csv" "$work/in/uk-auto/.c.tmp" && mv "$work/in/uk-auto/.c.tmp" "$work/in/uk-auto/acme.csv"
check "… a file two types fit equally is held (AMBIGUOUS_TYPE)" \
    wait_queue "$work" 30 "SELECT state || ',' || reason_code FROM files WHERE path LIKE '%/acme.csv'" "held,AMBIGUOUS_TYPE"
check "… naming the candidates with their types and scores" \
    test -n "$(queue_sql "$work" "SELECT reason FROM files WHERE path LIKE '%/acme.csv'" |
        grep 'acme-charges (financial, score 100)' | grep 'acme-visits (appointments, score 100)')"
check "… in the log too" grep -q 'TYPE_AMBIGUOUS.*acme.csv.*acme-charges (financial, score 100)' "$work/agent.log"
"$agent" status -c "$conf" >"$work/status.out" 2>&1
check "… and in dentsync status" grep -q 'AMBIGUOUS_TYPE.*acme-visits (appointments, score 100)' "$work/status.out"

kill -TERM "$agent_pid" 2>/dev/null
wait "$agent_pid"
check "the agent stops cleanly (exit 0)" test $? -eq 0
agent_pid=
check "no log carries a patient's name" test -z "$(grep -lE 'Okafor|Haddad' "$work"/*.log)"

e2e_summary
