/*
 * clock.h — wall-clock time as the queue, the uploader and the commands
 * record it: seconds since the Unix epoch, as a double.
 */
#ifndef DS_CORE_CLOCK_H
#define DS_CORE_CLOCK_H

/* Now, from CLOCK_REALTIME. */
double ds_clock_now(void);

#endif
