# partboot — one non-recursive Makefile.
#   make              build build/partboot and libpartboot (shared, and static for the
#                     program and the tests)
#   make check        install dependencies, build, run every test (SANITIZE=1: ASan+UBSan)
#   make deps         install the Debian packages listed in deps.txt (no-op when present)
#   make install      PREFIX=/usr/local DESTDIR= (LIBDIR=PREFIX/lib): the program, and
#                     libpartboot with its public headers and partboot.pc
#   V=1 shows full commands, WERROR=0 relaxes -Werror.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SANITIZE ?= 0
WERROR ?= 1
V ?= 0

FUZZ ?= 0

# FUZZ=1: the libFuzzer build (fuzz/, docs/fuzzing.md): clang, coverage for libFuzzer and
# ASan+UBSan in every object, into build-fuzz/.
ifeq ($(FUZZ),1)
BUILD := build-fuzz
CC := clang
CFLAGS := -O1 -g
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(SANITIZE),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
SANFLAGS :=
endif

ifeq ($(V),1)
Q :=
quiet = @true
else
Q := @
quiet = @printf '  %-7s %s\n'
endif

# What the libraries link (and partboot.pc's Requires.private names); the program adds
# libsmartcols for its tables.
LIB_PKGS := fdisk blkid uuid ext2fs com_err libarchive inih libzstd libcrypt
PKGS := $(LIB_PKGS) smartcols
TEST_PKGS := cmocka

WARNINGS += -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes
WARNINGS += -Wno-unused-parameter -Wno-missing-field-initializers -Wvla
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif

CC ?= cc
CFLAGS ?= -O2 -g
PB_CFLAGS = -std=gnu11 $(WARNINGS) $(SANFLAGS) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -I. \
	$(shell pkg-config --cflags $(PKGS))
PB_LDFLAGS = $(SANFLAGS)
PB_LIBS = $(shell pkg-config --libs $(PKGS))
LIB_LIBS = $(shell pkg-config --libs $(LIB_PKGS))

# Every top-level folder with C sources is a library, except the program's and the
# tests': a new one (disk/) joins libpartboot by itself. All library objects go into one
# archive (ld searches an archive until nothing new resolves, so no link order to keep)
# and into the shared library, so they are compiled position-independent.
LIBDIRS := $(filter-out cli tests fuzz,$(patsubst %/,%,$(sort $(dir $(wildcard */*.c)))))
obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
LIB_OBJ := $(call obj,$(foreach d,$(LIBDIRS),$(wildcard $(d)/*.c)))
LIBS_A := $(BUILD)/libpartboot.a

CLI_SRC := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/test-*.c)
FUZZ_SRC := $(wildcard fuzz/fuzz-*.c)
ALL_SRC := $(foreach d,$(LIBDIRS),$(wildcard $(d)/*.c)) $(CLI_SRC) $(TEST_SRC) $(FUZZ_SRC)

PROG := $(BUILD)/partboot
TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))

# libpartboot.so.VERSION, soname libpartboot.so.MAJOR. It exports exactly what the public
# headers declare: each library folder's D/D.h and what those include from common/ (the
# only headers installed; *-private.h, macros.h, run.h, util.h stay inside). The version
# script is generated from them (tools/public-symbols.sh), so it cannot drift; one
# version node for all of it until the ABI is declared stable.
VERSION := 0.1
SO_MAJOR := $(firstword $(subst ., ,$(VERSION)))
SO := $(BUILD)/libpartboot.so.$(VERSION)
SO_NAME := libpartboot.so.$(SO_MAJOR)
SYM_NODE := PARTBOOT_0.1
PUB_H := $(foreach d,$(LIBDIRS),$(wildcard $(d)/$(d).h)) common/err.h common/strbuf.h

all: $(PROG) $(SO)

$(LIBS_A): $(LIB_OBJ)
	$(quiet) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIB_OBJ): PB_PIC := -fPIC
# Objects built before they were position-independent are rebuilt once.
$(LIB_OBJ): $(BUILD)/.pic
$(BUILD)/.pic:
	@mkdir -p $(dir $@) && touch $@

$(BUILD)/libpartboot.sym: tools/public-symbols.sh $(PUB_H) $(LIB_OBJ)
	$(quiet) GEN $@
	$(Q)CC="$(CC)" tools/public-symbols.sh script $(SYM_NODE) --data-from "$(LIB_OBJ)" $(PUB_H) >$@.tmp
	$(Q)mv $@.tmp $@

$(SO): $(LIB_OBJ) $(BUILD)/libpartboot.sym
	$(quiet) LD $@
	$(Q)$(CC) -shared -Wl,-soname,$(SO_NAME) -Wl,--version-script=$(BUILD)/libpartboot.sym -Wl,--no-undefined \
		$(PB_LDFLAGS) $(LDFLAGS) -o $@ $(LIB_OBJ) $(LIB_LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(quiet) CC $<
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(PB_CFLAGS) $(PB_PIC) -MMD -MP -c -o $@ $<

$(PROG): $(call obj,$(CLI_SRC)) $(LIBS_A)
	$(quiet) LD $@
	$(Q)$(CC) $(PB_LDFLAGS) $(LDFLAGS) -o $@ $(call obj,$(CLI_SRC)) $(LIBS_A) $(PB_LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIBS_A)
	$(quiet) LD $@
	$(Q)$(CC) $(PB_LDFLAGS) $(LDFLAGS) -o $@ $< $(LIBS_A) $(PB_LIBS) $(shell pkg-config --libs $(TEST_PKGS))

tests: $(PROG) $(SO) $(TESTS)

# The libFuzzer harnesses, each linked with libFuzzer's main (make FUZZ=1 fuzzers; make fuzz).
FUZZERS := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
$(BUILD)/fuzz/%: $(BUILD)/fuzz/%.o $(LIBS_A)
	$(quiet) LD $@
	$(Q)$(CC) -fsanitize=fuzzer,address,undefined $(LDFLAGS) -o $@ $< $(LIBS_A) $(PB_LIBS)

fuzzers: $(FUZZERS)

deps:
	@./tests/deps.sh deps.txt

# The test guest (fixtures/make-guest.sh) is built on demand and cached in .cache/.
guest: $(PROG)
	@if [ -x fixtures/make-guest.sh ]; then ./fixtures/make-guest.sh; fi

# Dependencies first, then a fresh make so pkg-config sees the installed libraries.
# A plain `make check` runs everything with the normal build, then the unit tests and
# the fast end-to-end scripts (SAN_TESTS) again under ASan+UBSan; `make check SANITIZE=1`
# runs everything under the sanitizers.
# (apply.sh, 100 s under ASan, is left to `make check SANITIZE=1` and the layout fuzzer, for
# make check's time budget)
SAN_TESTS ?= test- e2e/part e2e/fs
check: deps
	@$(MAKE) --no-print-directory tests
	@$(MAKE) --no-print-directory guest
ifeq ($(SANITIZE),1)
	@BUILD=$(BUILD) ./tests/run.sh
else
	@$(MAKE) --no-print-directory BUILD=build-san SANITIZE=1 tests
	@BUILD=$(BUILD) SAN_BUILD=build-san SAN_TESTS="$(SAN_TESTS)" ./tests/run.sh
endif

# Fuzzing (docs/fuzzing.md): every harness of fuzz/ for FUZZ_SECONDS each (300 by default)
# on the seeds fuzz/seeds.sh makes and the corpus kept in build-fuzz/corpus/; make check runs
# them for a few seconds each (tests/e2e/fuzz.sh).
FUZZ_SECONDS ?= 300
fuzz: deps
	@$(MAKE) --no-print-directory tests
	@$(MAKE) --no-print-directory FUZZ=1 fuzzers
	@FUZZ_SECONDS=$(FUZZ_SECONDS) PARTBOOT=$(CURDIR)/$(BUILD)/partboot ./fuzz/run.sh

# SLOW_TESTS="slow/NAME ..." picks some of them (not TESTS: that is the test binaries here).
# The slow suite (tests/slow/*.sh): real Debian guests and long VM boots that would push
# the default suite past its time budget. INSTALLERS=1 adds tests/installers/ to the same
# pool of JOBS (tests/run.sh), as .ci/run does after make check: the installer's long
# install leaves one of two cores to the slow scripts.
check-slow: deps
	@$(MAKE) --no-print-directory tests
	@$(MAKE) --no-print-directory guest
	@BUILD=$(BUILD) SLOW=1 INSTALLERS=$(INSTALLERS) TESTS="$(SLOW_TESTS)" ./tests/run.sh

# Debian's real installer through install --via-vm (tests/installers/*.sh; half an hour and
# more under TCG): its media and mirror come from fixtures/make-installer.sh (Debian packages,
# cached in .cache/installer/). .ci/run runs it with the slow suite (make check-slow INSTALLERS=1).
check-installers: deps
	@$(MAKE) --no-print-directory tests
	@$(MAKE) --no-print-directory guest
	@BUILD=$(BUILD) INSTALLERS=1 ./tests/run.sh

# The library: libpartboot.so.VERSION with its .so.MAJOR and .so links; the public
# headers under INCLUDEDIR/partboot/ in their folders (they include each other as
# "../common/err.h"); partboot.pc, whose paths are under ${prefix} when they can be (so
# pkg-config --define-prefix can move them).
pc_path = $(if $(filter $(PREFIX)/%,$(1)),$${prefix}/$(patsubst $(PREFIX)/%,%,$(1)),$(1))
install: $(PROG) $(SO)
	install -Dm755 $(PROG) $(DESTDIR)$(BINDIR)/partboot
	install -Dm644 docs/partboot.1 $(DESTDIR)$(MANDIR)/man1/partboot.1
	@if [ -f docs/partboot.bash-completion ]; then \
		install -Dm644 docs/partboot.bash-completion $(DESTDIR)$(BASHCOMPDIR)/partboot; fi
	install -Dm644 $(SO) $(DESTDIR)$(LIBDIR)/$(notdir $(SO))
	ln -sf $(notdir $(SO)) $(DESTDIR)$(LIBDIR)/$(SO_NAME)
	ln -sf $(SO_NAME) $(DESTDIR)$(LIBDIR)/libpartboot.so
	for h in $(PUB_H); do install -Dm644 $$h $(DESTDIR)$(INCLUDEDIR)/partboot/$$h || exit; done
	install -d $(DESTDIR)$(PKGCONFIGDIR)
	sed -e 's|@prefix@|$(PREFIX)|' -e 's|@libdir@|$(call pc_path,$(LIBDIR))|' \
		-e 's|@includedir@|$(call pc_path,$(INCLUDEDIR))|' -e 's|@version@|$(VERSION)|' \
		-e 's|@requires_private@|$(LIB_PKGS)|' partboot.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/partboot.pc

clean:
	rm -rf build build-san build-clang build-fuzz

.PHONY: all tests fuzzers fuzz deps guest check check-slow check-installers install clean

-include $(patsubst %.c,$(BUILD)/%.d,$(ALL_SRC))

# The README's main command (fixtures/demo.sh): installs what is missing, builds partboot and
# the test guest, builds fixtures/demo.conf's two-guest disk with `partboot apply` under
# .cache/demo/, lists it, boots one guest directly and the other through firmware + GRUB.
demo:
	@BUILD=$(BUILD) ./fixtures/demo.sh

.PHONY: demo
