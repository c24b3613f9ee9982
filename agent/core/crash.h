/*
 * crash.h — named crash points, for the tests that prove a kill at any
 * instant loses and duplicates nothing.
 *
 * ds_crash_point("after_stage_commit") does nothing unless the environment
 * variable DENTSYNC_CRASH_AT names that point (optionally as NAME:N, the Nth
 * time it is reached). Then it first appends the point's name to the file
 * named by DENTSYNC_CRASH_LOG, if set (so a test can assert the point was
 * really hit), and kills the process with SIGKILL: no handler, no atexit, no
 * flush — what a power cut or `kill -9` does.
 *
 * The environment is read once, at the first call; the points cost one
 * comparison of a cached flag when the switch is off.
 */
#ifndef DS_CORE_CRASH_H
#define DS_CORE_CRASH_H

void ds_crash_point(const char *name);

/* A test's window into a race: sleeps for MS milliseconds when the
 * environment variable DENTSYNC_PAUSE_AT is NAME:MS and names this point,
 * after appending the name to DENTSYNC_CRASH_LOG (so the test knows when to
 * act); does nothing otherwise. Read once, like the crash switch. */
void ds_crash_pause(const char *name);

#endif
