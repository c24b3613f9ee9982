/*
 * iconv.h — the POSIX iconv interface for the Windows cross build, over
 * Windows' own code page conversions (MultiByteToWideChar and
 * WideCharToMultiByte). MinGW-w64 has no iconv and Debian packages none for
 * it; freexl, which the agent links to read XLS files, needs one to turn a
 * workbook's code page text (CPnnnn, UTF-16LE) into UTF-8.
 *
 * Names: UTF-8, UTF-16LE, UCS-2LE, ASCII, US-ASCII, ISO-8859-n, LATIN1,
 * MACINTOSH, CPnnnn and WINDOWS-nnnn, in any case, with //IGNORE or
 * //TRANSLIT ignored. Each call converts its whole input or nothing: E2BIG
 * when the output does not fit, EINVAL when the input ends inside a
 * character, EILSEQ on a byte sequence invalid in UTF-8 or UTF-16.
 */
#ifndef DS_WIN_ICONV_H
#define DS_WIN_ICONV_H

#include <stddef.h>

typedef void *iconv_t;

/* new: free with iconv_close(); (iconv_t)-1 and errno EINVAL if a name is unknown. */
iconv_t iconv_open(const char *tocode, const char *fromcode);
size_t iconv(iconv_t cd, char **inbuf, size_t *inbytesleft, char **outbuf, size_t *outbytesleft);
int iconv_close(iconv_t cd);

#endif
