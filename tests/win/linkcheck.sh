#!/bin/sh
# linkcheck.sh CACHE EXE — links tests/win/linkcheck.c statically against
# the libraries in the Windows cache (installer/win-deps.sh) into EXE and
# runs it under wine (tests/win/run.sh). A library the cache lacks is left
# out of the link and reported failed by the program. $WIN_CC and
# $WIN_CFLAGS are the compiler and its flags (from the Makefile).
set -eu

CACHE=$1
EXE=$2
CC=${WIN_CC:-x86_64-w64-mingw32-gcc}
PC=$CACHE/pkg-config
HERE=$(dirname "$0")

[ -x "$PC" ] || {
    echo "linkcheck: no $PC; run make windows-deps" >&2
    exit 1
}
pkgs=""
defs=""
for p in libuv libcurl sqlite3 jansson inih zlib libzip expat freexl libical tre cmocka; do
    if "$PC" --exists "$p"; then
        pkgs="$pkgs $p"
        defs="$defs -DHAVE_$(echo "$p" | tr 'a-z' 'A-Z')"
    fi
done
csv=""
if [ -e "$CACHE/prefix/lib/libcsv.a" ]; then
    defs="$defs -DHAVE_LIBCSV"
    csv=-lcsv
fi

mkdir -p "$(dirname "$EXE")"
# Third-party headers as system headers, so that our warnings stay ours.
# shellcheck disable=SC2046,SC2086
"$CC" ${WIN_CFLAGS:-} $defs -isystem "$CACHE/prefix/include" \
    $("$PC" --cflags $pkgs | sed 's/-I/-isystem /g') \
    -o "$EXE" "$HERE/linkcheck.c" -static -L"$CACHE/prefix/lib" \
    $("$PC" --libs $pkgs) $csv
sh "$HERE/run.sh" "$EXE"
