# sluice: plain Makefile (STYLE 18).  make, make test, make install.
PREFIX	?= /usr/local
DESTDIR	?=
BINDIR	 = $(PREFIX)/bin
SBINDIR	 = $(PREFIX)/sbin
MANDIR	 = $(PREFIX)/share/man
SYSCONFDIR ?= /etc

CC	?= cc
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

# proto/: the pure codec, a static library with no I/O dependencies.
PROTO_SRCS = proto/wire.c proto/pathchk.c proto/errors.c
# common daemon/CLI modules (no libev, no TLS)
CORE_SRCS  = agent/config.c agent/log.c agent/journal.c agent/digest.c \
	     agent/fsx.c agent/net.c agent/walk.c agent/ctlclient.c
# the daemon only
DAEMON_SRCS = agent/conn.c agent/stream.c agent/control.c \
	     agent/role_agent.c agent/role_sink.c agent/sink_publish.c agent/sluiced.c
CLI_SRCS   = agent/sluice.c

PROTO_OBJS = $(PROTO_SRCS:.c=.o)
CORE_OBJS  = $(CORE_SRCS:.c=.o)
DAEMON_OBJS = $(DAEMON_SRCS:.c=.o)
CLI_OBJS   = $(CLI_SRCS:.c=.o)

UNIT_SRCS  = $(wildcard tests/unit/test_*.c)
UNIT_BINS  = $(UNIT_SRCS:.c=)

all: sluiced sluice

libsluiceproto.a: $(PROTO_OBJS)
	$(AR) rcs $@ $^

libsluicecore.a: $(CORE_OBJS)
	$(AR) rcs $@ $^

%.o: %.c
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

sluiced: $(DAEMON_OBJS) libsluicecore.a libsluiceproto.a
	$(CC) $(LDFLAGS) -o $@ $(DAEMON_OBJS) libsluicecore.a libsluiceproto.a $(EV_LIBS) $(PKG_LIBS) -lpthread -lm

sluice: $(CLI_OBJS) libsluicecore.a libsluiceproto.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) libsluicecore.a libsluiceproto.a $(PKG_LIBS) $(JANSSON_LIBS)

# A unit test links libsluiceproto.a plus the objects it names in a
# "// links: agent/journal.o agent/log.o" comment on its first line, so it
# builds as soon as the modules it tests exist.
.SECONDEXPANSION:
tests/unit/%: tests/unit/%.c libsluiceproto.a $$(shell head -1 tests/unit/$$*.c | sed -n 's,^// links. ,,p')
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< \
	    $(shell head -1 $< | sed -n 's,^// links: ,,p') \
	    libsluiceproto.a $(EV_LIBS) $(PKG_LIBS) $(CMOCKA_LIBS) $(JANSSON_LIBS) -lpthread

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do ./$$t || fail=1; done; exit $$fail

# make test installs what it needs first (a fresh Debian 12 has none of
# the -dev packages), then re-enters make so pkg-config sees them.
test:
	@bash scripts/deps.sh
	@$(MAKE) --no-print-directory check

check: all $(UNIT_BINS)
	@bash tests/run.sh

demo:
	@bash scripts/demo.sh

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/sluice
	install -m 0755 sluiced $(DESTDIR)$(SBINDIR)/sluiced
	install -m 0755 sluice $(DESTDIR)$(BINDIR)/sluice
	install -m 0644 etc/sluice-agent.conf etc/sluice-sink.conf $(DESTDIR)$(SYSCONFDIR)/sluice/

clean:
	rm -f sluiced sluice *.a agent/*.o proto/*.o agent/*.d proto/*.d \
	    $(UNIT_BINS) tests/unit/*.d

.PHONY: all test check unit demo install clean
-include $(wildcard agent/*.d proto/*.d tests/unit/*.d)
