/*
 * version.h — the one place the version is written.
 */
#ifndef DS_CORE_VERSION_H
#define DS_CORE_VERSION_H

#define DS_VERSION "0.1.0"

#endif
