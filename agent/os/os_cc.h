/*
 * os_cc.h — what the compiler must be told differently per platform.
 *
 * DS_PRINTF(f, a) marks a printf-like function: its format is argument f,
 * the values start at argument a. MinGW's GCC takes plain `printf` for the
 * Microsoft C runtime's dialect (no %zu, no %lld); the Windows build prints
 * through MinGW's C99 printf instead (__USE_MINGW_ANSI_STDIO, Makefile),
 * whose dialect GCC calls gnu_printf. clang knows no gnu_printf.
 */
#ifndef DS_OS_CC_H
#define DS_OS_CC_H

#ifdef __MINGW32__
#define DS_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
#else
#define DS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#endif

#endif
