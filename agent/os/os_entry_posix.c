/*
 * os_entry_posix.c — main() on POSIX: the arguments are already the bytes
 * the user typed (UTF-8 in any sane locale), so ds_main gets them as is.
 */
#include "agent/os/os_entry.h"

int main(int argc, char **argv)
{
    return ds_main(argc, argv);
}
