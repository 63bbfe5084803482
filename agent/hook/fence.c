/*
 * fence.c: the remote fence of the completion hook (see fence.h for the
 * contract and the answers).
 *
 * The wrapper is a POSIX sh script handed to /bin/sh -c with its values as
 * positional parameters, so that no value is ever parsed as script: the
 * login shell at the remote sees one line of single-quoted words (the
 * quoting hook_expand uses) and the wrapper reads $1..$5.  The script holds
 * no single quote and no "!" and is one line, so it survives any login
 * shell that understands single quotes.
 *
 * Why mkdir: it is atomic on every POSIX file system (NFS included), and
 * fails when the name exists, so exactly one wrapper per key ever gets to
 * run the command.  start and status are written by temp + rename, so a
 * probe reads either nothing or a whole line.  The wrapper's pid tells a
 * probe whether it still runs (kill -0, plus ps to catch a reused pid),
 * the boot id whether the host rebooted since (Linux; "-" elsewhere).
 * umask 077 covers only the marker; the command runs with the caller's.
 * Every process the wrapper starts is a fork and exec on the hook host,
 * often a busy login node, once per hook: the boot id is read with the
 * read builtin, and mkdir -p, dd and tail run only when there is work for
 * them (docs/bench.md: 12 processes per run before, 8 now).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "fence.h"

/* $1 mode, $2 state dir, $3 key, $4 shell ("" = $SHELL), $5 command */
static const char wrapper[] =
	": sluice-fence; "
	"m=$1; s=$2; k=$3; x=${4:-${SHELL:-/bin/sh}}; "
	"case $s in /*) ;; *) s=${HOME:-.}/$s;; esac; d=$s/$k; "
	"say() { printf \"sluice-fence 1 %s\\n\" \"$*\"; }; "
	"boot() { bi=; { read -r bi < /proc/sys/kernel/random/boot_id; } 2>/dev/null; "
	"bi=${bi:--}; }; "
	"out() { if [ -s \"$d/out\" ]; then dd if=\"$d/out\" bs=4000 count=1 2>/dev/null; fi; "
	"if [ -s \"$d/err\" ]; then tail -c 1000 \"$d/err\" >&2; fi; }; "
	"ran() { read st t1 < \"$d/status\"; read t0 p b < \"$d/start\"; "
	"say ran \"$st\" \"${t0:-0}\" \"${t1:-0}\"; out; exit 0; }; "
	"probe() { "
	"if [ -f \"$d/status\" ]; then ran; fi; "
	"if [ -d \"$d\" ]; then :; else say none; exit 0; fi; "
	"if [ -f \"$d/start\" ]; then :; else sleep 1; fi; "
	"if [ -f \"$d/status\" ]; then ran; fi; "
	"if [ -f \"$d/start\" ]; then :; else say dead 0 0 nostart; exit 0; fi; "
	"read t0 p b < \"$d/start\"; "
	"boot; if [ \"$b\" != \"$bi\" ]; then say dead \"$t0\" \"$p\" reboot; exit 0; fi; "
	"r=gone; if kill -0 \"$p\" 2>/dev/null; then "
	"a=$(ps -p \"$p\" -o args= 2>/dev/null) || a=; "
	"case $a in \"\"|*sluice-fence*) say running \"$t0\" \"$p\"; exit 0;; esac; "
	"r=reused; fi; "
	"if [ -f \"$d/status\" ]; then ran; fi; "
	"say dead \"$t0\" \"$p\" $r; exit 0; }; "
	"case $m in probe) probe;; run) ;; *) say error unknown mode \"$m\"; exit 0;; esac; "
	"u=$(umask); umask 077; [ -d \"$s\" ] || mkdir -p \"$s\" 2>/dev/null; "
	"if e=$(mkdir \"$d\" 2>&1); then :; elif [ -d \"$d\" ]; then probe; "
	"else say error \"$e\"; exit 0; fi; "
	"t0=$(date +%s); boot; "
	"if printf \"%s %s %s\\n\" \"$t0\" \"$$\" \"$bi\" > \"$d/start.tmp\" && "
	"mv -f \"$d/start.tmp\" \"$d/start\"; then :; "
	"else say error cannot write \"$d/start\"; exit 0; fi; "
	"umask \"$u\"; "
	"\"$x\" -c \"$5\" < /dev/null > \"$d/out\" 2> \"$d/err\"; st=$?; "
	"t1=$(date +%s); umask 077; "
	"{ printf \"%s %s\\n\" \"$st\" \"$t1\" > \"$d/status.tmp\" && "
	"mv -f \"$d/status.tmp\" \"$d/status\"; } || "
	"echo \"sluice-fence: cannot record the exit status in $d\" >&2; "
	"say ran \"$st\" \"$t0\" \"$t1\"; out; exit 0";

const char *
fence_state_name(int state)
{
	switch (state) {
	case FENCE_NOANSWER:	return "no answer";
	case FENCE_NONE:	return "never started";
	case FENCE_RUNNING:	return "running";
	case FENCE_RAN:		return "ran";
	case FENCE_DEAD:	return "gone without an exit status";
	case FENCE_ERROR:	return "cannot make its marker";
	default:		return "?";
	}
}

static int
agent_ok(const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++, n++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return 0;
	return n > 0;
}

int
fence_key(char *buf, size_t len, const char *agent, uint64_t id, uint32_t gen,
    uint32_t attempt)
{
	int	 n;

	if (agent == NULL || !agent_ok(agent))
		return SL_EINVAL;
	n = snprintf(buf, len, "%s-%016" PRIx64 "-%" PRIu32 ".%" PRIu32, agent, id,
	    gen, attempt);
	if (n < 0 || (size_t)n >= len)
		return SL_EINVAL;
	return SL_OK;
}

/* ---- building --------------------------------------------------------- */

struct qbuf {
	char	*p;
	size_t	 len, cap;
	int	 rc;
};

static void
qb_add(struct qbuf *b, const char *s, size_t n)
{
	if (b->rc)
		return;
	if (b->len + n + 1 > b->cap) {
		b->rc = SL_ETOOBIG;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* ' + s with each ' written '\'' + ', as hook_expand quotes */
static void
qb_word(struct qbuf *b, const char *s)
{
	const char	*q;

	qb_add(b, " '", 2);
	while ((q = strchr(s, '\'')) != NULL) {
		qb_add(b, s, (size_t)(q - s));
		qb_add(b, "'\\''", 4);
		s = q + 1;
	}
	qb_add(b, s, strlen(s));
	qb_add(b, "'", 1);
}

int
fence_command(int mode, const char *state_dir, const char *key, const char *shell,
    const char *command, char **out, char *err, size_t errlen)
{
	struct qbuf	 b = { 0 };

	*out = NULL;
	if (mode != FENCE_RUN && mode != FENCE_PROBE) {
		snprintf(err, errlen, "hook fence: unknown mode %d", mode);
		return SL_EINVAL;
	}
	if (state_dir == NULL || state_dir[0] == '\0' || strpbrk(state_dir, "\n\r") != NULL) {
		snprintf(err, errlen, "hook fence: state_dir is empty or holds a line break");
		return SL_EINVAL;
	}
	if (key == NULL || key[0] == '\0' || strchr(key, '/') != NULL) {
		snprintf(err, errlen, "hook fence: bad marker name");
		return SL_EINVAL;
	}
	if (shell == NULL)
		shell = "";
	if (mode == FENCE_PROBE || command == NULL)
		command = "";
	/* a bound that no quoting can pass: every byte at most 4 */
	b.cap = sizeof(wrapper) + 64 + 4 * (strlen(state_dir) + strlen(key) +
	    strlen(shell) + strlen(command)) + 32;
	if (b.cap > FENCE_MAX_COMMAND + 1)
		b.cap = FENCE_MAX_COMMAND + 1;
	b.p = malloc(b.cap);
	if (b.p == NULL) {
		snprintf(err, errlen, "hook fence: out of memory");
		return SL_ENOMEM;
	}
	b.p[0] = '\0';
	qb_add(&b, "/bin/sh -c", 10);
	qb_word(&b, wrapper);
	qb_add(&b, " sluice-fence", 13);
	qb_word(&b, mode == FENCE_RUN ? "run" : "probe");
	qb_word(&b, state_dir);
	qb_word(&b, key);
	qb_word(&b, shell);
	qb_word(&b, command);
	if (b.rc) {
		snprintf(err, errlen, "hook fence: the wrapped command is longer than %u bytes",
		    FENCE_MAX_COMMAND);
		free(b.p);
		return b.rc;
	}
	*out = b.p;
	return SL_OK;
}

/* ---- parsing ---------------------------------------------------------- */

/* A decimal integer token of at most 18 digits (and a sign if neg_ok):
 * 19 nines would overflow int64_t; a longer token is malformed. */
static int
num(const char **p, int64_t *v, int neg_ok)
{
	const char	*s = *p;
	int64_t		 x = 0;
	int		 neg = 0, n = 0;

	while (*s == ' ')
		s++;
	if (neg_ok && *s == '-') {
		neg = 1;
		s++;
	}
	while (*s >= '0' && *s <= '9' && n < 18) {
		x = x * 10 + (*s - '0');
		s++;
		n++;
	}
	if (n == 0 || (*s != ' ' && *s != '\0'))
		return -1;
	*v = neg ? -x : x;
	*p = s;
	return 0;
}

static int
word(const char **p, const char *w)
{
	size_t	 n = strlen(w);

	if (strncmp(*p, w, n) != 0 || ((*p)[n] != ' ' && (*p)[n] != '\0'))
		return -1;
	*p += n;
	return 0;
}

int
fence_parse(const char *text, struct fence_answer *a)
{
	const char	*h = text, *nl, *p;
	char		 line[512];
	int64_t		 v1, v2, v3;
	size_t		 n;

	memset(a, 0, sizeof(*a));
	a->state = FENCE_NOANSWER;
	a->status = -1;
	a->out = "";
	if (text == NULL)
		return a->state;
	/* the first line that starts with the magic */
	while (strncmp(h, FENCE_MAGIC, sizeof(FENCE_MAGIC) - 1) != 0) {
		h = strchr(h, '\n');
		if (h == NULL)
			return a->state;
		h++;
	}
	nl = strchr(h, '\n');
	n = nl != NULL ? (size_t)(nl - h) : strlen(h);
	if (n >= sizeof(line))
		return a->state;
	memcpy(line, h, n);
	line[n] = '\0';
	if (n > 0 && line[n - 1] == '\r')
		line[n - 1] = '\0';
	p = line + sizeof(FENCE_MAGIC) - 1;
	if (word(&p, "none") == 0 && *p == '\0')
		a->state = FENCE_NONE;
	else if (word(&p, "running") == 0 && num(&p, &v1, 0) == 0 &&
	    num(&p, &v2, 0) == 0 && *p == '\0') {
		a->state = FENCE_RUNNING;
		a->started = v1;
		a->pid = (long)v2;
	} else if (word(&p, "ran") == 0 && num(&p, &v1, 1) == 0 && num(&p, &v2, 0) == 0 &&
	    num(&p, &v3, 0) == 0 && *p == '\0' && v1 >= 0 && v1 <= 255) {
		a->state = FENCE_RAN;
		a->status = (int)v1;
		a->started = v2;
		a->ended = v3;
		a->out = nl != NULL ? nl + 1 : "";
	} else if (word(&p, "dead") == 0 && num(&p, &v1, 0) == 0 && num(&p, &v2, 0) == 0 &&
	    *p == ' ' && p[1] != '\0') {
		a->state = FENCE_DEAD;
		a->started = v1;
		a->pid = (long)v2;
		snprintf(a->why, sizeof(a->why), "%s", p + 1);
	} else if (word(&p, "error") == 0) {
		a->state = FENCE_ERROR;
		snprintf(a->why, sizeof(a->why), "%s", *p == ' ' ? p + 1 : "unknown error");
	}
	return a->state;
}
