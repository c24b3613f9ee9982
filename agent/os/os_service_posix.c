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
