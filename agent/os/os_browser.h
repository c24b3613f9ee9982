/*
 * os_browser.h — handing a link to the desktop's browser (`dentsync web-url
 * --open`, the Windows Start-menu link to the status page): ShellExecuteW
 * on Windows (os_browser_win.c), xdg-open on a Linux desktop
 * (os_browser_posix.c).
 */
#ifndef DS_OS_BROWSER_H
#define DS_OS_BROWSER_H

/* Opens url (http://127.0.0.1:PORT/…) in the user's browser. 0 when it was
 * handed over; -1 when it could not be (no desktop, no opener). */
int os_open_url(const char *url);

#endif
