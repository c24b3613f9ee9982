/*
 * os_fs_win.c — the file system on Windows (see os_fs.h).
 *
 * Paths arrive in UTF-8 and go to the wide (UTF-16) calls only, converted
 * with MultiByteToWideChar; nothing here uses the ANSI code page.
 *
 * Never following a link: every open of a name in a folder others can
 * write into passes FILE_FLAG_OPEN_REPARSE_POINT (so a symbolic link or a
 * junction is opened itself, not its target) and then asks the handle
 * (GetFileInformationByHandleEx, FileAttributeTagInfo): a reparse point of
 * any kind is refused as DS_FSAFE_LINK. What was checked is the handle that
 * is used: it becomes the descriptor (_open_osfhandle), and a second reader
 * gets ReOpenFile of that handle, never a new lookup of the name.
 *
 * Relative to an open directory: Windows has no openat. The choice made
 * here: a directory handle is opened without FILE_SHARE_DELETE, so the
 * directory itself cannot be renamed or removed while the agent holds it;
 * a name inside it is built from the handle's own current path
 * (GetFinalPathNameByHandleW, not the string it was opened by), the entry
 * is opened or created with FILE_FLAG_OPEN_REPARSE_POINT, and the opened
 * handle's final path is compared with the path built: a junction swapped
 * in on the way shows up as a different final path and the open is
 * refused. Creates use CREATE_NEW (O_EXCL): an existing entry, a link
 * included, makes them fail rather than be followed.
 *
 * A writer that holds an export open with a sharing mode that denies
 * reading makes the open fail with ERROR_SHARING_VIOLATION (or
 * ERROR_LOCK_VIOLATION): that is DS_FSAFE_BUSY, "not settled yet", which
 * the callers treat as "keep waiting", never as an error. A move or delete
 * of a file another process holds without FILE_SHARE_DELETE is EBUSY
 * (tried again later by the after-delivery sweep).
 *
 * Private files and directories get a protected DACL granting full access
 * to SYSTEM, Administrators, the owner (OWNER RIGHTS) and the service's
 * own account NT SERVICE\dentsync (os_service_sid), nobody else:
 * "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;OW)(A;OICI;FA;;;S-1-5-80-…)".
 * The service account is in it because the token and the configuration
 * are written by `dentsync setup` during the install, as SYSTEM, and read
 * by the service. A directory the agent uses for its own files must be
 * owned by one of those (the agent's own account, its token's default
 * owner, SYSTEM, Administrators, the service account) and grant write
 * access to no one else.
 *
 * Renames are MoveFileExW with MOVEFILE_WRITE_THROUGH (and
 * MOVEFILE_REPLACE_EXISTING where a rename replaces): NTFS journals the
 * change, so there is no directory to fsync and ds_os_sync_dir does
 * nothing.
 *
 * Links with: kernel32, advapi32 (security), shell32, ole32 and uuid
 * (SHGetKnownFolderPath).
 */
#include "agent/os/os_fs.h"

#include "agent/core/alloc.h"
#include "agent/os/os_service.h"

#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <shlobj.h>

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define PRIVATE_SDDL "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;OW)"
#define SHARE_ALL (FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
#define WIDE_MAX 32768 /* the longest path the wide calls take, in characters */

/* ---- helpers ----------------------------------------------------------------- */

static void set_why(int *why, int v)
{
    if (why != NULL) {
        *why = v;
    }
}

static int errno_of(DWORD e)
{
    switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_NAME:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH:
        return ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_PRIVILEGE_NOT_HELD:
        return EACCES;
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
        return EBUSY;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
        return EEXIST;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
        return ENOSPC;
    case ERROR_FILENAME_EXCED_RANGE:
        return ENAMETOOLONG;
    case ERROR_DIRECTORY:
        return ENOTDIR;
    case ERROR_NOT_SAME_DEVICE:
        return EXDEV;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        return ENOMEM;
    case ERROR_CANT_ACCESS_FILE:
    case ERROR_CANT_RESOLVE_FILENAME:
        return ELOOP;
    default:
        return EIO;
    }
}

static int why_of(DWORD e)
{
    switch (errno_of(e)) {
    case ENOENT:
        return DS_FSAFE_GONE;
    case EBUSY:
        return DS_FSAFE_BUSY;
    case ELOOP:
        return DS_FSAFE_LINK;
    case ENOTDIR:
        return DS_FSAFE_NOT_DIR;
    default:
        return DS_FSAFE_ERROR;
    }
}

/* new (ds_free): path in UTF-16, '/' turned into '\'. NULL with errno set. */
static wchar_t *wide(const char *path)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, NULL, 0);
    wchar_t *w;

    if (n <= 0 || n > WIDE_MAX) {
        errno = n <= 0 ? EINVAL : ENAMETOOLONG;
        return NULL;
    }
    w = ds_malloc((size_t)n * sizeof(wchar_t));
    if (w == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, w, n);
    for (int i = 0; i < n; i++) {
        if (w[i] == L'/') {
            w[i] = L'\\';
        }
    }
    return w;
}

/* w in UTF-8 into buf. 0, or -1 when it does not fit. */
static int narrow(const wchar_t *w, char *buf, size_t size)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, buf, size > INT_MAX ? INT_MAX : (int)size, NULL,
                                NULL);

    return n > 0 ? 0 : -1;
}

static HANDLE handle_of(int fd)
{
    return (HANDLE)_get_osfhandle(fd);
}

/* A descriptor owning h (closed on failure). */
static int fd_of(HANDLE h, int flags)
{
    int fd = _open_osfhandle((intptr_t)h, flags | _O_BINARY);

    if (fd < 0) {
        CloseHandle(h);
    }
    return fd;
}

/* new (LocalFree): the private security descriptor, with the service
 * account's entry when its identifier could be made. */
static PSECURITY_DESCRIPTOR private_sd(void)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    const char *sid = os_service_sid();
    char sddl[256];

    snprintf(sddl, sizeof(sddl), "%s%s%s%s", PRIVATE_SDDL, sid != NULL ? "(A;OICI;FA;;;" : "",
             sid != NULL ? sid : "", sid != NULL ? ")" : "");
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorA(sddl, SDDL_REVISION_1, &sd, NULL)) {
        return NULL;
    }
    return sd;
}

/* Whether sid is the service's own account. */
static int is_service(PSID sid)
{
    const char *text = os_service_sid();
    PSID svc = NULL;
    int same;

    if (text == NULL || !ConvertStringSidToSidA(text, &svc)) {
        return 0;
    }
    same = EqualSid(sid, svc) != 0;
    LocalFree(svc);
    return same;
}

/* 100 ns ticks since 1601 to ns since 1970. */
static int64_t ns_of(FILETIME ft)
{
    int64_t t = ((int64_t)ft.dwHighDateTime << 32) | (int64_t)ft.dwLowDateTime;

    return (t - 116444736000000000LL) * 100;
}

static int id_of(HANDLE h, struct ds_file_id *id)
{
    BY_HANDLE_FILE_INFORMATION fi;

    if (!GetFileInformationByHandle(h, &fi)) {
        return -1;
    }
    id->dev = (int64_t)fi.dwVolumeSerialNumber;
    id->ino = (int64_t)(((uint64_t)fi.nFileIndexHigh << 32) | fi.nFileIndexLow);
    id->size = (int64_t)(((uint64_t)fi.nFileSizeHigh << 32) | fi.nFileSizeLow);
    id->mtime_ns = ns_of(fi.ftLastWriteTime);
    return 0;
}

/* What h is: DS_FSAFE_LINK for a reparse point, DS_FSAFE_NOT_DIR or
 * DS_FSAFE_NOT_FILE when it is not the kind wanted (dir = 1: a directory),
 * else DS_FSAFE_OK. */
static int kind_of(HANDLE h, int dir)
{
    FILE_ATTRIBUTE_TAG_INFO tag;

    if (!GetFileInformationByHandleEx(h, FileAttributeTagInfo, &tag, sizeof(tag))) {
        return DS_FSAFE_ERROR;
    }
    if (tag.FileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) {
        return DS_FSAFE_LINK;
    }
    if (dir) {
        return (tag.FileAttributes & FILE_ATTRIBUTE_DIRECTORY) ? DS_FSAFE_OK : DS_FSAFE_NOT_DIR;
    }
    if ((tag.FileAttributes & FILE_ATTRIBUTE_DIRECTORY) || GetFileType(h) != FILE_TYPE_DISK) {
        return DS_FSAFE_NOT_FILE;
    }
    return DS_FSAFE_OK;
}

/* new (ds_free): h's current path, \\?\ form. NULL on failure. */
static wchar_t *final_path(HANDLE h)
{
    DWORD n = GetFinalPathNameByHandleW(h, NULL, 0, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
    wchar_t *w;

    if (n == 0 || n > WIDE_MAX) {
        return NULL;
    }
    w = ds_malloc(((size_t)n + 1) * sizeof(wchar_t));
    if (w == NULL) {
        return NULL;
    }
    if (GetFinalPathNameByHandleW(h, w, n + 1, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS) == 0) {
        ds_free(w);
        return NULL;
    }
    return w;
}

/* new (ds_free): the path of name inside the directory dirfd is open on,
 * built from the directory handle's current path. A name with a separator,
 * "." or ".." is refused (NULL, errno EINVAL). */
static wchar_t *child_path(int dirfd, const char *name)
{
    wchar_t *dir = NULL;
    wchar_t *leaf = NULL;
    wchar_t *p = NULL;
    size_t a;
    size_t b;

    if (name[0] == '\0' || strpbrk(name, "/\\:") != NULL || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0) {
        errno = EINVAL;
        return NULL;
    }
    dir = final_path(handle_of(dirfd));
    leaf = wide(name);
    if (dir == NULL || leaf == NULL) {
        goto out;
    }
    a = wcslen(dir);
    b = wcslen(leaf);
    p = ds_malloc((a + b + 2) * sizeof(wchar_t));
    if (p == NULL) {
        goto out;
    }
    memcpy(p, dir, a * sizeof(wchar_t));
    p[a] = L'\\';
    memcpy(p + a + 1, leaf, (b + 1) * sizeof(wchar_t));
out:
    ds_free(dir);
    ds_free(leaf);
    if (p == NULL) {
        errno = ENOMEM;
    }
    return p;
}

/* Whether the handle h opened by the built path p is still p: no
 * junction swapped in on the way. */
static int is_at(HANDLE h, const wchar_t *p)
{
    wchar_t *got = final_path(h);
    int same = got != NULL && _wcsicmp(got, p) == 0;

    ds_free(got);
    return same;
}

/* CreateFileW of a name inside dirfd that it must still be inside once
 * open (is_at). INVALID_HANDLE_VALUE with *err set on failure. */
static HANDLE open_in(int dirfd, const char *name, DWORD access, DWORD share, DWORD disposition,
                      DWORD flags, SECURITY_ATTRIBUTES *sa, DWORD *err)
{
    wchar_t *p = child_path(dirfd, name);
    HANDLE h;

    if (p == NULL) {
        *err = ERROR_INVALID_NAME;
        return INVALID_HANDLE_VALUE;
    }
    h = CreateFileW(p, access, share, sa, disposition, flags | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    *err = h == INVALID_HANDLE_VALUE ? GetLastError() : 0;
    if (h != INVALID_HANDLE_VALUE && !is_at(h, p)) {
        CloseHandle(h);
        h = INVALID_HANDLE_VALUE;
        *err = ERROR_CANT_ACCESS_FILE;
    }
    ds_free(p);
    return h;
}

/* new (ds_free): a TOKEN_USER or TOKEN_OWNER of this process. */
static void *token_info(TOKEN_INFORMATION_CLASS what)
{
    HANDLE tok = NULL;
    DWORD n = 0;
    void *info = NULL;

    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) {
        return NULL;
    }
    GetTokenInformation(tok, what, NULL, 0, &n);
    info = n > 0 ? ds_malloc(n) : NULL;
    if (info != NULL && !GetTokenInformation(tok, what, info, n, &n)) {
        ds_free(info);
        info = NULL;
    }
    CloseHandle(tok);
    return info;
}

/* Whether sid is this process's account or its default owner. */
static int is_self(PSID sid)
{
    TOKEN_USER *user = token_info(TokenUser);
    TOKEN_OWNER *owner = token_info(TokenOwner);
    int self = (user != NULL && EqualSid(sid, user->User.Sid)) ||
               (owner != NULL && EqualSid(sid, owner->Owner));

    ds_free(user);
    ds_free(owner);
    return self;
}

/* Whether sid may own or write where the agent keeps its files: itself,
 * SYSTEM, Administrators, the service account, or the owner by its
 * placeholders. */
static int may_write(PSID sid)
{
    return IsWellKnownSid(sid, WinLocalSystemSid) ||
           IsWellKnownSid(sid, WinBuiltinAdministratorsSid) ||
           IsWellKnownSid(sid, WinCreatorOwnerSid) ||
           IsWellKnownSid(sid, WinCreatorOwnerRightsSid) || is_self(sid) || is_service(sid);
}

#define WRITE_RIGHTS                                                                               \
    (FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_DELETE_CHILD | DELETE | WRITE_DAC | WRITE_OWNER |   \
     GENERIC_WRITE | GENERIC_ALL)

/* Whom owned() accepts as the owner. */
enum owner_rule {
    OWNER_AGENT,  /* the agent itself: this process's account or the service's */
    OWNER_TRUSTED /* that, SYSTEM or Administrators (may_write) */
};

/* Whether dacl grants any of rights to an account that may_write does not
 * accept: 1 yes (no DACL at all grants everyone everything), 0 no. Owners
 * are judged by their callers, and every owner they accept passes
 * may_write too. */
static int dacl_grants_others(PACL dacl, DWORD rights)
{
    ACL_SIZE_INFORMATION info;

    if (dacl == NULL || !GetAclInformation(dacl, &info, sizeof(info), AclSizeInformation)) {
        return 1;
    }
    for (DWORD i = 0; i < info.AceCount; i++) {
        ACE_HEADER *ace = NULL;

        if (!GetAce(dacl, i, (void **)&ace)) {
            return 1;
        }
        if (ace->AceType != ACCESS_ALLOWED_ACE_TYPE || (ace->AceFlags & INHERIT_ONLY_ACE)) {
            continue;
        }
        if ((((ACCESS_ALLOWED_ACE *)ace)->Mask & rights) != 0 &&
            !may_write((PSID) & ((ACCESS_ALLOWED_ACE *)ace)->SidStart)) {
            return 1;
        }
    }
    return 0;
}

/* Whether h (opened with READ_CONTROL) has an owner the rule accepts and,
 * with check_dacl, grants write access to no one else. The agent's own
 * folders take OWNER_TRUSTED: the folder `dentsync setup` made as SYSTEM,
 * or the service's looked at by an administrator's console. What the
 * retention sweep may delete takes OWNER_AGENT: only what the agent
 * made, never a file SYSTEM or an administrator put there. */
static int owned(HANDLE h, int check_dacl, enum owner_rule rule)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    PSID owner = NULL;
    PACL dacl = NULL;
    int ok;

    if (GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                        &owner, NULL, &dacl, NULL, &sd) != ERROR_SUCCESS) {
        return 0;
    }
    ok = owner != NULL &&
         (rule == OWNER_TRUSTED ? may_write(owner) : is_self(owner) || is_service(owner)) &&
         (!check_dacl || !dacl_grants_others(dacl, WRITE_RIGHTS));
    LocalFree(sd);
    return ok;
}

/* Whether anyone but this process's account, SYSTEM, Administrators and
 * the service account has rights on h: an owner outside those (who may
 * change the DACL at will), or an entry of h's DACL granting another
 * account any of rights. 1 yes, 0 no, -1 cannot be told. */
static int grants_others(HANDLE h, DWORD rights)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    PSID owner = NULL;
    PACL dacl = NULL;
    int others;

    if (GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                        &owner, NULL, &dacl, NULL, &sd) != ERROR_SUCCESS) {
        return -1;
    }
    others = owner == NULL || !may_write(owner) || dacl_grants_others(dacl, rights);
    LocalFree(sd);
    return others;
}

int ds_os_fd_private(int fd)
{
    HANDLE h = ReOpenFile(handle_of(fd), READ_CONTROL, SHARE_ALL, 0);
    int others;

    if (h == INVALID_HANDLE_VALUE) {
        return -1;
    }
    others = grants_others(h, FILE_READ_DATA | GENERIC_READ | GENERIC_ALL | WRITE_RIGHTS);
    CloseHandle(h);
    return others < 0 ? -1 : !others;
}

/* ---- link-proof access to folders others can write into ------------------- */

int ds_os_path_private(const char *path, unsigned *mode)
{
    wchar_t *w = wide(path);
    HANDLE h;
    int others;

    *mode = 0;
    if (w == NULL) {
        return -1;
    }
    h = CreateFileW(w, READ_CONTROL, SHARE_ALL, NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS,
                    NULL);
    ds_free(w);
    if (h == INVALID_HANDLE_VALUE) {
        errno = errno_of(GetLastError());
        return -1;
    }
    others = grants_others(h, FILE_READ_DATA | GENERIC_READ | GENERIC_ALL | WRITE_RIGHTS);
    CloseHandle(h);
    if (others < 0) {
        errno = EACCES;
    }
    return others < 0 ? -1 : !others;
}

int ds_os_fd_id(int fd, struct ds_file_id *id)
{
    return id_of(handle_of(fd), id);
}

int ds_os_open_file(const char *path, int follow, struct ds_file_id *id, int *why)
{
    wchar_t *w = wide(path);
    HANDLE h;
    int k;

    set_why(why, DS_FSAFE_OK);
    if (w == NULL) {
        set_why(why, DS_FSAFE_ERROR);
        return -1;
    }
    h = CreateFileW(w, GENERIC_READ, SHARE_ALL, NULL, OPEN_EXISTING,
                    FILE_ATTRIBUTE_NORMAL | (follow ? 0 : FILE_FLAG_OPEN_REPARSE_POINT), NULL);
    ds_free(w);
    if (h == INVALID_HANDLE_VALUE) {
        set_why(why, why_of(GetLastError()));
        return -1;
    }
    k = kind_of(h, 0);
    if (k == DS_FSAFE_LINK && follow) {
        k = DS_FSAFE_OK;
    }
    if (k != DS_FSAFE_OK || (id != NULL && id_of(h, id) != 0)) {
        set_why(why, k != DS_FSAFE_OK ? k : DS_FSAFE_ERROR);
        CloseHandle(h);
        return -1;
    }
    return fd_of(h, _O_RDONLY);
}

/* Opens path for a look at its attributes only (no sharing conflict with
 * a writer): follow = 0 opens a link itself. */
static HANDLE open_meta(const char *path, int follow)
{
    wchar_t *w = wide(path);
    HANDLE h;

    if (w == NULL) {
        SetLastError(ERROR_INVALID_NAME);
        return INVALID_HANDLE_VALUE;
    }
    h = CreateFileW(w, FILE_READ_ATTRIBUTES | READ_CONTROL, SHARE_ALL, NULL, OPEN_EXISTING,
                    FILE_FLAG_BACKUP_SEMANTICS | (follow ? 0 : FILE_FLAG_OPEN_REPARSE_POINT), NULL);
    ds_free(w);
    return h;
}

int ds_os_stat_file(const char *path, struct ds_file_id *id, int *why)
{
    HANDLE h = open_meta(path, 0);
    int k;

    if (h == INVALID_HANDLE_VALUE) {
        set_why(why, why_of(GetLastError()));
        return -1;
    }
    k = kind_of(h, 0);
    if (k == DS_FSAFE_OK && id_of(h, id) != 0) {
        k = DS_FSAFE_ERROR;
    }
    CloseHandle(h);
    set_why(why, k);
    return k == DS_FSAFE_OK ? 0 : -1;
}

int ds_os_stat_follow(const char *path, struct ds_file_id *id)
{
    HANDLE h = open_meta(path, 1);
    int rc = -1;

    if (h == INVALID_HANDLE_VALUE) {
        errno = errno_of(GetLastError());
        return -1;
    }
    if (kind_of(h, 0) == DS_FSAFE_OK && id_of(h, id) == 0) {
        rc = 0;
    }
    CloseHandle(h);
    return rc;
}

int ds_os_reopen(int fd)
{
    HANDLE h = ReOpenFile(handle_of(fd), GENERIC_READ, SHARE_ALL, 0);

    if (h == INVALID_HANDLE_VALUE) {
        return -1;
    }
    if (kind_of(h, 0) != DS_FSAFE_OK) {
        CloseHandle(h);
        return -1;
    }
    return fd_of(h, _O_RDONLY);
}

/* Windows has no name that leads to an open handle's file whatever
 * happens to its path, as /proc/self/fd does. So the path is pinned: a
 * second handle is opened by it, with read access (a handle of attribute
 * access alone takes no part in sharing) and without FILE_SHARE_DELETE, so
 * that no one can rename or delete the file while this process lives, and
 * it must be the same file as fd's. A file swapped in between gives "". The
 * pin is left open on purpose: the caller (the XLS child) hands the path to
 * a library that opens it later, and exits when done. */
void ds_os_fd_path(int fd, char *buf, size_t size)
{
    wchar_t *w = final_path(handle_of(fd));
    struct ds_file_id a;
    struct ds_file_id b;
    HANDLE pin;

    if (size > 0) {
        buf[0] = '\0';
    }
    if (w == NULL) {
        return;
    }
    pin = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
                      FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    if (pin == INVALID_HANDLE_VALUE) {
        ds_free(w);
        return;
    }
    if (id_of(handle_of(fd), &a) != 0 || id_of(pin, &b) != 0 || a.dev != b.dev || a.ino != b.ino) {
        CloseHandle(pin);
    }
    else if (narrow(w, buf, size) != 0 && size > 0) {
        buf[0] = '\0';
    }
    ds_free(w);
}

/* Opens a directory by path, without FILE_SHARE_DELETE so it cannot be
 * renamed or removed while held (see the top of this file). */
static HANDLE open_dir_handle(const wchar_t *w, int follow, DWORD *err)
{
    HANDLE h =
        CreateFileW(w, FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES | READ_CONTROL,
                    FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
                    FILE_FLAG_BACKUP_SEMANTICS | (follow ? 0 : FILE_FLAG_OPEN_REPARSE_POINT), NULL);

    *err = h == INVALID_HANDLE_VALUE ? GetLastError() : 0;
    return h;
}

int ds_os_open_dir(const char *path, int follow, int *why)
{
    wchar_t *w = wide(path);
    DWORD err = 0;
    HANDLE h;
    int k;

    if (w == NULL) {
        set_why(why, DS_FSAFE_ERROR);
        return -1;
    }
    h = open_dir_handle(w, follow, &err);
    ds_free(w);
    if (h == INVALID_HANDLE_VALUE) {
        set_why(why, why_of(err));
        return -1;
    }
    k = kind_of(h, 1);
    if (k == DS_FSAFE_LINK && follow) {
        k = DS_FSAFE_OK;
    }
    if (k != DS_FSAFE_OK) {
        set_why(why, k);
        CloseHandle(h);
        return -1;
    }
    set_why(why, DS_FSAFE_OK);
    return fd_of(h, _O_RDONLY);
}

int ds_os_subdir(int dirfd, const char *name, int *why)
{
    SECURITY_ATTRIBUTES sa = {sizeof(sa), private_sd(), FALSE};
    wchar_t *p = child_path(dirfd, name);
    DWORD err = 0;
    HANDLE h = INVALID_HANDLE_VALUE;
    int k;

    if (p == NULL || sa.lpSecurityDescriptor == NULL) {
        set_why(why, DS_FSAFE_ERROR);
        goto fail;
    }
    if (!CreateDirectoryW(p, &sa) && GetLastError() != ERROR_ALREADY_EXISTS) {
        set_why(why, why_of(GetLastError()));
        goto fail;
    }
    h = open_dir_handle(p, 0, &err);
    if (h == INVALID_HANDLE_VALUE) {
        set_why(why, why_of(err));
        goto fail;
    }
    k = kind_of(h, 1);
    if (k == DS_FSAFE_OK && !is_at(h, p)) {
        k = DS_FSAFE_LINK;
    }
    if (k == DS_FSAFE_OK && !owned(h, 1, OWNER_TRUSTED)) {
        k = DS_FSAFE_NOT_OWNER;
    }
    if (k != DS_FSAFE_OK) {
        set_why(why, k);
        goto fail;
    }
    ds_free(p);
    LocalFree(sa.lpSecurityDescriptor);
    set_why(why, DS_FSAFE_OK);
    return fd_of(h, _O_RDONLY);
fail:
    if (h != INVALID_HANDLE_VALUE) {
        CloseHandle(h);
    }
    ds_free(p);
    LocalFree(sa.lpSecurityDescriptor);
    return -1;
}

int ds_os_create_at(int dirfd, const char *name)
{
    SECURITY_ATTRIBUTES sa = {sizeof(sa), private_sd(), FALSE};
    wchar_t *p = child_path(dirfd, name);
    DWORD err = 0;
    HANDLE h = INVALID_HANDLE_VALUE;

    if (p == NULL || sa.lpSecurityDescriptor == NULL) {
        goto out;
    }
    /* A stale entry: DeleteFileW removes a symbolic link itself. */
    if (!DeleteFileW(p) && GetLastError() != ERROR_FILE_NOT_FOUND) {
        errno = errno_of(GetLastError());
        goto out;
    }
    h = open_in(dirfd, name, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE, CREATE_NEW,
                FILE_ATTRIBUTE_NORMAL, &sa, &err);
    if (h == INVALID_HANDLE_VALUE) {
        errno = errno_of(err);
    }
out:
    ds_free(p);
    LocalFree(sa.lpSecurityDescriptor);
    return h == INVALID_HANDLE_VALUE ? -1 : fd_of(h, _O_WRONLY);
}

int ds_os_create_new_at(int dirfd, const char *name)
{
    DWORD err = 0;
    HANDLE h = open_in(dirfd, name, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE, CREATE_NEW,
                       FILE_ATTRIBUTE_NORMAL, NULL, &err);

    if (h == INVALID_HANDLE_VALUE) {
        errno = errno_of(err);
        return -1;
    }
    return fd_of(h, _O_WRONLY);
}

int ds_os_exists(int dirfd, const char *name)
{
    wchar_t *p = dirfd >= 0 ? child_path(dirfd, name) : wide(name);
    /* GetFileAttributesW describes a link itself. */
    int found = p != NULL && GetFileAttributesW(p) != INVALID_FILE_ATTRIBUTES;

    ds_free(p);
    return found;
}

int ds_os_each_old(int dirfd, double cutoff, void (*fn)(int dirfd, const char *name, void *ctx),
                   void *ctx)
{
    wchar_t *pattern = child_path(dirfd, "*");
    WIN32_FIND_DATAW fd;
    HANDLE find;
    char name[MAX_PATH * 4];

    if (pattern == NULL) {
        return errno;
    }
    find = FindFirstFileExW(pattern, FindExInfoBasic, &fd, FindExSearchNameMatch, NULL, 0);
    ds_free(pattern);
    if (find == INVALID_HANDLE_VALUE) {
        return GetLastError() == ERROR_FILE_NOT_FOUND ? 0 : errno_of(GetLastError());
    }
    do {
        DWORD err = 0;
        HANDLE h;
        int old;

        if ((fd.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT)) ||
            (double)ns_of(fd.ftLastWriteTime) / 1e9 >= cutoff ||
            narrow(fd.cFileName, name, sizeof(name)) != 0) {
            continue;
        }
        /* The listing is a hint: the entry itself is looked at again. */
        h = open_in(dirfd, name, FILE_READ_ATTRIBUTES | READ_CONTROL, SHARE_ALL, OPEN_EXISTING,
                    FILE_FLAG_BACKUP_SEMANTICS, NULL, &err);
        if (h == INVALID_HANDLE_VALUE) {
            continue;
        }
        old = kind_of(h, 0) == DS_FSAFE_OK && owned(h, 0, OWNER_AGENT);
        CloseHandle(h);
        if (old) {
            fn(dirfd, name, ctx);
        }
    } while (FindNextFileW(find, &fd));
    FindClose(find);
    return 0;
}

int ds_os_stat_at(int dirfd, const char *name, struct ds_file_id *id)
{
    DWORD err = 0;
    HANDLE h = open_in(dirfd, name, FILE_READ_ATTRIBUTES, SHARE_ALL, OPEN_EXISTING,
                       FILE_FLAG_BACKUP_SEMANTICS, NULL, &err);
    int rc = -1;

    if (h == INVALID_HANDLE_VALUE) {
        return -1;
    }
    if (kind_of(h, 0) == DS_FSAFE_OK && id_of(h, id) == 0) {
        rc = 0;
    }
    CloseHandle(h);
    return rc;
}

int ds_os_rename_at(int from_dir, const char *from, int to_dir, const char *to)
{
    wchar_t *a = child_path(from_dir, from);
    wchar_t *b = child_path(to_dir, to);
    int e = 0;

    if (a == NULL || b == NULL) {
        e = errno;
    }
    else if (!MoveFileExW(a, b, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
        e = errno_of(GetLastError());
    }
    ds_free(a);
    ds_free(b);
    return e;
}

int ds_os_unlink_at(int dirfd, const char *name)
{
    wchar_t *p = child_path(dirfd, name);
    int e = 0;

    if (p == NULL) {
        return errno;
    }
    if (!DeleteFileW(p)) {
        e = errno_of(GetLastError());
    }
    ds_free(p);
    return e;
}

void ds_os_sync_dir(int dirfd)
{
    (void)dirfd; /* MOVEFILE_WRITE_THROUGH; NTFS journals the names */
}

/* ---- the agent's own files, by path ----------------------------------------- */

int ds_os_create_private(const char *path, int flags)
{
    SECURITY_ATTRIBUTES sa = {sizeof(sa), private_sd(), FALSE};
    wchar_t *w = wide(path);
    DWORD disposition = (flags & DS_OS_EXCL)    ? CREATE_NEW
                        : (flags & DS_OS_TRUNC) ? CREATE_ALWAYS
                                                : OPEN_ALWAYS;
    /* FILE_APPEND_DATA without FILE_WRITE_DATA: every write lands at the end. */
    DWORD access = (flags & DS_OS_APPEND) ? FILE_APPEND_DATA | SYNCHRONIZE : GENERIC_WRITE;
    HANDLE h = INVALID_HANDLE_VALUE;

    if (w == NULL || sa.lpSecurityDescriptor == NULL) {
        if (w != NULL) {
            errno = ENOMEM;
        }
        goto out;
    }
    /* FILE_SHARE_DELETE: a log file can be rotated while it is open. */
    h = CreateFileW(w, access, SHARE_ALL, &sa, disposition, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        errno = errno_of(GetLastError());
    }
out:
    ds_free(w);
    LocalFree(sa.lpSecurityDescriptor);
    if (h == INVALID_HANDLE_VALUE) {
        return -1;
    }
    return fd_of(h, _O_WRONLY | ((flags & DS_OS_APPEND) ? _O_APPEND : 0));
}

int ds_os_open_read(const char *path)
{
    wchar_t *w = wide(path);
    HANDLE h;

    if (w == NULL) {
        return -1;
    }
    h = CreateFileW(w, GENERIC_READ, SHARE_ALL, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    ds_free(w);
    if (h == INVALID_HANDLE_VALUE) {
        errno = errno_of(GetLastError());
        return -1;
    }
    return fd_of(h, _O_RDONLY);
}

int ds_os_mkdir(const char *path, int shared)
{
    SECURITY_ATTRIBUTES sa = {sizeof(sa), shared ? NULL : private_sd(), FALSE};
    wchar_t *w = wide(path);
    int e = 0;

    if (w == NULL) {
        e = errno;
    }
    else if (!shared && sa.lpSecurityDescriptor == NULL) {
        e = ENOMEM;
    }
    else if (!CreateDirectoryW(w, shared ? NULL : &sa) && GetLastError() != ERROR_ALREADY_EXISTS) {
        e = errno_of(GetLastError());
    }
    ds_free(w);
    LocalFree(sa.lpSecurityDescriptor);
    return e;
}

/* EPERM when an entry of the folder w (one level) has an owner the agent
 * does not trust: something planted before the folder was made the
 * agent's, which its owner could still change at will. 0 otherwise. */
static int foreign_children(const wchar_t *w)
{
    size_t n = wcslen(w);
    wchar_t *pattern = ds_malloc((n + 3) * sizeof(*pattern));
    WIN32_FIND_DATAW fd;
    HANDLE find;
    int rc = 0;

    if (pattern == NULL) {
        return ENOMEM;
    }
    swprintf(pattern, n + 3, L"%ls\\*", w);
    find = FindFirstFileExW(pattern, FindExInfoBasic, &fd, FindExSearchNameMatch, NULL, 0);
    ds_free(pattern);
    if (find == INVALID_HANDLE_VALUE) {
        return 0; /* empty */
    }
    do {
        wchar_t *child;
        HANDLE h;
        PSECURITY_DESCRIPTOR csd = NULL;
        PSID owner = NULL;

        if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0) {
            continue;
        }
        child = ds_malloc((n + wcslen(fd.cFileName) + 2) * sizeof(*child));
        if (child == NULL) {
            rc = ENOMEM;
            break;
        }
        swprintf(child, n + wcslen(fd.cFileName) + 2, L"%ls\\%ls", w, fd.cFileName);
        h = CreateFileW(child, READ_CONTROL, SHARE_ALL, NULL, OPEN_EXISTING,
                        FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
        ds_free(child);
        if (h == INVALID_HANDLE_VALUE ||
            GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION, &owner, NULL, NULL, NULL,
                            &csd) != ERROR_SUCCESS ||
            owner == NULL || !may_write(owner)) {
            rc = EPERM;
        }
        LocalFree(csd);
        if (h != INVALID_HANDLE_VALUE) {
            CloseHandle(h);
        }
    } while (rc == 0 && FindNextFileW(find, &fd));
    FindClose(find);
    return rc;
}

int ds_os_secure_dir(const char *path)
{
    PSECURITY_DESCRIPTOR sd = private_sd();
    wchar_t *w = wide(path);
    HANDLE h = INVALID_HANDLE_VALUE;
    PACL dacl = NULL;
    BOOL present = FALSE;
    BOOL defaulted = FALSE;
    BYTE admins[SECURITY_MAX_SID_SIZE];
    DWORD admins_len = sizeof(admins);
    DWORD e;
    int rc = 0;

    if (w == NULL || sd == NULL) {
        rc = w == NULL ? errno : ENOMEM;
        goto out;
    }
    /* The handle that was checked is the one changed: never the path again.
     * Listing and traversing it let the new entries reach its children. */
    h = CreateFileW(w,
                    READ_CONTROL | WRITE_DAC | WRITE_OWNER | FILE_READ_ATTRIBUTES |
                        FILE_LIST_DIRECTORY | FILE_TRAVERSE | SYNCHRONIZE,
                    FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
                    FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        rc = errno_of(GetLastError());
        goto out;
    }
    switch (kind_of(h, 1)) {
    case DS_FSAFE_OK:
        break;
    case DS_FSAFE_LINK:
        rc = ELOOP;
        goto out;
    case DS_FSAFE_NOT_DIR:
        rc = ENOTDIR;
        goto out;
    default:
        rc = EIO;
        goto out;
    }
    if (!GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted) || !present ||
        !CreateWellKnownSid(WinBuiltinAdministratorsSid, NULL, admins, &admins_len)) {
        rc = EIO;
        goto out;
    }
    /* Whoever made the folder before the install (anyone may, in
     * %ProgramData%) would keep full control as its owner: Administrators
     * own it from now on. Protected: the inherited entries (every user may
     * add files) go. */
    e = SetSecurityInfo(h, SE_FILE_OBJECT,
                        OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION |
                            PROTECTED_DACL_SECURITY_INFORMATION,
                        (PSID)admins, NULL, dacl, NULL);
    if (e != ERROR_SUCCESS) {
        rc = errno_of(e);
        goto out;
    }
    rc = foreign_children(w);
out:
    if (h != INVALID_HANDLE_VALUE) {
        CloseHandle(h);
    }
    ds_free(w);
    LocalFree(sd);
    return rc;
}

int ds_os_pread(int fd, void *buf, size_t size, int64_t off, size_t *got)
{
    OVERLAPPED ov;
    DWORD n = 0;
    int64_t at = _lseeki64(fd, 0, SEEK_CUR);
    int rc = 0;

    memset(&ov, 0, sizeof(ov));
    ov.Offset = (DWORD)((uint64_t)off & 0xFFFFFFFFu);
    ov.OffsetHigh = (DWORD)((uint64_t)off >> 32);
    *got = 0;
    if (!ReadFile(handle_of(fd), buf, size > 0x7FFFFFFF ? 0x7FFFFFFF : (DWORD)size, &n, &ov)) {
        rc = GetLastError() == ERROR_HANDLE_EOF ? 0 : -1;
        n = 0;
    }
    *got = n;
    /* A synchronous handle's ReadFile moves its position: put it back. */
    if (at >= 0) {
        _lseeki64(fd, at, SEEK_SET);
    }
    return rc;
}

int ds_os_fsync(int fd)
{
    return FlushFileBuffers(handle_of(fd)) ? 0 : -1;
}

int ds_os_rename(const char *from, const char *to, int replace)
{
    wchar_t *a = wide(from);
    wchar_t *b = wide(to);
    int e = 0;

    if (a == NULL || b == NULL) {
        e = errno;
    }
    else if (!MoveFileExW(a, b,
                          MOVEFILE_WRITE_THROUGH | (replace ? MOVEFILE_REPLACE_EXISTING : 0))) {
        e = errno_of(GetLastError());
    }
    ds_free(a);
    ds_free(b);
    return e;
}

/* w without its \\?\ (or \\?\UNC\ -> \\) prefix, in UTF-8 into buf. */
static int plain_path(const wchar_t *w, char *buf, size_t size)
{
    if (wcsncmp(w, L"\\\\?\\UNC\\", 8) == 0) {
        if (size < 3 || narrow(w + 8, buf + 2, size - 2) != 0) {
            return -1;
        }
        buf[0] = '\\';
        buf[1] = '\\';
        return 0;
    }
    return narrow(wcsncmp(w, L"\\\\?\\", 4) == 0 ? w + 4 : w, buf, size);
}

int ds_os_realpath(const char *path, char *buf, size_t size)
{
    HANDLE h = open_meta(path, 1);
    wchar_t *w;
    int rc;

    if (h == INVALID_HANDLE_VALUE) {
        errno = errno_of(GetLastError());
        return -1;
    }
    w = final_path(h);
    CloseHandle(h);
    rc = w != NULL ? plain_path(w, buf, size) : -1;
    ds_free(w);
    if (rc != 0) {
        errno = ENAMETOOLONG;
    }
    return rc;
}

int ds_os_unlink(const char *path)
{
    wchar_t *w = wide(path);
    int e = 0;

    if (w == NULL) {
        return errno;
    }
    if (!DeleteFileW(w)) {
        e = errno_of(GetLastError());
    }
    ds_free(w);
    return e;
}

int ds_os_lock_file(const char *path)
{
    SECURITY_ATTRIBUTES sa = {sizeof(sa), private_sd(), FALSE};
    wchar_t *w = wide(path);
    OVERLAPPED ov;
    HANDLE h = INVALID_HANDLE_VALUE;

    if (w == NULL || sa.lpSecurityDescriptor == NULL) {
        goto out;
    }
    h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE, SHARE_ALL, &sa, OPEN_ALWAYS,
                    FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        errno = errno_of(GetLastError());
        goto out;
    }
    /* LockFileEx locks belong to the handle: a second handle, even in this
     * process, is refused. */
    memset(&ov, 0, sizeof(ov));
    if (!LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov)) {
        CloseHandle(h);
        h = INVALID_HANDLE_VALUE;
        errno = EBUSY;
    }
out:
    ds_free(w);
    LocalFree(sa.lpSecurityDescriptor);
    return h == INVALID_HANDLE_VALUE ? -1 : fd_of(h, _O_RDWR);
}

int ds_os_same_file(int fd, const char *path)
{
    struct ds_file_id a;
    struct ds_file_id b;
    HANDLE h = open_meta(path, 1);
    int same;

    if (h == INVALID_HANDLE_VALUE) {
        return 0;
    }
    same = id_of(handle_of(fd), &a) == 0 && id_of(h, &b) == 0 && a.dev == b.dev && a.ino == b.ino;
    CloseHandle(h);
    return same;
}

/* ---- where things are -------------------------------------------------------- */

unsigned long long ds_os_disk_free(const char *path)
{
    wchar_t *w = wide(path);
    ULARGE_INTEGER avail;
    unsigned long long n = 0;

    if (w != NULL && GetDiskFreeSpaceExW(w, &avail, NULL, NULL)) {
        n = avail.QuadPart;
    }
    ds_free(w);
    return n;
}

int ds_os_path_kind(const char *path)
{
    wchar_t *w = wide(path);
    wchar_t full[MAX_PATH + 1];
    wchar_t root[4] = L"?:\\";
    const wchar_t *p;
    DWORD n;
    int kind = DS_OS_PATH_UNKNOWN;

    if (w == NULL) {
        return kind;
    }
    n = GetFullPathNameW(w, MAX_PATH + 1, full, NULL);
    p = n > 0 && n <= MAX_PATH ? full : w;
    if (wcsncmp(p, L"\\\\?\\UNC\\", 8) == 0) {
        kind = DS_OS_PATH_SHARE;
        goto out;
    }
    if (wcsncmp(p, L"\\\\?\\", 4) == 0 || wcsncmp(p, L"\\\\.\\", 4) == 0) {
        p += 4;
    }
    else if (p[0] == L'\\' && p[1] == L'\\') {
        kind = DS_OS_PATH_SHARE; /* \\server\share */
        goto out;
    }
    if (!((p[0] >= L'A' && p[0] <= L'Z') || (p[0] >= L'a' && p[0] <= L'z')) || p[1] != L':') {
        goto out;
    }
    root[0] = p[0];
    switch (GetDriveTypeW(root)) {
    case DRIVE_REMOTE:
        /* A letter mapped in a logon session: a service under another
         * account does not see it. Name the share (\\server\share). */
        kind = DS_OS_PATH_MAPPED;
        break;
    case DRIVE_FIXED:
    case DRIVE_REMOVABLE:
    case DRIVE_CDROM:
    case DRIVE_RAMDISK:
        kind = DS_OS_PATH_LOCAL;
        break;
    default:
        kind = DS_OS_PATH_UNKNOWN;
        break;
    }
out:
    ds_free(w);
    return kind;
}

/* The default paths, worked out once. */
static char default_paths[3][MAX_PATH * 4];
static INIT_ONCE default_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK find_defaults(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    static const char *const tail[3] = {"\\dentsync", "\\dentsync\\dentsync.conf",
                                        "\\dentsync\\state"};
    char base[MAX_PATH * 4] = "C:\\ProgramData";
    PWSTR known = NULL;
    const char *env = getenv("ProgramData");

    (void)once;
    (void)param;
    (void)ctx;
    if (SHGetKnownFolderPath(&FOLDERID_ProgramData, 0, NULL, &known) == S_OK) {
        if (narrow(known, base, sizeof(base)) != 0) {
            snprintf(base, sizeof(base), "C:\\ProgramData");
        }
    }
    else if (env != NULL && env[0] != '\0' && strlen(env) < sizeof(base)) {
        snprintf(base, sizeof(base), "%s", env);
    }
    CoTaskMemFree(known);
    for (int i = 0; i < 3; i++) {
        snprintf(default_paths[i], sizeof(default_paths[i]), "%s%s", base, tail[i]);
    }
    return TRUE;
}

int ds_os_create_shared(const char *path, int *why)
{
    struct ds_file_id id;
    int fd = ds_os_create_private(path, DS_OS_EXCL);

    if (fd >= 0) {
        _close(fd);
        *why = DS_FSAFE_OK;
        return 0;
    }
    if (errno != EEXIST) {
        *why = DS_FSAFE_ERROR;
        return -1;
    }
    if (ds_os_stat_file(path, &id, why) != 0) {
        errno = *why == DS_FSAFE_LINK ? ELOOP : EINVAL;
        return -1;
    }
    *why = DS_FSAFE_OK;
    return 0;
}

void ds_os_share_file(const char *path)
{
    (void)path; /* the owner-only DACL stays: the service account alone reads the queue */
}

const char *ds_os_network_fs(const char *path)
{
    switch (ds_os_path_kind(path)) {
    case DS_OS_PATH_SHARE:
        return "smb";
    case DS_OS_PATH_MAPPED:
        return "smb, mapped drive";
    default:
        return NULL;
    }
}

const char *ds_os_default_path(int kind)
{
    InitOnceExecuteOnce(&default_once, find_defaults, NULL, NULL);
    switch (kind) {
    case DS_OS_CONFIG_DIR:
        return default_paths[0];
    case DS_OS_CONFIG_FILE:
        return default_paths[1];
    case DS_OS_STATE_DIR:
    default:
        return default_paths[2];
    }
}

/* The program's folder and zoneinfo, worked out once. libical opens the
 * files with the C library's narrow fopen, which takes the ANSI code
 * page: a folder whose name it cannot spell is given in its 8.3 form, as
 * libical itself does for its own guess. */
static char zoneinfo[MAX_PATH * 4];
static INIT_ONCE zoneinfo_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK find_zoneinfo(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    wchar_t exe[MAX_PATH * 2];
    wchar_t *slash;
    BOOL lossy = FALSE;
    DWORD n = GetModuleFileNameW(NULL, exe, MAX_PATH * 2);

    (void)once;
    (void)param;
    (void)ctx;
    zoneinfo[0] = '\0';
    if (n == 0 || n >= MAX_PATH * 2) {
        return TRUE;
    }
    slash = wcsrchr(exe, L'\\');
    if (slash == NULL || (size_t)(slash - exe) + 10 >= MAX_PATH * 2) {
        return TRUE;
    }
    wcscpy(slash + 1, L"zoneinfo");
    if (WideCharToMultiByte(CP_ACP, 0, exe, -1, zoneinfo, sizeof(zoneinfo), NULL, &lossy) == 0 ||
        lossy) {
        n = GetShortPathNameW(exe, exe, MAX_PATH * 2);
        lossy = FALSE;
        if (n == 0 || n >= MAX_PATH * 2 ||
            WideCharToMultiByte(CP_ACP, 0, exe, -1, zoneinfo, sizeof(zoneinfo), NULL, &lossy) ==
                0 ||
            lossy) {
            zoneinfo[0] = '\0';
        }
    }
    return TRUE;
}

const char *ds_os_zoneinfo_dir(void)
{
    InitOnceExecuteOnce(&zoneinfo_once, find_zoneinfo, NULL, NULL);
    return zoneinfo[0] != '\0' ? zoneinfo : NULL;
}
