# dentsync — the one entry point: build, test, demo, lint, install.
#
#   make                    build the agent (dentsync) and the cloud API (dentsync-cloud)
#   make test               lint, unit tests, end-to-end tests, the Windows build under wine,
#                           then the unit tests under ASan+UBSan,
#                           the Nth allocation failing (alloc-loop), then each fuzz target
#                           over its corpus and FUZZ_SHORT (3) seconds
#   make fuzz               each fuzz target (libFuzzer) for FUZZ_SECONDS (60), with coverage
#   make demo               the whole path on a throw-away PostgreSQL, with a summary
#   make test-fresh         `make demo` as a new user's first run, in a bare Debian
#                           root (debootstrap, chroot; as root; before each release)
#   make alloc-loop         the Nth allocation failing, over every unit test binary
#   make soak               100 kill -9 of the agent mid-work (CRASH_KILLS, CRASH_SEED)
#   make bench              speed, memory and idle cost against sqlite3 and psql
#                           (several minutes; BENCH_ROWS, BENCH_GB; docs/performance.md)
#   make bench-read         the CSV reader's speed and peak memory alone (about a minute)
#   make lint               clang-format check, clang-tidy, banned functions
#                           (LINT_JOBS clang-tidy at once, default: the cores)
#   make install PREFIX=/usr/local DESTDIR=   binaries, units, man pages, docs, config
#   make deb                a Debian package in $(BUILD)/ (dpkg-deb)
#   make windows-deps       the libraries cross-built for Windows (docs/windows.md)
#   make windows-linkcheck  one call into each of them, in one .exe under wine
#   make windows            build-win/dentsync.exe and its installer (.msi)
#   make windows-test       the Windows build under wine (part of make test)
#   make SANITIZER=address BUILD=build-asan   a sanitizer build in its own folder
#   V=1                     show the commands
#
# The agent's code (agent/ but main.c, config/, state/) is one static library,
# $(BUILD)/libdentsync.a, linked by the dentsync binary, the unit tests and the
# fuzz targets. SQL migrations are embedded into the binaries at build time.

BUILD     ?= build
SANITIZER ?=
PREFIX    ?= /usr/local
DESTDIR   ?=
CC        ?= cc
CFLAGS    ?= -O2 -g
DEPS      ?= 1
# Compiles that `make test` and the sanitizer and fuzz builds run at once.
JOBS      ?= $(shell nproc 2>/dev/null || echo 1)
# Read before the Windows and Debian rules name their files with it.
VERSION   := $(shell sed -n 's/^\#define DS_VERSION "\(.*\)"/\1/p' agent/core/version.h)

# The first pass installs what is missing (installer/deps.sh), then runs the
# same goals in a make that parses this file afresh: the pkg-config lookups
# below are expanded when the file is read, and on a fresh machine they
# would read nothing before deps.sh has run. DEPS=0 is that second pass (and
# skips the install outright).
GOALS := $(or $(MAKECMDGOALS),all)
ifeq ($(filter-out clean,$(GOALS)),)
DEPS := 0
endif
ifeq ($(DEPS),1)
.PHONY: $(GOALS) deps-then-make
$(GOALS): deps-then-make
	@:
deps-then-make:
	@sh installer/deps.sh
	@$(MAKE) --no-print-directory DEPS=0 $(GOALS)
else

ifeq ($(V),1)
Q :=
say := @true
else
Q := @
say := @printf '  %-6s %s\n'
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wvla

ifneq ($(SANITIZER),)
SAN := -fsanitize=$(SANITIZER),undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

# WIN=1 (set by `make windows` and `make windows-test` for their inner
# make, with BUILD=$(WIN_BUILD)): the same rules cross-compile the agent for
# 64-bit Windows with MinGW-w64, against the static libraries of WIN_CACHE
# (installer/win-deps.sh) through the cache's own pkg-config.
WIN       ?= 0
WIN_CACHE ?= /var/cache/dentsync-win
WIN_BUILD ?= build-win
WIN_HOST  := x86_64-w64-mingw32

ifeq ($(WIN),1)
CC         := $(WIN_HOST)-gcc
AR         := $(WIN_HOST)-ar
PKG_CONFIG := $(WIN_CACHE)/pkg-config
EXE        := .exe
# The other half of the platform layer (agent/os/NAME_posix.c).
OS_OTHER   := agent/os/%_posix.c
OS_ENTRY   := agent/os/os_entry_win.c
# The unit tests' scratch directories (tests/unit/scratch.h), this platform's half.
TEST_OS    := tests/unit/scratch_win.c
# Windows 10 and later; the C library's printf as C99 has it (%zu, %lld);
# MinGW's gmtime_r and localtime_r (over gmtime_s, localtime_s).
PLATFORM_CFLAGS := -D_WIN32_WINNT=0x0A00 -DWINVER=0x0A00 -D__USE_MINGW_ANSI_STDIO=1 \
                   -D_POSIX_THREAD_SAFE_FUNCTIONS
# SHA-256 comes from Windows' CNG (bcrypt), not libcrypto; regcomp from TRE.
# The known-folder IDs (FOLDERID_ProgramData) are in libuuid.
AGENT_PKGS := libuv libcurl sqlite3 jansson inih zlib libzip expat freexl libical tre
PLATFORM_LIBS := -static -lws2_32 -liphlpapi -luserenv -lbcrypt -lcrypt32 -lsecur32 \
                 -ladvapi32 -lshell32 -lole32 -luuid
else
AR         ?= ar
PKG_CONFIG := pkg-config
EXE        :=
OS_OTHER   := agent/os/%_win.c
OS_ENTRY   := agent/os/os_entry_posix.c
TEST_OS    := tests/unit/scratch_posix.c
PLATFORM_CFLAGS := -D_GNU_SOURCE
AGENT_PKGS := libuv libcurl sqlite3 jansson inih libcrypto zlib libzip expat freexl libical
PLATFORM_LIBS := -lpthread
endif

# Third-party headers come in as system headers so our warnings stay ours.
pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null | sed 's/-I/-isystem /g')
pc_libs   = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

CLOUD_PKGS := libmicrohttpd libpq jansson libcrypto zlib

BASE_CFLAGS := -std=c11 $(PLATFORM_CFLAGS) $(WARN) -I. -I$(BUILD)/gen $(SAN) -MMD -MP
AGENT_CFLAGS := $(BASE_CFLAGS) $(call pc_cflags,$(AGENT_PKGS)) $(CFLAGS)
CLOUD_CFLAGS := $(BASE_CFLAGS) $(call pc_cflags,$(CLOUD_PKGS)) $(CFLAGS)
AGENT_LIBS := $(call pc_libs,$(AGENT_PKGS)) -lcsv -lm $(PLATFORM_LIBS)
CLOUD_LIBS := $(call pc_libs,$(CLOUD_PKGS)) -lm -lpthread
# Only the unit tests link these (libxlsxwriter writes the XLSX fixtures).
TEST_LIBS := $(call pc_libs,xlsxwriter)
LDFLAGS_ALL := $(SAN) $(LDFLAGS)

# agent/os/ is the platform layer: each piece as NAME_posix.c and NAME_win.c
# behind one header; each build takes its own half (docs/windows.md). The
# program's entry (os_entry_*.c, main() around ds_main) is linked into the
# binary only, not into the library the tests link.
LIB_SRC := $(filter-out agent/cli/main.c $(OS_OTHER) agent/os/os_entry_%.c,\
             $(wildcard agent/*.c agent/*/*.c)) \
           $(wildcard config/*.c state/*.c proto/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/state_migrations.o \
           $(BUILD)/gen/builtin_templates.o
LIB_OBJ += $(BUILD)/gen/web_assets.o
LIB     := $(BUILD)/libdentsync.a

# proto/ (the wire protocol's shared facts) is linked by both sides.
CLOUD_SRC := $(wildcard cloud/*.c proto/*.c)
CLOUD_OBJ := $(CLOUD_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/cloud_migrations.o

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_TOOLS := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/tools/*.c))

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_SECONDS ?= 60

AGENT_BIN := $(BUILD)/dentsync$(EXE)
CLOUD_BIN := $(BUILD)/dentsync-cloud

.PHONY: all deps test test-bins unit e2e asan fuzz-replay fuzz fuzz-build fuzz-short demo test-fresh bench bench-read soak lint install clean

# Keep the objects of tests and fuzz targets (chained rules would delete them).
.SECONDARY:
all: $(AGENT_BIN) $(CLOUD_BIN)

# The first pass has run installer/deps.sh already (see the top).
deps:

$(BUILD)/%.o: %.c
	$(say) CC $<
	@mkdir -p $(@D)
	$(Q)$(CC) $(if $(filter cloud/%,$<),$(CLOUD_CFLAGS),$(AGENT_CFLAGS)) -c -o $@ $<

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(say) CC $<
	$(Q)$(CC) $(AGENT_CFLAGS) -c -o $@ $<

$(BUILD)/gen/state_migrations.c: installer/embed.sh $(sort $(wildcard state/migrations/*.sql))
	$(say) GEN $@
	@mkdir -p $(@D)
	$(Q)sh installer/embed.sh ds_store_migrations $(filter %.sql,$^) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/cloud_migrations.c: installer/embed.sh $(sort $(wildcard cloud/migrations/*.sql))
	$(say) GEN $@
	@mkdir -p $(@D)
	$(Q)sh installer/embed.sh dsc_migrations $(filter %.sql,$^) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/builtin_templates.c: installer/embed.sh $(sort $(wildcard config/templates/*.json))
	$(say) GEN $@
	@mkdir -p $(@D)
	$(Q)sh installer/embed.sh ds_builtin_templates $(filter %.json,$^) > $@.tmp && mv $@.tmp $@

# The status page's HTML, CSS and JS (agent/web/assets), served from the binary.
$(BUILD)/gen/web_assets.c: installer/embed.sh $(sort $(wildcard agent/web/assets/*))
	$(say) GEN $@
	@mkdir -p $(@D)
	$(Q)sh installer/embed.sh ds_web_assets $(filter agent/web/assets/%,$^) > $@.tmp && mv $@.tmp $@

$(LIB): $(LIB_OBJ)
	$(say) AR $@
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(AGENT_BIN): $(BUILD)/agent/cli/main.o $(OS_ENTRY:%.c=$(BUILD)/%.o) $(LIB)
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(AGENT_LIBS)

$(CLOUD_BIN): $(CLOUD_OBJ)
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CLOUD_LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/tests/unit/alloc_env.o \
                  $(TEST_OS:%.c=$(BUILD)/%.o) $(LIB)
	$(say) LINK $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(AGENT_LIBS) $(TEST_LIBS) -lcmocka

$(BUILD)/tests/tools/%: $(BUILD)/tests/tools/%.o $(LIB)
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(AGENT_LIBS)

$(BUILD)/tests/bench/%: $(BUILD)/tests/bench/%.o $(LIB)
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(AGENT_LIBS)

# Fuzz targets linked with a plain driver that replays a corpus: built and
# replayed under the sanitizers by `make test`; `make fuzz` links them with
# libFuzzer (clang) and fuzzes each for FUZZ_SECONDS.
$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/driver.o $(LIB)
	$(say) LINK $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(AGENT_LIBS)

# The cloud's fuzz targets (fuzz_cloud_*) link the cloud's objects but main.
CLOUD_LIB := $(BUILD)/libdentsync-cloud.a
$(CLOUD_LIB): $(filter-out $(BUILD)/cloud/main.o,$(CLOUD_OBJ))
	$(say) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/fuzz_cloud_%: $(BUILD)/tests/fuzz/fuzz_cloud_%.o $(BUILD)/tests/fuzz/driver.o $(CLOUD_LIB)
	$(say) LINK $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CLOUD_LIBS)

# --- tests -----------------------------------------------------------------

# Each unit binary is a cmocka runner and prints its own summary; the loop
# goes on past a failure so one run shows them all, then fails.
unit: deps $(UNIT_BIN)
	$(Q)fail=0; for t in $(UNIT_BIN); do \
	    echo "== $$t"; \
	    DS_TEST_SRCDIR=$(CURDIR) timeout 120 $$t || fail=1; \
	done; exit $$fail

e2e: deps $(AGENT_BIN) $(CLOUD_BIN) $(TEST_TOOLS)
	$(Q)BUILD=$(BUILD) sh tests/e2e/run.sh

fuzz-replay: $(FUZZ_BIN)
	$(Q)pass=0; fail=0; for t in $(FUZZ_BIN); do \
	    name=$${t##*/fuzz_}; \
	    echo "== $$t"; \
	    if timeout 300 $$t tests/fuzz/corpus/$$name; then pass=$$((pass + 1)); \
	    else fail=$$((fail + 1)); fi; \
	done; \
	echo "fuzz-replay: $$pass passed, $$fail failed"; [ $$fail -eq 0 ]

# The binaries a test step runs, built JOBS at a time before it runs them.
test-bins: $(AGENT_BIN) $(CLOUD_BIN) $(UNIT_BIN) $(FUZZ_BIN) $(TEST_TOOLS)

asan:
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) DEPS=0 SANITIZER=address BUILD=build-asan test-bins
	$(Q)$(MAKE) --no-print-directory DEPS=0 SANITIZER=address BUILD=build-asan unit fuzz-replay

# The allocation-failure mode over every unit test binary, under ASan+UBSan
# in `make test`: tests/tools/alloc-loop.sh (ALLOC_RUNS, ALLOC_DENSE and
# ALLOC_SEED bound and shift the allocations it fails; ALLOC_RUNS=0: all).
.PHONY: alloc-loop
alloc-loop: $(UNIT_BIN)
	$(Q)bash tests/tools/alloc-loop.sh $(BUILD)

# The Windows cross build (docs/windows.md). windows-deps installs MinGW-w64,
# wine and the build tools (deps.sh windows), then cross-compiles the
# libraries from Debian's source packages into WIN_CACHE (installer/win-deps.sh;
# seconds once cached). windows-linkcheck links one call into each of them
# statically into one .exe and runs it under wine.
.PHONY: windows windows-deps windows-linkcheck windows-msi windows-test windows-zoneinfo
# dentsync.exe, one static .exe, and its installer dentsync-VERSION-x64.msi
# (docs/windows.md), built by an inner make that reads this file afresh
# with WIN=1, once the cache is there.
WIN_MAKE = $(MAKE) --no-print-directory DEPS=0 WIN=1 BUILD=$(WIN_BUILD) WIN_CACHE=$(WIN_CACHE)
windows:
	$(Q)sh installer/deps.sh windows
	$(Q)DS_WIN_CACHE=$(WIN_CACHE) sh installer/win-deps.sh
	$(Q)$(WIN_MAKE) $(WIN_BUILD)/dentsync.exe windows-zoneinfo
	$(Q)$(WIN_MAKE) windows-msi

# The Windows build under wine, in `make test` (tests/win/test.sh): the
# unit tests of the platform layer and the readers, the service layer
# against wine's service manager, the installer's tables, the file-sharing
# helper, and dentsync.exe end to end against the Linux cloud (so the Linux
# build first). A skip, with its reason, when the libraries cannot be built here.
windows-test: $(CLOUD_BIN)
	$(Q)BUILD=$(BUILD) WIN_BUILD=$(WIN_BUILD) WIN_CACHE=$(WIN_CACHE) bash tests/win/test.sh

windows-deps:
	$(Q)sh installer/deps.sh windows
	$(Q)DS_WIN_CACHE=$(WIN_CACHE) sh installer/win-deps.sh

# Runs even when a library failed to build: the check then reports it.
windows-linkcheck:
	$(Q)sh installer/deps.sh windows
	$(Q)DS_WIN_CACHE=$(WIN_CACHE) sh installer/win-deps.sh || true
	$(say) WINCC $(BUILD)/win/linkcheck.exe
	$(Q)WIN_CFLAGS='-std=c11 -O2 $(WARN)' \
	    sh tests/win/linkcheck.sh $(WIN_CACHE) $(BUILD)/win/linkcheck.exe

# The libFuzzer build: the library with clang, ASan, UBSan and the fuzzer's
# coverage hooks, each target linked with libFuzzer.
FUZZ_LF_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/libfuzzer/%)
FUZZ_SHORT  ?= 3

fuzz-build:
	$(Q)sh installer/deps.sh fuzz
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) DEPS=0 CC=clang BUILD=build-fuzz \
	    SANITIZER=fuzzer-no-link,address build-fuzz/libdentsync.a build-fuzz/libdentsync-cloud.a
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) DEPS=0 CC=clang $(FUZZ_LF_BIN)

build-fuzz/libfuzzer/%: tests/fuzz/%.c build-fuzz/libdentsync.a
	$(say) FUZZ $@
	@mkdir -p $(@D)
	$(Q)clang -std=c11 -D_GNU_SOURCE -I. -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all $(call pc_cflags,$(AGENT_PKGS)) -o $@ $< \
	    build-fuzz/libdentsync.a $(AGENT_LIBS)

# The cloud's targets link the cloud's objects but main.
build-fuzz/libfuzzer/fuzz_cloud_%: tests/fuzz/fuzz_cloud_%.c build-fuzz/libdentsync-cloud.a
	$(say) FUZZ $@
	@mkdir -p $(@D)
	$(Q)clang -std=c11 -D_GNU_SOURCE -I. -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all $(call pc_cflags,$(AGENT_PKGS)) -o $@ $< \
	    build-fuzz/libdentsync-cloud.a $(CLOUD_LIBS)

# make fuzz FUZZ_SECONDS=N: each target over its corpus, then N seconds of
# fuzzing; one line per target with its coverage (tests/fuzz/run.sh).
fuzz: fuzz-build
	$(Q)sh tests/fuzz/run.sh build-fuzz/libfuzzer $(FUZZ_SECONDS) build-fuzz/corpus

# What make test runs: the same with FUZZ_SHORT seconds per target.
fuzz-short: fuzz-build
	$(Q)sh tests/fuzz/run.sh build-fuzz/libfuzzer $(FUZZ_SHORT)

test: deps
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) DEPS=0 test-bins
	$(Q)$(MAKE) --no-print-directory DEPS=0 lint
	$(Q)$(MAKE) --no-print-directory DEPS=0 unit
	$(Q)$(MAKE) --no-print-directory DEPS=0 e2e
	$(Q)$(MAKE) --no-print-directory DEPS=0 windows-test
	$(Q)$(MAKE) --no-print-directory DEPS=0 asan
	$(Q)$(MAKE) --no-print-directory DEPS=0 SANITIZER=address BUILD=build-asan alloc-loop
	$(Q)$(MAKE) --no-print-directory DEPS=0 fuzz-short

demo: all
	$(Q)BUILD=$(BUILD) sh samples/demo.sh

# Not part of `make test` (minutes; run before each release): `make demo`
# as the README says, in a bare Debian root with none of the packages
# (tests/fresh/fresh.sh). FRESH_REV picks the commit whose tree is tried.
FRESH_REV ?= HEAD
test-fresh:
	$(Q)sh installer/deps.sh fresh
	$(Q)FRESH_REV=$(FRESH_REV) bash tests/fresh/fresh.sh

# Not part of `make test`: crash.sh with CRASH_KILLS (default 100) random
# kill -9 of the agent on one queue (CRASH_SEED picks the instants).
CRASH_KILLS ?= 100
soak: deps $(AGENT_BIN) $(CLOUD_BIN)
	$(Q)CRASH_KILLS=$(CRASH_KILLS) BUILD=$(BUILD) bash tests/e2e/crash.sh

# Not part of `make test`: it takes minutes and its figures depend on the
# machine. BENCH_ROWS (default 1000000) and BENCH_GB (default 1) size it.
bench: all $(BUILD)/tests/bench/stage $(BUILD)/tests/bench/read $(BUILD)/tests/bench/csvparse
	$(Q)BUILD=$(BUILD) bash tests/bench/bench.sh
bench: $(BUILD)/tests/bench/cloudload

# The CSV reader's speed and memory alone, in a minute (part of make bench).
bench-read: all $(BUILD)/tests/bench/read
	$(Q)BUILD=$(BUILD) sh tests/bench/read.sh

# --- lint ------------------------------------------------------------------

LINT_SRC := $(filter-out agent/os/%_win.c tests/unit/%_win.c,$(wildcard agent/*.c agent/*/*.c agent/*.h agent/*/*.h \
            config/*.[ch] state/*.[ch] cloud/*.[ch] proto/*.[ch] tests/unit/*.[ch] tests/tools/*.c \
            tests/fuzz/*.[ch] tests/bench/*.c))
# The Windows-only sources: formatted and free of the banned calls too, but
# not given to clang-tidy, which would need Windows' headers.
LINT_WIN_SRC := $(wildcard agent/os/*_win.c installer/win/*.[ch] tests/win/*.c tests/unit/*_win.c)
# Only the platform layer (agent/os/) may ask which platform it is built for.
PLATFORM_TEST := '\b(_WIN32|_WIN64|__MINGW32__|__MINGW64__|__linux__|__APPLE__|__unix__|_MSC_VER)\b'
BANNED := '\b(strcpy|sprintf|strtok|atoi|gets|strcat)[[:space:]]*\('

TIDY_CHECKS := -*,clang-analyzer-*,bugprone-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling
# clang-tidy runs LINT_JOBS processes at a time (the cores by default), each
# over LINT_CHUNK files (a process costs a third of a second to start, so
# not one a file); each process's output is printed whole once it is done.
# xargs exits non-zero when any clang-tidy did, so the lint fails as before.
LINT_JOBS  ?= $(shell nproc 2>/dev/null || echo 1)
LINT_CHUNK ?= 8

lint:
	$(Q)clang-format --dry-run --Werror $(LINT_SRC) $(LINT_WIN_SRC)
	$(Q)! grep -nE $(BANNED) $(LINT_SRC) $(LINT_WIN_SRC)
	$(Q)! grep -nE $(PLATFORM_TEST) $(filter-out agent/os/%,$(LINT_SRC)) /dev/null
	$(Q)printf '%s\n' $(filter %.c,$(LINT_SRC)) | xargs -n $(LINT_CHUNK) -P $(LINT_JOBS) sh -c \
	    'out=$$(clang-tidy --quiet -checks="$$0" "$$@" -- $(AGENT_CFLAGS) $(call pc_cflags,$(CLOUD_PKGS)) 2>&1); \
	     rc=$$?; [ -z "$$out" ] || printf "%s\n" "$$out"; exit $$rc' '$(TIDY_CHECKS)'

# --- the Windows installer (WIN=1) ------------------------------------------

# wixl (msitools) from installer/win/dentsync.wxs, then what wixl cannot
# say added with msibuild (installer/win/msi-extra.sh). wixl takes the
# .exe from the directory it runs in.
WIN_MSI := $(WIN_BUILD)/dentsync-$(VERSION)-x64.msi
ifeq ($(WIN),1)
windows-msi: $(WIN_MSI)
# The time zones beside dentsync.exe: one component a file, listed by
# wixl-heat (msitools) from the copy in $(BUILD)/zoneinfo.
$(WIN_MSI): $(AGENT_BIN) $(BUILD)/zoneinfo/zones.tab installer/win/dentsync.wxs \
            installer/win/msi-extra.sh
	$(say) WIXL $@
	$(Q)cd $(@D) && find zoneinfo -type f | LC_ALL=C sort | \
	    wixl-heat -p zoneinfo/ --component-group ZoneInfo --var var.ZoneDir \
	    --directory-ref ZONEDIR --win64 >zoneinfo.wxs
	$(Q)rm -f $@.tmp && cd $(@D) && wixl -a x64 -D Version=$(VERSION) -D Exe=dentsync.exe \
	    -D ZoneDir=zoneinfo -D Win64=yes -o $(@F).tmp $(CURDIR)/installer/win/dentsync.wxs \
	    zoneinfo.wxs
	$(Q)sh installer/win/msi-extra.sh $@.tmp && mv $@.tmp $@

# The calendar reader's time zones beside each program that reads files
# (ds_os_zoneinfo_dir): libical's zoneinfo from the cache, as the installer
# ships it.
WIN_ZONEINFO := $(WIN_CACHE)/prefix/share/libical/zoneinfo
$(BUILD)/zoneinfo/zones.tab $(BUILD)/tests/zoneinfo/zones.tab: $(WIN_ZONEINFO)/zones.tab
	$(say) COPY $(@D)
	$(Q)rm -rf $(@D) $(@D).tmp && mkdir -p $(@D:%/zoneinfo=%) && \
	    cp -R $(WIN_ZONEINFO) $(@D).tmp && mv $(@D).tmp $(@D)

windows-zoneinfo: $(BUILD)/zoneinfo/zones.tab $(BUILD)/tests/zoneinfo/zones.tab

# The unit tests as .exe, and the helpers of tests/win/.
$(BUILD)/tests/%.exe: $(BUILD)/tests/unit/%.o $(BUILD)/tests/unit/alloc_env.o \
                      $(TEST_OS:%.c=$(BUILD)/%.o) $(LIB) | $(BUILD)/tests/zoneinfo/zones.tab
	$(say) LINK $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(AGENT_LIBS) -lcmocka

$(BUILD)/win/holdopen.exe: tests/win/holdopen.c
	$(say) WINCC $@
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 $(PLATFORM_CFLAGS) $(WARN) -O2 -static -o $@ $<

$(BUILD)/win/slowwrite.exe: tests/win/slowwrite.c
	$(say) WINCC $@
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 $(PLATFORM_CFLAGS) $(WARN) -O2 -static -o $@ $<

# The service layer from the agent's library (its service identifier needs
# the library's SHA-1, which needs its allocator).
$(BUILD)/win/svccheck.exe: tests/win/svccheck.c $(LIB)
	$(say) WINCC $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(AGENT_CFLAGS) -O2 -o $@ tests/win/svccheck.c $(LIB) $(AGENT_LIBS)
else
windows-msi: windows
endif

# --- install ---------------------------------------------------------------

# Where systemd and the packaging tools look: under PREFIX, so that
# PREFIX=/usr (the .deb) puts units in /usr/lib/systemd/system and the
# default /usr/local in /usr/local/lib/systemd/system (both on systemd's path).
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/dentsync
MAN_PAGES   := installer/man/dentsync.1 installer/man/dentsync.conf.5 installer/man/dentsync-cloud.8
DOCS        := README.md $(wildcard docs/*.md)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/dentsync/templates
	install -m 0755 $(AGENT_BIN) $(CLOUD_BIN) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 config/templates/*.json $(DESTDIR)$(PREFIX)/share/dentsync/templates/
	install -m 0644 config/dentsync.conf $(DESTDIR)$(PREFIX)/share/dentsync/dentsync.conf.example
	install -d $(DESTDIR)/etc/dentsync
	test -e $(DESTDIR)/etc/dentsync/dentsync.conf || \
	    install -m 0640 config/dentsync.conf $(DESTDIR)/etc/dentsync/dentsync.conf
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	for u in dentsync.service dentsync-cloud.service; do \
	    sed 's|@BINDIR@|$(PREFIX)/bin|g' installer/systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u.tmp && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.tmp && \
	    mv $(DESTDIR)$(UNITDIR)/$$u.tmp $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 installer/systemd/dentsync.sysusers $(DESTDIR)$(SYSUSERSDIR)/dentsync.conf
	install -m 0644 installer/systemd/dentsync.tmpfiles $(DESTDIR)$(TMPFILESDIR)/dentsync.conf
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	for m in $(MAN_PAGES); do \
	    s=$${m##*.}; install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; \
	done
	install -d $(DESTDIR)$(DOCDIR)
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/

# The Debian package: the install tree under PREFIX=/usr, man pages
# compressed as Debian wants them, built by installer/mkdeb.sh with dpkg-deb.
DEB_STAGE := $(BUILD)/deb/root

deb: all
	$(say) DEB $(BUILD)/dentsync_$(VERSION)_*.deb
	$(Q)rm -rf $(DEB_STAGE)
	$(Q)$(MAKE) --no-print-directory DEPS=0 install PREFIX=/usr DESTDIR=$(CURDIR)/$(DEB_STAGE) >/dev/null
	$(Q)gzip -9n $(DEB_STAGE)/usr/share/man/man*/*
	$(Q)printf 'dentsync (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- dentsync maintainers <dentsync@example.com>  %s\n' \
	    $(VERSION) $(VERSION) "$$(date -R -d @0)" | gzip -9n > $(DEB_STAGE)/usr/share/doc/dentsync/changelog.Debian.gz
	$(Q)sh installer/mkdeb.sh $(DEB_STAGE) $(VERSION) $(BUILD) >/dev/null

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)

endif
