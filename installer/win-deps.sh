#!/bin/sh
# win-deps.sh — cross-compiles, for 64-bit Windows (MinGW-w64), the
# libraries the agent links, from Debian's own source packages of the very
# versions the Linux build uses (apt-get source), as static libraries into a
# cache outside the work tree. docs/windows.md tells what is built and why.
#
#   sh installer/win-deps.sh          build what is missing, skip the rest
#   sh installer/win-deps.sh PKG...   only these source packages (libuv1 curl
#                                     sqlite3 jansson libcsv libinih expat
#                                     libzip iconv freexl libical3 tre cmocka)
#   DS_WIN_CACHE=/some/dir            the cache (default /var/cache/dentsync-win)
#   DS_WIN_JOBS=N                     parallel jobs of each build (default 2)
#   DS_WIN_NEWER_SUITE=trixie         the suite whose source to fall back to
#                                     when no version of the machine's own
#                                     suites downloads whole ("" for none)
#
# Layout of the cache:
#   src/<pkg>_<debian-version>/       the source package, unpacked and built
#   prefix/                           include/, lib/ (*.a), lib/pkgconfig/
#   prefix/stamps/<pkg>_<version>     present once that version is installed
#   logs/<pkg>.log                    the last build's output
#   pkg-config                        pkg-config that sees only the prefix
#   toolchain.cmake, cross.meson      cross files for cmake and meson
#   apt/                              the private apt configuration of the
#                                     newer suite (never the machine's own)
#
# A library whose stamp exists is skipped, so a second run costs seconds. A
# library that fails to build is reported and the others are still built;
# the exit status is then 1. Needs `sh installer/deps.sh windows` first.
set -u

HOST=x86_64-w64-mingw32
CACHE=${DS_WIN_CACHE:-/var/cache/dentsync-win}
JOBS=${DS_WIN_JOBS:-2}
PREFIX=$CACHE/prefix
HERE=$(cd "$(dirname "$0")" && pwd)
# Bumped when a recipe below changes in a way that needs a rebuild.
RECIPE=2

mkdir -p "$CACHE/src" "$CACHE/logs" "$PREFIX/include" "$PREFIX/lib/pkgconfig" \
    "$PREFIX/stamps" || exit 1

# Source indexes: the machine may list only binary packages (Types: deb).
SRCLIST=/etc/apt/sources.list.d/dentsync-src.sources
ensure_deb_src() {
    if apt-cache showsrc --only-source libuv1 2>/dev/null | grep -q '^Version:'; then
        return 0
    fi
    echo "win-deps: adding the deb-src entries ($SRCLIST) and updating apt"
    cat >"$SRCLIST" <<'EOF'
# Written by dentsync's installer/win-deps.sh: the Debian source packages
# that the Windows build cross-compiles (apt-get source).
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt-get update -qq || return 1
}

# The source versions of source package $1 whose Linux -dev package is $2,
# in the order to try them: the installed one's first (the very library the
# Linux build links), then the others the archive lists, newest first (the
# mirror may lack a version its index still names).
src_versions() {
    installed=$(dpkg-query -W -f='${source:Version}' "$2" 2>/dev/null || true)
    all=$(apt-cache showsrc --only-source "$1" 2>/dev/null | sed -n 's/^Version: //p' |
        sort -u)
    for v in $all; do
        [ "$v" = "$installed" ] && echo "$v"
    done
    # Newest first, by dpkg's ordering (a simple selection sort).
    rest=$(echo "$all" | grep -vxF "$installed")
    while [ -n "$rest" ]; do
        best=""
        for v in $rest; do
            if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
                best=$v
            fi
        done
        echo "$best"
        rest=$(echo "$rest" | grep -vxF "$best")
    done
}

# Downloads source package $1 version $2 into $CACHE/src/$1_$2 (apt-get
# skips the files already there whose checksums match). Any further
# arguments are options of apt-get (the private configuration below).
download() {
    p=$1
    v=$2
    shift 2
    mkdir -p "$CACHE/src/${p}_$v" &&
        (cd "$CACHE/src/${p}_$v" && apt-get "$@" source -qq --download-only "$p=$v")
}

# The newer suite, through a private apt configuration in $CACHE/apt: its
# own sources list (one deb-src line), lists and cache, so that the
# machine's apt sources and indexes stay as they are. apt checks the
# suite's signed Release against Debian's keyring and each downloaded file
# against the checksums of its Sources index, as for the machine's own
# suites. The index is fetched at most once a day.
NEWER_SUITE=${DS_WIN_NEWER_SUITE-trixie}
NEWER_APT="-o Dir::Etc::sourcelist=$CACHE/apt/sources.list
    -o Dir::Etc::sourceparts=$CACHE/apt/sources.list.d
    -o Dir::State::Lists=$CACHE/apt/lists -o Dir::Cache=$CACHE/apt/cache"
NEWER_READY=""
newer_apt_ready() {
    [ -n "$NEWER_SUITE" ] || return 1
    [ -n "$NEWER_READY" ] && return "$NEWER_READY"
    NEWER_READY=1
    mkdir -p "$CACHE/apt/lists/partial" "$CACHE/apt/cache/archives/partial" \
        "$CACHE/apt/sources.list.d" || return 1
    line="deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]"
    line="$line http://deb.debian.org/debian $NEWER_SUITE main"
    if [ "$(cat "$CACHE/apt/sources.list" 2>/dev/null)" != "$line" ]; then
        echo "$line" >"$CACHE/apt/sources.list" || return 1
        rm -f "$CACHE/apt/lists/"*Sources* "$CACHE/apt/updated"
    fi
    if [ -z "$(find "$CACHE/apt/updated" -mmin -1440 2>/dev/null)" ]; then
        # shellcheck disable=SC2086
        apt-get $NEWER_APT update -qq >"$CACHE/logs/apt-$NEWER_SUITE.log" 2>&1 || {
            echo "win-deps: the $NEWER_SUITE source index could not be fetched" \
                "(logs/apt-$NEWER_SUITE.log)" >&2
            return 1
        }
        touch "$CACHE/apt/updated"
    fi
    NEWER_READY=0
}

# The version of source package $1 in the newer suite, if newer than $2.
newer_version() {
    newer_apt_ready || return 0
    # shellcheck disable=SC2086
    nv=$(apt-cache $NEWER_APT showsrc --only-source "$1" 2>/dev/null |
        sed -n 's/^Version: //p' | head -n 1)
    if [ -n "$nv" ] && { [ -z "$2" ] || dpkg --compare-versions "$nv" gt "$2"; }; then
        echo "$nv"
    fi
}

# Unpacks the downloaded source package $1 version $2 into its source/ and
# enters it (dpkg-source -x applies Debian's patches); with ORIG_ONLY=1,
# only its upstream tarball.
unpack() {
    WORK=$CACHE/src/$1_$2
    cd "$WORK" && rm -rf source || return 1
    if [ "$ORIG_ONLY" = 1 ]; then
        mkdir source && tar -xf ./*.orig.tar.* -C source --strip-components=1 &&
            cd source || return 1
        return
    fi
    dsc=$(ls ./*.dsc) || return 1
    dpkg-source --no-check -x "$dsc" source >/dev/null || return 1
    cd source || return 1
}

write_cross_files() {
    # Each written aside and renamed: another run may be reading it.
    cat >"$CACHE/toolchain.cmake.tmp$$" <<EOF
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER $HOST-gcc)
set(CMAKE_CXX_COMPILER $HOST-g++)
set(CMAKE_RC_COMPILER $HOST-windres)
set(CMAKE_FIND_ROOT_PATH /usr/$HOST $PREFIX)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
EOF
    cat >"$CACHE/cross.meson.tmp$$" <<EOF
[binaries]
c = '$HOST-gcc'
cpp = '$HOST-g++'
ar = '$HOST-ar'
strip = '$HOST-strip'
windres = '$HOST-windres'
pkgconfig = '$CACHE/pkg-config'

[host_machine]
system = 'windows'
cpu_family = 'x86_64'
cpu = 'x86_64'
endian = 'little'
EOF
    # --static: the prefix has static libraries only, so a consumer needs
    # their own dependencies (Libs.private) on its link line too.
    cat >"$CACHE/pkg-config.tmp$$" <<EOF
#!/bin/sh
# pkg-config for the Windows cross build: sees only $PREFIX and the
# cross compiler's own zlib.
PKG_CONFIG_LIBDIR=$PREFIX/lib/pkgconfig:/usr/$HOST/lib/pkgconfig
PKG_CONFIG_PATH=
PKG_CONFIG_SYSROOT_DIR=
export PKG_CONFIG_LIBDIR PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
exec pkg-config --static "\$@"
EOF
    chmod 755 "$CACHE/pkg-config.tmp$$"
    for f in toolchain.cmake cross.meson pkg-config; do
        mv "$CACHE/$f.tmp$$" "$CACHE/$f" || return 1
    done
}

cmake_configure() {
    nice -n 15 cmake -S . -B _win -G Ninja \
        -DCMAKE_TOOLCHAIN_FILE="$CACHE/toolchain.cmake" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" \
        -DCMAKE_INSTALL_LIBDIR=lib -DBUILD_SHARED_LIBS=OFF "$@"
}

cmake_build() {
    cmake_configure "$@" && nice -n 15 ninja -C _win -j "$JOBS" && ninja -C _win install
}

configure_host() {
    # No dependency tracking: a one-off build needs none, and writing it
    # for curl's test suite alone takes minutes on a busy machine.
    nice -n 15 ./configure --host=$HOST --prefix="$PREFIX" --libdir="$PREFIX/lib" \
        --enable-static --disable-shared --disable-dependency-tracking \
        CPPFLAGS="-I$PREFIX/include" LDFLAGS="-L$PREFIX/lib" "$@"
}

make_j() {
    nice -n 15 make -j "$JOBS" "$@"
}

# Each build_<pkg> runs in the unpacked source directory, in a subshell.

build_libuv1() {
    # libuv 1.44's cmake always builds both the DLL and the static library
    # (uv_a): build and install only the static one, as -luv.
    cmake_configure -DLIBUV_BUILD_TESTS=OFF -DLIBUV_BUILD_BENCH=OFF \
        -DBUILD_TESTING=OFF && nice -n 15 ninja -C _win -j "$JOBS" uv_a || return 1
    mkdir -p "$PREFIX/include/uv" &&
        cp include/uv.h "$PREFIX/include/" && cp include/uv/*.h "$PREFIX/include/uv/" &&
        cp _win/libuv_a.a "$PREFIX/lib/libuv.a" &&
        sed 's/-luv_a/-luv/' _win/libuv-static.pc >"$PREFIX/lib/pkgconfig/libuv.pc"
}

build_curl() {
    # HTTP and HTTPS only, through Windows' own TLS (Schannel) and
    # certificate store; proxies (HTTP, SOCKS) and their authentication
    # (Basic, Digest, NTLM through SSPI) stay in.
    # debian/rules builds libcurl (the OpenSSL flavour the Linux build
    # links) with its last two patches popped: they rename the library to
    # libcurl-gnutls and libcurl-nss for the other flavours.
    patch -R -p1 <debian/patches/99_nss.patch >/dev/null &&
        patch -R -p1 <debian/patches/90_gnutls.patch >/dev/null || return 1
    nice -n 15 autoreconf -fi >/dev/null 2>&1 || return 1
    configure_host --with-schannel --without-openssl --without-gnutls \
        --without-mbedtls --without-wolfssl --without-rustls --without-bearssl \
        --with-zlib --without-brotli --without-zstd --without-libpsl \
        --without-libidn2 --without-nghttp2 --without-nghttp3 --without-ngtcp2 \
        --without-librtmp --without-libssh2 --without-libssh --without-libgsasl \
        --without-gssapi --disable-ldap --disable-ldaps --disable-rtsp \
        --disable-dict --disable-telnet --disable-tftp --disable-pop3 \
        --disable-imap --disable-smb --disable-smtp --disable-gopher \
        --disable-mqtt --disable-ftp --disable-file --disable-manual \
        --disable-docs --without-ca-bundle --without-ca-path || return 1
    make_j -C lib && make -C lib install && make -C include install &&
        make install-pkgconfigDATA
}

build_sqlite3() {
    # The source is SQLite's tree, not the amalgamation: generate sqlite3.c
    # with the build machine's tools (tclsh), then cross-compile that one
    # file with the compile-time options debian/rules gives the Linux build.
    # The options go to the generation too: some (UPDATE_DELETE_LIMIT)
    # change the grammar lemon turns into the parser.
    flags="-DSQLITE_THREADSAFE=1 $(debian_sqlite_flags)"
    echo "win-deps: SQLite options: $flags"
    mkdir -p _native && cd _native || return 1
    nice -n 15 ../configure CFLAGS="-O2 $flags" >/dev/null &&
        make_j sqlite3.c sqlite3.h >/dev/null || return 1
    # shellcheck disable=SC2086
    nice -n 15 $HOST-gcc -O2 $flags -c sqlite3.c -o sqlite3.o || return 1
    rm -f "$PREFIX/lib/libsqlite3.a"
    $HOST-ar rcs "$PREFIX/lib/libsqlite3.a" sqlite3.o &&
        cp sqlite3.h ../src/sqlite3ext.h "$PREFIX/include/" || return 1
    ver=$(sed -n 's/^#define SQLITE_VERSION *"\(.*\)"/\1/p' sqlite3.h)
    write_pc sqlite3 "SQLite" "$ver" "-lsqlite3" ""
}

# The -D options of the Linux build, read from debian/rules.
debian_sqlite_flags() {
    tr ' \\\t' '\n\n\n' <debian/rules | grep '^-DSQLITE_' | grep -v THREADSAFE |
        sort -u | tr '\n' ' '
}

build_jansson() {
    # The Debian source has no generated configure: cmake.
    cmake_build -DJANSSON_BUILD_DOCS=OFF -DJANSSON_WITHOUT_TESTS=ON \
        -DJANSSON_EXAMPLES=OFF -DJANSSON_BUILD_SHARED_LIBS=OFF
}

build_libcsv() {
    # One file; the Linux build links it as -lcsv (no .pc upstream).
    nice -n 15 $HOST-gcc -O2 -c libcsv.c -o libcsv.o || return 1
    rm -f "$PREFIX/lib/libcsv.a"
    $HOST-ar rcs "$PREFIX/lib/libcsv.a" libcsv.o && cp csv.h "$PREFIX/include/"
}

build_libinih() {
    # The options debian/rules gives meson, as on Linux; the static library.
    # shellcheck disable=SC2046
    nice -n 15 meson setup _win --cross-file "$CACHE/cross.meson" \
        --prefix "$PREFIX" --libdir lib -Ddefault_library=static \
        -Ddistro_install=true -Dwith_INIReader=false $(debian_meson_flags) &&
        nice -n 15 ninja -C _win -j "$JOBS" && ninja -C _win install
}

debian_meson_flags() {
    tr ' \\\t' '\n\n\n' <debian/rules | grep '^-D' | grep -v -e with_INIReader \
        -e default_library -e distro_install | sort -u | tr '\n' ' '
}

build_expat() {
    # Debian's source is expat's git tree: autoreconf, then configure, as
    # debian/rules does (its cmake build would not do: Debian's patches
    # test XML_DTD == 1, which only configure's config header defines).
    cd expat && nice -n 15 autoreconf -fi >/dev/null 2>&1 || return 1
    configure_host --without-docbook --without-xmlwf --without-examples \
        --without-tests || return 1
    make_j -C lib && make -C lib install && make install-pkgconfigDATA || return 1
    # expat's headers want XML_STATIC when it is linked statically.
    sed -i 's/^Cflags: \(.*\)/Cflags: \1 -DXML_STATIC/' "$PREFIX/lib/pkgconfig/expat.pc"
}

build_libzip() {
    # Reading XLSX needs deflate only: no bzip2, xz, zstd nor encryption.
    cmake_build -DENABLE_BZIP2=OFF -DENABLE_LZMA=OFF -DENABLE_ZSTD=OFF \
        -DENABLE_COMMONCRYPTO=OFF -DENABLE_GNUTLS=OFF -DENABLE_MBEDTLS=OFF \
        -DENABLE_OPENSSL=OFF -DENABLE_WINDOWS_CRYPTO=OFF -DBUILD_TOOLS=OFF \
        -DBUILD_REGRESS=OFF -DBUILD_EXAMPLES=OFF -DBUILD_DOC=OFF || return 1
    # zip.h marks its functions dllimport unless ZIP_STATIC is defined.
    sed -i 's/^Cflags: \(.*\)/Cflags: \1 -DZIP_STATIC/' "$PREFIX/lib/pkgconfig/libzip.pc"
}

build_iconv() {
    # MinGW-w64 has no iconv and Debian packages none for it: freexl gets
    # this small one over Windows' code page conversions (installer/win/),
    # with libcharset's locale_charset() (freexl's configure asks for it).
    nice -n 15 $HOST-gcc -O2 -Wall -Wextra -Werror -I"$HERE/win" \
        -c "$HERE/win/iconv.c" -o "$CACHE/iconv.o" || return 1
    rm -f "$PREFIX/lib/libiconv.a"
    $HOST-ar rcs "$PREFIX/lib/libiconv.a" "$CACHE/iconv.o" &&
        cp "$HERE/win/iconv.h" "$HERE/win/localcharset.h" "$PREFIX/include/"
}

build_freexl() {
    configure_host LIBS=-liconv && make_j -C src && make -C src install &&
        make -C headers install && make install-pkgconfigDATA || return 1
    sed -i 's/^Libs: \(.*\)/Libs: \1 -liconv/' "$PREFIX/lib/pkgconfig/freexl.pc"
}

build_libical3() {
    # The C libraries only: no ICU, Berkeley DB, GLib, introspection, Vala,
    # docs nor tests.
    cmake_build -DSTATIC_ONLY=True -DSHARED_ONLY=False -DICAL_GLIB=False \
        -DICAL_GLIB_VAPI=False -DGOBJECT_INTROSPECTION=False \
        -DICAL_BUILD_DOCS=False -DLIBICAL_BUILD_TESTING=False \
        -DENABLE_GTK_DOC=False -DICAL_ERRORS_ARE_FATAL=False \
        -DCMAKE_DISABLE_FIND_PACKAGE_ICU=True -DCMAKE_DISABLE_FIND_PACKAGE_BerkeleyDB=True \
        -DCMAKE_DISABLE_FIND_PACKAGE_LibXml2=True \
        -DCMAKE_DISABLE_FIND_PACKAGE_Doxygen=True
}

build_tre() {
    # regcomp/regexec for Windows, whose C library has none (tre_regcomp,
    # <tre/tre.h>): the library only, static; no agrep, no NLS.
    configure_host --disable-agrep --disable-nls || return 1
    make_j -C lib && make -C lib install && make install-pkgconfigDATA
}

build_cmocka() {
    # The unit tests' library, for the tests cross-built and run under
    # wine: the static library only, installed as -lcmocka.
    cmake_configure -DWITH_STATIC_LIB=ON -DBUILD_STATIC_LIB=ON \
        -DUNIT_TESTING=OFF -DWITH_EXAMPLES=OFF -DPICKY_DEVELOPER=OFF &&
        nice -n 15 ninja -C _win -j "$JOBS" cmocka-static || return 1
    a=$(find _win -name 'libcmocka-static.a' | head -n 1)
    [ -n "$a" ] && cp "$a" "$PREFIX/lib/libcmocka.a" &&
        cp include/cmocka.h "$PREFIX/include/" || return 1
    ver=$(sed -n 's/^project(cmocka VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
    write_pc cmocka "cmocka" "${ver:-0}" "-lcmocka" ""
}

write_pc() {
    cat >"$PREFIX/lib/pkgconfig/$1.pc" <<EOF
prefix=$PREFIX
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: $2
Description: $2 (cross-built for Windows by dentsync's win-deps.sh)
Version: $3
Libs: -L\${libdir} $4
Libs.private: $5
Cflags: -I\${includedir}
EOF
}

# zlib is Debian's libz-mingw-w64-dev, in the compiler's own sysroot, with
# its zlib.pc (the pkg-config above looks there too).
check_zlib() {
    [ -e /usr/$HOST/lib/pkgconfig/zlib.pc ] && return 0
    echo "win-deps: libz-mingw-w64-dev is not installed (sh installer/deps.sh windows)" >&2
    return 1
}

# One library: $1 the source package, $2 its Linux -dev package. Logs to
# logs/<pkg>.log; returns 1 on failure (noted in FAILED).
FAILED=""
BUILT=""
ONLY=" $* "
lib() {
    case "$ONLY" in
    "  " | *" $1 "*) ;;
    *) return 0 ;;
    esac
    versions=$(src_versions "$1" "$2")
    log=$CACHE/logs/$1.log
    ver=""
    fresh=0
    for v in $versions; do
        if [ -e "$PREFIX/stamps/$1_${v}_r$RECIPE" ]; then
            return 0
        fi
        if [ "$fresh" = 0 ]; then
            : >"$log"
            fresh=1
        fi
        if download "$1" "$v" >>"$log" 2>&1; then
            ver=$v
            break
        fi
        echo "win-deps: $1 $v could not be downloaded; trying an older one" >&2
    done
    if [ -z "$ver" ]; then
        # None of the machine's suites has a version that downloads whole:
        # the newer suite's, through the private apt configuration.
        newest=$(echo "$versions" | head -n 1)
        nv=$(newer_version "$1" "$newest")
        if [ -n "$nv" ]; then
            if [ -e "$PREFIX/stamps/$1_${nv}_r$RECIPE" ]; then
                echo "win-deps: $1: no version of the machine's suites downloads;" \
                    "using $nv from $NEWER_SUITE (complete source package, Debian's patches)" >&2
                return 0
            fi
            [ "$fresh" = 1 ] || : >"$log"
            # shellcheck disable=SC2086
            if download "$1" "$nv" $NEWER_APT >>"$log" 2>&1; then
                ver=$nv
                echo "win-deps: $1: no version of the machine's suites downloads;" \
                    "building $nv from $NEWER_SUITE (complete source package, Debian's patches)" >&2
            else
                echo "win-deps: $1 $nv ($NEWER_SUITE) could not be downloaded either" >&2
                # Its upstream tarball, if it came, only after the machine's own.
                versions="$versions
$nv"
            fi
        fi
    fi
    stamp=$PREFIX/stamps/$1_${ver}_r$RECIPE
    if [ -z "$ver" ]; then
        # No complete source package: the mirror may still have served the
        # upstream tarball (checked against the .dsc by apt-get). Build
        # from it, without Debian's patches, and say so.
        for v in $versions; do
            if ls "$CACHE/src/$1_$v/"*.orig.tar.* >/dev/null 2>&1; then
                ver=$v
                break
            fi
        done
        if [ -z "$ver" ]; then
            echo "win-deps: $1: no source package could be downloaded (tried: $(echo $versions))" >&2
            tail -n 5 "$log" >&2
            FAILED="$FAILED $1"
            return 1
        fi
        stamp=$PREFIX/stamps/$1_${ver}_r${RECIPE}_orig
        echo "win-deps: $1 $ver: only its upstream tarball could be downloaded;" \
            "building it WITHOUT Debian's patches" >&2
        [ -e "$stamp" ] && return 0
        ORIG_ONLY=1
    else
        ORIG_ONLY=0
    fi
    installed=$(dpkg-query -W -f='${source:Version}' "$2" 2>/dev/null || true)
    if [ -n "$installed" ] && [ "$ver" != "$installed" ]; then
        echo "win-deps: $1: building $ver, not $installed (the Linux build's $2)" >&2
    fi
    echo "win-deps: building $1 $ver"
    start=$(date +%s)
    # (set -e would be void here, in the condition of an if: chain with &&)
    if (unpack "$1" "$ver" && "build_$(echo "$1" | tr - _)") >>"$log" 2>&1; then
        rm -f "$PREFIX/stamps/$1"_*
        echo "$ver" >"$stamp"
        BUILT="$BUILT $1"
        echo "win-deps: built $1 $ver in $(($(date +%s) - start)) s"
    else
        FAILED="$FAILED $1"
        echo "win-deps: $1 $ver FAILED; the end of $log:" >&2
        tail -n 15 "$log" >&2
    fi
}

ensure_deb_src || exit 1
write_cross_files || exit 1
check_zlib || exit 1

lib libuv1 libuv1-dev
lib curl libcurl4-openssl-dev
lib sqlite3 libsqlite3-dev
lib jansson libjansson-dev
lib libcsv libcsv-dev
lib libinih libinih-dev
lib expat libexpat1-dev
lib libzip libzip-dev

# Our own iconv, stamped with the hash of its source.
ih=$(cat "$HERE/win/iconv.c" "$HERE/win/iconv.h" "$HERE/win/localcharset.h" |
    sha256sum | cut -c1-16)
case "$ONLY" in
"  " | *" iconv "* | *" freexl "*) want_iconv=1 ;;
*) want_iconv=0 ;;
esac
if [ "$want_iconv" = 1 ] && [ ! -e "$PREFIX/stamps/iconv_$ih" ]; then
    echo "win-deps: building iconv (installer/win/iconv.c)"
    if (build_iconv) >"$CACHE/logs/iconv.log" 2>&1; then
        rm -f "$PREFIX/stamps/iconv_"*
        : >"$PREFIX/stamps/iconv_$ih"
        rm -f "$PREFIX/stamps/freexl_"*
    else
        FAILED="$FAILED iconv"
        tail -n 15 "$CACHE/logs/iconv.log" >&2
    fi
fi
lib freexl libfreexl-dev
lib libical3 libical-dev
# TRE: the Linux build takes regcomp from glibc; no -dev package of it is
# installed, so the newest version the archive has.
lib tre libtre-dev
lib cmocka libcmocka-dev

if [ -n "$FAILED" ]; then
    echo "win-deps: FAILED:$FAILED (logs in $CACHE/logs)" >&2
    exit 1
fi
echo "win-deps: all libraries in $PREFIX${BUILT:+ (built:$BUILT)}"
