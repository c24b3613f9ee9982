/*
 * main.c — the dentsync-cloud command line: migrate, practice
 * create/list, token create/revoke/list, serve.
 *
 * Every command takes --db URL (or $DENTSYNC_DB). The administrative
 * commands run as the owner role; serve refuses any role that row-level
 * security does not bind. Exit status: 0 success, 1 runtime error, 2 usage
 * error. Only the token (once) and ids go to stdout; messages go to stderr.
 */
#include "cloud/admin.h"
#include "cloud/db.h"
#include "cloud/error.h"
#include "cloud/http.h"
#include "cloud/log.h"
#include "cloud/schema.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

#define DSC_VERSION "0.1.0"

static const char usage_main[] =
    "usage: dentsync-cloud COMMAND [OPTIONS]\n"
    "\n"
    "The reference cloud API of dentsync (see docs/protocol.md).\n"
    "\n"
    "Commands:\n"
    "  migrate                               apply the schema migrations and create/grant\n"
    "                                        the application role dentsync_app\n"
    "  practice create NAME [--timezone TZ] [--conflict-policy flag|reject]\n"
    "                                        create a practice; prints its id\n"
    "  practice set NAME --name-only-match on|off\n"
    "                                        match name-only patient references or not\n"
    "  practice list                         list the practices\n"
    "  token create --practice NAME [--name LABEL]\n"
    "                                        create an agent token; prints it once\n"
    "  token revoke TOKEN_ID                 revoke an agent token\n"
    "  token list                            list the tokens (never the tokens themselves)\n"
    "  serve --listen HOST:PORT [--pool N] [--pool-wait S] [--threads N]\n"
    "        [--tls-cert FILE --tls-key FILE] [--trusted-proxy ADDR]\n"
    "        [--metrics-listen HOST:PORT]\n"
    "                                        serve the v1 API\n"
    "\n"
    "Every command takes --db URL (default: $DENTSYNC_DB) and --help.\n"
    "migrate, practice and token run as the database owner role; serve runs only\n"
    "as a role that is not superuser, not BYPASSRLS and owns no table.\n"
    "Exit status: 0 success, 1 runtime error, 2 usage error.\n";

static const char usage_migrate[] =
    "usage: dentsync-cloud migrate [--db URL]\n"
    "\n"
    "Applies the embedded migrations not yet recorded in schema_migrations, each in\n"
    "its own transaction, then creates the role dentsync_app (LOGIN, NOSUPERUSER,\n"
    "NOBYPASSRLS) if missing and grants it what serve needs. Run as the owner role.\n"
    "Safe to run again.\n";

static const char usage_practice[] =
    "usage: dentsync-cloud practice create NAME [--timezone TZ] [--conflict-policy P] [--db URL]\n"
    "       dentsync-cloud practice set NAME --name-only-match on|off [--db URL]\n"
    "       dentsync-cloud practice list [--db URL]\n"
    "\n"
    "create makes the practice NAME (IANA timezone TZ, default UTC; conflict policy\n"
    "flag, the default, or reject) and prints its id. set turns the matching of\n"
    "records that name their patient by last and first name only on (the default)\n"
    "or off. list prints every practice: id, name, timezone, conflict policy,\n"
    "created, name-only match (tab-separated).\n";

static const char usage_token[] =
    "usage: dentsync-cloud token create --practice NAME [--name LABEL] [--db URL]\n"
    "       dentsync-cloud token revoke TOKEN_ID [--db URL]\n"
    "       dentsync-cloud token list [--db URL]\n"
    "\n"
    "create makes a token for the practice NAME and prints it once, as the last\n"
    "line of stdout (only its SHA-256 is stored; the token id goes to stderr).\n"
    "revoke makes the token with that id stop working at once. list prints id,\n"
    "practice, label, created and revoked of every token, never a token.\n";

static const char usage_serve[] =
    "usage: dentsync-cloud serve --listen HOST:PORT [--pool N] [--pool-wait S]\n"
    "                            [--threads N] [--tls-cert FILE --tls-key FILE]\n"
    "                            [--trusted-proxy ADDR] [--metrics-listen HOST:PORT]\n"
    "                            [--db URL]\n"
    "\n"
    "Serves the v1 API on HOST:PORT (numeric, e.g. 127.0.0.1:8080 or [::1]:8080)\n"
    "with at most N database connections (--pool, default 8), until SIGINT or\n"
    "SIGTERM. A request waits at most S seconds for a free connection (--pool-wait,\n"
    "1 to 60, default 30), then gets 503 with Retry-After. --threads N serves with\n"
    "a pool of N threads (default: a thread per connection). With --tls-cert and\n"
    "--tls-key (PEM files) it speaks HTTPS (TLS 1.2 and 1.3). Behind a reverse\n"
    "proxy at ADDR (--trusted-proxy, a numeric address), a request from ADDR counts\n"
    "against the client its X-Forwarded-For names for the per-client limit.\n"
    "--metrics-listen HOST:PORT serves the operator, in plain HTTP and without a\n"
    "token, on an address of its own (keep it on loopback or a private network):\n"
    "GET /metrics (Prometheus text) and GET /v1/agents[?stale=1][&stale_after=S]\n"
    "(every practice's agents; with stale=1 those not heard from in S seconds,\n"
    "default 600). Off unless given.\n"
    "Logs one line per request to stderr.\n";

/* Options of one command, parsed. */
struct cli {
    const char *db;       /* --db or $DENTSYNC_DB */
    const char *timezone; /* --timezone */
    const char *practice; /* --practice */
    const char *name;     /* --name */
    const char *listen;   /* --listen */
    const char *policy;   /* --conflict-policy */
    const char *byname;   /* --name-only-match */
    const char *tls_cert; /* --tls-cert */
    const char *tls_key;  /* --tls-key */
    const char *proxy;    /* --trusted-proxy */
    const char *metrics;  /* --metrics-listen */
    int pool;             /* --pool */
    int pool_wait;        /* --pool-wait */
    int threads;          /* --threads */
    int help;             /* --help */
    int npos;             /* positional arguments */
    char **pos;           /* borrow: into argv */
};

static int usage_error(const char *usage, const char *msg)
{
    fprintf(stderr, "dentsync-cloud: %s\n\n%s", msg, usage);
    return EXIT_USAGE;
}

/* Parses argv (argv[0] is the command's name). Returns 0 or EXIT_USAGE. */
static int parse(int argc, char **argv, const char *usage, struct cli *cli)
{
    static const struct option options[] = {
        {"db", required_argument, NULL, 'd'},
        {"timezone", required_argument, NULL, 't'},
        {"practice", required_argument, NULL, 'p'},
        {"name", required_argument, NULL, 'n'},
        {"listen", required_argument, NULL, 'l'},
        {"pool", required_argument, NULL, 'P'},
        {"pool-wait", required_argument, NULL, 'W'},
        {"threads", required_argument, NULL, 'T'},
        {"tls-cert", required_argument, NULL, 'C'},
        {"tls-key", required_argument, NULL, 'K'},
        {"trusted-proxy", required_argument, NULL, 'X'},
        {"metrics-listen", required_argument, NULL, 'M'},
        {"conflict-policy", required_argument, NULL, 'c'},
        {"name-only-match", required_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char *end;
    long v;
    int c;

    memset(cli, 0, sizeof(*cli));
    cli->db = getenv("DENTSYNC_DB");
    cli->pool = 8;
    cli->pool_wait = 30;
    for (;;) {
        c = getopt_long(argc, argv, "h", options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case 'd':
            cli->db = optarg;
            break;
        case 't':
            cli->timezone = optarg;
            break;
        case 'p':
            cli->practice = optarg;
            break;
        case 'n':
            cli->name = optarg;
            break;
        case 'l':
            cli->listen = optarg;
            break;
        case 'P':
            v = strtol(optarg, &end, 10);
            if (*end != '\0' || v < 1 || v > DSC_DB_POOL_MAX) {
                return usage_error(usage, "--pool wants a number from 1 to 64");
            }
            cli->pool = (int)v;
            break;
        case 'W':
            v = strtol(optarg, &end, 10);
            if (*end != '\0' || v < 1 || v > 60) {
                return usage_error(usage, "--pool-wait wants a number of seconds from 1 to 60");
            }
            cli->pool_wait = (int)v;
            break;
        case 'T':
            v = strtol(optarg, &end, 10);
            if (*end != '\0' || v < 1 || v > 256) {
                return usage_error(usage, "--threads wants a number from 1 to 256");
            }
            cli->threads = (int)v;
            break;
        case 'C':
            cli->tls_cert = optarg;
            break;
        case 'K':
            cli->tls_key = optarg;
            break;
        case 'X':
            cli->proxy = optarg;
            break;
        case 'M':
            cli->metrics = optarg;
            break;
        case 'c':
            cli->policy = optarg;
            break;
        case 'N':
            cli->byname = optarg;
            break;
        case 'h':
            cli->help = 1;
            break;
        default:
            fprintf(stderr, "\n%s", usage);
            return EXIT_USAGE;
        }
    }
    cli->npos = argc - optind;
    cli->pos = argv + optind;
    if (!cli->help && (cli->db == NULL || cli->db[0] == '\0')) {
        return usage_error(usage, "no database: give --db URL or set DENTSYNC_DB");
    }
    return 0;
}

/* Rejects options that the command does not take. */
static int only(const struct cli *cli, const char *usage, int timezone, int practice, int name,
                int listen)
{
    if ((cli->timezone != NULL && !timezone) || (cli->policy != NULL && !timezone) ||
        cli->byname != NULL || (cli->practice != NULL && !practice) ||
        (cli->name != NULL && !name) || (cli->listen != NULL && !listen) ||
        (cli->tls_cert != NULL && !listen) || (cli->tls_key != NULL && !listen) ||
        (cli->threads != 0 && !listen) || (cli->proxy != NULL && !listen) ||
        (cli->metrics != NULL && !listen)) {
        return usage_error(usage, "an option does not apply to this command");
    }
    return 0;
}

static int open_db(const struct cli *cli, struct dsc_db **db)
{
    int rc = dsc_db_open(cli->db, 1, db);

    if (rc != 0) {
        fprintf(stderr, "dentsync-cloud: cannot connect to the database: %s\n", dsc_strerror(rc));
    }
    return rc;
}

static int cmd_migrate(int argc, char **argv)
{
    struct dsc_db *db = NULL;
    struct cli cli;
    int rc;

    rc = parse(argc, argv, usage_migrate, &cli);
    if (rc != 0 || cli.help) {
        fputs(rc == 0 ? usage_migrate : "", stdout);
        return rc;
    }
    if (cli.npos != 0 || only(&cli, usage_migrate, 0, 0, 0, 0) != 0) {
        return usage_error(usage_migrate, "migrate takes no arguments");
    }
    rc = open_db(&cli, &db);
    if (rc == 0) {
        rc = dsc_schema_migrate(db);
        if (rc != 0) {
            fprintf(stderr, "dentsync-cloud: migrate failed: %s\n", dsc_strerror(rc));
        }
    }
    dsc_db_close(&db);
    return rc == 0 ? 0 : EXIT_RUNTIME;
}

/* practice set NAME --name-only-match on|off */
static int practice_set(const struct cli *cli)
{
    struct cli rest = *cli;
    struct dsc_db *db = NULL;
    int on;
    int rc;

    rest.byname = NULL;
    if (only(&rest, usage_practice, 0, 0, 0, 0) != 0) {
        return EXIT_USAGE;
    }
    if (cli->byname == NULL ||
        (strcmp(cli->byname, "on") != 0 && strcmp(cli->byname, "off") != 0)) {
        return usage_error(usage_practice, "practice set wants --name-only-match on or off");
    }
    on = strcmp(cli->byname, "on") == 0;
    rc = open_db(cli, &db);
    if (rc == 0) {
        rc = dsc_admin_practice_name_only(db, cli->pos[1], on);
        if (rc == DSC_ENOTFOUND) {
            fprintf(stderr, "dentsync-cloud: no practice of that name\n");
        }
        else if (rc != 0) {
            fprintf(stderr, "dentsync-cloud: practice set failed: %s\n", dsc_strerror(rc));
        }
    }
    dsc_db_close(&db);
    return rc == 0 ? 0 : EXIT_RUNTIME;
}

static int cmd_practice(int argc, char **argv)
{
    char id[DSC_UUID_LEN];
    struct dsc_db *db = NULL;
    struct cli cli;
    int rc;

    rc = parse(argc, argv, usage_practice, &cli);
    if (rc != 0 || cli.help) {
        fputs(rc == 0 ? usage_practice : "", stdout);
        return rc;
    }
    if (cli.npos == 1 && strcmp(cli.pos[0], "list") == 0) {
        if (only(&cli, usage_practice, 0, 0, 0, 0) != 0) {
            return EXIT_USAGE;
        }
        rc = open_db(&cli, &db);
        if (rc == 0) {
            rc = dsc_admin_practice_list(db, stdout);
        }
        dsc_db_close(&db);
        return rc == 0 ? 0 : EXIT_RUNTIME;
    }
    if (cli.npos == 2 && strcmp(cli.pos[0], "set") == 0) {
        return practice_set(&cli);
    }
    if (cli.npos != 2 || strcmp(cli.pos[0], "create") != 0 ||
        only(&cli, usage_practice, 1, 0, 0, 0) != 0) {
        return usage_error(usage_practice, "want: practice create NAME, or practice list");
    }
    if (cli.policy != NULL && strcmp(cli.policy, "flag") != 0 &&
        strcmp(cli.policy, "reject") != 0) {
        return usage_error(usage_practice, "--conflict-policy wants flag or reject");
    }
    if (cli.pos[1][0] == '\0' || strlen(cli.pos[1]) > 200) {
        return usage_error(usage_practice, "NAME must be 1 to 200 bytes");
    }
    rc = open_db(&cli, &db);
    if (rc != 0) {
        goto out;
    }
    rc = dsc_admin_practice_create(db, cli.pos[1], cli.timezone, id);
    if (rc == DSC_EINVAL) {
        dsc_db_close(&db);
        return usage_error(usage_practice, "unknown timezone (want an IANA name, e.g. "
                                           "America/Chicago)");
    }
    if (rc == DSC_EEXIST) {
        fprintf(stderr, "dentsync-cloud: a practice with that name exists already\n");
    }
    else if (rc != 0) {
        fprintf(stderr, "dentsync-cloud: practice create failed: %s\n", dsc_strerror(rc));
    }
    else {
        if (cli.policy != NULL) {
            rc = dsc_admin_practice_policy(db, id, cli.policy);
        }
        if (rc != 0) {
            fprintf(stderr, "dentsync-cloud: practice create failed: %s\n", dsc_strerror(rc));
        }
        else {
            printf("%s\n", id);
        }
    }
out:
    dsc_db_close(&db);
    return rc == 0 ? 0 : EXIT_RUNTIME;
}

static int cmd_token(int argc, char **argv)
{
    char token[DSC_TOKEN_LEN];
    char id[DSC_UUID_LEN];
    struct dsc_db *db = NULL;
    struct cli cli;
    int create;
    int rc;

    rc = parse(argc, argv, usage_token, &cli);
    if (rc != 0 || cli.help) {
        fputs(rc == 0 ? usage_token : "", stdout);
        return rc;
    }
    if (cli.npos == 1 && strcmp(cli.pos[0], "list") == 0) {
        if (only(&cli, usage_token, 0, 0, 0, 0) != 0) {
            return EXIT_USAGE;
        }
        rc = open_db(&cli, &db);
        if (rc == 0) {
            rc = dsc_admin_token_list(db, stdout);
        }
        dsc_db_close(&db);
        return rc == 0 ? 0 : EXIT_RUNTIME;
    }
    create = cli.npos == 1 && strcmp(cli.pos[0], "create") == 0;
    if (create) {
        if (cli.practice == NULL || only(&cli, usage_token, 0, 1, 1, 0) != 0) {
            return usage_error(usage_token, "want: token create --practice NAME [--name LABEL]");
        }
    }
    else if (cli.npos != 2 || strcmp(cli.pos[0], "revoke") != 0 ||
             only(&cli, usage_token, 0, 0, 0, 0) != 0) {
        return usage_error(usage_token,
                           "want: token create ..., token revoke TOKEN_ID or token list");
    }
    rc = open_db(&cli, &db);
    if (rc != 0) {
        goto out;
    }
    if (!create) {
        rc = dsc_admin_token_revoke(db, cli.pos[1]);
        if (rc == DSC_EINVAL) {
            dsc_db_close(&db);
            return usage_error(usage_token, "TOKEN_ID must be a UUID");
        }
        if (rc != 0) {
            fprintf(stderr, "dentsync-cloud: token revoke failed: %s\n",
                    rc == DSC_ENOTFOUND ? "no such live token" : dsc_strerror(rc));
        }
        goto out;
    }
    rc = dsc_admin_token_create(db, cli.practice, cli.name, token, id);
    if (rc != 0) {
        fprintf(stderr, "dentsync-cloud: token create failed: %s\n",
                rc == DSC_ENOTFOUND ? "no such practice" : dsc_strerror(rc));
        goto out;
    }
    fprintf(stderr, "token %s created; it is shown once, store it now\n", id);
    printf("%s\n", token);
    fflush(stdout);
    memset(token, 0, sizeof(token));
out:
    dsc_db_close(&db);
    return rc == 0 ? 0 : EXIT_RUNTIME;
}

static int cmd_serve(int argc, char **argv)
{
    struct dsc_http_options opt;
    struct cli cli;
    unsigned char addr[16];
    int rc;

    rc = parse(argc, argv, usage_serve, &cli);
    if (rc != 0 || cli.help) {
        fputs(rc == 0 ? usage_serve : "", stdout);
        return rc;
    }
    if (cli.npos != 0 || cli.listen == NULL || only(&cli, usage_serve, 0, 0, 0, 1) != 0) {
        return usage_error(usage_serve, "want: serve --listen HOST:PORT");
    }
    if ((cli.tls_cert == NULL) != (cli.tls_key == NULL)) {
        return usage_error(usage_serve, "--tls-cert and --tls-key go together");
    }
    if (cli.proxy != NULL && inet_pton(AF_INET, cli.proxy, addr) != 1 &&
        inet_pton(AF_INET6, cli.proxy, addr) != 1) {
        return usage_error(usage_serve, "--trusted-proxy wants a numeric IPv4 or IPv6 address");
    }
    opt.db_url = cli.db;
    opt.listen = cli.listen;
    opt.pool_size = cli.pool;
    opt.pool_wait = cli.pool_wait;
    opt.threads = cli.threads;
    opt.tls_cert = cli.tls_cert;
    opt.tls_key = cli.tls_key;
    opt.trusted_proxy = cli.proxy;
    opt.metrics_listen = cli.metrics;
    rc = dsc_http_serve(&opt);
    if (rc == DSC_EINVAL) {
        return usage_error(usage_serve, "--listen and --metrics-listen want HOST:PORT with a "
                                        "numeric address");
    }
    if (rc != 0) {
        fprintf(stderr, "dentsync-cloud: serve: %s\n",
                rc == DSC_EPERM ? "refusing to serve as this database role" : dsc_strerror(rc));
        return EXIT_RUNTIME;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    if (cmd == NULL) {
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("dentsync-cloud %s\n", DSC_VERSION);
        return 0;
    }
    if (strcmp(cmd, "migrate") == 0) {
        return cmd_migrate(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "practice") == 0) {
        return cmd_practice(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "token") == 0) {
        return cmd_token(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "serve") == 0) {
        return cmd_serve(argc - 1, argv + 1);
    }
    fprintf(stderr, "dentsync-cloud: unknown command '%s'\n\n%s", cmd, usage_main);
    return EXIT_USAGE;
}
