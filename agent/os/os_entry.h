/*
 * os_entry.h — the program's entry. The platform's main() (os_entry_posix.c,
 * os_entry_win.c) hands ds_main (agent/cli/main.c) the arguments as UTF-8
 * strings: on POSIX they are argv as given; on Windows they are taken from
 * the UTF-16 command line (GetCommandLineW), since the narrow argv there
 * is in the ANSI code page and loses what it cannot show.
 */
#ifndef DS_OS_ENTRY_H
#define DS_OS_ENTRY_H

/* The dentsync command: argv[0] .. argv[argc - 1], UTF-8, argv[argc] NULL. */
int ds_main(int argc, char **argv);

#endif
