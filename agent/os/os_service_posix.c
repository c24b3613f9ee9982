/*
 * os_service_posix.c — on Linux the service is the systemd unit
 * dentsync.service (installer/systemd/): systemd starts, stops and restarts
 * the agent, and `dentsync run` speaks sd_notify (agent/core/notify.c).
 * What os_service.h offers for Windows' service manager only says so here.
 */
#include "agent/os/os_service.h"

#include <stdio.h>

static void say_systemd(void)
{
    fputs("dentsync: on Linux the service is the systemd unit dentsync.service: use\n"
          "  systemctl enable --now dentsync    (install and start)\n"
          "  systemctl stop dentsync / systemctl status dentsync\n",
          stderr);
}

void os_service_on_stop(os_service_stop_fn fn, void *ctx)
{
    (void)fn;
    (void)ctx;
}

void os_service_ready(void)
{
}

int os_service_dispatch(int (*run)(void *ctx), void *ctx)
{
    (void)run;
    (void)ctx;
    say_systemd();
    return 2;
}

int os_service_manage(const char *verb, const char *config_path)
{
    (void)verb;
    (void)config_path;
    say_systemd();
    return 2;
}

const char *os_service_sid(void)
{
    return NULL;
}

const char *os_service_fix(enum os_fix what)
{
    switch (what) {
    case OS_FIX_START:
        return "systemctl start dentsync";
    case OS_FIX_FOLDER_READ:
        return "give the service user read access (chmod/chown, or the share's mount options "
               "uid=/file_mode=)";
    case OS_FIX_STATE_CREATE:
        return "create it (mkdir -m 750) owned by the service user";
    case OS_FIX_STATE_WRITE:
        return "chown it to the service user";
    case OS_FIX_STATE_PRIVATE:
        return "chmod 750 it (group dentsync)";
    case OS_FIX_QUEUE_PRIVATE:
        return "chmod 640 it (group dentsync)";
    case OS_FIX_TOKEN_PRIVATE:
        return "chmod 600 it";
    case OS_FIX_TOKEN_READ:
        return "chown it to the service user";
    case OS_FIX_DNS:
    default:
        return "check the url, the network and /etc/resolv.conf";
    }
}
