# voxtts build: the library (static libvoxtts.a and shared libvoxtts.so with a
# soname, exporting only voxtts_* symbols), the voxtts command (cli/), unit
# tests (tests/unit/), small tools (tools/*.c), examples (examples/*.c), and
# install/uninstall with pkg-config data and the man page.
#
#   make                      library, command, tests, tools
#   make SAN=1                the same with AddressSanitizer + UBSan in build-san/
#   make WERROR=1             warnings are errors (CI and development: scripts/test.sh)
#   make install PREFIX=/usr DESTDIR=/tmp/stage    (and make uninstall)
# CFLAGS, CPPFLAGS and LDFLAGS from the environment or the command line are honoured.
CC      ?= cc
SAN     ?= 0
WERROR  ?= 0
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
MANDIR  ?= $(PREFIX)/share/man
PKGDIR  ?= $(LIBDIR)/pkgconfig

VERSION_MAJOR := $(shell sed -n 's/^\#define VOXTTS_VERSION_MAJOR \([0-9]*\).*/\1/p' include/voxtts.h)
VERSION_MINOR := $(shell sed -n 's/^\#define VOXTTS_VERSION_MINOR \([0-9]*\).*/\1/p' include/voxtts.h)
VERSION_PATCH := $(shell sed -n 's/^\#define VOXTTS_VERSION_PATCH \([0-9]*\).*/\1/p' include/voxtts.h)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

ifeq ($(SAN),1)
BUILD   ?= build-san
OPT     ?= -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
else
BUILD   ?= build
OPT     ?= -O2 -g
endif
WARN    = -Wall -Wextra -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN    += -Werror
endif
# -fPIC: the same objects go into the static archive and the shared library.
# The command (cli/) sees only the public headers: it is a client of the library.
API_CFLAGS = -std=c11 -D_GNU_SOURCE $(OPT) -fPIC $(WARN) -Iinclude $(CPPFLAGS) $(CFLAGS)
BASE_CFLAGS = $(API_CFLAGS) -Isrc
ALL_CFLAGS = $(BASE_CFLAGS) -MMD -MP
LIBS_PRIVATE = -lpcre2-8 -lcjson -lsndfile -lsoxr -lm -lpthread
LDLIBS  = $(LIBS_PRIVATE)

SRC     := $(sort $(wildcard src/*/*.c))
OBJ     := $(SRC:%.c=$(BUILD)/%.o)
LIB     := $(BUILD)/libvoxtts.a
SONAME  := libvoxtts.so.$(VERSION_MAJOR)
SHLIB   := $(BUILD)/libvoxtts.so.$(VERSION)
CLI_SRC := $(sort $(wildcard cli/*.c))
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TESTS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(sort $(wildcard tests/unit/test_*.c)))
TOOLS   := $(patsubst tools/%.c,$(BUILD)/tools/%,$(sort $(wildcard tools/*.c)))
# Fuzz targets built as corpus regression runners (tests/fuzz/; libFuzzer builds: tests/fuzz/build.sh).
FUZZ    := $(patsubst tests/fuzz/fuzz_%.c,$(BUILD)/fuzz/%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))

.PHONY: all test clean install uninstall
# Keep the objects of tests and tools (make would delete them as intermediates).
.SECONDARY:
all: $(BUILD)/voxtts $(SHLIB) $(TESTS) $(TOOLS) $(FUZZ)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/cli/%.o: cli/%.c
	@mkdir -p $(dir $@)
	$(CC) $(API_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# Only voxtts_* is exported (src/libvoxtts.map); -z defs: every symbol resolved.
$(SHLIB): $(OBJ) src/libvoxtts.map
	$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/libvoxtts.map \
		-Wl,-z,defs $(LDFLAGS) $(OBJ) $(LDLIBS) -o $@
	ln -sf $(notdir $(SHLIB)) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libvoxtts.so

# The command alone needs libmicrohttpd (voxtts serve).
$(BUILD)/voxtts: $(CLI_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -lmicrohttpd -o $@

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The out-of-memory test sees every allocation the library makes (test_alloc_fail.c).
$(BUILD)/tests/test_alloc_fail: LDFLAGS += -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc \
	-Wl,--wrap=free -Wl,--wrap=strdup -Wl,--wrap=posix_memalign

$(BUILD)/tools/%: $(BUILD)/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/fuzz/%: tests/fuzz/fuzz_%.c tests/fuzz/regress.c tests/fuzz/fuzz.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(LDFLAGS) tests/fuzz/fuzz_$*.c tests/fuzz/regress.c $(LIB) $(LDLIBS) -o $@

# The server's request checks live in the command (cli/serve_request.c), not the library.
$(BUILD)/fuzz/http_json: tests/fuzz/fuzz_http_json.c tests/fuzz/regress.c tests/fuzz/fuzz.h cli/serve_request.c \
		cli/serve_request.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Icli $(LDFLAGS) tests/fuzz/fuzz_http_json.c cli/serve_request.c tests/fuzz/regress.c \
		$(LIB) $(LDLIBS) -o $@

# The Wyoming event parser lives in the command (cli/wyoming_event.c), not the library.
$(BUILD)/fuzz/wyoming: tests/fuzz/fuzz_wyoming.c tests/fuzz/regress.c tests/fuzz/fuzz.h cli/wyoming_event.c \
		cli/wyoming_event.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(LDFLAGS) tests/fuzz/fuzz_wyoming.c cli/wyoming_event.c tests/fuzz/regress.c $(LIB) \
		$(LDLIBS) -o $@

test: all
	BUILD=$(BUILD) tests/run.sh

# voxtts.pc is written at install time, for the PREFIX given then.
install: $(BUILD)/voxtts $(SHLIB) $(LIB)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(PKGDIR) \
		$(DESTDIR)$(MANDIR)/man1
	install -m 755 $(BUILD)/voxtts $(DESTDIR)$(BINDIR)/voxtts
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(SHLIB)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libvoxtts.so
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libvoxtts.a
	install -m 644 $(wildcard include/voxtts*.h) $(DESTDIR)$(INCDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCDIR@|$(INCDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS_PRIVATE@|$(LIBS_PRIVATE)|' src/voxtts.pc.in \
		> $(DESTDIR)$(PKGDIR)/voxtts.pc
	chmod 644 $(DESTDIR)$(PKGDIR)/voxtts.pc
	install -m 644 voxtts.1 $(DESTDIR)$(MANDIR)/man1/voxtts.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/voxtts $(DESTDIR)$(LIBDIR)/libvoxtts.so* $(DESTDIR)$(LIBDIR)/libvoxtts.a \
		$(addprefix $(DESTDIR)$(INCDIR)/,$(notdir $(wildcard include/voxtts*.h))) \
		$(DESTDIR)$(PKGDIR)/voxtts.pc $(DESTDIR)$(MANDIR)/man1/voxtts.1

clean:
	rm -rf build build-san

# Header dependencies of every object (tests and tools too, so a changed struct
# rebuilds them).
-include $(OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TESTS:$(BUILD)/tests/%=$(BUILD)/tests/unit/%.d) \
	$(TOOLS:%=%.d)
