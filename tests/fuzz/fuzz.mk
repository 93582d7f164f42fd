# libFuzzer targets: make -f tests/fuzz/fuzz.mk (from the repository root).
#
# The library sources are compiled with clang's fuzzer instrumentation
# (-fsanitize=fuzzer-no-link) plus ASan and UBSan into build-fuzz/, and each
# tests/fuzz/fuzz_*.c is linked with -fsanitize=fuzzer, which supplies main().
# The gcc build enforces -Werror on src/; here clang's own warnings on src/
# are shown but do not stop the build, so a clang-only diagnostic cannot
# block fuzzing. The targets themselves must build clean.

FUZZ_CC    ?= clang
FUZZ_BUILD ?= build-fuzz
# the libraries the Makefile links, from its one list
PKGS       := $(shell sed -n "s/^PKGS *:= *//p" Makefile)

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

SAN        := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude $(PKG_CFLAGS) $(SAN) \
	      -DFLOWAUDIT_SIGNATURES_DIR='"/nonexistent"' -DFLOWAUDIT_GEO_DIR='"/nonexistent"'
LIB_WARN   := -Wall -Wextra -Wno-unknown-warning-option
TGT_WARN   := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes

FUZZ_LIB_SRC := $(filter-out $(wildcard src/cli/*.c),$(wildcard src/*/*.c))
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:src/%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_LIB     := $(FUZZ_BUILD)/libflowaudit-fuzz.a
FUZZ_TGT_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_TARGETS := $(FUZZ_TGT_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

.PHONY: fuzz-all
fuzz-all: $(FUZZ_TARGETS)

$(FUZZ_BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(LIB_WARN) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(TGT_WARN) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) \
		$(PKG_LIBS) -lz -lm -lpthread

-include $(FUZZ_LIB_OBJ:.o=.d)
