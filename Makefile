# sluice: plain Makefile (STYLE 18).  make, make test, make install.
PREFIX	?= /usr/local
DESTDIR	?=
BINDIR	 = $(PREFIX)/bin
SBINDIR	 = $(PREFIX)/sbin
MANDIR	 = $(PREFIX)/share/man
SYSCONFDIR ?= /etc
# systemd units: /lib/systemd/system for PREFIX=/usr (Debian's place),
# else under PREFIX.
UNITDIR	?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
MAN1	 = agent/cli/sluice.1
MAN5	 = agent/daemon/sluice.conf.5
MAN8	 = agent/daemon/sluiced.8
UNITS	 = etc/sluice-agent.service etc/sluice-sink.service

CC	?= cc
# Quiet rules: "CC agent/base/log.o" instead of the whole command line;
# make V=1 shows the commands.  make test builds silent (QUIET=1) and
# says "build: ok": a compiler error still prints in full.
V	?= 0
ifeq ($(V),1)
Q	 =
sayq	 = true
else
Q	 = @
sayq	 = printf '  %-5s %s\n'
endif
ifeq ($(QUIET),1)
sayq	 = true
endif
# make -s: silent, as make itself is
ifneq ($(findstring s,$(firstword -$(MAKEFLAGS))),)
sayq	 = true
endif
say	 = @$(sayq)
PKG_CONFIG ?= pkg-config
CSTD	 = -std=gnu11
WARN	 = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
	   -Wmissing-prototypes -Wno-unused-parameter
# gcc: error sentences are built into bounded buffers on purpose (STYLE 9);
# a long path is cut, never overflows.  clang has no such warning.
WARN	+= $(shell $(CC) -Werror -Wno-format-truncation -E -x c /dev/null >/dev/null 2>&1 && echo -Wno-format-truncation)
OPT	?= -O2 -g
CFLAGS	?= $(OPT)
SAN	?=
ALL_CFLAGS = $(CSTD) $(WARN) $(CFLAGS) $(SAN) -Iinclude -D_GNU_SOURCE -MMD -MP
LDFLAGS	+= $(SAN)

# libev ships no .pc file on Debian 12: fall back to -lev.
EV_LIBS	:= $(shell $(PKG_CONFIG) --libs libev 2>/dev/null || echo -lev)
PKGS	 = lmdb libxxhash libssl libcrypto libssh2 inih
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS))
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)
JANSSON_LIBS := $(shell $(PKG_CONFIG) --libs jansson 2>/dev/null || echo -ljansson)
# libmicrohttpd: the daemon's HTTP listener (/metrics, the live page)
MHD_LIBS := $(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)

# proto/: the pure codec, a static library with no I/O dependencies.
PROTO_SRCS = $(sort $(wildcard proto/*.c))
# agent/ is divided into rooms by concern (docs/architecture.md); each room
# is one archive, and dependencies point down the floors (scripts/layers):
#   cli, daemon -> send, sink -> hook -> net, store -> base -> proto
ROOMS	   = base store net hook send sink daemon cli
$(foreach r,$(ROOMS),$(eval $(r)_SRCS = $$(sort $$(wildcard agent/$(r)/*.c))))
$(foreach r,$(ROOMS),$(eval $(r)_OBJS = $$($(r)_SRCS:.c=.o)))
# what the CLI links: no libev, no TLS (STYLE 3)
CORE_SRCS  = $(base_SRCS) $(store_SRCS)
DAEMON_SRCS = $(daemon_SRCS) $(send_SRCS) $(sink_SRCS) $(hook_SRCS) $(net_SRCS)
CLI_SRCS   = $(cli_SRCS)
ROOM_LIBS  = $(ROOMS:%=agent/lib%.a)

PROTO_OBJS = $(PROTO_SRCS:.c=.o)
CORE_OBJS  = $(CORE_SRCS:.c=.o)
DAEMON_OBJS = $(DAEMON_SRCS:.c=.o)
CLI_OBJS   = $(CLI_SRCS:.c=.o)

UNIT_SRCS  = $(wildcard tests/unit/test_*.c)
UNIT_BINS  = $(UNIT_SRCS:.c=)

all: sluiced sluice layers

libsluiceproto.a: $(PROTO_OBJS)
	$(say) AR $@
	$(Q)$(AR) rcs $@ $^

libsluicecore.a: $(CORE_OBJS)
	$(say) AR $@
	$(Q)$(AR) rcs $@ $^

# one archive per room, for the unit tests' "// links:" lines
$(foreach r,$(ROOMS),$(eval agent/lib$(r).a: $$($(r)_OBJS) ; $$(Q)$$(sayq) AR $$@; rm -f $$@ && $$(AR) rcs $$@ $$^))

%.o: %.c
	$(say) CC $@
	$(Q)$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

sluiced: $(DAEMON_OBJS) libsluicecore.a libsluiceproto.a
	$(say) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $(DAEMON_OBJS) libsluicecore.a libsluiceproto.a $(EV_LIBS) $(PKG_LIBS) $(JANSSON_LIBS) $(MHD_LIBS) -lpthread -lm

# the live page is embedded with .incbin (livepage.c): rebuild when it changes
agent/daemon/livepage.o: agent/daemon/livepage.html

sluice: $(CLI_OBJS) libsluicecore.a libsluiceproto.a
	$(say) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) libsluicecore.a libsluiceproto.a $(PKG_LIBS) $(JANSSON_LIBS)

# A unit test links libsluiceproto.a plus the objects or room archives it
# names in a "// links: agent/libstore.a agent/libbase.a" comment on its
# first line (a higher room first), so it builds as soon as the modules it
# tests exist.
.SECONDEXPANSION:
tests/unit/%: tests/unit/%.c libsluiceproto.a $$(shell head -1 tests/unit/$$*.c | sed -n 's,^// links. ,,p')
	$(say) CCLD $@
	$(Q)$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< \
	    $(shell head -1 $< | sed -n 's,^// links: ,,p') \
	    libsluiceproto.a $(EV_LIBS) $(PKG_LIBS) $(CMOCKA_LIBS) $(JANSSON_LIBS) $(MHD_LIBS) -lpthread

# tests/hookrun: runs one completion hook from an agent config (t_hook_ssh.sh)
tests/hookrun: tests/hookrun.c agent/libhook.a agent/libstore.a agent/libbase.a libsluiceproto.a
	$(say) CCLD $@
	$(Q)$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ tests/hookrun.c agent/libhook.a \
	    agent/libstore.a agent/libbase.a libsluiceproto.a $(EV_LIBS) $(PKG_LIBS) -lpthread -lm

# make layers: refuse an include or a call that crosses a room boundary
# (the table of allowed edges is in scripts/layers); it reads the built
# objects with nm, so it runs once they are all there.
NM	?= nm
layers: $(PROTO_OBJS) $(CORE_OBJS) $(DAEMON_OBJS) $(CLI_OBJS)
	@NM="$(NM)" python3 scripts/layers

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do ./$$t || fail=1; done; exit $$fail

# make test installs what it needs first (a fresh Debian 12 has none of
# the -dev packages), then re-enters make so pkg-config sees them.  It
# builds silently (errors still print), then tests/run.sh prints one line
# per test program and scenario, the full log's path and the summary.
test:
	@bash scripts/deps.sh
	@echo "build: make all, unit tests, tests/hookrun (make V=1 shows commands)"
	@$(MAKE) --no-print-directory -s QUIET=1 all $(UNIT_BINS) tests/hookrun
	@echo "build: ok"
	@bash tests/run.sh

check: all $(UNIT_BINS) tests/hookrun
	@bash tests/run.sh

demo:
	@bash scripts/demo.sh

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/sluice \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(UNITDIR)
	install -m 0755 sluiced $(DESTDIR)$(SBINDIR)/sluiced
	install -m 0755 sluice $(DESTDIR)$(BINDIR)/sluice
	install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	sed 's,/usr/sbin/sluiced,$(SBINDIR)/sluiced,; s,/etc/sluice/,$(SYSCONFDIR)/sluice/,g' \
	    etc/sluice-agent.service > $(DESTDIR)$(UNITDIR)/sluice-agent.service
	sed 's,/usr/sbin/sluiced,$(SBINDIR)/sluiced,; s,/etc/sluice/,$(SYSCONFDIR)/sluice/,g' \
	    etc/sluice-sink.service > $(DESTDIR)$(UNITDIR)/sluice-sink.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/sluice-agent.service $(DESTDIR)$(UNITDIR)/sluice-sink.service
	@# Prometheus alert rules and the Grafana dashboard, for the site to load
	install -d $(DESTDIR)$(PREFIX)/share/sluice
	install -m 0644 etc/sluice-alerts.yml etc/sluice-dashboard.json $(DESTDIR)$(PREFIX)/share/sluice/
	@# never overwrite an operator's edited config
	for f in etc/sluice-agent.conf etc/sluice-sink.conf; do \
	    t=$(DESTDIR)$(SYSCONFDIR)/sluice/$$(basename $$f); \
	    [ -e $$t ] || install -m 0644 $$f $$t; done

# Man pages must render without a single groff warning.
man-check:
	@fail=0; for m in $(MAN1) $(MAN5) $(MAN8); do \
	    out=$$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l $$m 2>&1 >/dev/null); \
	    if [ -n "$$out" ]; then echo "$$m:"; echo "$$out"; fail=1; else echo "$$m: ok"; fi; \
	done; exit $$fail

# ---- hardening: fuzzing, sanitizers, static analysis (issue 7) --------
# make fuzz: build the libFuzzer targets with clang and run each for
# FUZZ_SECONDS from its seed corpus (tests/fuzz/README.md).  New inputs go
# to FUZZ_WORK, never into the committed corpus; a crash is saved there
# too and fails the target.
FUZZ_CC	?= clang
FUZZ_SECONDS ?= 60
FUZZ_WORK ?= tests/fuzz/work
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	     -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_TARGETS = fuzz_wire fuzz_pathchk fuzz_config fuzz_manifest
FUZZ_BINS = $(FUZZ_TARGETS:%=tests/fuzz/%)

tests/fuzz/fuzz_wire: $(PROTO_SRCS) $(wildcard proto/*.h include/*.h)
tests/fuzz/fuzz_pathchk: $(PROTO_SRCS) $(wildcard proto/*.h include/*.h)
tests/fuzz/fuzz_manifest: agent/store/manifest.c $(PROTO_SRCS)
tests/fuzz/fuzz_config: agent/base/config.c agent/base/config_keys.c agent/base/log.c $(PROTO_SRCS)
tests/fuzz/fuzz_%: tests/fuzz/fuzz_%.c
	$(FUZZ_CC) $(CSTD) $(FUZZ_FLAGS) -Iinclude -D_GNU_SOURCE $(PKG_CFLAGS) \
	    -o $@ $(filter %.c,$^) $(PKG_LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@fail=0; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_WORK)/$$t; \
	    printf '%-14s ' $$t; \
	    if ./tests/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
		-print_final_stats=1 -artifact_prefix=$(FUZZ_WORK)/$$t- \
		$(FUZZ_WORK)/$$t tests/fuzz/corpus/$$t >$(FUZZ_WORK)/$$t.log 2>&1; then \
		sed -n 's/^\(Done [0-9]* runs in [0-9]* second.*\)/\1/p' $(FUZZ_WORK)/$$t.log; \
	    else echo FAILED; tail -40 $(FUZZ_WORK)/$$t.log; fail=1; fi; \
	done; exit $$fail

# Regenerate the seed corpora with the real encoders.
fuzz-corpus: libsluiceproto.a
	$(CC) $(CSTD) -Iinclude -D_GNU_SOURCE -o tests/fuzz/mkcorpus tests/fuzz/mkcorpus.c libsluiceproto.a
	./tests/fuzz/mkcorpus tests/fuzz/corpus

# make asan-test: the whole tree built with ASan + UBSan, then the unit
# tests (leak checking on) and the full suite.  Cleans before and after,
# so a later plain `make` never ships sanitized objects.  -Wno-error: gcc
# warns spuriously on instrumented code (-Wrestrict, -Wstringop-*; its
# manual says so); the plain build keeps -Werror.
ASAN_SAN = -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1 \
	   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
asan-test:
	@$(MAKE) --no-print-directory clean
	@$(MAKE) --no-print-directory SAN="$(ASAN_SAN)" OPT="-O1 -g -Wno-error" all $(UNIT_BINS) tests/hookrun
	@rc=0; $(ASAN_ENV) bash tests/run.sh || rc=1; \
	    $(MAKE) --no-print-directory clean >/dev/null; exit $$rc

# make tsan-test: ThreadSanitizer over the sink's threads (loop, writers,
# verifier, committer) and the hook worker; the first report fails the run.
TSAN_ENV = TSAN_OPTIONS=halt_on_error=1:exitcode=66
tsan-test:
	@$(MAKE) --no-print-directory clean
	@$(MAKE) --no-print-directory SAN="-fsanitize=thread" OPT="-O1 -g -Wno-error" all $(UNIT_BINS) tests/hookrun
	@rc=0; $(TSAN_ENV) bash tests/run.sh || rc=1; \
	    $(MAKE) --no-print-directory clean >/dev/null; exit $$rc

# make lint: cppcheck and clang-tidy (.clang-tidy) over proto/ and agent/.
CPPCHECK ?= cppcheck
CLANG_TIDY ?= clang-tidy
LINT_SRCS = $(PROTO_SRCS) $(CORE_SRCS) $(DAEMON_SRCS) $(CLI_SRCS)
lint:
	$(CPPCHECK) -q --enable=warning,portability,performance --error-exitcode=1 \
	    --inline-suppr --std=c11 -D_GNU_SOURCE -Iinclude \
	    $(addprefix --include=,$(firstword $(wildcard /usr/include/sys/queue.h /usr/include/*/sys/queue.h))) \
	    proto agent
	$(CLANG_TIDY) --quiet $(LINT_SRCS) -- $(CSTD) -Iinclude -D_GNU_SOURCE $(PKG_CFLAGS)

clean:
	rm -f sluiced sluice *.a agent/*.a agent/*/*.o proto/*.o agent/*/*.d proto/*.d \
	    $(UNIT_BINS) tests/unit/*.d tests/unit/*.o tests/hookrun tests/*.d \
	    $(FUZZ_BINS) tests/fuzz/mkcorpus

.PHONY: tsan-test all test check layers unit demo install man-check clean fuzz fuzz-build \
	fuzz-corpus asan-test lint
-include $(wildcard agent/*/*.d proto/*.d tests/unit/*.d tests/*.d)
