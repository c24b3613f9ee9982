/*
 * svccheck.c — the service layer (agent/os/os_service_win.c) with a stand-in
 * for the daemon, for tests/win/test.sh under wine: `svccheck install`,
 * `start`, `status`, `stop`, `uninstall` are `dentsync service …`; the
 * service it registers runs `svccheck run --service -c FILE`, whose
 * stand-in daemon reports ready, waits for the stop that the service
 * manager hands over (as the daemon's loop gets it), then writes FILE
 * ("stopped cleanly") and returns 0.
 */
#include "agent/os/os_service.h"

#include <windows.h>

#include <stdio.h>
#include <string.h>

static HANDLE stop_event;

static void on_stop(void *ctx)
{
    (void)ctx;
    SetEvent(stop_event);
}

static int stand_in(void *ctx)
{
    const char *marker = ctx;
    FILE *f;

    stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (stop_event == NULL) {
        return 1;
    }
    os_service_on_stop(on_stop, NULL);
    os_service_ready();
    WaitForSingleObject(stop_event, INFINITE);
    os_service_on_stop(NULL, NULL);
    f = fopen(marker, "w");
    if (f == NULL) {
        return 1;
    }
    fputs("stopped cleanly\n", f);
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "run") == 0 && strcmp(argv[2], "--service") == 0 &&
        strcmp(argv[3], "-c") == 0) {
        return os_service_dispatch(stand_in, argv[4]);
    }
    if (argc == 3) {
        return os_service_manage(argv[1], argv[2]);
    }
    fputs("usage: svccheck install|uninstall|start|stop|status FILE\n", stderr);
    return 2;
}
