/*
 * os_proc_win.c — os_proc.h on Windows: CreateProcessW of this program's
 * own executable, suspended, put in a Job Object (memory, CPU time, one
 * process, killed when the job closes, no error dialog), then resumed. Only
 * the three standard handles are inherited (PROC_THREAD_ATTRIBUTE_HANDLE_LIST),
 * whatever other threads open at the same time. An anonymous pipe has no
 * timed read, so the parent polls it with PeekNamedPipe, backing off to
 * 20 ms between looks.
 */
#include "agent/os/os_proc.h"

#include "agent/core/alloc.h"
#include "agent/core/error.h"

#include <fcntl.h>
#include <io.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <windows.h>
#include <psapi.h>

#define KILLED_CODE 0xDEADu /* the exit code ds_os_child_finish kills with */
#define CMD_MAX 32768       /* characters of a command line */

struct ds_os_child {
    HANDLE process; /* the child */
    HANDLE job;     /* its job: closing it kills what is left */
    HANDLE out;     /* the read end of its stdout */
};

static int routes;

void ds_os_child_routes(void)
{
    routes = 1;
}

/* An argument that needs no quoting: letters, digits, '_' and '-'. */
static int plain_arg(const char *a)
{
    if (*a == '\0') {
        return 0;
    }
    for (; *a != '\0'; a++) {
        if (!((*a >= 'a' && *a <= 'z') || (*a >= 'A' && *a <= 'Z') || (*a >= '0' && *a <= '9') ||
              *a == '_' || *a == '-')) {
            return 0;
        }
    }
    return 1;
}

/* The job the child runs in. NULL on failure. */
static HANDLE make_job(const struct ds_os_child_limits *lim)
{
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION jl;
    HANDLE job = CreateJobObjectW(NULL, NULL);

    if (job == NULL) {
        return NULL;
    }
    memset(&jl, 0, sizeof(jl));
    jl.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE |
                                          JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION |
                                          JOB_OBJECT_LIMIT_ACTIVE_PROCESS;
    jl.BasicLimitInformation.ActiveProcessLimit = 1;
    if (lim != NULL && lim->memory > 0) {
        jl.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_PROCESS_MEMORY;
        jl.ProcessMemoryLimit = lim->memory;
    }
    if (lim != NULL && lim->cpu_seconds > 0) {
        jl.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_PROCESS_TIME;
        jl.BasicLimitInformation.PerProcessUserTimeLimit.QuadPart =
            (LONGLONG)lim->cpu_seconds * 10000000;
    }
    if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation, &jl, sizeof(jl))) {
        CloseHandle(job);
        return NULL;
    }
    return job;
}

int ds_os_child_start(const char *const *args, int in_fd, const struct ds_os_child_limits *lim,
                      struct ds_os_child **out)
{
    SECURITY_ATTRIBUTES inherit = {sizeof(SECURITY_ATTRIBUTES), NULL, TRUE};
    STARTUPINFOEXW si;
    PROCESS_INFORMATION pi;
    wchar_t exe[MAX_PATH * 4];
    wchar_t *cmd = NULL;
    HANDLE handles[3] = {NULL, NULL, NULL}; /* stdin, stdout, stderr of the child */
    HANDLE rd = NULL;
    HANDLE in = (HANDLE)_get_osfhandle(in_fd);
    SIZE_T attr_size = 0;
    struct ds_os_child *c = NULL;
    size_t len;
    DWORD n;
    int rc = DS_EIO;

    *out = NULL;
    memset(&si, 0, sizeof(si));
    memset(&pi, 0, sizeof(pi));
    if (!routes) {
        return DS_EINVAL;
    }
    n = GetModuleFileNameW(NULL, exe, sizeof(exe) / sizeof(exe[0]));
    if (n == 0 || n >= sizeof(exe) / sizeof(exe[0]) || in == INVALID_HANDLE_VALUE) {
        return DS_EIO;
    }
    /* "EXE" ARG ARG ...: the path cannot hold a quote; the arguments are plain. */
    cmd = ds_malloc(CMD_MAX * sizeof(wchar_t));
    c = ds_calloc(1, sizeof(*c));
    if (cmd == NULL || c == NULL) {
        rc = DS_ENOMEM;
        goto out;
    }
    len = (size_t)_snwprintf(cmd, CMD_MAX, L"\"%ls\"", exe);
    for (size_t i = 0; args[i] != NULL; i++) {
        if (!plain_arg(args[i]) || len + 2 + strlen(args[i]) >= CMD_MAX) {
            rc = DS_EINVAL;
            goto out;
        }
        cmd[len++] = L' ';
        for (const char *a = args[i]; *a != '\0'; a++) {
            cmd[len++] = (wchar_t)(unsigned char)*a;
        }
        cmd[len] = L'\0';
    }
    if (!DuplicateHandle(GetCurrentProcess(), in, GetCurrentProcess(), &handles[0], 0, TRUE,
                         DUPLICATE_SAME_ACCESS) ||
        !CreatePipe(&rd, &handles[1], NULL, 64 * 1024) ||
        !SetHandleInformation(handles[1], HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT)) {
        goto out;
    }
    handles[2] = CreateFileW(L"NUL", GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit,
                             OPEN_EXISTING, 0, NULL);
    if (handles[2] == INVALID_HANDLE_VALUE) {
        handles[2] = NULL;
        goto out;
    }
    c->job = make_job(lim);
    if (c->job == NULL) {
        goto out;
    }
    (void)InitializeProcThreadAttributeList(NULL, 1, 0, &attr_size);
    si.lpAttributeList = ds_malloc(attr_size);
    if (si.lpAttributeList == NULL) {
        rc = DS_ENOMEM;
        goto out;
    }
    if (!InitializeProcThreadAttributeList(si.lpAttributeList, 1, 0, &attr_size)) {
        ds_free(si.lpAttributeList);
        si.lpAttributeList = NULL;
        goto out;
    }
    si.StartupInfo.cb = sizeof(si);
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = handles[0];
    si.StartupInfo.hStdOutput = handles[1];
    si.StartupInfo.hStdError = handles[2];
    if (!UpdateProcThreadAttribute(si.lpAttributeList, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
                                   handles, sizeof(handles), NULL, NULL) ||
        !CreateProcessW(exe, cmd, NULL, NULL, TRUE,
                        CREATE_SUSPENDED | CREATE_NO_WINDOW | EXTENDED_STARTUPINFO_PRESENT, NULL,
                        NULL, &si.StartupInfo, &pi)) {
        goto out;
    }
    if (!AssignProcessToJobObject(c->job, pi.hProcess) || ResumeThread(pi.hThread) == (DWORD)-1) {
        TerminateProcess(pi.hProcess, KILLED_CODE);
        WaitForSingleObject(pi.hProcess, INFINITE);
        CloseHandle(pi.hThread);
        CloseHandle(pi.hProcess);
        goto out;
    }
    CloseHandle(pi.hThread);
    c->process = pi.hProcess;
    c->out = rd;
    rd = NULL;
    *out = c;
    c = NULL;
    rc = 0;
out:
    if (si.lpAttributeList != NULL) {
        DeleteProcThreadAttributeList(si.lpAttributeList);
        ds_free(si.lpAttributeList);
    }
    for (int i = 0; i < 3; i++) {
        if (handles[i] != NULL) {
            CloseHandle(handles[i]);
        }
    }
    if (rd != NULL) {
        CloseHandle(rd);
    }
    if (c != NULL && c->job != NULL) {
        CloseHandle(c->job);
    }
    ds_free(c);
    ds_free(cmd);
    return rc;
}

long ds_os_child_read(struct ds_os_child *c, void *buf, size_t size, int timeout_ms)
{
    ULONGLONG start = GetTickCount64();
    DWORD wait = 1;

    if (size > 0x10000000) {
        size = 0x10000000;
    }
    for (;;) {
        DWORD avail = 0;
        DWORD got = 0;

        if (!PeekNamedPipe(c->out, NULL, 0, NULL, &avail, NULL)) {
            return GetLastError() == ERROR_BROKEN_PIPE ? 0 : DS_EIO;
        }
        if (avail > 0) {
            if (!ReadFile(c->out, buf, avail < size ? avail : (DWORD)size, &got, NULL)) {
                return GetLastError() == ERROR_BROKEN_PIPE ? 0 : DS_EIO;
            }
            return (long)got;
        }
        if (GetTickCount64() - start >= (ULONGLONG)timeout_ms) {
            return DS_EBUSY;
        }
        Sleep(wait);
        wait = wait < 20 ? wait * 2 : 20;
    }
}

void ds_os_child_finish(struct ds_os_child *c, int kill_it, struct ds_os_child_exit *how)
{
    DWORD code = 0;

    if (how != NULL) {
        memset(how, 0, sizeof(*how));
    }
    if (c == NULL) {
        return;
    }
    CloseHandle(c->out);
    if (kill_it) {
        (void)TerminateProcess(c->process, KILLED_CODE);
    }
    (void)WaitForSingleObject(c->process, INFINITE);
    if (!GetExitCodeProcess(c->process, &code)) {
        code = KILLED_CODE;
    }
    if (how != NULL) {
        how->killed = kill_it;
        if (kill_it && code == KILLED_CODE) {
            how->code = -1;
            snprintf(how->how, sizeof(how->how), "killed");
        }
        else if (code >= 0xC0000000u) {
            /* An NTSTATUS error: an access violation, a stack overflow. */
            how->crashed = 1;
            how->code = -1;
            snprintf(how->how, sizeof(how->how), "exception 0x%08lX", (unsigned long)code);
        }
        else {
            how->code = (int)code;
            snprintf(how->how, sizeof(how->how), "exit status %lu", (unsigned long)code);
        }
    }
    CloseHandle(c->process);
    CloseHandle(c->job);
    ds_free(c);
}

void ds_os_child_limit_self(const struct ds_os_child_limits *lim)
{
    (void)lim; /* the job holds them */
    /* No dialog for a crash or a missing drive: the parent reports it. */
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX);
    (void)_setmode(0, _O_BINARY);
    (void)_setmode(1, _O_BINARY);
}

int ds_os_child_write(const void *p, size_t n)
{
    HANDLE h = GetStdHandle(STD_OUTPUT_HANDLE);
    const unsigned char *b = p;

    while (n > 0) {
        DWORD k = 0;
        DWORD want = n > 0x100000 ? 0x100000 : (DWORD)n;

        if (!WriteFile(h, b, want, &k, NULL) || k == 0) {
            return -1;
        }
        b += k;
        n -= k;
    }
    return 0;
}

void ds_os_child_exit(int code)
{
    _exit(code);
}

int ds_os_stop_signals(int sig[DS_OS_STOP_SIGNALS_MAX])
{
    sig[0] = SIGINT;
    sig[1] = SIGBREAK;
    sig[2] = SIGHUP; /* uv.h's: the console window closes */
    return 3;
}

int ds_os_reload_signal(void)
{
    return 0;
}

void ds_os_whoami(char *buf, size_t size)
{
    wchar_t name[257];
    char utf8[4 * 257];
    DWORD n = sizeof(name) / sizeof(name[0]);

    if (!GetUserNameW(name, &n) ||
        WideCharToMultiByte(CP_UTF8, 0, name, -1, utf8, sizeof(utf8), NULL, NULL) == 0) {
        snprintf(buf, size, "user unknown");
        return;
    }
    snprintf(buf, size, "user %s", utf8);
}

void ds_os_kill_self(void)
{
    TerminateProcess(GetCurrentProcess(), 137);
    _exit(137);
}

size_t ds_os_alloc_size(void *p)
{
    return _msize(p);
}

int ds_os_children_left(void)
{
    return 0;
}

long ds_os_peak_memory_kib(void)
{
    PROCESS_MEMORY_COUNTERS pmc;

    if (!GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof(pmc))) {
        return -1;
    }
    return (long)(pmc.PeakWorkingSetSize / 1024);
}
