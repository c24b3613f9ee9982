#!/bin/sh
# generate-pms.sh — synthetic exports in the shapes of the practice software
# listed in ../shared/pms-exports.md, one per built-in template:
#
#   sh samples/generate-pms.sh [DIR]        (default: samples/pms)
#
# Everything is made up (names from a fixed list, 555-01xx phone numbers,
# example.com addresses); no randomness, so the same bytes every time.
# tests/unit/test_map_types.c maps each file with its template and expects
# zero errors, and checks that every status code of the shape appears.
set -eu
dir=${1:-$(dirname "$0")/pms}
mkdir -p "$dir"
LC_ALL=C
export LC_ALL

# Open Dental appointment query, raw mode: AptStatus 0-8 all appear.
awk 'BEGIN {
    OFS = ","
    print "AptNum,PatNum,AptStatus,Pattern,Confirmed,Op,Note,ProvNum,ProvHyg,AptDateTime,NextAptNum,UnschedStatus,IsNewPatient,ProcDescript,Assistant,ClinicNum,IsHygiene,DateTStamp,DateTimeArrived,DateTimeSeated,DateTimeDismissed,AppointmentTypeNum,SecDateTEntry,Priority"
    for (i = 1; i <= 18; i++) {
        st = (i - 1) % 9
        pat = substr("XX//XXXX//XX////XX", 1, 2 + (i % 8) * 2)
        d = sprintf("2024-03-%02d %02d:%02d:00", 1 + i, 8 + i % 9, (i % 4) * 15)
        print 5000 + i, 1000 + i, st, pat, 0, 1 + i % 3, "\"note " i "\"", 1 + i % 2, 0, d, 0, 0, i % 2, "Ex;Pro", 0, 0, 0, "2024-02-01 09:00:00", "0001-01-01 00:00:00", "0001-01-01 00:00:00", "0001-01-01 00:00:00", 0, "2024-02-01 09:00:00", 0
    }
}' > "$dir/opendental-appointments-raw.csv"

# The same in human-readable mode: status names, US short dates.
awk 'BEGIN {
    OFS = ","
    split("None,Scheduled,Complete,UnschedList,ASAP,Broken,Planned,PtNote,PtNoteCompleted", names, ",")
    print "AptNum,PatNum,AptStatus,Pattern,Confirmed,Op,Note,ProvNum,ProvHyg,AptDateTime,NextAptNum,UnschedStatus,IsNewPatient,ProcDescript,Assistant,ClinicNum,IsHygiene,DateTStamp,DateTimeArrived,DateTimeSeated,DateTimeDismissed,AppointmentTypeNum,SecDateTEntry,Priority"
    for (i = 1; i <= 18; i++) {
        st = names[(i - 1) % 9 + 1]
        h = 8 + i % 9
        ap = h >= 12 ? "PM" : "AM"
        h12 = h > 12 ? h - 12 : h
        d = sprintf("3/%d/2024 %d:%02d:00 %s", 1 + i, h12, (i % 4) * 15, ap)
        print 5000 + i, 1000 + i, st, "XX//XX", 0, 1 + i % 3, "", 1 + i % 2, 0, d, 0, 0, i % 2, "", 0, 0, 0, "", "", "", "", 0, "", 0
    }
}' > "$dir/opendental-appointments-human.csv"

# Open Dental procedurelog joined with ProcCode: ProcStatus 1-8 all appear.
awk 'BEGIN {
    OFS = ","
    split("D0120,D1110,D2392,D2740,D0274,D3330,D7140,D2950", codes, ",")
    split("MOD,O,B,,DL,,,MO", surf, ",")
    print "ProcNum,PatNum,AptNum,ProcDate,ProcFee,Surf,ToothNum,ToothRange,ProcStatus,ProvNum,Dx,PlannedAptNum,ClinicNum,CodeNum,ProcCode,UnitQty,DateTP,DateEntryC,DateTStamp,Discount"
    for (i = 1; i <= 16; i++) {
        st = (i - 1) % 8 + 1
        tooth = (i % 3 == 0) ? "" : (i % 32) + 1
        print 7000 + i, 1000 + i, (i % 2 ? 5000 + i : 0), sprintf("2024-03-%02d", i), sprintf("%d.%02d", 50 + i * 7, i), surf[(i - 1) % 8 + 1], tooth, "", st, 1, 0, 0, 0, 100 + i, codes[(i - 1) % 8 + 1], 1, "0001-01-01", "2024-03-01", "2024-03-01 10:00:00", "0"
    }
}' > "$dir/opendental-procedures-raw.csv"

# Open Dental payment query.
awk 'BEGIN {
    OFS = ","
    print "PayNum,PayType,PayDate,PayAmt,CheckNum,BankBranch,PayNote,PatNum,ClinicNum,DateEntry,DepositNum,IsRecurringCC,PaymentSource"
    for (i = 1; i <= 10; i++)
        print 9000 + i, 69 + i % 3, sprintf("2024-03-%02d", i), sprintf("%d.%02d", 20 * i, i * 3), (i % 2 ? 3000 + i : ""), "", "", 1000 + i, 0, sprintf("2024-03-%02d", i), 0, 0, 0
}' > "$dir/opendental-payments.csv"

# Open Dental patient query, raw mode: PatStatus 0-6 and Gender 0-3 appear.
awk 'BEGIN {
    OFS = ","
    split("Okafor,Haddad,Schmidt,Nakamura,OBrien,McDonald,Novak", last, ",")
    split("Robert,Maria,Zoe,Kenji,Aoife,Ewan,Lena", first, ",")
    print "PatNum,LName,FName,MiddleI,Preferred,PatStatus,Gender,Position,Birthdate,SSN,Address,Address2,City,State,Zip,HmPhone,WkPhone,WirelessPhone,Guarantor,Email,EstBalance,PriProv,SecProv,BillingType,ChartNumber,BalTotal,DateFirstVisit,ClinicNum,PreferContactMethod,TxtMsgOk,Language,DateTStamp,SecDateEntry"
    for (i = 1; i <= 14; i++) {
        k = (i - 1) % 7 + 1
        print 1000 + i, toupper(last[k]), first[k], "", "", (i - 1) % 7, (i - 1) % 4, 0, sprintf("19%02d-%02d-%02d", 50 + i, 1 + i % 12, 1 + i), "", i " Oak Ave", "", "Austin", "tx", "78701", sprintf("(512) 555-01%02d", i), "", sprintf("512-555-01%02d", 50 + i), 1000 + i, tolower(first[k]) i "@example.com", "0", 1, 0, 0, "", "0", (i % 2 ? "2020-01-15" : "0001-01-01"), 0, 0, 0, "", "2024-01-01 10:00:00", "2020-01-01 10:00:00"
    }
}' > "$dir/opendental-patients-raw.csv"

# Dentrix v_appointment: date + start_hour + start_minute, "Last, First".
awk 'BEGIN {
    OFS = ","
    split("Okafor,Haddad,Schmidt,Nakamura", last, ",")
    split("Robert,Maria,Zoe,Kenji", first, ",")
    split("Scheduled,Confirmed,Complete,Broken,Cancelled", st, ",")
    print "appointment_id,patient_id,patient_name,appointment_date,start_hour,start_minute,length,provider_id,operatory_id,status_id,note"
    for (i = 1; i <= 10; i++) {
        k = (i - 1) % 4 + 1
        print 600 + i, 1000 + i, "\"" last[k] ", " first[k] "\"", sprintf("03/%02d/2024", i), 8 + i % 8, (i % 4) * 15, 30 + (i % 3) * 15, "DDS1", "OP" (i % 3 + 1), st[(i - 1) % 5 + 1], ""
    }
}' > "$dir/dentrix-appointments.csv"

# Dentrix ledger, tab-delimited as copied out of Dentrix Enterprise:
# procedures (CDT codes) and Pay / Ins / Adj rows in one list.
awk 'BEGIN {
    OFS = "\t"
    split("D0120,Pay,D1110,Ins,D2392,Adj", code, ",")
    split("Periodic eval,Payment - check,Prophylaxis,Insurance payment,Resin composite,Courtesy adjustment", desc, ",")
    print "Date", "Entry Date", "Name", "Tooth", "Surface", "Check #", "Code", "Description", "Amount", "Prov", "Balance"
    for (i = 1; i <= 12; i++) {
        k = (i - 1) % 6 + 1
        proc = substr(code[k], 1, 1) == "D"
        amt = proc ? sprintf("%d.00", 60 + i * 5) : sprintf("(%d.00)", 20 + i)
        print sprintf("03/%02d/2024", i), sprintf("03/%02d/2024", i + 1), (i % 2 ? "Okafor, Robert" : "Haddad, Maria"), (code[k] == "D2392" ? "14" : ""), (code[k] == "D2392" ? "MO" : ""), (code[k] == "Pay" ? 4000 + i : ""), code[k], desc[k], amt, "DDS1", sprintf("%d.00", 100 - i)
    }
}' > "$dir/dentrix-ledger.txt"

# Generic shapes of the other import types.
awk 'BEGIN {
    OFS = ","
    split("scheduled,confirmed,completed,cancelled,no show,unscheduled,planned,tentative", st, ",")
    print "appointment_id,patient_id,start,duration,status,provider,operatory,type,notes"
    for (i = 1; i <= 16; i++)
        print "A" i, 1000 + i, sprintf("2024-04-%02d %02d:30", i, 8 + i % 9), 30 + (i % 3) * 15, st[(i - 1) % 8 + 1], "DR1", "Chair " (i % 3 + 1), "Recall", ""
}' > "$dir/generic-appointments.csv"

awk 'BEGIN {
    OFS = ","
    split("planned,completed,existing,referred,declined,cancelled", st, ",")
    print "procedure_id,patient_id,code,description,tooth,surface,status,fee,service_date,provider"
    for (i = 1; i <= 12; i++)
        print "T" i, 1000 + i, "D2392", "Resin composite", i + 2, "MO", st[(i - 1) % 6 + 1], sprintf("$%d.50", 100 + i), sprintf("04/%02d/2024", i), "DR1"
}' > "$dir/generic-treatments.csv"

awk 'BEGIN {
    OFS = ","
    split("payment,refund,adjustment,charge", kind, ",")
    split("cash,check,card,insurance,other", method, ",")
    print "payment_id,patient_id,date,amount,kind,method,reference,description"
    for (i = 1; i <= 10; i++)
        print "P" i, 1000 + i, sprintf("2024-04-%02d", i), (i % 4 == 2 ? "(" : "") sprintf("%d.25", 10 * i) (i % 4 == 2 ? ")" : ""), kind[(i - 1) % 4 + 1], method[(i - 1) % 5 + 1], "R" i, ""
}' > "$dir/generic-financial.csv"
