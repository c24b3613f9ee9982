/*
 * synonyms.c — the synonym table (synonyms.h has the rules).
 *
 * Every name is written folded (lower case, no spaces, '_', '-' or '.').
 * The patient reference of appointments, treatments and financial
 * records is the same block for the three types. The transforms are those
 * of the built-in generic templates (config/templates/generic-*.json).
 * A name that could mean two fields of one type (Phone, Date, Type) is
 * given to the field it means in most exports, once. A vendor's column
 * whose values are codes of its own (Open Dental's PayType, PatStatus,
 * ProcStatus numbers) is not here: its template reads it, or leaves it
 * out on purpose.
 */
#include "agent/map/synonyms.h"

#include <string.h>

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

struct syn {
    const char *type;
    const char *field;
    const char *transform;
    enum ds_syn_role role;
    const char *const *names;
};

#define PATIENT_REF(type)                                                                          \
    {type, "patient_external_id", "text", DS_SYN_WHOLE,                                            \
     NAMES("patientexternalid", "patientid", "patientnumber", "patientno", "patient#", "patnum",   \
           "patid", "chartnumber", "chartno", "chart#", "chartid", "accountnumber", "accountno",   \
           "account#", "accountid")},                                                              \
        {type, "patient_last_name", "name", DS_SYN_WHOLE,                                          \
         NAMES("patientlastname", "patientsurname", "lastname", "surname", "familyname")},         \
        {type, "patient_first_name", "name", DS_SYN_WHOLE,                                         \
         NAMES("patientfirstname", "patientforename", "firstname", "forename", "givenname")},      \
        {type, "patient_date_of_birth", "date", DS_SYN_WHOLE,                                      \
         NAMES("patientdateofbirth", "patientdob", "dateofbirth", "dob", "birthdate",              \
               "birthday")},                                                                       \
        {type, "patient_email", "email", DS_SYN_WHOLE,                                             \
         NAMES("patientemail", "email", "emailaddress")},                                          \
    {                                                                                              \
        type, "patient_phone", "phone", DS_SYN_WHOLE,                                              \
            NAMES("patientphone", "phone", "phonenumber", "telephone", "tel", "mobile",            \
                  "mobilephone", "cell", "cellphone", "homephone")                                 \
    }

static const struct syn table[] = {
    /* patients */
    {"patients", "external_id", "text", DS_SYN_WHOLE,
     NAMES("externalid", "patientid", "patientnumber", "patientno", "patient#", "patnum", "patid",
           "chartnumber", "chartno", "chart#", "chartid", "accountnumber", "accountno", "account#",
           "accountid", "id")},
    {"patients", "first_name", "text", DS_SYN_WHOLE,
     NAMES("firstname", "forename", "forenames", "givenname", "fname", "first", "patfname",
           "christianname")},
    {"patients", "last_name", "text", DS_SYN_WHOLE,
     NAMES("lastname", "surname", "familyname", "lname", "last", "patlname")},
    {"patients", "middle_name", "text", DS_SYN_WHOLE,
     NAMES("middlename", "middleinitial", "middlei", "middle", "patmname")},
    {"patients", "preferred_name", "text", DS_SYN_WHOLE,
     NAMES("preferredname", "preferred", "nickname", "knownas", "patnickname")},
    {"patients", "date_of_birth", "date", DS_SYN_WHOLE,
     NAMES("dateofbirth", "dob", "birthdate", "birthday", "patbirthday")},
    {"patients", "gender", "gender", DS_SYN_WHOLE, NAMES("gender", "sex", "patgender")},
    {"patients", "email", "email", DS_SYN_WHOLE,
     NAMES("email", "emailaddress", "patemail", "mail")},
    {"patients", "phone_mobile", "phone", DS_SYN_WHOLE,
     NAMES("phonemobile", "mobile", "mobilephone", "mobileno", "mobilenumber", "mobiletel", "cell",
           "cellphone", "cellnumber", "cellular", "wirelessphone", "patcellphone")},
    {"patients", "phone_home", "phone", DS_SYN_WHOLE,
     NAMES("phonehome", "homephone", "hometelephone", "hmphone", "telephone", "tel", "phone",
           "phonenumber", "landline", "pathphone")},
    {"patients", "phone_work", "phone", DS_SYN_WHOLE,
     NAMES("phonework", "workphone", "worktelephone", "businessphone", "officephone",
           "daytimephone", "wkphone", "patwphone")},
    {"patients", "address_line1", "text", DS_SYN_WHOLE,
     NAMES("addressline1", "address1", "address", "street", "streetaddress", "addr1",
           "pataddress")},
    {"patients", "address_line2", "text", DS_SYN_WHOLE,
     NAMES("addressline2", "address2", "addr2", "apartment", "suite", "locality")},
    {"patients", "city", "text", DS_SYN_WHOLE,
     NAMES("city", "town", "towncity", "posttown", "suburb", "patcity")},
    {"patients", "state", "upper", DS_SYN_WHOLE,
     NAMES("state", "county", "province", "region", "stateprovince", "patstate")},
    {"patients", "postal_code", "text", DS_SYN_WHOLE,
     NAMES("postalcode", "postcode", "zip", "zipcode", "postal", "eircode", "patzip")},
    {"patients", "country", "upper", DS_SYN_WHOLE, NAMES("country", "countrycode")},
    {"patients", "status", "status", DS_SYN_WHOLE, NAMES("status", "patientstatus")},
    {"patients", "provider_external_id", "text", DS_SYN_WHOLE,
     NAMES("providerexternalid", "providerid", "provider", "dentist", "clinician", "practitioner",
           "primaryprovider", "priprov")},
    {"patients", "first_visit_date", "date", DS_SYN_WHOLE,
     NAMES("firstvisitdate", "firstvisit", "datefirstvisit", "patfirstvisit")},
    {"patients", "last_visit_date", "date", DS_SYN_WHOLE,
     NAMES("lastvisitdate", "lastvisit", "lastseen", "lastdateseen", "patlastvisit")},
    {"patients", "notes", "text", DS_SYN_WHOLE,
     NAMES("notes", "note", "comments", "comment", "memo", "remarks")},
    {"patients", "location", "text", DS_SYN_WHOLE,
     NAMES("location", "clinic", "clinicnum", "clinicid", "clinicname", "site", "branch", "office",
           "locationname")},

    /* appointments */
    {"appointments", "external_id", "text", DS_SYN_WHOLE,
     NAMES("externalid", "appointmentid", "appointmentnumber", "appointmentno", "apptid", "apptno",
           "aptnum", "bookingid")},
    PATIENT_REF("appointments"),
    {"appointments", "start_at", "datetime", DS_SYN_WHOLE,
     NAMES("startat", "start", "startdatetime", "appointmentstart", "apptstart",
           "appointmentdatetime", "apptdatetime", "aptdatetime", "datetime")},
    {"appointments", "start_at", "datetime", DS_SYN_DATE,
     NAMES("appointmentdate", "apptdate", "aptdate", "startdate", "date")},
    {"appointments", "start_at", "datetime", DS_SYN_TIME,
     NAMES("starttime", "appointmenttime", "appttime", "time")},
    {"appointments", "end_at", "datetime", DS_SYN_WHOLE,
     NAMES("endat", "enddatetime", "appointmentend", "apptend")},
    {"appointments", "duration_minutes", "duration", DS_SYN_WHOLE,
     NAMES("durationminutes", "duration", "durationmins", "length", "lengthmins", "mins", "minutes",
           "apptlength", "appointmentlength")},
    {"appointments", "status", "appointment_status", DS_SYN_WHOLE,
     NAMES("status", "appointmentstatus", "apptstatus")},
    {"appointments", "provider", "text", DS_SYN_WHOLE,
     NAMES("provider", "providerid", "dentist", "clinician", "practitioner", "doctor")},
    {"appointments", "operatory", "text", DS_SYN_WHOLE,
     NAMES("operatory", "operatoryid", "op", "chair", "surgery", "room")},
    {"appointments", "appointment_type", "text", DS_SYN_WHOLE,
     NAMES("appointmenttype", "appttype", "type", "visittype", "reason")},
    {"appointments", "notes", "text", DS_SYN_WHOLE,
     NAMES("notes", "note", "comments", "comment", "memo", "appointmentnotes", "apptnotes")},
    {"appointments", "location", "text", DS_SYN_WHOLE,
     NAMES("location", "clinic", "clinicnum", "clinicid", "clinicname", "site", "branch", "office",
           "locationname")},

    /* treatments */
    {"treatments", "external_id", "text", DS_SYN_WHOLE,
     NAMES("externalid", "procedureid", "treatmentid", "procnum")},
    PATIENT_REF("treatments"),
    {"treatments", "procedure_code", "cdt", DS_SYN_WHOLE,
     NAMES("procedurecode", "code", "adacode", "cdtcode", "cdt", "treatmentcode", "proccode",
           "servicecode")},
    {"treatments", "description", "text", DS_SYN_WHOLE,
     NAMES("description", "desc", "proceduredescription", "treatmentdescription", "procedure",
           "treatment")},
    {"treatments", "tooth", "tooth", DS_SYN_WHOLE,
     NAMES("tooth", "toothnumber", "toothno", "tooth#", "toothnum")},
    {"treatments", "surface", "surface", DS_SYN_WHOLE, NAMES("surface", "surfaces", "surf")},
    {"treatments", "status", "treatment_status", DS_SYN_WHOLE,
     NAMES("status", "treatmentstatus", "procedurestatus")},
    {"treatments", "fee_cents", "money", DS_SYN_WHOLE,
     NAMES("feecents", "fee", "amount", "charge", "price", "procfee")},
    {"treatments", "service_date", "date", DS_SYN_WHOLE,
     NAMES("servicedate", "dateofservice", "date", "proceduredate", "treatmentdate", "procdate")},
    {"treatments", "provider", "text", DS_SYN_WHOLE,
     NAMES("provider", "providerid", "dentist", "clinician", "practitioner", "doctor")},
    {"treatments", "appointment_external_id", "text", DS_SYN_WHOLE,
     NAMES("appointmentexternalid", "appointmentid", "apptid", "aptnum")},
    {"treatments", "location", "text", DS_SYN_WHOLE,
     NAMES("location", "clinic", "clinicnum", "clinicid", "clinicname", "site", "branch", "office",
           "locationname")},

    /* financial */
    {"financial", "external_id", "text", DS_SYN_WHOLE,
     NAMES("externalid", "paymentid", "transactionid", "paynum", "receiptnumber")},
    PATIENT_REF("financial"),
    {"financial", "date", "date", DS_SYN_WHOLE,
     NAMES("date", "paymentdate", "transactiondate", "paydate", "postdate")},
    {"financial", "amount_cents", "money", DS_SYN_WHOLE,
     NAMES("amountcents", "amount", "payment", "paymentamount", "amountpaid", "payamt", "charge",
           "fee")},
    {"financial", "kind", "financial_kind", DS_SYN_WHOLE,
     NAMES("kind", "type", "transactiontype", "entrytype")},
    {"financial", "method", "payment_method", DS_SYN_WHOLE,
     NAMES("method", "paymentmethod", "paymenttype", "tender")},
    {"financial", "reference", "text", DS_SYN_WHOLE,
     NAMES("reference", "ref", "checknumber", "check#", "chequenumber", "checknum")},
    {"financial", "description", "text", DS_SYN_WHOLE,
     NAMES("description", "desc", "note", "notes", "memo", "comments", "paynote")},
    {"financial", "location", "text", DS_SYN_WHOLE,
     NAMES("location", "clinic", "clinicnum", "clinicid", "clinicname", "site", "branch", "office",
           "locationname")},
};

#define NTABLE (sizeof(table) / sizeof(table[0]))

size_t ds_synonym_fold(const char *in, size_t len, char *out, size_t size)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];

        if (c == ' ' || c == '\t' || c == '_' || c == '-' || c == '.') {
            continue;
        }
        if (c >= 'A' && c <= 'Z') {
            c = (unsigned char)(c - 'A' + 'a');
        }
        if (n + 1 < size) {
            out[n] = (char)c;
        }
        n++;
    }
    if (size > 0) {
        out[n < size ? n : size - 1] = '\0';
    }
    return n;
}

const char *ds_synonym_field(const char *import_type, const char *in, size_t len,
                             enum ds_syn_role *role)
{
    char key[64];

    if (import_type == NULL || ds_synonym_fold(in, len, key, sizeof(key)) >= sizeof(key) ||
        key[0] == '\0') {
        return NULL;
    }
    for (size_t i = 0; i < NTABLE; i++) {
        if (strcmp(table[i].type, import_type) != 0) {
            continue;
        }
        for (const char *const *n = table[i].names; *n != NULL; n++) {
            if (strcmp(*n, key) == 0) {
                if (role != NULL) {
                    *role = table[i].role;
                }
                return table[i].field;
            }
        }
    }
    return NULL;
}

const char *ds_synonym_transform(const char *import_type, const char *field)
{
    for (size_t i = 0; i < NTABLE; i++) {
        if (strcmp(table[i].type, import_type) == 0 && strcmp(table[i].field, field) == 0) {
            return table[i].transform;
        }
    }
    return "text";
}

size_t ds_synonym_count(void)
{
    size_t n = 0;

    for (size_t i = 0; i < NTABLE; i++) {
        for (const char *const *p = table[i].names; *p != NULL; p++) {
            n++;
        }
    }
    return n;
}

void ds_synonym_entry(size_t i, const char **import_type, const char **field,
                      enum ds_syn_role *role, const char **name)
{
    for (size_t k = 0; k < NTABLE; k++) {
        for (const char *const *p = table[k].names; *p != NULL; p++) {
            if (i-- == 0) {
                *import_type = table[k].type;
                *field = table[k].field;
                *role = table[k].role;
                *name = *p;
                return;
            }
        }
    }
    *import_type = *field = *name = NULL;
    *role = DS_SYN_WHOLE;
}
