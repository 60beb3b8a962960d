# partboot — one non-recursive Makefile.
#   make              build build/partboot and one static library per folder
#   make check        install dependencies, build, run every test (SANITIZE=1: ASan+UBSan)
#   make deps         install the Debian packages listed in deps.txt (no-op when present)
#   make install      PREFIX=/usr/local DESTDIR=
#   V=1 shows full commands, WERROR=0 relaxes -Werror.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SANITIZE ?= 0
WERROR ?= 1
V ?= 0

ifeq ($(SANITIZE),1)
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

PKGS := fdisk blkid uuid smartcols ext2fs com_err libarchive inih
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

# Link order: a library may use those to its right (vm/boot use fs and part).
LIBDIRS := vm boot fs part common
LIBS_A := $(foreach d,$(LIBDIRS),$(BUILD)/lib$(d).a)

CLI_SRC := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/test-*.c)
ALL_SRC := $(foreach d,$(LIBDIRS),$(wildcard $(d)/*.c)) $(CLI_SRC) $(TEST_SRC)
obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

PROG := $(BUILD)/partboot
TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))

all: $(PROG)

define lib_rule
$(BUILD)/lib$(1).a: $(call obj,$(wildcard $(1)/*.c))
	$$(quiet) AR $$@
	$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach d,$(LIBDIRS),$(eval $(call lib_rule,$(d))))

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(quiet) CC $<
	$(Q)$(CC) $(CFLAGS) $(PB_CFLAGS) -MMD -MP -c -o $@ $<

$(PROG): $(call obj,$(CLI_SRC)) $(LIBS_A)
	$(quiet) LD $@
	$(Q)$(CC) $(PB_LDFLAGS) $(LDFLAGS) -o $@ $(call obj,$(CLI_SRC)) $(LIBS_A) $(PB_LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIBS_A)
	$(quiet) LD $@
	$(Q)$(CC) $(PB_LDFLAGS) $(LDFLAGS) -o $@ $< $(LIBS_A) $(PB_LIBS) $(shell pkg-config --libs $(TEST_PKGS))

tests: $(PROG) $(TESTS)

deps:
	@./tests/deps.sh deps.txt

# The test guest (fixtures/make-guest.sh) is built on demand and cached in .cache/.
guest: $(PROG)
	@if [ -x fixtures/make-guest.sh ]; then ./fixtures/make-guest.sh; fi

# Dependencies first, then a fresh make so pkg-config sees the installed libraries.
# A plain `make check` runs everything with the normal build, then the unit tests and
# the fast end-to-end scripts (SAN_TESTS) again under ASan+UBSan; `make check SANITIZE=1`
# runs everything under the sanitizers.
SAN_TESTS ?= test- e2e/part e2e/fs e2e/apply
check: deps
	@$(MAKE) --no-print-directory tests
	@$(MAKE) --no-print-directory guest
ifeq ($(SANITIZE),1)
	@BUILD=$(BUILD) ./tests/run.sh
else
	@$(MAKE) --no-print-directory BUILD=build-san SANITIZE=1 tests
	@BUILD=$(BUILD) SAN_BUILD=build-san SAN_TESTS="$(SAN_TESTS)" ./tests/run.sh
endif

install: $(PROG)
	install -Dm755 $(PROG) $(DESTDIR)$(BINDIR)/partboot
	install -Dm644 docs/partboot.1 $(DESTDIR)$(MANDIR)/man1/partboot.1
	@if [ -f docs/partboot.bash-completion ]; then \
		install -Dm644 docs/partboot.bash-completion $(DESTDIR)$(BASHCOMPDIR)/partboot; fi

clean:
	rm -rf build build-san build-clang

.PHONY: all tests deps guest check install clean

-include $(patsubst %.c,$(BUILD)/%.d,$(ALL_SRC))

# The README's main command (fixtures/demo.sh): installs what is missing, builds partboot and
# the test guest, builds fixtures/demo.conf's two-guest disk with `partboot apply` under
# .cache/demo/, lists it, boots one guest directly and the other through firmware + GRUB.
demo:
	@BUILD=$(BUILD) ./fixtures/demo.sh

.PHONY: demo
