/*
 * localcharset.h — libcharset's one call, for the Windows cross build
 * (freexl includes this header on Windows). Implemented in iconv.c.
 */
#ifndef DS_WIN_LOCALCHARSET_H
#define DS_WIN_LOCALCHARSET_H

/* borrow: the iconv name of the ANSI code page, "CPnnnn"; never NULL. */
const char *locale_charset(void);

#endif
