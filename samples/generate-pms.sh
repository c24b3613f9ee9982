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

# Open Dental appointments of a practice with three clinics (ClinicNum 1-3;
# 0 is "no clinic": the folder's location, if any, stands in).
awk 'BEGIN {
    OFS = ","
    split("1,2,5,1", st, ",")
    print "AptNum,PatNum,AptStatus,Pattern,Confirmed,Op,Note,ProvNum,ProvHyg,AptDateTime,NextAptNum,UnschedStatus,IsNewPatient,ProcDescript,Assistant,ClinicNum,IsHygiene,DateTStamp,DateTimeArrived,DateTimeSeated,DateTimeDismissed,AppointmentTypeNum,SecDateTEntry,Priority"
    for (i = 1; i <= 12; i++) {
        d = sprintf("2024-04-%02d %02d:%02d:00", 1 + i, 8 + i % 9, (i % 4) * 15)
        print 5100 + i, 1000 + (i - 1) % 14 + 1, st[(i - 1) % 4 + 1], "XXXX//", 0, 1 + i % 3, "", 1 + i % 2, 0, d, 0, 0, 0, "Ex", 0, i % 4, 0, "2024-03-01 09:00:00", "0001-01-01 00:00:00", "0001-01-01 00:00:00", "0001-01-01 00:00:00", 0, "2024-03-01 09:00:00", 0
    }
}' > "$dir/opendental-appointments-clinics.csv"

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
}' > "$dir/opendental-payments-raw.csv"

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

# Open Dental patients, human-readable mode: PatStatus and Gender names,
# dates in the Windows short date format (MM/dd/yyyy), no date left empty.
awk 'BEGIN {
    OFS = ","
    split("Okafor,Haddad,Schmidt,Nakamura,OBrien,McDonald,Novak", last, ",")
    split("Robert,Maria,Zoe,Kenji,Aoife,Ewan,Lena", first, ",")
    split("Patient,NonPatient,Inactive,Archived,Deleted,Deceased,Prospective", st, ",")
    split("Male,Female,Unknown,Other", gender, ",")
    print "PatNum,LName,FName,MiddleI,Preferred,PatStatus,Gender,Position,Birthdate,SSN,Address,Address2,City,State,Zip,HmPhone,WkPhone,WirelessPhone,Guarantor,Email,EstBalance,PriProv,SecProv,BillingType,ChartNumber,BalTotal,DateFirstVisit,ClinicNum,PreferContactMethod,TxtMsgOk,Language,DateTStamp,SecDateEntry"
    for (i = 1; i <= 14; i++) {
        k = (i - 1) % 7 + 1
        print 1000 + i, last[k], first[k], "", "", st[k], gender[(i - 1) % 4 + 1], "Single", sprintf("%d/%d/19%02d", 1 + i % 12, 1 + i, 50 + i), "", i " Oak Ave", "", "Austin", "TX", "78701", sprintf("(512) 555-01%02d", i), "", sprintf("512-555-01%02d", 50 + i), 1000 + i, tolower(first[k]) i "@example.com", "0.00", "DOC1", "", "Standard", "", "0.00", (i % 2 ? "1/15/2020" : ""), "", "None", "Unknown", "", "1/1/2024 10:00:00 AM", "1/1/2020 10:00:00 AM"
    }
}' > "$dir/opendental-patients-human.csv"

# Open Dental procedurelog + ProcCode, human-readable: ProcStatus
# abbreviations TP, C, EC, EO, R, D, Cn, TPi all appear.
awk 'BEGIN {
    OFS = ","
    split("D0120,D1110,D2392,D2740,D0274,D3330,D7140,D2950", codes, ",")
    split("MOD,O,B,,DL,,,MO", surf, ",")
    split("TP,C,EC,EO,R,D,Cn,TPi", st, ",")
    print "ProcNum,PatNum,AptNum,ProcDate,ProcFee,Surf,ToothNum,ToothRange,ProcStatus,ProvNum,Dx,PlannedAptNum,ClinicNum,CodeNum,ProcCode,UnitQty,DateTP,DateEntryC,DateTStamp,Discount"
    for (i = 1; i <= 16; i++) {
        tooth = (i % 3 == 0) ? "" : (i % 32) + 1
        print 7000 + i, 1000 + i, (i % 2 ? 5000 + i : 0), sprintf("3/%d/2024", i), sprintf("%d.%02d", 50 + i * 7, i), surf[(i - 1) % 8 + 1], tooth, "", st[(i - 1) % 8 + 1], "DOC1", "", 0, "", 100 + i, codes[(i - 1) % 8 + 1], 1, "", "3/1/2024", "3/1/2024 10:00:00 AM", "0.00"
    }
}' > "$dir/opendental-procedures-human.csv"

# Open Dental payments, human-readable: PayType is the definition's name.
awk 'BEGIN {
    OFS = ","
    split("Check,Cash,Credit Card", type, ",")
    print "PayNum,PayType,PayDate,PayAmt,CheckNum,BankBranch,PayNote,PatNum,ClinicNum,DateEntry,DepositNum,IsRecurringCC,PaymentSource"
    for (i = 1; i <= 10; i++)
        print 9000 + i, type[i % 3 + 1], sprintf("3/%d/2024", i), sprintf("%d.%02d", 20 * i, i * 3), (i % 2 ? 3000 + i : ""), "", "", 1000 + i, "", sprintf("3/%d/2024", i), 0, "false", "None"
}' > "$dir/opendental-payments-human.csv"

# Dentrix v_patient. Every name differs: the ledger names its patients
# by "Last, First" only, and a name two patients share matches neither.
awk 'BEGIN {
    OFS = ","
    split("Okafor,Haddad,Schmidt,Nakamura,OBrien,McDonald,Novak,Garcia", last, ",")
    split("Robert,Maria,Zoe,Kenji,Liam,Ana,Ivan,Sofia", first, ",")
    print "patient_id,first_name,last_name,birth_date,address_line1,address_line2,city,state,zipcode,home_phone,mobile_phone,email"
    for (i = 1; i <= 8; i++) {
        k = i
        print 1000 + i, first[k], last[k], sprintf("%02d/%02d/19%02d", 1 + i % 12, 1 + i, 60 + i), i " Elm St", (i % 3 ? "" : "Apt " i), "Burlington", "VT", "05401", sprintf("802-555-01%02d", i), (i % 2 ? sprintf("802-555-01%02d", 40 + i) : ""), tolower(first[k]) "." tolower(last[k]) i "@example.com"
    }
}' > "$dir/dentrix-patients.csv"

# Eaglesoft patient, appointment and appointment services tables, as read
# over ODBC (SQL Anywhere timestamps).
awk 'BEGIN {
    OFS = ","
    split("Nguyen,Lee,Garcia,Kowalski,Okafor", last, ",")
    split("Chen,Ann,Luis,Ewa,Robert", first, ",")
    split("Active,Inactive,Archived,Deceased,Prospect", st, ",")
    print "patient_id,first_name,last_name,middle_initial,preferred_name,address_1,address_2,city,state,zipcode,home_phone,work_phone,cell_phone,email_address,sex,birth_date,status,patient_status,responsible_party,preferred_dentist,preferred_hygienist,first_visit_date,last_date_seen,chart_id,date_entered"
    for (i = 1; i <= 10; i++) {
        k = (i - 1) % 5 + 1
        print 4700 + i, first[k], last[k], (i % 2 ? "K" : ""), "", i " River Rd", "", "Burlington", "vt", "05401", sprintf("(802) 555-01%02d", i), "", sprintf("(802) 555-01%02d", 50 + i), first[k] "." last[k] i "@Example.com", (i % 2 ? "F" : "M"), sprintf("19%02d-%02d-%02d 00:00:00.000", 50 + i, 1 + i % 12, 1 + i), (i % 5 == 2 ? "I" : "A"), st[k], 4700 + i, "DDS1", "RDH1", "2019-05-01 00:00:00.000", sprintf("2024-02-%02d 00:00:00.000", i), "CH" i, "2019-05-01 09:00:00.000"
    }
}' > "$dir/eaglesoft-patients.csv"

awk 'BEGIN {
    OFS = ","
    print "appointment_id,patient_id,start_time,end_time,location_id,appointment_type_id,appointment_notes,confirmation_status,arrival_status,classification,date_appointed"
    for (i = 1; i <= 10; i++)
        print 8800 + i, 4700 + i, sprintf("2024-03-%02d %02d:%02d:00.000", i, 8 + i % 8, (i % 4) * 15), sprintf("2024-03-%02d %02d:%02d:00.000", i, 9 + i % 8, (i % 4) * 15), "Chair " (i % 3 + 1), 1 + i % 4, "", i % 3, i % 2, 1, "2024-02-01 09:00:00.000"
}' > "$dir/eaglesoft-appointments.csv"

awk 'BEGIN {
    OFS = ","
    split("D0120,D1110,D2392,D0274", code, ",")
    print "appt_id,tooth,surface,service_code,ada_code"
    for (i = 1; i <= 10; i++) {
        c = code[(i - 1) % 4 + 1]
        print 8800 + i, (c == "D2392" ? 3 + i : ""), (c == "D2392" ? "MO" : ""), "S" substr(c, 2), c
    }
}' > "$dir/eaglesoft-services.csv"

# SoftDent: comma-delimited with a header line and a trailer line; text
# quoted with ~ in the patient and transaction files, with " in the
# appointment file.
awk 'BEGIN {
    OFS = ","
    split("Okafor,Haddad,Schmidt,Nakamura,OBrien", last, ",")
    split("Robert,Maria,Zoe,Kenji,Aoife", first, ",")
    print "PatId,PatFname,PatMname,PatLname,PatAddress,PatCity,PatState,PatZip,PatHphone,PatWphone,PatCellPhone,PatEmail,PatGender,PatBirthday,PatFirstVisit,PatLastVisit,PatChartId,PatNickname"
    for (i = 1; i <= 10; i++) {
        k = (i - 1) % 5 + 1
        print 2000 + i, "~" first[k] "~", "~~", "~" last[k] "~", "~" i " Oak Ave, Suite " i "~", "~Austin~", "~TX~", "~78701~", sprintf("~512-555-01%02d~", i), "~~", sprintf("~512-555-01%02d~", 50 + i), "~" tolower(first[k]) i "@example.com~", "~" (i % 2 ? "F" : "M") "~", sprintf("%02d/%02d/19%02d", 1 + i % 12, 1 + i, 50 + i), "01/15/2020", sprintf("02/%02d/2024", i), "~SD" i "~", "~~"
    }
    print "~TRAILER~,10"
}' > "$dir/softdent-patients.txt"

awk 'BEGIN {
    OFS = ","
    printf "ApptPatId,ApptDate,ApptTime"
    for (j = 1; j <= 6; j++) printf ",ApptAdacode%d", j
    printf ",ApptAdadesc,ApptOperatory,ApptTimeUnits,ApptName,ApptChartId,ApptDentist"
    for (j = 1; j <= 6; j++) printf ",ApptTooth%d", j
    for (j = 1; j <= 6; j++) printf ",ApptSurface%d", j
    printf "\n"
    split("Okafor,Haddad,Schmidt,Nakamura,OBrien", last, ",")
    split("Robert,Maria,Zoe,Kenji,Aoife", first, ",")
    for (i = 1; i <= 10; i++) {
        k = (i - 1) % 5 + 1
        printf "%d,%s,%s,\"D0120\",\"%s\",\"\",\"\",\"\",\"\",\"Exam, cleaning\",\"OP%d\",%d,\"%s, %s\",\"SD%d\",\"DR1\",\"\",\"%s\",\"\",\"\",\"\",\"\",\"\",\"%s\",\"\",\"\",\"\",\"\"\n", 2000 + i, sprintf("03/%02d/2024", i), sprintf("%02d:%02d", 8 + i % 8, (i % 4) * 15), (i % 2 ? "D1110" : "D2392"), i % 3 + 1, 3 + i % 4, last[k], first[k], i, (i % 2 ? "" : 3 + i), (i % 2 ? "" : "MO")
    }
    print "\"TRAILER\",10"
}' > "$dir/softdent-appointments.txt"

# SoftDent transactions: production rows (TransProd) and payments and
# adjustments (TransCash, TransChecks, TransCredit, TransPayAdj,
# TransProdAdj) in one file, one amount per row.
awk 'BEGIN {
    OFS = ","
    print "TransDate,TransPatId,TransPatName,TransDr,TransCode,TransCodeType,TransProd,TransCharges,TransProdAdj,TransCash,TransChecks,TransCredit,TransPayAdj,TransTooth,TransSurface"
    split("Okafor,Haddad,Schmidt,Nakamura,OBrien", last, ",")
    split("Robert,Maria,Zoe,Kenji,Aoife", first, ",")
    split("D0120,D1110,D2392", code, ",")
    for (i = 1; i <= 16; i++) {
        k = (i - 1) % 5 + 1
        pat = 2000 + k
        name = "~" last[k] ", " first[k] "~"
        d = sprintf("03/%02d/2024", i)
        kind = (i - 1) % 8
        if (kind < 3) {
            c = code[kind + 1]
            print d, pat, name, "~DR1~", "~" c "~", "~P~", sprintf("%d.00", 60 + i * 5), sprintf("%d.00", 60 + i * 5), "0.00", "0.00", "0.00", "0.00", "0.00", (c == "D2392" ? 14 : ""), (c == "D2392" ? "~MO~" : "~~")
        } else {
            a = sprintf("%d.00", 20 + i)
            cash = (kind == 3) ? a : "0.00"; chk = (kind == 4) ? a : "0.00"; cred = (kind == 5) ? a : "0.00"
            padj = (kind == 6) ? "-" a : "0.00"; prodadj = (kind == 7) ? "-" a : "0.00"
            print d, pat, name, "~DR1~", "~" (kind < 6 ? "PAY" : "ADJ") "~", "~" (kind < 6 ? "$" : "A") "~", "0.00", "0.00", prodadj, cash, chk, cred, padj, "", "~~"
        }
    }
    print "~TRAILER~,16"
}' > "$dir/softdent-transactions.txt"

# Dentrix v_appointment: date + start_hour + start_minute, "Last, First".
awk 'BEGIN {
    OFS = ","
    split("Okafor,Haddad,Schmidt,Nakamura,OBrien,McDonald,Novak,Garcia", last, ",")
    split("Robert,Maria,Zoe,Kenji,Liam,Ana,Ivan,Sofia", first, ",")
    split("Scheduled,Confirmed,Complete,Broken,Cancelled", st, ",")
    print "appointment_id,patient_id,patient_name,appointment_date,start_hour,start_minute,length,provider_id,operatory_id,status_id,note"
    for (i = 1; i <= 10; i++) {
        k = (i - 1) % 8 + 1
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

# A calendar (iCalendar), as booking systems export appointments: a TZID
# event with its VTIMEZONE, a UTC event with a DURATION, a cancelled one,
# the patient by e-mail or tel: attendee or by the id written in SUMMARY,
# and a monthly series (no end: it has occurrences in the reader's window
# whatever the day) with one occurrence changed by a RECURRENCE-ID. The
# patients are those of samples/patients.csv.
printf '%s\r\n' \
    'BEGIN:VCALENDAR' 'VERSION:2.0' 'PRODID:-//Synthetic Dental Practice//Appointments//EN' 'CALSCALE:GREGORIAN' \
    'BEGIN:VTIMEZONE' 'TZID:Europe/London' \
    'BEGIN:DAYLIGHT' 'TZOFFSETFROM:+0000' 'TZOFFSETTO:+0100' 'TZNAME:BST' 'DTSTART:19700329T010000' \
    'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU' 'END:DAYLIGHT' \
    'BEGIN:STANDARD' 'TZOFFSETFROM:+0100' 'TZOFFSETTO:+0000' 'TZNAME:GMT' 'DTSTART:19701025T020000' \
    'RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU' 'END:STANDARD' 'END:VTIMEZONE' \
    'BEGIN:VEVENT' 'UID:ics-tz-1@clinic.example' 'DTSTAMP:20261201T120000Z' \
    'DTSTART;TZID=Europe/London:20270615T100000' 'DTEND;TZID=Europe/London:20270615T104500' \
    'SUMMARY:Check-up' 'DESCRIPTION:Bring the new X-rays' 'LOCATION:Op 3' 'STATUS:CONFIRMED' \
    'ORGANIZER;CN=Dr Lee:mailto:dr.lee@clinic.example' \
    'ATTENDEE;CN=Dr Lee;ROLE=CHAIR:mailto:dr.lee@clinic.example' \
    'ATTENDEE;ROLE=REQ-PARTICIPANT:mailto:robert.okafor1@example.com' 'END:VEVENT' \
    'BEGIN:VEVENT' 'UID:ics-utc-2@clinic.example' 'DTSTAMP:20261201T120000Z' \
    'DTSTART:20270616T143000Z' 'DURATION:PT30M' 'SUMMARY:Filling' 'LOCATION:Op 1' 'STATUS:TENTATIVE' \
    'ORGANIZER:mailto:dr.lee@clinic.example' 'ATTENDEE;CN=Patient:tel:+1-415-555-0114' 'END:VEVENT' \
    'BEGIN:VEVENT' 'UID:ics-cxl-3@clinic.example' 'DTSTAMP:20261201T120000Z' \
    'DTSTART;TZID=America/Chicago:20270617T080000' 'DTEND;TZID=America/Chicago:20270617T090000' \
    'SUMMARY:Extraction' 'LOCATION:Op 2' 'STATUS:CANCELLED' 'ORGANIZER:mailto:dr.lee@clinic.example' \
    'ATTENDEE:mailto:Zoe.Schmidt3@example.com' 'END:VEVENT' \
    'BEGIN:VEVENT' 'UID:ics-sum-4@clinic.example' 'DTSTAMP:20261201T120000Z' \
    'DTSTART;TZID=America/Chicago:20270618T133000' 'DTEND;TZID=America/Chicago:20270618T141500' \
    'SUMMARY:Crown prep - Patient ID: 1005' 'LOCATION:Op 3' 'STATUS:CONFIRMED' \
    'ORGANIZER:mailto:dr.patel@clinic.example' 'END:VEVENT' \
    'BEGIN:VEVENT' 'UID:ics-series-5@clinic.example' 'DTSTAMP:20261201T120000Z' \
    'DTSTART;TZID=America/Chicago:20261207T160000' 'DTEND;TZID=America/Chicago:20261207T163000' \
    'RRULE:FREQ=MONTHLY' 'SUMMARY:Hygiene recall' 'LOCATION:Hyg 1' 'ORGANIZER:mailto:hyg.kim@clinic.example' \
    'ATTENDEE:mailto:maria.nakamura4@example.org' 'END:VEVENT' \
    'BEGIN:VEVENT' 'UID:ics-series-5@clinic.example' 'DTSTAMP:20261201T120000Z' \
    'RECURRENCE-ID;TZID=America/Chicago:20270107T160000' \
    'DTSTART;TZID=America/Chicago:20270108T090000' 'DTEND;TZID=America/Chicago:20270108T094500' \
    'SUMMARY:Hygiene recall' 'DESCRIPTION:Moved by one day' 'LOCATION:Hyg 1' 'STATUS:CONFIRMED' \
    'ORGANIZER:mailto:hyg.kim@clinic.example' 'ATTENDEE:mailto:maria.nakamura4@example.org' 'END:VEVENT' \
    'END:VCALENDAR' >"$dir/calendar-appointments.ics"

# A patient list from UK software: English names for the columns that no
# built-in template lists (Forename, Surname, Postcode, Mobile, County),
# dates of birth as DD/MM/YYYY (days above 12 tell the order), numbers in
# Ofcom's drama ranges (+44 7700 900xxx, +44 20 7946 0xxx). It maps through
# the synonyms (docs/templates.md, "Synonyms").
awk 'BEGIN {
    OFS = ","
    split("Okafor,Haddad,Schmidt,Nakamura,OBrien,McDonald,Novak,Garcia", last, ",")
    split("Robert,Maria,Zoe,Kenji,Liam,Ana,Ivan,Sofia", first, ",")
    split("Leeds,York,Bath,Derby,Cork,Perth,Halifax,Ely", town, ",")
    split("West Yorkshire,North Yorkshire,Somerset,Derbyshire,Co. Cork,Perthshire,Nova Scotia,Cambridgeshire", county, ",")
    split("LS1 4AP,YO1 7HH,BA1 1LZ,DE1 3AH,T12 X2P3,PH1 5QH,B3H 1A1,CB7 4DL", pc, ",")
    print "Patient No,Title,Forename,Surname,D.O.B.,Sex,Address Line 1,Town,County,Postcode,Mobile,Home Phone,E-mail"
    for (i = 1; i <= 8; i++)
        print "UK" 100 + i, (i % 2 ? "Mr" : "Ms"), first[i], last[i], sprintf("%02d/%02d/%d", 13 + i, (i % 12) + 1, 1950 + 5 * i), (i % 2 ? "M" : "F"), 10 * i " High Street", town[i], county[i], pc[i], sprintf("+44 7700 900%03d", 100 + i), (i % 3 ? sprintf("+44 20 7946 0%03d", 100 + i) : ""), tolower(first[i]) "." tolower(last[i]) "@example.co.uk"
}' > "$dir/uk-patients.csv"

# Dentrix v_appointment as some practices export it: the status under the
# name "Appt Status" (the template reads status_id) and an "Appointment
# Type" column the template does not list. Both map through the synonyms.
awk 'BEGIN {
    OFS = ","
    split("Okafor,Haddad,Schmidt,Nakamura,OBrien,McDonald,Novak,Garcia", last, ",")
    split("Robert,Maria,Zoe,Kenji,Liam,Ana,Ivan,Sofia", first, ",")
    split("Scheduled,Confirmed,Complete,Broken,Cancelled", st, ",")
    split("Recall,Filling,Emergency", ty, ",")
    print "appointment_id,patient_id,patient_name,appointment_date,start_hour,start_minute,length,provider_id,operatory_id,Appt Status,Appointment Type,note"
    for (i = 1; i <= 10; i++) {
        k = (i - 1) % 8 + 1
        print 700 + i, 1000 + i, "\"" last[k] ", " first[k] "\"", sprintf("04/%02d/2024", i), 8 + i % 8, (i % 4) * 15, 30 + (i % 3) * 15, "DDS1", "OP" (i % 3 + 1), st[(i - 1) % 5 + 1], ty[(i - 1) % 3 + 1], ""
    }
}' > "$dir/dentrix-appointments-status.csv"
