# flowaudit - network traffic auditor
#
#   make            build build/flowaudit
#   make demo       set up, build, audit the shipped example capture
#   make test       set up, build with ASan/UBSan, run the whole suite
#   make bench      set up, build optimised, run the benchmarks
#   make fuzz       build the libFuzzer targets and run each FUZZ_SECONDS
#   make install    PREFIX=/usr/local DESTDIR=
#   make SANITIZE=1 the same binary with -fsanitize=address,undefined
#   make SANITIZE=thread  with -fsanitize=thread (for --threads)

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= gcc
PKGS    := libndpi libpcap libmaxminddb jansson libcrypto libnghttp2 libnghttp3 libcurl
FUZZ_SECONDS ?= 60

ifeq ($(SANITIZE),1)
BUILD   ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT     ?= -O1
else ifeq ($(SANITIZE),thread)
BUILD   ?= build-tsan
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
OPT     ?= -O1
else
BUILD   ?= build
SANFLAGS :=
OPT     ?= -O2
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wno-format-nonliteral
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) $(SANFLAGS) -Iinclude $(PKG_CFLAGS) -MMD -MP \
	   -DFLOWAUDIT_SIGNATURES_DIR='"$(PREFIX)/share/flowaudit/signatures"' \
	   -DFLOWAUDIT_GEO_DIR='"$(PREFIX)/share/flowaudit/geo"'
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(PKG_LIBS) -lz -lm -lpthread

# src/ has one folder per pipeline stage (docs/architecture.md); the
# command line is src/cli/, everything else goes into the library.
CLI_SRC  := $(wildcard src/cli/*.c)
CLI_OBJ  := $(CLI_SRC:src/%.c=$(BUILD)/obj/%.o)
LIB_SRC  := $(filter-out $(CLI_SRC),$(wildcard src/*/*.c))
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libflowaudit.a
BIN      := $(BUILD)/flowaudit

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPERS := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))

.PHONY: all setup demo test check unit bench fuzz fuzz-build install clean layering

all: layering $(BIN)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# PREFIX is compiled into the lookup of the installed catalogue and
# databases: a change of PREFIX rebuilds the two files that use it.
PREFIX_STAMP := $(BUILD)/prefix.stamp
$(PREFIX_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' > $@
$(BUILD)/obj/analysis/signatures.o $(BUILD)/obj/analysis/geo.o: $(PREFIX_STAMP)
.PHONY: FORCE
FORCE:

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(UNIT_HELPERS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(UNIT_HELPERS) $(LIB) $(LDLIBS) -lcmocka

unit: $(UNIT_BIN)

# A module includes only the headers of stages to its left (docs/architecture.md);
# nDPI belongs to classify.c, libmaxminddb to geo.c, jansson to the loaders and
# the JSON writers.
layering:
	@sh scripts/check-layering.sh

setup:
	@sh scripts/setup.sh

demo: setup
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh $(BIN)

test: setup
	@$(MAKE) --no-print-directory SANITIZE=1 all unit
	@sh tests/run.sh build-san

check: test

# Benchmarks (docs/performance.md). The micro-benchmarks link the optimised
# library; pcaploop needs only libpcap. bench/run.sh finds them beside $(BIN).
BENCH_BIN    := $(BUILD)/bench/pcaploop $(BUILD)/bench/sigbench $(BUILD)/bench/idbench \
                $(BUILD)/bench/importbench
BENCH_CFLAGS := -O2 -g -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude $(PKG_CFLAGS)

.PHONY: bench-build
bench-build: $(BENCH_BIN)

$(BUILD)/bench/pcaploop: bench/pcaploop.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $< -lpcap

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

bench: setup
	@$(MAKE) --no-print-directory all bench-build
	@sh bench/run.sh $(BIN)

fuzz-build:
	@$(MAKE) --no-print-directory -f tests/fuzz/fuzz.mk

fuzz: setup fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/flowaudit/signatures \
		$(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/flowaudit
	install -m 644 signatures/*.json $(DESTDIR)$(PREFIX)/share/flowaudit/signatures/
	install -m 644 docs/flowaudit.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	if [ -f data/geo/country.mmdb ]; then install -d $(DESTDIR)$(PREFIX)/share/flowaudit/geo && \
		install -m 644 data/geo/*.mmdb $(DESTDIR)$(PREFIX)/share/flowaudit/geo/; fi

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
