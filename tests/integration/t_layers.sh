#!/usr/bin/env bash
# scripts/layers over a tiny fake tree of rooms (LAYERS_ROOT): a clean tree
# passes with its one "ok" line; each single mistake makes it fail and name
# the file, the symbol or header, the rooms and the rule: an upward call,
# an upward include, two files calling each other, a longer cycle, TLS
# outside conn.c (directly or through a header), libev in proto or the
# CLI, another room's private header, and a header no room owns.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/sluice-test.XXXXXX)
trap sl_cleanup EXIT

# put FILE: write stdin to $D/FILE
put() { mkdir -p "$(dirname "$D/$1")"; cat > "$D/$1"; }

# The clean tree: proto <- base <- store <- net, send -> store, net; a
# room-private header in send.
D=$T/clean
put include/sluice.h <<<'#define SL_OK 0'
put include/wire.h <<<'int wire_len(void);'
put include/log.h <<<'void log_x(void);'
put include/journal.h <<<'int journal_x(void);'
put include/conn.h <<<'int conn_x(void);'
put include/ingest.h <<<'int ingest_x(void);'
put proto/wire.c <<'EOF'
#include "sluice.h"
#include "wire.h"
int wire_len(void) { return SL_OK; }
EOF
put agent/base/log.c <<'EOF'
#include "log.h"
#include "wire.h"
void log_x(void) { (void)wire_len(); }
EOF
put agent/store/journal.c <<'EOF'
#include "journal.h"
#include "log.h"
int journal_x(void) { log_x(); return 0; }
EOF
put agent/net/conn.c <<'EOF'
#include <openssl/ssl.h>
#include "conn.h"
#include "log.h"
int conn_x(void) { log_x(); return 0; }
EOF
put agent/send/priv.h <<<'int role_x(void);'
put agent/send/ingest.c <<'EOF'
#include "conn.h"
#include "ingest.h"
#include "journal.h"
#include "priv.h"
int ingest_x(void) { return journal_x() + conn_x(); }
EOF
put agent/send/role.c <<'EOF'
#include "ingest.h"
#include "priv.h"
int role_x(void) { return ingest_x(); }
EOF

# layers DIR: build DIR's objects (those older than their .c), run the
# checker on it; sets out and rc
layers() {
	local c
	for c in "$1"/proto/*.c "$1"/agent/*/*.c; do
		[ "${c%.c}.o" -nt "$c" ] && continue
		cc -std=gnu11 -I"$1/include" -c -o "${c%.c}.o" "$c" || { rc=99; out="cc $c failed"; return; }
	done
	out=$(LAYERS_ROOT=$1 python3 "$ROOT/scripts/layers" 2>&1); rc=$?
}

layers "$T/clean"
if [ $rc = 0 ] && [ "$out" = "layers: ok (13 files, 20 edges)" ]; then
	ok "clean tree: $out"
else
	fail "clean tree: rc=$rc: $out"
fi

# reject NAME PATTERN: copy the clean tree to $D, apply the edit read from
# stdin (a shell snippet run in $D), and expect a failure naming PATTERN.
reject() {
	local name=$1 pat=$2
	D=$T/$name
	cp -rp "$T/clean" "$D"
	sleep 0.01	# so an edited .c is newer than its copied .o
	(cd "$D" && . /dev/stdin)
	layers "$D"
	if [ $rc = 1 ] && grep -qF -- "$pat" <<<"$out"; then
		ok "$name: $(grep -F -- "$pat" <<<"$out" | head -1)"
	else
		fail "$name: rc=$rc, want a line with '$pat': $out"
	fi
}

reject upward-call 'agent/store/journal.c: calls ingest_x of agent/send/ingest.c: store -> send is not allowed' <<'EOF'
printf 'int ingest_x(void);\nint up(void) { return ingest_x(); }\n' >> agent/store/journal.c
EOF
reject upward-include 'agent/store/journal.c: includes "ingest.h" of room send: store -> send is not allowed' <<'EOF'
sed -i '1i #include "ingest.h"' agent/store/journal.c
EOF
reject two-cycle 'agent/send/ingest.c <-> agent/send/role.c: call each other (ingest.c uses role_x; role.c uses ingest_x)' <<'EOF'
echo 'int back(void) { return role_x(); }' >> agent/send/ingest.c
EOF
reject three-cycle 'cycle of 3 files: agent/store/a.c agent/store/b.c agent/store/c.c' <<'EOF'
echo 'int b(void); int a(void) { return b(); }' > agent/store/a.c
echo 'int c(void); int b(void) { return c(); }' > agent/store/b.c
echo 'int a(void); int c(void) { return a(); }' > agent/store/c.c
EOF
reject tls-outside-conn 'agent/send/role.c: includes <openssl/ssl.h>: TLS behind one door' <<'EOF'
sed -i '1i #include <openssl/ssl.h>' agent/send/role.c
EOF
reject tls-via-header 'agent/send/ingest.c: includes <openssl/ssl.h> (via conn.h): TLS behind one door' <<'EOF'
sed -i '1i #include <openssl/ssl.h>' include/conn.h
EOF
reject libev-in-proto 'proto/wire.c: includes <ev.h>: proto is a pure codec' <<'EOF'
sed -i '1i #include <ev.h>' proto/wire.c
EOF
reject libev-in-cli 'agent/cli/main.c: includes <ev.h>: the CLI links neither libev nor TLS' <<'EOF'
mkdir -p agent/cli && printf '#include <ev.h>\nint main(void) { return 0; }\n' > agent/cli/main.c
EOF
reject private-header 'agent/net/conn.c: includes "../send/priv.h" (agent/send/priv.h), private to room send' <<'EOF'
sed -i '1i #include "../send/priv.h"' agent/net/conn.c
EOF
reject unknown-header 'include/mystery.h: no room owns it: place it in a room' <<'EOF'
echo 'int mystery(void);' > include/mystery.h
EOF
sl_done
