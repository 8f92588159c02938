# SPDX-License-Identifier: GPL-2.0-only
# datafence build: everything out of tree in $(O). `make help` lists targets.
#
# The tree is the boundary (docs/architecture.md); each folder is one archive:
#   agent/lib   libdf.a      the pure policy library: no root, no kernel, -lconfig only
#   agent/bpf   libdfbpf.a   the BPF backend (loader, swap, test runs)
#   agent/nft   libdfnft.a   the nftables backend (plan and names are pure)
#   agent       libdfagent.a what the daemon and the CLI share; agent/main.c is datafenced
#   tools       datafencectl
#   tests/lib   libdftest.a  random policies, the differential harness, test environments

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
	libnftnl-dev libconfig-dev libcmocka-dev libjansson-dev libssl-dev libcap-ng-dev libsystemd-dev \
	libclang-rt-14-dev \
	iproute2 nftables jq util-linux systemd python3-prometheus-client iperf3 \
	openssh-client prometheus prometheus-node-exporter ansible-core debhelper dpkg-dev \
	logrotate

# CFLAGS is the user's (make CFLAGS=-O1); what the build needs lives apart.
WERROR ?= $(if $(CI),-Werror,)
CFLAGS ?= -O2 -g
DF_CFLAGS := -std=gnu11 -Wall -Wextra -Wno-unused-parameter $(WERROR)
DF_CPPFLAGS := -D_GNU_SOURCE -Ibpf -Iagent -Iagent/lib -Iagent/bpf -Iagent/nft -I$(O)
DEPFLAGS = -MMD -MP
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all

# System libraries: the pure library needs only libconfig (the unit tests
# link nothing else, which keeps it pure).
PURE_LIBS := -lconfig -lcrypto
SYS_LIBS := -ljansson -lbpf -lelf -lz -lnftnl -lmnl -lconfig -lcrypto -lcap-ng -lsystemd -lm

LIB_SRCS := $(wildcard agent/lib/*.c)
BPF_SRCS := $(wildcard agent/bpf/*.c)
NFT_SRCS := $(wildcard agent/nft/*.c)
NFT_PURE_SRCS := agent/nft/nftplan.c agent/nft/nftnames.c
AGENT_SRCS := $(filter-out agent/main.c,$(wildcard agent/*.c))
TLIB_SRCS := $(filter-out tests/lib/polgen_main.c,$(wildcard tests/lib/*.c))
CTL_SRCS := $(wildcard tools/*.c)

obj = $(patsubst %.c,$(O)/obj/%.o,$(1))
san = $(patsubst %.c,$(O)/san/obj/%.o,$(1))
fzo = $(patsubst %.c,$(O)/fuzz/obj/%.o,$(1))

# Link groups: archives in any order, the linker takes what is used.
group = -Wl,--start-group $(1) -Wl,--end-group
ARCHIVES := $(O)/libdfagent.a $(O)/libdfbpf.a $(O)/libdfnft.a $(O)/libdftest.a $(O)/libdf.a
SAN_ARCHIVES := $(ARCHIVES:$(O)/%=$(O)/san/%)

UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_TESTS:%=$(O)/tests/%) $(UNIT_TESTS:%=$(O)/san/tests/%)
BINS := $(O)/datafenced $(O)/datafencectl $(O)/san/datafencectl
# Datapath tests: root, the real programs through BPF_PROG_TEST_RUN.
DP_BINS := $(O)/tests/dp/test_datapath $(O)/tests/dp/test_nft
# Live-test helpers: traffic (dfnet, dfuring), the loader (dfload), the table (dfnft) as
# commands, and other tools' programs (dfforeign).
LIVE_BINS := $(O)/tests/live/dfnet $(O)/tests/live/dfuring $(O)/tests/live/dfload \
	$(O)/tests/live/dfnft $(O)/tests/live/dfforeign
FUZZ_TARGETS := fuzz_policy fuzz_values fuzz_nflog fuzz_sshsig
FUZZ_BINS := $(FUZZ_TARGETS:%=$(O)/fuzz/%)

.DELETE_ON_ERROR:
# objects are not intermediate files: keep them
.SECONDARY:
.PHONY: all deps test check bench fuzz fuzz-bins install install-product product deb run demo clean help

all: $(BINS) $(UNIT_BINS) $(DP_BINS) $(LIVE_BINS) $(O)/polgen

help:
	@echo 'datafence make targets:'
	@echo '  all      build the BPF object, skeleton, datafenced, datafencectl, tests (default)'
	@echo '  deps     install missing Debian packages (apt-get; only when one is missing)'
	@echo '  test     deps, build, run every suite; ends with "N passed, N failed"'
	@echo '  check    alias of test'
	@echo '  fuzz     build the libFuzzer targets and run each for FUZZ_SECONDS (default 60)'
	@echo '  bench    run the benchmarks (docs/benchmarks.md)'
	@echo '  run      build, then run the agent in the foreground with the shipped config (root)'
	@echo '  demo     an allowed and a refused flow in throwaway namespaces, with the JSON drop (root)'
	@echo '  install  install binaries, config, man pages (PREFIX, DESTDIR)'
	@echo '  deb      build the Debian package ($(O)/deb/*.deb)'
	@echo '  clean    remove $(O)/'
	@echo 'Variables: O=DIR (build dir), V=1 (show commands), CI=1 (-Werror), CFLAGS'

# Installs only what is missing: dpkg-query is fast, apt-get runs only then.
# Not part of `all`: a plain build never calls apt.
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

# ---- BPF object and skeleton ------------------------------------------------
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -I$(ARCH_INC) -Ibpf \
	-Wall -Wno-unused-parameter $(WERROR) $(DEPFLAGS)

$(O)/%.bpf.o: bpf/%.bpf.c
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(O)/bench.bpf.o: tests/bench/bench.bpf.c
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -Itests/bench -c $< -o $@

$(O)/%.skel.h: $(O)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst .,_,$*)_bpf > $@

# ---- objects, each built once per flavour; -MMD lists what it includes ------
# Whatever includes a skeleton waits for it on a first build.
$(call obj,$(BPF_SRCS) $(CTL_SRCS)) $(call san,$(BPF_SRCS) $(CTL_SRCS)): | $(O)/datafence.skel.h \
	$(O)/revoke.skel.h
$(call obj,tests/bench/bench.c): | $(O)/bench.skel.h
# Test code sees the test library too.
$(O)/obj/tests/%.o $(O)/san/obj/tests/%.o $(O)/fuzz/obj/tests/%.o: \
	DF_CPPFLAGS += -Itests/lib -Itests/bench -Itests/datapath

$(O)/obj/%.o: %.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(DF_CPPFLAGS) $(DF_CFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(O)/san/obj/%.o: %.c
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(DF_CPPFLAGS) $(DF_CFLAGS) $(SAN_FLAGS) $(DEPFLAGS) -c $< -o $@

$(O)/fuzz/obj/%.o: %.c
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(DF_CPPFLAGS) -std=gnu11 $(FUZZ_FLAGS) $(DEPFLAGS) -c $< -o $@

# ---- archives ------------------------------------------------------------------
define archive
$(O)/$(1): $(call obj,$(2))
	$$(call msg,AR,$$@)
	$$(Q)mkdir -p $$(@D)
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
$(O)/san/$(1): $(call san,$(2))
	$$(call msg,AR,$$@)
	$$(Q)mkdir -p $$(@D)
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(eval $(call archive,libdf.a,$(LIB_SRCS)))
$(eval $(call archive,libdfbpf.a,$(BPF_SRCS)))
$(eval $(call archive,libdfnft.a,$(NFT_SRCS)))
$(eval $(call archive,libdfagent.a,$(AGENT_SRCS)))
$(eval $(call archive,libdftest.a,$(TLIB_SRCS)))

# ---- programs ------------------------------------------------------------------------
$(O)/datafenced: $(call obj,agent/main.c) $(ARCHIVES)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< $(call group,$(ARCHIVES)) -o $@ $(SYS_LIBS)

$(O)/datafencectl: $(call obj,$(CTL_SRCS)) $(ARCHIVES)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(call obj,$(CTL_SRCS)) $(call group,$(ARCHIVES)) -o $@ $(SYS_LIBS)

$(O)/san/datafencectl: $(call san,$(CTL_SRCS)) $(SAN_ARCHIVES)
	$(call msg,LINK-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN_FLAGS) $(call san,$(CTL_SRCS)) $(call group,$(SAN_ARCHIVES)) -o $@ $(SYS_LIBS)

$(O)/polgen: $(call obj,tests/lib/polgen_main.c) $(O)/libdftest.a $(O)/libdf.a
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(PURE_LIBS)

# ---- tests ---------------------------------------------------------------------------
# Unit tests: the pure library only (libconfig, cmocka); no kernel, no root.
PURE_ARCHIVES := $(O)/libdftest.a $(O)/libdfnft.a $(O)/libdf.a
$(O)/tests/%: $(O)/obj/tests/unit/%.o $(PURE_ARCHIVES)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(filter %.o,$^) $(call group,$(PURE_ARCHIVES)) -o $@ $(PURE_LIBS) -lcmocka

$(O)/san/tests/%: $(O)/san/obj/tests/unit/%.o $(PURE_ARCHIVES:$(O)/%=$(O)/san/%)
	$(call msg,LINK-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN_FLAGS) $(filter %.o,$^) $(call group,$(PURE_ARCHIVES:$(O)/%=$(O)/san/%)) -o $@ $(PURE_LIBS) -lcmocka

# A storm's summary: jansson and libm besides.
$(O)/tests/test_storm: $(call obj,agent/storm.c agent/events.c)
$(O)/san/tests/test_storm: $(call san,agent/storm.c agent/events.c)
$(O)/tests/test_storm $(O)/san/tests/test_storm: PURE_LIBS += -ljansson -lm

# The daemon's safe file access needs nothing but libc: unit-tested too.
$(O)/tests/test_safefile: $(call obj,agent/safefile.c)
$(O)/san/tests/test_safefile: $(call san,agent/safefile.c)

$(O)/tests/dp/test_datapath: $(call obj,tests/datapath/test_datapath.c) $(ARCHIVES)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< $(call group,$(ARCHIVES)) -o $@ $(SYS_LIBS) -lcmocka -lpthread

# Both backends against the reference: nftables (real packets) and BPF.
$(O)/tests/dp/test_nft: $(call obj,tests/nft/test_nft.c) $(ARCHIVES)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< $(call group,$(ARCHIVES)) -o $@ $(SYS_LIBS) -lcmocka

$(O)/tests/live/dfnet: $(call obj,tests/live/dfnet.c)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< -o $@

$(O)/tests/live/dfuring: $(call obj,tests/live/dfuring.c)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< -o $@

$(O)/tests/live/dfload: $(call obj,tests/live/dfload.c) $(ARCHIVES)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< $(call group,$(ARCHIVES)) -o $@ $(SYS_LIBS)

$(O)/tests/live/dfforeign: $(call obj,tests/live/dfforeign.c)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< -o $@ -lbpf

$(O)/tests/live/dfnft: $(call obj,tests/nft/dfnft.c) $(ARCHIVES)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< $(call group,$(ARCHIVES)) -o $@ $(SYS_LIBS)

FUZZ_SECONDS ?= 60
FUZZ_LIB_OBJS := $(call fzo,$(LIB_SRCS) $(NFT_PURE_SRCS))

$(O)/fuzz/%: $(O)/fuzz/obj/tests/fuzz/%.o $(FUZZ_LIB_OBJS)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		$^ -o $@ $(PURE_LIBS)

fuzz-bins: $(FUZZ_BINS)

fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-bins
	$(Q)for t in $(FUZZ_TARGETS); do \
		mkdir -p $(O)/fuzz/corpus-$$t; \
		LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp $(O)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
			$(O)/fuzz/corpus-$$t config/examples tests/policies/bad || exit 1; \
	done

# deps first, then the build: a recursive make keeps that order under -j.
test: deps
	$(Q)$(MAKE) --no-print-directory all fuzz-bins
	$(Q)O=$(O) tests/run.sh

check: test

BENCH_SRCS := tests/bench/bench.c tests/bench/sets.c
$(O)/bench: $(call obj,$(BENCH_SRCS)) $(ARCHIVES)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(call obj,$(BENCH_SRCS)) $(call group,$(ARCHIVES)) -o $@ $(SYS_LIBS)

FLOOD_SRCS := tests/bench/flood.c tests/bench/sets.c
$(O)/flood: $(call obj,$(FLOOD_SRCS)) $(ARCHIVES)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(call obj,$(FLOOD_SRCS)) $(call group,$(ARCHIVES)) -o $@ $(SYS_LIBS)

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(O)/bench $(O)/flood
	$(Q)O=$(O) tests/bench/run.sh

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)O=$(O) tools/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)O=$(O) tools/demo.sh

PREFIX ?= /usr/local
UNITDIR ?= /etc/systemd/system
DOCDIR = $(PREFIX)/share/doc/datafence
# What is shipped: the daemon, the CLI, the BPF object (make deb, make install).
product: $(O)/datafenced $(O)/datafencectl $(O)/datafence.bpf.o

install: all install-product

install-product: product
	install -D -m 0755 $(O)/datafenced $(DESTDIR)$(PREFIX)/sbin/datafenced
	install -D -m 0755 $(O)/datafencectl $(DESTDIR)$(PREFIX)/sbin/datafencectl
	install -D -m 0644 config/examples/us-storage.conf $(DESTDIR)$(PREFIX)/share/datafence/examples/us-storage.conf
	install -D -m 0644 config/agent.conf $(DESTDIR)$(PREFIX)/share/datafence/agent.conf
	install -D -m 0644 config/policy.conf $(DESTDIR)$(PREFIX)/share/datafence/policy.conf
	install -D -m 0644 config/prometheus/datafence-alerts.yml $(DESTDIR)$(PREFIX)/share/datafence/prometheus/datafence-alerts.yml
	install -D -m 0644 $(O)/datafence.bpf.o $(DESTDIR)$(PREFIX)/lib/datafence/datafence.bpf.o
	install -D -m 0644 man/datafenced.8 $(DESTDIR)$(PREFIX)/share/man/man8/datafenced.8
	install -D -m 0644 man/datafencectl.8 $(DESTDIR)$(PREFIX)/share/man/man8/datafencectl.8
	install -D -m 0644 man/datafence.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/datafence.conf.5
	install -D -m 0644 config/datafencectl.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/datafencectl
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -d $(DESTDIR)$(DOCDIR)/docs
	install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/docs/
	[ -n "$(DEB_BUILD)" ] || install -D -m 0644 LICENSE $(DESTDIR)$(DOCDIR)/LICENSE
	mkdir -p $(O)
	sed 's|/usr/local/sbin|$(PREFIX)/sbin|' config/datafenced.service > $(O)/datafenced.service
	install -D -m 0644 $(O)/datafenced.service $(DESTDIR)$(UNITDIR)/datafenced.service
	install -D -m 0644 config/logrotate $(DESTDIR)/etc/logrotate.d/datafence
	@[ -e $(DESTDIR)/etc/datafence/agent.conf ] || install -D -m 0644 config/agent.conf $(DESTDIR)/etc/datafence/agent.conf
	@[ -e $(DESTDIR)/etc/datafence/policy.conf ] || install -D -m 0644 config/policy.conf $(DESTDIR)/etc/datafence/policy.conf

# The Debian package (debhelper), built from a copy of the tree in
# $(O)/deb: $(O)/deb/datafence_VERSION_ARCH.deb.
deb: deps
	$(call msg,DEB,$(O)/deb)
	$(Q)rm -rf $(O)/deb && mkdir -p $(O)/deb/datafence
	$(Q)tar -c --exclude=./$(O) --exclude=./.git --exclude=./build . | tar -x -C $(O)/deb/datafence
	$(Q)cd $(O)/deb/datafence && dpkg-buildpackage -b -us -uc > ../build.log 2>&1 || \
		{ tail -30 ../build.log; exit 1; }
	$(Q)ls $(O)/deb/*.deb

clean:
	$(call msg,CLEAN,$(O))
	$(Q)rm -rf $(O)

-include $(shell find $(O) -path $(O)/deb -prune -o -name '*.d' -type f -print 2>/dev/null)
