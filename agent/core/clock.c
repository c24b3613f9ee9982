/*
 * clock.c — wall-clock time (see clock.h).
 */
#include "agent/core/clock.h"

#include <time.h>

double ds_clock_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
