# mimamori - passive monitor for factory OT networks.
#
#   make          build bin/mimamorid, bin/mimamori-store, bin/mimamori
#   make demo     install missing Debian packages, build, run the bundled
#                 capture into an embedded store, print alerts per zone
#   make test     install missing packages (tshark too), build, run all tests:
#                 on the plain binaries, then on ASan/UBSan ones (build/san)
#   make test SANITIZE=0   the plain pass only (quick, while developing)
#   make bench    throughput ratios against a bare libpcap loop and libnids,
#                 and against ndpiReader and tshark (installs bench-only
#                 packages: tools/install-deps.sh --bench)
#   make asan     the same binaries with AddressSanitizer/UBSan in build/san
#   make test SANITIZE=1   the sanitized pass only
#   make install  PREFIX=/usr/local, DESTDIR: programs, /etc/mimamori, units
#   make fuzz     every libFuzzer target, ten minutes each (FUZZ_SECONDS)
#   make scenarios  rebuild the exercise kit's captures (pcaps/scenarios/):
#                 generated ones bit for bit, Modbus ones recorded live (root)

CC      ?= cc
PKGS     = libpcap libzmq sqlite3 yaml-0.1 jansson libseccomp
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -MMD -MP -pthread
CPPFLAGS += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lnids -lpthread

B ?= build
BIN ?= bin

# make test SANITIZE=1: everything built with ASan and UBSan into its own
# folders, and the whole suite run with those binaries (a sanitizer report
# fails the run: see tests/run.sh)
ifeq ($(SANITIZE),1)
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
B := build/san
BIN := build/san/bin
CFLAGS += -O1 $(SAN_FLAGS) -DMM_SANITIZED
LDFLAGS += $(SAN_FLAGS)
endif

COMMON_SRC  = $(wildcard common/*.c)
DISSECT_SRC = $(wildcard dissectors/*.c)
ZONES_SRC   = $(wildcard zones/*.c)
STORE_SRC   = $(filter-out store/store_main.c,$(wildcard store/*.c))
DAEMON_SRC  = $(filter-out daemon/main.c,$(wildcard daemon/*.c))
CLI_SRC     = $(wildcard cli/*.c)

# objects live under $(B)/obj, apart from programs (tools/NAME/ -> $(B)/tools/NAME)
obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

LIBMM    = $(B)/libmm.a
LIBSTORE = $(B)/libmmstore.a
LIBD     = $(B)/libmmdaemon.a

PROGS = $(BIN)/mimamorid $(BIN)/mimamori-store $(BIN)/mimamori
TOOLS = $(patsubst tools/%.c,$(B)/tools/%,$(wildcard tools/*.c))
# a tool made of several files lives in its own folder: tools/NAME/*.c
TOOL_DIRS = $(patsubst tools/%/,%,$(sort $(dir $(wildcard tools/*/*.c))))
TOOLS += $(patsubst %,$(B)/tools/%,$(TOOL_DIRS))
FUZZ  = $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CC ?= clang
FUZZ_FLAGS = -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
UNIT  = $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
PEERS = $(patsubst tests/peers/%.c,$(B)/tests/%,$(wildcard tests/peers/*.c))
BENCH = $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))

.PHONY: all deps bench-deps bench-live bench-streams demo test check bench asan clean tools tests-build fuzz fuzz-build fuzz-run install

all: $(PROGS) $(TOOLS)

$(B)/obj/%.o: %.c
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

$(B)/tools/%: $(B)/obj/tools/%.o $(LIBD) $(LIBSTORE) $(LIBMM)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

define tool_dir_rule
$(B)/tools/$(1): $$(call obj,$$(wildcard tools/$(1)/*.c)) $(LIBD) $(LIBSTORE) $(LIBMM)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach t,$(TOOL_DIRS),$(eval $(call tool_dir_rule,$(t))))

# fuzz targets: libFuzzer + ASan + UBSan, built from the sources directly
$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(COMMON_SRC) $(DISSECT_SRC) $(ZONES_SRC)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(CPPFLAGS) -o $@ $^ $(shell pkg-config --libs yaml-0.1)

# libnids leaks its callback lists on every nids_init/nids_exit, so a leak
# check after each input would run on every input: leaks are checked once,
# at exit, over the whole run (tests/lsan.supp)
FUZZ_ARGS_pipeline = -detect_leaks=0
# the whole sensor path (link layers, libnids, pickup, gaps, dissectors,
# zones, alerts, logs into /dev/null): the daemon's code but main.c, the
# store's code for the link it links against
FUZZ_PIPELINE_SRC = $(filter-out daemon/privdrop.c,$(DAEMON_SRC)) $(STORE_SRC) \
	$(COMMON_SRC) $(DISSECT_SRC) $(ZONES_SRC)
$(B)/fuzz/fuzz_pipeline: tests/fuzz/fuzz_pipeline.c $(FUZZ_PIPELINE_SRC)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(CPPFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/test_%: $(B)/obj/tests/unit/test_%.o $(LIBD) $(LIBSTORE) $(LIBMM)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(B)/tests/%: $(B)/obj/tests/peers/%.o $(LIBMM)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs libmodbus 2>/dev/null)

$(B)/obj/tests/peers/%.o: CPPFLAGS += $(shell pkg-config --cflags libmodbus 2>/dev/null)

$(B)/bench/%: $(B)/obj/bench/%.o $(LIBD) $(LIBSTORE) $(LIBMM)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tools: $(TOOLS)
fuzz-build: $(FUZZ)

# make fuzz [FUZZ_SECONDS=600]: every target in turn, each for FUZZ_SECONDS
# (ten minutes by default) on its corpus; stops at the first that finds a
# crash, a leak or (fuzz_pipeline) a flow outliving its input, with the
# input in build/fuzz/artifacts/
FUZZ_SECONDS ?= 600
FUZZ_NAMES = $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
fuzz: $(FUZZ)
	@for t in $(FUZZ_NAMES); do \
		$(MAKE) --no-print-directory fuzz-run FUZZ_TARGET=$$t || exit 1; \
	done

# make fuzz-run FUZZ_TARGET=s7comm [FUZZ_SECONDS=60]: run one target on its
# corpus (tests/fuzz/corpus/NAME, seeded by the target's own README)
fuzz-run: $(B)/fuzz/fuzz_$(FUZZ_TARGET)
	@mkdir -p $(B)/fuzz/corpus-$(FUZZ_TARGET) $(B)/fuzz/artifacts
	$(B)/fuzz/fuzz_$(FUZZ_TARGET) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		-artifact_prefix=$(B)/fuzz/artifacts/$(FUZZ_TARGET)- \
		$(FUZZ_ARGS_$(FUZZ_TARGET)) \
		$(B)/fuzz/corpus-$(FUZZ_TARGET) tests/fuzz/corpus/$(FUZZ_TARGET)
tests-build: all $(UNIT) $(PEERS)

deps:
	@sh tools/install-deps.sh

demo: deps
	@$(MAKE) --no-print-directory -s all
	@sh tools/demo.sh

# make test: the whole suite on the plain binaries, then again on ASan/UBSan
# binaries (build/san), one summary line for both (tests/both.sh);
# SANITIZE=0 runs only the plain pass (quick), SANITIZE=1 only the other
test check: deps
ifeq ($(SANITIZE),)
	@$(MAKE) --no-print-directory -s tests-build
	@$(MAKE) --no-print-directory -s SANITIZE=1 tests-build
	@sh tests/both.sh
else
	@$(MAKE) --no-print-directory -s tests-build
	@B=$(B) BIN=$(BIN) MM_SANITIZE=$(SANITIZE) sh tests/run.sh
endif

# the exercise kit (pcaps/scenarios/README.md) and the learned-baseline
# capture (pcaps/baseline/README.md): the generator's captures rewritten
# bit for bit, the Modbus ones recorded again from libmodbus
# peers on lo (as root; pcaps/scenarios/make.sh --generated needs no root)
.PHONY: scenarios
scenarios: $(B)/tools/pcapgen $(B)/tests/scenario_peer
	@B=$(B) sh pcaps/scenarios/make.sh
	@B=$(B) sh pcaps/baseline/make.sh

# the benchmarks' own packages (ndpiReader, tcpreplay, GNU time): never
# needed by make test.  Without them (not root) the benchmarks still run:
# bench.sh leaves the ndpiReader row out, live.sh says tcpreplay is missing
bench-deps: deps
	@sh tools/install-deps.sh --bench || true

bench: bench-deps
	@$(MAKE) --no-print-directory all $(BENCH)
	@sh bench/bench.sh

# the highest live rate without loss: tcpreplay into a veth pair in a
# network namespace of its own (root; bench/live.sh says what it reports)
bench-live: bench-deps
	@$(MAKE) --no-print-directory -s all
	@sh bench/live.sh

# memory bounded by tcp.max_streams: 200,000 concurrent streams and a SYN
# flood through tables of several sizes, peak RSS per stream
# (bench/streams.sh)
bench-streams: bench-deps
	@$(MAKE) --no-print-directory -s all
	@sh bench/streams.sh

# the same binaries with ASan and UBSan, in build/san (SANITIZE=1 keeps
# the project's own flags, which a CFLAGS on the command line would drop)
asan:
	@$(MAKE) --no-print-directory SANITIZE=1 all tests-build

# make install [PREFIX=/usr/local] [DESTDIR=staging]: the programs in
# PREFIX/bin, etc/zones.yaml and etc/mimamori.yaml in /etc/mimamori (a file
# already there is kept: the plant's own zones), the systemd units in
# UNITDIR, the logrotate file in LOGROTATEDIR (kept too when there), and
# (installing for real, as root) the user mimamori
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc/mimamori
UNITDIR ?= /etc/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
LOGROTATEDIR ?= /etc/logrotate.d
DOCDIR ?= $(PREFIX)/share/doc/mimamori
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSCONFDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(LOGROTATEDIR)
	install -m 0755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	@for f in $(SYSCONFDIR)/zones.yaml:zones.yaml $(SYSCONFDIR)/mimamori.yaml:mimamori.yaml \
		$(LOGROTATEDIR)/mimamori:logrotate.d/mimamori; do \
		dst=$(DESTDIR)$${f%%:*}; src=etc/$${f#*:}; \
		if [ -e $$dst ]; then \
			echo "install: keeping $$dst (the shipped one is $$src)"; \
		else \
			install -m 0644 $$src $$dst; \
		fi; \
	done
	@for u in etc/systemd/*.service; do \
		sed 's|/usr/local/bin/|$(PREFIX)/bin/|g; s|/usr/local/share/doc/mimamori|$(DOCDIR)|g' \
			$$u >$(DESTDIR)$(UNITDIR)/$$(basename $$u) && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u); \
	done
	install -m 0644 etc/sysusers-mimamori.conf $(DESTDIR)$(SYSUSERSDIR)/mimamori.conf
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && ! getent passwd mimamori >/dev/null; then \
		if command -v systemd-sysusers >/dev/null; then \
			systemd-sysusers $(SYSUSERSDIR)/mimamori.conf; \
		else \
			useradd --system --home-dir /var/lib/mimamori \
				--shell /usr/sbin/nologin mimamori; \
		fi; \
		echo "install: created the system user mimamori"; \
	fi
	@if [ -z "$(DESTDIR)" ] && command -v systemctl >/dev/null && \
		[ -d /run/systemd/system ]; then systemctl daemon-reload; fi

clean:
	rm -rf $(B) $(BIN)

.SECONDARY:

-include $(shell find $(B) -name '*.d' 2>/dev/null)
