/*
 * cloudload.c — the cloud ingest benchmark client: synthetic canonical
 * records sent through the real HTTP API as the agent sends them (gzip
 * batches, Batch-Digest, several requests in flight), and the same rows
 * as CSV for `psql \copy`, the reference.
 *
 *   cloudload csv PATIENTS ROWS FILE
 *       writes the ROWS appointment records as CSV (header first)
 *   cloudload post URL TOKEN_FILE patients PATIENTS BATCH INFLIGHT
 *   cloudload post URL TOKEN_FILE appointments PATIENTS ROWS BATCH INFLIGHT
 *       creates a job, sends its rows in batches of BATCH rows with
 *       INFLIGHT requests at once, completes the job, and prints
 *       `name value` lines:
 *
 *         cloud_rows N          rows sent
 *         cloud_batches N       batches sent
 *         cloud_seconds S       job created -> job completed, wall time
 *         cloud_rows_per_s R
 *         cloud_<status> N      the rows answered with each status
 *
 *       CLOUDLOAD_PREFIX (environment, up to 12 characters) starts every
 *       external id and key, so that rows name the practice they were
 *       sent for.
 *   cloudload agents URL TOKENS_FILE PATIENTS ROWS BATCH INFLIGHT
 *       simulated agents uploading at once, one per "PREFIX TOKEN" line
 *       (see agents() below); prints agents_n, agents_rows,
 *       agents_seconds, agents_rows_per_s (aggregate), agents_batch_p50_s,
 *       agents_batch_p99_s, agents_batch_max_s (first send -> answer),
 *       agents_errors (answers other than 200 and 503, and failed
 *       completions), agents_busy_503 (retried) and agents_<status>
 *
 * Every value is made up and deterministic: patient i (1 .. PATIENTS) is
 * P<i> with its own e-mail and phone; appointment i is A<i> of patient
 * P<(i - 1) % PATIENTS + 1>, in one of 40 provider/operatory pairs, each
 * pair with its own sequence of half-hour appointments an hour apart, so
 * no two overlap and every row is stored ("created" on a fresh practice).
 *
 * The request bodies are built and compressed before the clock starts,
 * so the client costs the server's machine almost nothing while it is
 * timed. A 503 is retried after its Retry-After, as the agent does; any
 * other answer but 200 stops the run (exit 1).
 */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAIRS 40                /* provider/operatory pairs */
#define BASE_EPOCH 1704099600LL /* 2024-01-01T09:00:00Z */
#define MAX_INFLIGHT 16

static const char *const first_names[] = {"Test", "Ana",  "José", "Zoë",  "Liam",
                                          "Mia",  "Noah", "Emma", "Omar", "Lea"};
static const char *const last_names[] = {"Patient", "Müller",   "García",   "O'Brien", "Smith",
                                         "Nguyen",  "Kowalski", "D'Angelo", "Okafor",  "Lind"};

struct buf {
    char *data; /* owned */
    size_t len;
    size_t cap;
};

struct batch {
    unsigned char *body; /* owned: the gzip body */
    size_t len;          /* bytes in body */
    char digest[65];     /* Batch-Digest */
    int seq;             /* 1-based */
};

struct slot {
    CURL *easy;              /* owned */
    struct curl_slist *hdrs; /* owned */
    struct buf answer;       /* the answer being received */
    size_t batch;            /* index of the batch in flight */
    double retry_at;         /* 0, or when to send again after a 503 */
    int busy;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("cloudload: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void buf_reserve(struct buf *b, size_t more)
{
    char *p;
    size_t cap;

    if (b->len + more + 1 <= b->cap) {
        return;
    }
    cap = b->cap == 0 ? 4096 : b->cap;
    while (cap < b->len + more + 1) {
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (p == NULL) {
        die("out of memory");
    }
    b->data = p;
    b->cap = cap;
}

static void buf_add(struct buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        die("vsnprintf failed");
    }
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;

    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        die("SHA-256 failed");
    }
    for (int i = 0; i < 32; i++) {
        snprintf(out + (size_t)i * 2, 3, "%02x", md[i]);
    }
}

static void instant(long long epoch, char out[21])
{
    time_t t = (time_t)epoch;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The fields of appointment i (1-based) of a practice of npat patients. */
struct appt {
    char ext[32];
    char patient[32];
    char start[21];
    char end[21];
    char provider[8];
    char operatory[8];
};

static void appt_of(const char *pre, long i, long npat, struct appt *a)
{
    long pair = (i - 1) % PAIRS;
    long slot = (i - 1) / PAIRS;
    long long start = BASE_EPOCH + (long long)slot * 3600 + (pair % 4) * 60;

    snprintf(a->ext, sizeof(a->ext), "%sA%ld", pre, i);
    snprintf(a->patient, sizeof(a->patient), "%sP%ld", pre, (i - 1) % npat + 1);
    instant(start, a->start);
    instant(start + 30LL * 60, a->end);
    snprintf(a->provider, sizeof(a->provider), "DR%02ld", pair + 1);
    snprintf(a->operatory, sizeof(a->operatory), "OP%02ld", pair + 1);
}

/* The canonical record of row i as JSON text into rec. */
static void record_of(const char *pre, int patients, long i, long npat, struct buf *rec)
{
    rec->len = 0;
    if (patients) {
        long y = 1940 + i % 60;
        long m = 1 + i % 12;
        long d = 1 + i % 28;

        buf_printf(rec,
                   "{\"external_id\":\"%sP%ld\",\"first_name\":\"%s\",\"last_name\":\"%s\","
                   "\"date_of_birth\":\"%04ld-%02ld-%02ld\",\"email\":\"p%ld@example.com\","
                   "\"phone_mobile\":\"+1555%07ld\",\"status\":\"active\"}",
                   pre, i, first_names[i % 10], last_names[(i / 10) % 10], y, m, d, i,
                   i % 10000000);
    }
    else {
        struct appt a;

        appt_of(pre, i, npat, &a);
        buf_printf(rec,
                   "{\"external_id\":\"%s\",\"patient_external_id\":\"%s\",\"start_at\":\"%s\","
                   "\"end_at\":\"%s\",\"duration_minutes\":30,\"status\":\"scheduled\","
                   "\"provider\":\"%s\",\"operatory\":\"%s\",\"appointment_type\":\"Cleaning\"}",
                   a.ext, a.patient, a.start, a.end, a.provider, a.operatory);
    }
}

static void write_csv(long npat, long rows, const char *path)
{
    FILE *f = fopen(path, "w");
    struct appt a;

    if (f == NULL) {
        die("cannot create %s", path);
    }
    fputs("external_id,patient_external_id,start_at,end_at,duration_minutes,status,provider,"
          "operatory,appointment_type\n",
          f);
    for (long i = 1; i <= rows; i++) {
        appt_of("", i, npat, &a);
        fprintf(f, "%s,%s,%s,%s,30,scheduled,%s,%s,Cleaning\n", a.ext, a.patient, a.start, a.end,
                a.provider, a.operatory);
    }
    if (fclose(f) != 0) {
        die("cannot write %s", path);
    }
}

static void gzip_into(const struct buf *in, struct batch *b)
{
    z_stream zs;
    uLong cap;

    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        die("deflateInit2 failed");
    }
    cap = deflateBound(&zs, (uLong)in->len) + 32;
    b->body = malloc(cap);
    if (b->body == NULL) {
        die("out of memory");
    }
    zs.next_in = (Bytef *)in->data;
    zs.avail_in = (uInt)in->len;
    zs.next_out = b->body;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        die("deflate failed");
    }
    b->len = zs.total_out;
    deflateEnd(&zs);
}

/* All batches of the job, built and compressed. new: *out (n of them). */
static struct batch *build_batches(const char *pre, int patients, long rows, long npat,
                                   long per_batch, size_t *n)
{
    struct batch *all;
    struct buf body = {0};
    struct buf lines = {0};
    struct buf rec = {0};
    char fp[65];
    size_t nb = (size_t)((rows + per_batch - 1) / per_batch);

    all = calloc(nb, sizeof(*all));
    if (all == NULL) {
        die("out of memory");
    }
    for (size_t k = 0; k < nb; k++) {
        long first = (long)k * per_batch + 1;
        long last = first + per_batch - 1 < rows ? first + per_batch - 1 : rows;

        body.len = 0;
        lines.len = 0;
        buf_add(&body, "{\"rows\":[", 9);
        for (long i = first; i <= last; i++) {
            record_of(pre, patients, i, npat, &rec);
            sha256_hex(rec.data, rec.len, fp);
            buf_printf(&body,
                       "%s{\"row\":%ld,\"key\":\"ext:%s%c%ld\",\"fingerprint\":\"%s\","
                       "\"record\":",
                       i == first ? "" : ",", i, pre, patients ? 'P' : 'A', i, fp);
            buf_add(&body, rec.data, rec.len);
            buf_add(&body, "}", 1);
            buf_printf(&lines, "%ld\text:%s%c%ld\t%s\n", i, pre, patients ? 'P' : 'A', i, fp);
        }
        buf_add(&body, "]}", 2);
        sha256_hex(lines.data, lines.len, all[k].digest);
        all[k].seq = (int)k + 1;
        gzip_into(&body, &all[k]);
    }
    free(body.data);
    free(lines.data);
    free(rec.data);
    *n = nb;
    return all;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct buf *b = userdata;

    buf_add(b, ptr, size * nmemb);
    return size * nmemb;
}

/* One request with the easy interface: the status, the answer in *answer. */
static long request(const char *url, const char *auth, const char *method, const char *body,
                    struct buf *answer)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    long status = 0;

    if (c == NULL) {
        die("curl_easy_init failed");
    }
    answer->len = 0;
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, answer);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 600L);
    if (curl_easy_perform(c) != CURLE_OK) {
        die("%s %s: no answer", method, url);
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static const char *const statuses[] = {"created",  "updated",      "unchanged", "deleted",
                                       "conflict", "needs_review", "rejected"};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]))

/* Adds the "status" members of an answer to counts. */
static void count_statuses(const char *answer, long counts[NSTATUS])
{
    const char *p = answer;
    char pat[32];

    while ((p = strstr(p, "\"status\":\"")) != NULL) {
        p += 10;
        for (size_t s = 0; s < NSTATUS; s++) {
            size_t n = (size_t)snprintf(pat, sizeof(pat), "%s\"", statuses[s]);

            if (strncmp(p, pat, n) == 0) {
                counts[s]++;
                break;
            }
        }
    }
}

static void start_slot(CURLM *multi, struct slot *s, const struct batch *b, const char *base,
                       const char *job, const char *auth)
{
    char url[512];
    char dh[96];

    snprintf(url, sizeof(url), "%s/v1/jobs/%s/batches/%d", base, job, b->seq);
    snprintf(dh, sizeof(dh), "Batch-Digest: %s", b->digest);
    curl_slist_free_all(s->hdrs);
    s->hdrs = NULL;
    s->hdrs = curl_slist_append(s->hdrs, auth);
    s->hdrs = curl_slist_append(s->hdrs, dh);
    s->hdrs = curl_slist_append(s->hdrs, "Content-Type: application/json");
    s->hdrs = curl_slist_append(s->hdrs, "Content-Encoding: gzip");
    s->answer.len = 0;
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
    curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, (const char *)b->body);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, &s->answer);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT, 600L);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    s->busy = 1;
    s->retry_at = 0;
    if (curl_multi_add_handle(multi, s->easy) != CURLM_OK) {
        die("curl_multi_add_handle failed");
    }
}

static void post(int argc, char **argv)
{
    const char *base = argv[2];
    int patients = strcmp(argv[4], "patients") == 0;
    long npat;
    long rows;
    long per_batch;
    long inflight;
    char token[256];
    char auth[300];
    char job[40];
    char url[512];
    char jobbody[512];
    struct buf answer = {0};
    struct batch *all;
    struct slot slots[MAX_INFLIGHT];
    long counts[NSTATUS] = {0};
    size_t nb;
    size_t next = 0;
    size_t done = 0;
    unsigned char rnd[16];
    FILE *f;
    CURLM *multi;
    double t0;
    double secs;
    long st;
    int a = 5;
    const char *pre = getenv("CLOUDLOAD_PREFIX");

    if (pre == NULL || strlen(pre) > 12) {
        pre = "";
    }

    if (!patients && strcmp(argv[4], "appointments") != 0) {
        die("the type is patients or appointments");
    }
    if (argc != (patients ? 8 : 9)) {
        die("usage: cloudload post URL TOKEN_FILE patients|appointments PATIENTS [ROWS] BATCH "
            "INFLIGHT");
    }
    npat = strtol(argv[a++], NULL, 10);
    rows = patients ? npat : strtol(argv[a++], NULL, 10);
    per_batch = strtol(argv[a++], NULL, 10);
    inflight = strtol(argv[a], NULL, 10);
    if (npat < 1 || rows < 1 || per_batch < 1 || per_batch > 10000 || inflight < 1 ||
        inflight > MAX_INFLIGHT) {
        die("PATIENTS and ROWS >= 1, BATCH 1 to 10000, INFLIGHT 1 to %d", MAX_INFLIGHT);
    }
    f = fopen(argv[3], "r");
    if (f == NULL || fgets(token, sizeof(token), f) == NULL) {
        die("cannot read the token from %s", argv[3]);
    }
    fclose(f);
    token[strcspn(token, "\r\n")] = '\0';
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);

    f = fopen("/dev/urandom", "r");
    if (f == NULL || fread(rnd, 1, sizeof(rnd), f) != sizeof(rnd)) {
        die("no /dev/urandom");
    }
    fclose(f);
    rnd[6] = (unsigned char)((rnd[6] & 0x0f) | 0x40);
    rnd[8] = (unsigned char)((rnd[8] & 0x3f) | 0x80);
    snprintf(job, sizeof(job),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], rnd[8], rnd[9], rnd[10], rnd[11],
             rnd[12], rnd[13], rnd[14], rnd[15]);

    fprintf(stderr, "cloudload: building %ld %s rows in batches of %ld\n", rows, argv[4],
            per_batch);
    all = build_batches(pre, patients, rows, npat, per_batch, &nb);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        die("curl_global_init failed");
    }

    t0 = now_seconds();
    snprintf(url, sizeof(url), "%s/v1/jobs", base);
    snprintf(jobbody, sizeof(jobbody),
             "{\"id\":\"%s\",\"import_type\":\"%s\",\"filename\":\"bench-%s.csv\","
             "\"sha256\":\"%064d\",\"total_rows\":%ld}",
             job, argv[4], argv[4], 0, rows);
    st = request(url, auth, "POST", jobbody, &answer);
    if (st != 201) {
        die("POST /v1/jobs: %ld %.300s", st, answer.data ? answer.data : "");
    }

    multi = curl_multi_init();
    if (multi == NULL) {
        die("curl_multi_init failed");
    }
    memset(slots, 0, sizeof(slots));
    for (long i = 0; i < inflight; i++) {
        slots[i].easy = curl_easy_init();
        if (slots[i].easy == NULL) {
            die("curl_easy_init failed");
        }
    }
    while (done < nb) {
        int running = 0;
        int left = 0;
        CURLMsg *msg;
        double t = now_seconds();

        for (long i = 0; i < inflight; i++) {
            struct slot *s = &slots[i];

            if (s->busy && s->retry_at > 0 && t >= s->retry_at) {
                start_slot(multi, s, &all[s->batch], base, job, auth);
            }
            else if (!s->busy && next < nb) {
                s->batch = next++;
                start_slot(multi, s, &all[s->batch], base, job, auth);
            }
        }
        if (curl_multi_perform(multi, &running) != CURLM_OK ||
            curl_multi_poll(multi, NULL, 0, 100, NULL) != CURLM_OK) {
            die("curl_multi failed");
        }
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            struct slot *s = NULL;

            if (msg->msg != CURLMSG_DONE) {
                continue;
            }
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_multi_remove_handle(multi, s->easy);
            if (msg->data.result != CURLE_OK) {
                die("batch %d: %s", all[s->batch].seq, curl_easy_strerror(msg->data.result));
            }
            curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &st);
            if (st == 503) {
                s->retry_at = now_seconds() + 1.0;
                continue;
            }
            if (st != 200) {
                die("batch %d: %ld %.300s", all[s->batch].seq, st,
                    s->answer.data ? s->answer.data : "");
            }
            count_statuses(s->answer.data, counts);
            s->busy = 0;
            done++;
        }
    }
    snprintf(url, sizeof(url), "%s/v1/jobs/%s/complete", base, job);
    st = request(url, auth, "POST", "", &answer);
    if (st != 200) {
        die("complete: %ld %.300s", st, answer.data ? answer.data : "");
    }
    secs = now_seconds() - t0;

    printf("cloud_rows %ld\n", rows);
    printf("cloud_batches %zu\n", nb);
    printf("cloud_seconds %.3f\n", secs);
    printf("cloud_rows_per_s %.0f\n", (double)rows / secs);
    for (size_t s = 0; s < NSTATUS; s++) {
        printf("cloud_%s %ld\n", statuses[s], counts[s]);
    }

    for (long i = 0; i < inflight; i++) {
        curl_slist_free_all(slots[i].hdrs);
        free(slots[i].answer.data);
        curl_easy_cleanup(slots[i].easy);
    }
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    for (size_t k = 0; k < nb; k++) {
        free(all[k].body);
    }
    free(all);
    free(answer.data);
}

static void new_uuid(char job[40])
{
    unsigned char rnd[16];
    FILE *f = fopen("/dev/urandom", "r");

    if (f == NULL || fread(rnd, 1, sizeof(rnd), f) != sizeof(rnd)) {
        die("no /dev/urandom");
    }
    fclose(f);
    rnd[6] = (unsigned char)((rnd[6] & 0x0f) | 0x40);
    rnd[8] = (unsigned char)((rnd[8] & 0x3f) | 0x80);
    snprintf(job, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], rnd[8], rnd[9],
             rnd[10], rnd[11], rnd[12], rnd[13], rnd[14], rnd[15]);
}

/* One simulated agent of `cloudload agents`: its practice's token, its job
 * and its batches, sent INFLIGHT at a time as the agent sends them. */
struct agent {
    char prefix[16];       /* of every external id and key it sends */
    char auth[300];        /* Authorization: Bearer ... */
    char job[40];          /* its job's id */
    char bind[32];         /* its own loopback source address, or "" */
    struct batch *batches; /* owned */
    size_t nb;
    size_t next; /* the next batch to send */
    size_t done; /* batches answered 200 */
};

struct aslot {
    CURL *easy; /* owned */
    struct curl_slist *hdrs;
    struct buf answer;
    struct agent *agent; /* borrow */
    size_t batch;
    double sent;     /* when the batch was first sent */
    double retry_at; /* 0, or when to send again after a 503 */
    int busy;
};

static void astart(CURLM *multi, struct aslot *s, const char *base)
{
    struct agent *ag = s->agent;
    const struct batch *b = &ag->batches[s->batch];
    char url[512];
    char dh[96];

    snprintf(url, sizeof(url), "%s/v1/jobs/%s/batches/%d", base, ag->job, b->seq);
    snprintf(dh, sizeof(dh), "Batch-Digest: %s", b->digest);
    curl_slist_free_all(s->hdrs);
    s->hdrs = NULL;
    s->hdrs = curl_slist_append(s->hdrs, ag->auth);
    s->hdrs = curl_slist_append(s->hdrs, dh);
    s->hdrs = curl_slist_append(s->hdrs, "Content-Type: application/json");
    s->hdrs = curl_slist_append(s->hdrs, "Content-Encoding: gzip");
    s->answer.len = 0;
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
    curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, (const char *)b->body);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, &s->answer);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT, 600L);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    if (ag->bind[0] != '\0') {
        curl_easy_setopt(s->easy, CURLOPT_INTERFACE, ag->bind);
    }
    s->busy = 1;
    s->retry_at = 0;
    if (curl_multi_add_handle(multi, s->easy) != CURLM_OK) {
        die("curl_multi_add_handle failed");
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of n sorted values, nearest rank. */
static double quantile(const double *v, size_t n, double q)
{
    size_t k;

    if (n == 0) {
        return 0;
    }
    k = (size_t)(q * (double)n + 0.999999);
    k = k < 1 ? 1 : k > n ? n : k;
    return v[k - 1];
}

/*
 * cloudload agents URL TOKENS_FILE PATIENTS ROWS BATCH INFLIGHT: one agent
 * per line "PREFIX TOKEN" of TOKENS_FILE, each its own practice (whose
 * patients PREFIXP1 .. PREFIXP<PATIENTS> are there already), each with a
 * job of ROWS appointments PREFIXA1 .. sent in batches of BATCH, INFLIGHT
 * requests at once per agent, every agent at the same time, each from its
 * own loopback address when the URL is on 127.0.0.1 (as agents are
 * separate clients). The jobs are created before the clock starts; the
 * clock stops when the last job is completed.
 */
static void agents(char **argv)
{
    const char *base = argv[2];
    long npat = strtol(argv[4], NULL, 10);
    long rows = strtol(argv[5], NULL, 10);
    long per_batch = strtol(argv[6], NULL, 10);
    long inflight = strtol(argv[7], NULL, 10);
    int local = strncmp(base, "http://127.0.0.1:", 17) == 0;
    struct agent *ag = NULL;
    struct aslot *slots;
    struct buf answer = {0};
    long counts[NSTATUS] = {0};
    double *lat;
    size_t nag = 0;
    size_t nslots;
    size_t total = 0;
    size_t nlat = 0;
    size_t done = 0;
    long errors = 0;
    long busy = 0;
    char line[512];
    char url[512];
    char jobbody[512];
    FILE *f;
    CURLM *multi;
    double t0;
    double secs;
    long st;

    if (npat < 1 || rows < 1 || per_batch < 1 || per_batch > 10000 || inflight < 1 ||
        inflight > MAX_INFLIGHT) {
        die("PATIENTS and ROWS >= 1, BATCH 1 to 10000, INFLIGHT 1 to %d", MAX_INFLIGHT);
    }
    f = fopen(argv[3], "r");
    if (f == NULL) {
        die("cannot read %s", argv[3]);
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char pre[16];
        char tok[260];
        struct agent *p;

        if (sscanf(line, "%15s %259s", pre, tok) != 2) {
            continue;
        }
        p = realloc(ag, (nag + 1) * sizeof(*ag));
        if (p == NULL) {
            die("out of memory");
        }
        ag = p;
        memset(&ag[nag], 0, sizeof(ag[nag]));
        snprintf(ag[nag].prefix, sizeof(ag[nag].prefix), "%s", pre);
        snprintf(ag[nag].auth, sizeof(ag[nag].auth), "Authorization: Bearer %s", tok);
        if (local && nag < 250) {
            snprintf(ag[nag].bind, sizeof(ag[nag].bind), "127.0.0.%zu", nag + 2);
        }
        nag++;
    }
    fclose(f);
    if (nag == 0) {
        die("no \"PREFIX TOKEN\" line in %s", argv[3]);
    }
    fprintf(stderr, "cloudload: %zu agents, %ld appointments each in batches of %ld\n", nag, rows,
            per_batch);
    for (size_t k = 0; k < nag; k++) {
        ag[k].batches = build_batches(ag[k].prefix, 0, rows, npat, per_batch, &ag[k].nb);
        total += ag[k].nb;
    }
    lat = calloc(total, sizeof(*lat));
    nslots = nag * (size_t)inflight;
    slots = calloc(nslots, sizeof(*slots));
    if (lat == NULL || slots == NULL) {
        die("out of memory");
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        die("curl_global_init failed");
    }
    snprintf(url, sizeof(url), "%s/v1/jobs", base);
    for (size_t k = 0; k < nag; k++) {
        new_uuid(ag[k].job);
        snprintf(jobbody, sizeof(jobbody),
                 "{\"id\":\"%s\",\"import_type\":\"appointments\",\"filename\":\"bench-%s.csv\","
                 "\"sha256\":\"%064d\",\"total_rows\":%ld}",
                 ag[k].job, ag[k].prefix, 0, rows);
        st = request(url, ag[k].auth, "POST", jobbody, &answer);
        if (st != 201) {
            die("POST /v1/jobs: %ld %.300s", st, answer.data ? answer.data : "");
        }
    }
    multi = curl_multi_init();
    if (multi == NULL) {
        die("curl_multi_init failed");
    }
    for (size_t i = 0; i < nslots; i++) {
        slots[i].easy = curl_easy_init();
        slots[i].agent = &ag[i / (size_t)inflight];
        if (slots[i].easy == NULL) {
            die("curl_easy_init failed");
        }
    }

    t0 = now_seconds();
    while (done < total) {
        int running = 0;
        int left = 0;
        CURLMsg *msg;
        double t = now_seconds();

        for (size_t i = 0; i < nslots; i++) {
            struct aslot *s = &slots[i];

            if (s->busy && s->retry_at > 0 && t >= s->retry_at) {
                astart(multi, s, base);
            }
            else if (!s->busy && s->agent->next < s->agent->nb) {
                s->batch = s->agent->next++;
                s->sent = now_seconds();
                astart(multi, s, base);
            }
        }
        if (curl_multi_perform(multi, &running) != CURLM_OK ||
            curl_multi_poll(multi, NULL, 0, 50, NULL) != CURLM_OK) {
            die("curl_multi failed");
        }
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            struct aslot *s = NULL;

            if (msg->msg != CURLMSG_DONE) {
                continue;
            }
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_multi_remove_handle(multi, s->easy);
            st = 0;
            if (msg->data.result == CURLE_OK) {
                curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &st);
            }
            if (st == 503) {
                busy++;
                s->retry_at = now_seconds() + 1.0;
                continue;
            }
            lat[nlat++] = now_seconds() - s->sent;
            if (st == 200) {
                count_statuses(s->answer.data, counts);
                s->agent->done++;
            }
            else {
                errors++;
                fprintf(stderr, "cloudload: %s batch %d: %ld %.200s\n", s->agent->prefix,
                        s->agent->batches[s->batch].seq, st,
                        msg->data.result != CURLE_OK ? curl_easy_strerror(msg->data.result)
                        : s->answer.data != NULL     ? s->answer.data
                                                     : "");
            }
            s->busy = 0;
            done++;
        }
    }
    for (size_t k = 0; k < nag; k++) {
        snprintf(url, sizeof(url), "%s/v1/jobs/%s/complete", base, ag[k].job);
        st = request(url, ag[k].auth, "POST", "", &answer);
        if (st != 200) {
            errors++;
            fprintf(stderr, "cloudload: %s complete: %ld %.200s\n", ag[k].prefix, st,
                    answer.data ? answer.data : "");
        }
    }
    secs = now_seconds() - t0;
    qsort(lat, nlat, sizeof(*lat), cmp_double);

    printf("agents_n %zu\n", nag);
    printf("agents_rows %ld\n", rows * (long)nag);
    printf("agents_seconds %.3f\n", secs);
    printf("agents_rows_per_s %.0f\n", (double)rows * (double)nag / secs);
    printf("agents_batches %zu\n", total);
    printf("agents_batch_p50_s %.3f\n", quantile(lat, nlat, 0.50));
    printf("agents_batch_p99_s %.3f\n", quantile(lat, nlat, 0.99));
    printf("agents_batch_max_s %.3f\n", nlat > 0 ? lat[nlat - 1] : 0.0);
    printf("agents_errors %ld\n", errors);
    printf("agents_busy_503 %ld\n", busy);
    for (size_t s = 0; s < NSTATUS; s++) {
        printf("agents_%s %ld\n", statuses[s], counts[s]);
    }

    for (size_t i = 0; i < nslots; i++) {
        curl_slist_free_all(slots[i].hdrs);
        free(slots[i].answer.data);
        curl_easy_cleanup(slots[i].easy);
    }
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    for (size_t k = 0; k < nag; k++) {
        for (size_t b = 0; b < ag[k].nb; b++) {
            free(ag[k].batches[b].body);
        }
        free(ag[k].batches);
    }
    free(ag);
    free(slots);
    free(lat);
    free(answer.data);
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "csv") == 0) {
        long npat = strtol(argv[2], NULL, 10);
        long rows = strtol(argv[3], NULL, 10);

        if (npat < 1 || rows < 1) {
            die("PATIENTS and ROWS >= 1");
        }
        write_csv(npat, rows, argv[4]);
        return 0;
    }
    if (argc == 8 && strcmp(argv[1], "agents") == 0) {
        agents(argv);
        return 0;
    }
    if (argc >= 5 && strcmp(argv[1], "post") == 0) {
        post(argc, argv);
        return 0;
    }
    fprintf(stderr, "usage: cloudload csv PATIENTS ROWS FILE\n"
                    "       cloudload post URL TOKEN_FILE patients PATIENTS BATCH INFLIGHT\n"
                    "       cloudload post URL TOKEN_FILE appointments PATIENTS ROWS BATCH "
                    "INFLIGHT\n"
                    "       cloudload agents URL TOKENS_FILE PATIENTS ROWS BATCH INFLIGHT\n");
    return 2;
}
