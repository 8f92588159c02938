# SPDX-License-Identifier: GPL-2.0-only
# datafence build: everything out of tree in $(O). `make help` lists targets.

O ?= build
V ?= 0
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH_INC := /usr/include/$(shell gcc -dumpmachine)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# Debian packages the build, the tests and the benchmarks need.
DEB_PKGS := gcc make clang llvm bpftool pkg-config libbpf-dev libmnl-dev \
	libnftnl-dev libconfig-dev libcmocka-dev libjansson-dev libssl-dev libclang-rt-14-dev \
	iproute2 nftables jq util-linux python3-prometheus-client iperf3

WERROR ?= $(if $(CI),-Werror,)
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter $(WERROR) \
	-Ibpf -Iagent -I$(O) -D_GNU_SOURCE
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
LIBS := -lconfig
CTL_LIBS := $(LIBS) -ljansson
AGENT_LIBS := $(LIBS) -lbpf -lelf -lz
NFT_LIBS := -lnftnl -lmnl
DAEMON_LIBS := $(AGENT_LIBS) $(NFT_LIBS) -ljansson -lcrypto

LIB_SRCS := agent/addr.c agent/diag.c agent/policy.c agent/compile.c \
	agent/refeval.c agent/emulate.c agent/polgen.c agent/frame.c agent/nftplan.c \
	agent/nftreport.c
LIB_OBJS := $(LIB_SRCS:agent/%.c=$(O)/lib/%.o)
SAN_OBJS := $(LIB_SRCS:agent/%.c=$(O)/san/lib/%.o)
LIB_HDRS := $(wildcard agent/*.h) bpf/datafence.h

UNIT_TESTS := test_policy test_compile test_verdict test_diff test_nftplan
UNIT_BINS := $(UNIT_TESTS:%=$(O)/tests/%) $(UNIT_TESTS:%=$(O)/san/tests/%)

BINS := $(O)/datafenced $(O)/datafencectl $(O)/san/datafencectl
# Datapath tests: root, the real programs through BPF_PROG_TEST_RUN.
DP_TESTS := test_datapath
DP_BINS := $(DP_TESTS:%=$(O)/tests/dp/%) $(O)/tests/dp/test_nft
# Live-test helpers: traffic (dfnet) and the loader as a command (dfload).
LIVE_BINS := $(O)/tests/live/dfnet $(O)/tests/live/dfload $(O)/tests/live/dfnft
FUZZ_TARGETS := fuzz_policy fuzz_values fuzz_nflog
FUZZ_BINS := $(FUZZ_TARGETS:%=$(O)/fuzz/%)

.DELETE_ON_ERROR:
.PHONY: all deps test check bench fuzz install run demo clean help

all: deps-quiet $(BINS) $(UNIT_BINS) $(DP_BINS) $(LIVE_BINS) $(O)/polgen

help:
	@echo 'datafence make targets:'
	@echo '  all      build the BPF object, skeleton, datafenced, datafencectl, tests (default)'
	@echo '  deps     install missing Debian packages (apt-get; only when one is missing)'
	@echo '  test     build and run every suite; ends with "N passed, N failed"'
	@echo '  check    alias of test'
	@echo '  fuzz     build the libFuzzer targets and run each for FUZZ_SECONDS (default 60)'
	@echo '  bench    run the benchmarks (docs/benchmarks.md)'
	@echo '  run      build, then run the agent in the foreground with the shipped config (root)'
	@echo '  demo     an allowed and a refused flow in throwaway namespaces, with the JSON drop (root)'
	@echo '  install  install binaries, config, man pages (PREFIX, DESTDIR)'
	@echo '  clean    remove $(O)/'
	@echo 'Variables: O=DIR (build dir), V=1 (show commands), CI=1 (-Werror)'

# Installs only what is missing: dpkg-query is fast, apt-get runs only then.
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "  DEPS     installing:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then echo "make deps: need root to install $$missing" >&2; exit 1; fi; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; }; \
	fi

deps-quiet: deps
.PHONY: deps-quiet

$(O)/lib $(O)/san/lib $(O)/tests $(O)/san/tests $(O)/fuzz:
	$(Q)mkdir -p $@

# ---- BPF object and skeleton ------------------------------------------------
$(O)/datafence.bpf.o: bpf/datafence.bpf.c bpf/datafence.h bpf/pipeline.h bpf/maps.h | $(O)/lib
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -I$(ARCH_INC) -Ibpf \
		-Wall -Wno-unused-parameter $(WERROR) -c $< -o $@

$(O)/datafence.skel.h: $(O)/datafence.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name datafence_bpf > $@

# ---- policy library ------------------------------------------------------------
$(O)/lib/%.o: agent/%.c $(LIB_HDRS) | $(O)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(O)/san/lib/%.o: agent/%.c $(LIB_HDRS) | $(O)/san/lib
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(O)/libdatafence.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)ar rcs $@ $^

$(O)/san/libdatafence.a: $(SAN_OBJS)
	$(call msg,AR,$@)
	$(Q)ar rcs $@ $^

# ---- programs ----------------------------------------------------------------------
# The loader needs the skeleton; it is linked only where BPF is used.
$(O)/lib/loader.o: agent/loader.c agent/loader.h $(O)/datafence.skel.h $(LIB_HDRS) | $(O)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

NFT_SRCS := agent/nft.c agent/nflog.c
DAEMON_SRCS := agent/main.c agent/agentconf.c agent/events.c agent/control.c agent/report.c $(NFT_SRCS)
$(O)/datafenced: $(DAEMON_SRCS) $(O)/lib/loader.o $(O)/libdatafence.a $(O)/datafence.skel.h $(LIB_HDRS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(DAEMON_SRCS) $(O)/lib/loader.o $(O)/libdatafence.a -o $@ $(DAEMON_LIBS)

CTL_SRCS := tools/datafencectl.c agent/control.c agent/report.c agent/events.c $(NFT_SRCS)
$(O)/datafencectl: $(CTL_SRCS) $(O)/lib/loader.o $(O)/libdatafence.a $(LIB_HDRS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(CTL_SRCS) $(O)/lib/loader.o $(O)/libdatafence.a -o $@ $(CTL_LIBS) -lbpf -lelf -lz $(NFT_LIBS)

$(O)/san/datafencectl: $(CTL_SRCS) $(O)/datafence.skel.h $(O)/san/libdatafence.a $(LIB_HDRS)
	$(call msg,LINK-SAN,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $(CTL_SRCS) agent/loader.c $(O)/san/libdatafence.a -o $@ $(CTL_LIBS) -lbpf -lelf -lz $(NFT_LIBS)

$(O)/polgen: tools/polgen_main.c $(O)/libdatafence.a $(LIB_HDRS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $< $(O)/libdatafence.a -o $@ $(LIBS)

# ---- tests ---------------------------------------------------------------------------
$(O)/tests/%: tests/unit/%.c $(O)/libdatafence.a $(LIB_HDRS) | $(O)/tests
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $< $(O)/libdatafence.a -o $@ $(LIBS) -lcmocka

$(O)/san/tests/%: tests/unit/%.c $(O)/san/libdatafence.a $(LIB_HDRS) | $(O)/san/tests
	$(call msg,LINK-SAN,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $< $(O)/san/libdatafence.a -o $@ $(LIBS) -lcmocka

$(O)/tests/dp:
	$(Q)mkdir -p $@

$(O)/tests/dp/%: tests/datapath/%.c tests/datapath/dp.h $(O)/lib/loader.o $(O)/libdatafence.a $(LIB_HDRS) | $(O)/tests/dp
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/datapath $< $(O)/lib/loader.o $(O)/libdatafence.a -o $@ $(AGENT_LIBS) -lcmocka -lpthread

# Both backends against the reference: nftables (real packets) and BPF.
$(O)/tests/dp/test_nft: tests/nft/test_nft.c tests/datapath/dp.h $(O)/lib/loader.o $(O)/lib/nft.o $(O)/libdatafence.a $(LIB_HDRS) | $(O)/tests/dp
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/datapath $< $(O)/lib/loader.o $(O)/lib/nft.o $(O)/libdatafence.a -o $@ $(AGENT_LIBS) $(NFT_LIBS) -lcmocka

$(O)/tests/live:
	$(Q)mkdir -p $@

$(O)/tests/live/dfnet: tests/live/dfnet.c | $(O)/tests/live
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

$(O)/tests/live/dfload: tests/live/dfload.c $(O)/lib/loader.o $(O)/libdatafence.a $(LIB_HDRS) | $(O)/tests/live
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $< $(O)/lib/loader.o $(O)/libdatafence.a -o $@ $(AGENT_LIBS)

$(O)/tests/live/dfnft: tests/nft/dfnft.c $(O)/lib/nft.o $(O)/libdatafence.a $(LIB_HDRS) | $(O)/tests/live
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $< $(O)/lib/nft.o $(O)/libdatafence.a -o $@ $(LIBS) $(NFT_LIBS)

FUZZ_SECONDS ?= 60

$(O)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(LIB_HDRS) | $(O)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-std=gnu11 -Ibpf -Iagent -D_GNU_SOURCE $< $(LIB_SRCS) -o $@ $(LIBS)

fuzz: deps $(FUZZ_BINS)
	$(Q)for t in $(FUZZ_TARGETS); do \
		mkdir -p $(O)/fuzz/corpus-$$t; \
		LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp $(O)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
			$(O)/fuzz/corpus-$$t config/examples tests/policies/bad || exit 1; \
	done

test: all $(FUZZ_BINS)
	$(Q)O=$(O) tests/run.sh

check: test

$(O)/bench.bpf.o: tests/bench/bench.bpf.c tests/bench/bench.h bpf/datafence.h bpf/maps.h bpf/pipeline.h | $(O)/lib
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -I$(ARCH_INC) -Ibpf -Itests/bench \
		-Wall -Wno-unused-parameter $(WERROR) -c $< -o $@

$(O)/bench.skel.h: $(O)/bench.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name bench_bpf > $@

$(O)/bench: tests/bench/bench.c tests/bench/sets.c tests/bench/sets.h tests/bench/bench.h $(O)/bench.skel.h $(O)/lib/loader.o $(O)/libdatafence.a $(LIB_HDRS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/bench $< tests/bench/sets.c $(O)/lib/loader.o $(O)/libdatafence.a -o $@ $(AGENT_LIBS)

$(O)/flood: tests/bench/flood.c tests/bench/sets.c tests/bench/sets.h $(O)/lib/loader.o $(O)/lib/nft.o $(O)/libdatafence.a $(LIB_HDRS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/bench $< tests/bench/sets.c $(O)/lib/loader.o $(O)/lib/nft.o $(O)/libdatafence.a -o $@ $(AGENT_LIBS) $(NFT_LIBS)

bench: all $(O)/bench $(O)/flood
	$(Q)O=$(O) tests/bench/run.sh

run: all
	$(Q)O=$(O) tools/run.sh

demo: all
	$(Q)O=$(O) tools/demo.sh

PREFIX ?= /usr/local
install: all
	install -D -m 0755 $(O)/datafenced $(DESTDIR)$(PREFIX)/sbin/datafenced
	install -D -m 0755 $(O)/datafencectl $(DESTDIR)$(PREFIX)/sbin/datafencectl
	install -D -m 0644 config/examples/us-storage.conf $(DESTDIR)$(PREFIX)/share/datafence/examples/us-storage.conf
	install -D -m 0644 config/agent.conf $(DESTDIR)$(PREFIX)/share/datafence/agent.conf
	install -D -m 0644 config/policy.conf $(DESTDIR)$(PREFIX)/share/datafence/policy.conf
	install -D -m 0644 $(O)/datafence.bpf.o $(DESTDIR)$(PREFIX)/lib/datafence/datafence.bpf.o
	install -D -m 0644 man/datafenced.8 $(DESTDIR)$(PREFIX)/share/man/man8/datafenced.8
	install -D -m 0644 man/datafencectl.8 $(DESTDIR)$(PREFIX)/share/man/man8/datafencectl.8
	install -D -m 0644 man/datafence.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/datafence.conf.5
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/datafence/README.md
	sed 's|/usr/local/sbin|$(PREFIX)/sbin|' config/datafenced.service > $(O)/datafenced.service
	install -D -m 0644 $(O)/datafenced.service $(DESTDIR)/etc/systemd/system/datafenced.service
	@[ -e $(DESTDIR)/etc/datafence/agent.conf ] || install -D -m 0644 config/agent.conf $(DESTDIR)/etc/datafence/agent.conf
	@[ -e $(DESTDIR)/etc/datafence/policy.conf ] || install -D -m 0644 config/policy.conf $(DESTDIR)/etc/datafence/policy.conf

clean:
	$(call msg,CLEAN,$(O))
	$(Q)rm -rf $(O)
