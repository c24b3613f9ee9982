/*
 * os_service_win.c — the agent as a Windows service (os_service.h).
 *
 * `run --service` hands the main thread to the Service Control Manager
 * (StartServiceCtrlDispatcherW). Its ServiceMain, on a thread of its own,
 * reports START_PENDING and runs the daemon exactly as `dentsync run`
 * does; the daemon reports RUNNING once it is up (os_service_ready). A
 * STOP or SHUTDOWN arrives on the dispatcher's thread: it reports
 * STOP_PENDING and passes the request to the daemon's loop, which stops as
 * on SIGTERM (the ingest in progress stops at its next commit, uploads in
 * flight are abandoned and replayed). When the daemon returns, STOPPED,
 * with its exit code: a failed start counts as a failure, so the recovery
 * actions set at install (restart after 10, 30 and 60 s) apply to it too.
 *
 * `dentsync service install` registers the service: delayed automatic
 * start, the virtual account NT SERVICE\dentsync (no password, no rights
 * beyond those given to it), the command line `"dentsync.exe" run
 * --service -c "CONFIG"`.
 */
#include "agent/os/os_service.h"

#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define SVC_NAME L"dentsync"
#define SVC_DISPLAY L"dentsync"
#define SVC_ACCOUNT L"NT SERVICE\\dentsync"
#define SVC_DESCRIPTION                                                                            \
    L"Watches the practice's export folders and uploads their rows to the practice's cloud "       \
    L"account."

/* The service account's identifier, worked out once. */
static char sid_text[64];
static INIT_ONCE sid_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK find_sid(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    if (os_service_sid_of("dentsync", sid_text, sizeof(sid_text)) != 0) {
        sid_text[0] = '\0';
    }
    return TRUE;
}

const char *os_service_sid(void)
{
    InitOnceExecuteOnce(&sid_once, find_sid, NULL, NULL);
    return sid_text[0] != '\0' ? sid_text : NULL;
}

const char *os_service_fix(enum os_fix what)
{
    switch (what) {
    case OS_FIX_START:
        return "dentsync service start";
    case OS_FIX_FOLDER_READ:
        return "give NT SERVICE\\dentsync (or the service's account) read access to the folder, "
               "and to the share for a UNC path";
    case OS_FIX_STATE_CREATE:
        return "the service makes it at its first start (dentsync service start) when it may "
               "write its parent folder (dentsync setup makes the data folder so)";
    case OS_FIX_STATE_WRITE:
        return "give NT SERVICE\\dentsync full control of it";
    case OS_FIX_STATE_PRIVATE:
    case OS_FIX_QUEUE_PRIVATE:
        return "leave only SYSTEM, Administrators and NT SERVICE\\dentsync in its permissions "
               "(dentsync setup does so for the data folder)";
    case OS_FIX_TOKEN_PRIVATE:
    case OS_FIX_TOKEN_READ:
        return "write it again with dentsync setup, which makes it readable by SYSTEM, "
               "Administrators and NT SERVICE\\dentsync only";
    case OS_FIX_DNS:
    default:
        return "check the url, the network and the DNS settings";
    }
}

/* The one service of this process, as the dispatcher sees it. */
static struct {
    int active;                   /* running under the dispatcher */
    CRITICAL_SECTION lock;        /* guards what follows */
    SERVICE_STATUS_HANDLE handle; /* ours, from RegisterServiceCtrlHandlerExW */
    SERVICE_STATUS status;        /* as last reported */
    os_service_stop_fn stop_fn;   /* the daemon's stop, while it runs */
    void *stop_ctx;
    int stop_asked;        /* a stop came: for good */
    int (*run)(void *ctx); /* the daemon (cmd_run.c) */
    void *run_ctx;
    int rc; /* its exit code */
} svc;

/* Reports state to the manager; called with svc.lock held. */
static void report(DWORD state, DWORD wait_hint)
{
    if (svc.handle == NULL) {
        return;
    }
    svc.status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    svc.status.dwCurrentState = state;
    svc.status.dwControlsAccepted = state == SERVICE_STOPPED || state == SERVICE_STOP_PENDING
                                        ? 0
                                        : SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN;
    svc.status.dwWaitHint = wait_hint;
    if (state == SERVICE_RUNNING || state == SERVICE_STOPPED) {
        svc.status.dwCheckPoint = 0;
    }
    else {
        svc.status.dwCheckPoint++;
    }
    SetServiceStatus(svc.handle, &svc.status);
}

static DWORD WINAPI on_control(DWORD control, DWORD type, LPVOID data, LPVOID ctx)
{
    (void)type;
    (void)data;
    (void)ctx;
    switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
        EnterCriticalSection(&svc.lock);
        if (svc.status.dwCurrentState != SERVICE_STOPPED) {
            report(SERVICE_STOP_PENDING, 30000);
        }
        svc.stop_asked = 1;
        if (svc.stop_fn != NULL) {
            svc.stop_fn(svc.stop_ctx);
        }
        LeaveCriticalSection(&svc.lock);
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

static void WINAPI service_main(DWORD argc, LPWSTR *argv)
{
    SERVICE_STATUS_HANDLE h;

    (void)argc;
    (void)argv;
    h = RegisterServiceCtrlHandlerExW(SVC_NAME, on_control, NULL);
    if (h == NULL) {
        svc.rc = 1;
        return;
    }
    EnterCriticalSection(&svc.lock);
    svc.handle = h;
    report(SERVICE_START_PENDING, 60000);
    LeaveCriticalSection(&svc.lock);
    svc.rc = svc.run(svc.run_ctx);
    EnterCriticalSection(&svc.lock);
    svc.status.dwWin32ExitCode = svc.rc == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
    svc.status.dwServiceSpecificExitCode = (DWORD)svc.rc;
    report(SERVICE_STOPPED, 0);
    LeaveCriticalSection(&svc.lock);
}

void os_service_on_stop(os_service_stop_fn fn, void *ctx)
{
    if (!svc.active) {
        return;
    }
    EnterCriticalSection(&svc.lock);
    svc.stop_fn = fn;
    svc.stop_ctx = ctx;
    if (fn != NULL && svc.stop_asked) {
        fn(ctx);
    }
    LeaveCriticalSection(&svc.lock);
}

void os_service_ready(void)
{
    if (!svc.active) {
        return;
    }
    EnterCriticalSection(&svc.lock);
    if (!svc.stop_asked) {
        report(SERVICE_RUNNING, 0);
    }
    LeaveCriticalSection(&svc.lock);
}

int os_service_dispatch(int (*run)(void *ctx), void *ctx)
{
    SERVICE_TABLE_ENTRYW table[] = {
        {(LPWSTR)SVC_NAME, service_main},
        {NULL, NULL},
    };

    InitializeCriticalSection(&svc.lock);
    svc.run = run;
    svc.run_ctx = ctx;
    svc.active = 1;
    if (!StartServiceCtrlDispatcherW(table)) {
        DWORD e = GetLastError();

        svc.active = 0;
        if (e == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
            fputs("dentsync: run --service is for the service manager (dentsync service "
                  "start); leave --service out to run in this console\n",
                  stderr);
        }
        else {
            fprintf(stderr, "dentsync: cannot reach the service manager (error %lu)\n",
                    (unsigned long)e);
        }
        return 2;
    }
    svc.active = 0;
    return svc.rc;
}

/* --- dentsync service ---------------------------------------------------- */

static void fail(const char *what)
{
    DWORD e = GetLastError();
    char msg[256];
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, e,
                             MAKELANGID(LANG_ENGLISH, SUBLANG_DEFAULT), msg, sizeof(msg), NULL);

    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == ' ')) {
        msg[--n] = '\0';
    }
    fprintf(stderr, "dentsync: %s: %s (error %lu)\n", what, n > 0 ? msg : "failed",
            (unsigned long)e);
}

/* The service's command line: "EXE" run --service -c "CONFIG", or NULL. */
static wchar_t *service_command(const char *config_path)
{
    static wchar_t exe[MAX_PATH * 4];
    wchar_t *cfg = NULL;
    wchar_t *cmd = NULL;
    size_t size;
    DWORD n = GetModuleFileNameW(NULL, exe, sizeof(exe) / sizeof(exe[0]));
    int m;

    if (n == 0 || n >= sizeof(exe) / sizeof(exe[0])) {
        fail("cannot find the program's own path");
        return NULL;
    }
    m = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, config_path, -1, NULL, 0);
    if (m <= 0 || wcschr(exe, L'"') != NULL || strchr(config_path, '"') != NULL) {
        fputs("dentsync: the configuration's path cannot be put on a command line\n", stderr);
        return NULL;
    }
    cfg = calloc((size_t)m, sizeof(*cfg));
    if (cfg == NULL) {
        return NULL;
    }
    MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, config_path, -1, cfg, m);
    size = wcslen(exe) + wcslen(cfg) + 32;
    cmd = calloc(size, sizeof(*cmd));
    if (cmd != NULL) {
        swprintf(cmd, size, L"\"%ls\" run --service -c \"%ls\"", exe, cfg);
    }
    free(cfg);
    return cmd;
}

static int install(SC_HANDLE scm, const char *config_path)
{
    SC_ACTION actions[3] = {
        {SC_ACTION_RESTART, 10000},
        {SC_ACTION_RESTART, 30000},
        {SC_ACTION_RESTART, 60000},
    };
    SERVICE_FAILURE_ACTIONSW fa = {0};
    SERVICE_FAILURE_ACTIONS_FLAG faf = {0};
    SERVICE_DELAYED_AUTO_START_INFO delayed = {0};
    SERVICE_DESCRIPTIONW desc = {0};
    SERVICE_SID_INFO sid = {0};
    wchar_t *cmd = service_command(config_path);
    SC_HANDLE s;
    int rc = 0;

    if (cmd == NULL) {
        return 1;
    }
    s = CreateServiceW(scm, SVC_NAME, SVC_DISPLAY, SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
                       SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, cmd, NULL, NULL, NULL, SVC_ACCOUNT,
                       NULL);
    free(cmd);
    if (s == NULL) {
        fail(GetLastError() == ERROR_SERVICE_EXISTS ? "the service is installed already"
                                                    : "cannot create the service");
        return 1;
    }
    delayed.fDelayedAutostart = TRUE;
    desc.lpDescription = (LPWSTR)SVC_DESCRIPTION;
    /* Restart after 10 s, 30 s, then every 60 s; the count starts over
     * after a day without a failure. A failed start counts too. */
    fa.dwResetPeriod = 24 * 60 * 60;
    fa.cActions = 3;
    fa.lpsaActions = actions;
    faf.fFailureActionsOnNonCrashFailures = TRUE;
    /* The service's own identifier in its token whatever account it is
     * given later (a domain account for a share): the private files grant
     * that identifier, so they stay readable to the service. */
    sid.dwServiceSidType = SERVICE_SID_TYPE_UNRESTRICTED;
    if (!ChangeServiceConfig2W(s, SERVICE_CONFIG_DELAYED_AUTO_START_INFO, &delayed)) {
        fail("cannot set the delayed start");
        rc = 1;
    }
    if (!ChangeServiceConfig2W(s, SERVICE_CONFIG_FAILURE_ACTIONS, &fa) ||
        !ChangeServiceConfig2W(s, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &faf)) {
        fail("cannot set the recovery actions");
        rc = 1;
    }
    if (!ChangeServiceConfig2W(s, SERVICE_CONFIG_SERVICE_SID_INFO, &sid)) {
        fail("cannot give the service its own identifier");
        rc = 1;
    }
    ChangeServiceConfig2W(s, SERVICE_CONFIG_DESCRIPTION, &desc);
    CloseServiceHandle(s);
    if (rc == 0) {
        printf("dentsync: service installed (delayed automatic start, account %ls, %s)\n",
               SVC_ACCOUNT, os_service_sid() != NULL ? os_service_sid() : "identifier unknown");
    }
    return rc;
}

static const char *state_name(DWORD state)
{
    switch (state) {
    case SERVICE_STOPPED:
        return "stopped";
    case SERVICE_START_PENDING:
        return "starting";
    case SERVICE_STOP_PENDING:
        return "stopping";
    case SERVICE_RUNNING:
        return "running";
    case SERVICE_CONTINUE_PENDING:
        return "continuing";
    case SERVICE_PAUSE_PENDING:
        return "pausing";
    case SERVICE_PAUSED:
        return "paused";
    default:
        return "unknown";
    }
}

/* Waits up to 30 s for the service to leave the pending state; 0 when it
 * reached want. */
static int wait_for(SC_HANDLE s, DWORD want, SERVICE_STATUS_PROCESS *st)
{
    DWORD need;

    for (int i = 0; i < 300; i++) {
        if (!QueryServiceStatusEx(s, SC_STATUS_PROCESS_INFO, (LPBYTE)st, sizeof(*st), &need)) {
            fail("cannot query the service");
            return 1;
        }
        if (st->dwCurrentState == want) {
            return 0;
        }
        Sleep(100);
    }
    fprintf(stderr, "dentsync: the service is still %s after 30 s\n",
            state_name(st->dwCurrentState));
    return 1;
}

static int control(SC_HANDLE scm, const char *verb)
{
    SERVICE_STATUS_PROCESS st;
    SERVICE_STATUS ss;
    DWORD need;
    DWORD access = SERVICE_QUERY_STATUS | SERVICE_START | SERVICE_STOP;
    SC_HANDLE s;
    int rc = 0;

    if (strcmp(verb, "uninstall") == 0) {
        access |= DELETE;
    }
    else if (strcmp(verb, "status") == 0) {
        access = SERVICE_QUERY_STATUS;
    }
    s = OpenServiceW(scm, SVC_NAME, access);
    if (s == NULL) {
        fail(GetLastError() == ERROR_SERVICE_DOES_NOT_EXIST ? "the service is not installed"
                                                            : "cannot open the service");
        return 1;
    }
    if (strcmp(verb, "start") == 0) {
        if (!StartServiceW(s, 0, NULL)) {
            fail("cannot start the service");
            rc = 1;
        }
        else {
            rc = wait_for(s, SERVICE_RUNNING, &st);
            if (rc == 0) {
                printf("dentsync: service running (pid %lu)\n", (unsigned long)st.dwProcessId);
            }
        }
    }
    else if (strcmp(verb, "stop") == 0 || strcmp(verb, "uninstall") == 0) {
        if (ControlService(s, SERVICE_CONTROL_STOP, &ss)) {
            rc = wait_for(s, SERVICE_STOPPED, &st);
            if (rc == 0) {
                puts("dentsync: service stopped");
            }
        }
        else if (GetLastError() != ERROR_SERVICE_NOT_ACTIVE) {
            fail("cannot stop the service");
            rc = 1;
        }
        else if (strcmp(verb, "stop") == 0) {
            puts("dentsync: service not running");
        }
        if (strcmp(verb, "uninstall") == 0) {
            if (DeleteService(s)) {
                puts("dentsync: service removed (configuration, tokens and queue are kept)");
                rc = 0;
            }
            else {
                fail("cannot remove the service");
                rc = 1;
            }
        }
    }
    else {
        if (!QueryServiceStatusEx(s, SC_STATUS_PROCESS_INFO, (LPBYTE)&st, sizeof(st), &need)) {
            fail("cannot query the service");
            rc = 1;
        }
        else if (st.dwCurrentState == SERVICE_RUNNING) {
            printf("dentsync: service running (pid %lu)\n", (unsigned long)st.dwProcessId);
        }
        else {
            printf("dentsync: service %s", state_name(st.dwCurrentState));
            if (st.dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR) {
                printf(" (last exit code %lu)", (unsigned long)st.dwServiceSpecificExitCode);
            }
            putchar('\n');
        }
    }
    CloseServiceHandle(s);
    return rc;
}

int os_service_manage(const char *verb, const char *config_path)
{
    SC_HANDLE scm;
    int rc;
    int is_install = strcmp(verb, "install") == 0;

    if (!is_install && strcmp(verb, "uninstall") != 0 && strcmp(verb, "start") != 0 &&
        strcmp(verb, "stop") != 0 && strcmp(verb, "status") != 0) {
        fprintf(stderr, "dentsync: service: unknown action '%s'\n", verb);
        return 2;
    }
    scm = OpenSCManagerW(NULL, NULL, is_install ? SC_MANAGER_CREATE_SERVICE : SC_MANAGER_CONNECT);
    if (scm == NULL) {
        fail(GetLastError() == ERROR_ACCESS_DENIED
                 ? "the service manager refused (run as an administrator)"
                 : "cannot open the service manager");
        return 1;
    }
    rc = is_install ? install(scm, config_path) : control(scm, verb);
    CloseServiceHandle(scm);
    return rc;
}
