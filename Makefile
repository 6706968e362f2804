# mimamori - passive monitor for factory OT networks.
#
#   make          build bin/mimamorid, bin/mimamori-store, bin/mimamori
#   make demo     install missing Debian packages, build, run the bundled
#                 capture into an embedded store, print alerts per zone
#   make test     install missing packages (tshark too), build, run all tests
#   make bench    throughput ratios against a bare libpcap loop and libnids
#   make asan     the same binaries with AddressSanitizer/UBSan in build/asan

CC      ?= cc
PKGS     = libpcap libzmq sqlite3 yaml-0.1 yajl jansson
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -MMD -MP -pthread
CPPFLAGS += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lnids -lpthread

B ?= build
BIN ?= bin

COMMON_SRC  = $(wildcard common/*.c)
DISSECT_SRC = $(wildcard dissectors/*.c)
ZONES_SRC   = $(wildcard zones/*.c)
STORE_SRC   = $(filter-out store/store_main.c,$(wildcard store/*.c))
DAEMON_SRC  = $(filter-out daemon/main.c,$(wildcard daemon/*.c))
CLI_SRC     = $(wildcard cli/*.c)

obj = $(patsubst %.c,$(B)/%.o,$(1))

LIBMM    = $(B)/libmm.a
LIBSTORE = $(B)/libmmstore.a
LIBD     = $(B)/libmmdaemon.a

PROGS = $(BIN)/mimamorid $(BIN)/mimamori-store $(BIN)/mimamori
TOOLS = $(patsubst tools/%.c,$(B)/tools/%,$(wildcard tools/*.c))
UNIT  = $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
PEERS = $(patsubst tests/peers/%.c,$(B)/tests/%,$(wildcard tests/peers/*.c))
BENCH = $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))

.PHONY: all deps demo test check bench asan clean tools tests-build

all: $(PROGS) $(TOOLS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBMM): $(call obj,$(COMMON_SRC) $(DISSECT_SRC) $(ZONES_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBSTORE): $(call obj,$(STORE_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBD): $(call obj,$(DAEMON_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN)/mimamorid: $(call obj,daemon/main.c) $(LIBD) $(LIBSTORE) $(LIBMM)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/mimamori-store: $(call obj,store/store_main.c) $(LIBSTORE) $(LIBMM)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/mimamori: $(call obj,$(CLI_SRC)) $(LIBSTORE) $(LIBMM)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tools/%: $(B)/tools/%.o $(LIBD) $(LIBSTORE) $(LIBMM)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/test_%: $(B)/tests/unit/test_%.o $(LIBD) $(LIBSTORE) $(LIBMM)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(B)/tests/%: $(B)/tests/peers/%.o $(LIBMM)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs libmodbus 2>/dev/null)

$(B)/tests/peers/%.o: CPPFLAGS += $(shell pkg-config --cflags libmodbus 2>/dev/null)

$(B)/bench/%: $(B)/bench/%.o $(LIBD) $(LIBSTORE) $(LIBMM)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tools: $(TOOLS)
tests-build: all $(UNIT) $(PEERS)

deps:
	@sh tools/install-deps.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh tools/demo.sh

test check: deps
	@$(MAKE) --no-print-directory tests-build
	@sh tests/run.sh

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH)
	@sh bench/bench.sh

asan:
	@$(MAKE) --no-print-directory B=build/asan BIN=build/asan/bin \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" all tests-build

clean:
	rm -rf $(B) $(BIN)

.SECONDARY:

-include $(shell find $(B) -name '*.d' 2>/dev/null)
