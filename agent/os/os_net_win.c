/*
 * os_net_win.c — os_net.h on Windows: a named pipe whose name derives from
 * the state directory; the asker's user from the client process's token.
 *
 * libuv creates the pipe with FILE_FLAG_FIRST_PIPE_INSTANCE, so listening
 * fails rather than share a name another process created first, and with
 * the default security (full control for the creator, the administrators
 * and LocalSystem; only reading for everyone else, which lets no one else
 * send a command).
 */
#include "agent/os/os_net.h"

#include "agent/core/error.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <windows.h>

int ds_os_control_name(const char *state_dir, char *buf, size_t size)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a, 64 bits */
    size_t len = strlen(state_dir);
    int n;

    while (len > 1 && (state_dir[len - 1] == '/' || state_dir[len - 1] == '\\')) {
        len--;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)state_dir[i];

        if (c >= 'A' && c <= 'Z') {
            c = (unsigned char)(c - 'A' + 'a');
        }
        if (c == '/') {
            c = '\\';
        }
        h ^= c;
        h *= 1099511628211ULL;
    }
    n = snprintf(buf, size, "\\\\.\\pipe\\dentsync-%016llx", (unsigned long long)h);
    if (n < 0 || (size_t)n >= size) {
        return DS_ETOOBIG;
    }
    return 0;
}

void ds_os_control_stale(const char *name)
{
    (void)name;
}

int ds_os_control_restrict(uv_pipe_t *server, const char *name)
{
    (void)server;
    (void)name;
    return 0; /* the pipe's default security, above */
}

void ds_os_control_gone(const char *name)
{
    (void)name;
}

/* The user SID of token into buf; NULL when it cannot be read. */
static PSID token_user(HANDLE token, unsigned char *buf, DWORD size)
{
    DWORD got = 0;

    if (!GetTokenInformation(token, TokenUser, buf, size, &got)) {
        return NULL;
    }
    return ((TOKEN_USER *)(void *)buf)->User.Sid;
}

int ds_os_control_peer_privileged(uv_pipe_t *conn)
{
    unsigned char peer_buf[256];
    unsigned char self_buf[256];
    unsigned char system_buf[SECURITY_MAX_SID_SIZE];
    DWORD system_size = sizeof(system_buf);
    TOKEN_ELEVATION elevation;
    DWORD got = 0;
    ULONG pid = 0;
    HANDLE process = NULL;
    HANDLE peer = NULL;
    HANDLE self = NULL;
    PSID peer_sid;
    PSID self_sid;
    uv_os_fd_t h;
    int ok = 0;

    if (uv_fileno((uv_handle_t *)conn, &h) != 0 || !GetNamedPipeClientProcessId(h, &pid)) {
        return 0;
    }
    process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
    if (process == NULL || !OpenProcessToken(process, TOKEN_QUERY, &peer) ||
        !OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &self)) {
        goto out;
    }
    peer_sid = token_user(peer, peer_buf, sizeof(peer_buf));
    self_sid = token_user(self, self_buf, sizeof(self_buf));
    if (peer_sid == NULL || self_sid == NULL) {
        goto out;
    }
    if (EqualSid(peer_sid, self_sid)) {
        ok = 1;
    }
    else if (CreateWellKnownSid(WinLocalSystemSid, NULL, system_buf, &system_size) &&
             EqualSid(peer_sid, (PSID)system_buf)) {
        ok = 1;
    }
    else if (GetTokenInformation(peer, TokenElevation, &elevation, sizeof(elevation), &got) &&
             elevation.TokenIsElevated) {
        ok = 1;
    }
out:
    if (peer != NULL) {
        CloseHandle(peer);
    }
    if (self != NULL) {
        CloseHandle(self);
    }
    if (process != NULL) {
        CloseHandle(process);
    }
    return ok;
}
