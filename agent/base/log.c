/*
 * log.c: one line per event to stderr (log.h, STYLE 14).
 *
 * Each line is formatted into a buffer on the caller's stack and written
 * with a single write(2) to fd 2, so lines from different threads never
 * interleave (writes of up to PIPE_BUF bytes to a pipe are atomic, and
 * journald reads stderr through one).  A line longer than LOG_LINE_MAX is
 * cut and marked "..."; the error="..." of log_warn survives the cut.
 * Newlines inside a message become spaces, so one event is one line.
 *
 * The level is a relaxed atomic: set once by log_init() and read by every
 * thread.  log_q() quotes into small thread-local rotating buffers, so a
 * few quoted values can appear in the same log call.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pathchk.h"

#define LOG_LINE_MAX	4096
#define Q_BUFS		4
#define Q_SIZE		1024

static int	log_level_cur = LOG_INFO;
static int	log_stamps;

static const char *const level_names[] = { "err", "warn", "info", "debug" };

void
log_init(int level, int timestamps)
{
	if (level < LOG_ERR)
		level = LOG_ERR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	__atomic_store_n(&log_level_cur, level, __ATOMIC_RELAXED);
	__atomic_store_n(&log_stamps, timestamps ? 1 : 0, __ATOMIC_RELAXED);
}

int
log_level_parse(const char *s)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "err") == 0 || strcmp(s, "error") == 0)
		return LOG_ERR;
	if (strcmp(s, "warn") == 0 || strcmp(s, "warning") == 0)
		return LOG_WARN;
	if (strcmp(s, "info") == 0)
		return LOG_INFO;
	if (strcmp(s, "debug") == 0)
		return LOG_DEBUG;
	return -1;
}

int
log_enabled(int level)
{
	return level <= __atomic_load_n(&log_level_cur, __ATOMIC_RELAXED);
}

/* Write all of buf to fd 2 with one write(2) (retried only on EINTR). */
static void
write_line(const char *buf, size_t len)
{
	ssize_t	 n;

	do
		n = write(STDERR_FILENO, buf, len);
	while (n == -1 && errno == EINTR);
}

/*
 * Format "[TIME ]LEVEL comp <fmt...><suffix>\n" and write it.  suffix
 * (may be NULL) is kept whole even when the message is cut.
 */
static void
log_vline(int level, const char *comp, const char *suffix, const char *fmt,
    va_list ap)
{
	char		 buf[LOG_LINE_MAX];
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 pos = 0, slen, room, i;
	int		 n;

	if (level < LOG_ERR || level > LOG_DEBUG)
		level = LOG_ERR;
	slen = suffix ? strlen(suffix) : 0;
	if (slen > 256)
		slen = 256;
	if (__atomic_load_n(&log_stamps, __ATOMIC_RELAXED)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		pos = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(buf + pos, sizeof(buf) - pos, ".%03ldZ ",
		    ts.tv_nsec / 1000000);
		if (n > 0)
			pos += (size_t)n;
	}
	n = snprintf(buf + pos, sizeof(buf) - pos, "%s %.64s ",
	    level_names[level], comp ? comp : "-");
	if (n > 0)
		pos += (size_t)n;

	/* the message gets what the suffix and "\n" leave */
	room = sizeof(buf) - pos - slen - 1;
	n = vsnprintf(buf + pos, room, fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= room) {
		/* cut: vsnprintf wrote room - 1 bytes and a NUL */
		/* overwrites the three bytes before vsnprintf's NUL, which stays */
		memcpy(buf + pos + room - 4, "...", 3); // NOLINT(bugprone-not-null-terminated-result)
		n = (int)room - 1;
	}
	for (i = pos; i < pos + (size_t)n; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	pos += (size_t)n;
	if (slen > 0) {
		memcpy(buf + pos, suffix, slen);
		pos += slen;
	}
	buf[pos++] = '\n';
	write_line(buf, pos);
}

void
log_msg(int level, const char *comp, const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vline(level, comp, NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warn(const char *comp, const char *fmt, ...)
{
	char	 suffix[192], ebuf[128];
	va_list	 ap;
	int	 saved = errno;

	if (!log_enabled(LOG_WARN))
		return;
	/* GNU strerror_r (-D_GNU_SOURCE); its text has no quotes */
	snprintf(suffix, sizeof(suffix), " error=\"%s\"",
	    strerror_r(saved, ebuf, sizeof(ebuf)));
	va_start(ap, fmt);
	log_vline(LOG_WARN, comp, suffix, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Does s need quotes in a key=value field?  Also when it is not UTF-8:
 * those bytes are written as \xNN, so a log line is always valid text. */
static int
needs_quotes(const char *s)
{
	const unsigned char	*p;
	size_t			 left = strlen(s), n;

	if (*s == '\0')
		return 1;
	for (p = (const unsigned char *)s; *p != '\0'; p += n, left -= n) {
		if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '=' ||
		    *p == '\\')
			return 1;
		n = pathchk_utf8_len(p, left);
		if (n == 0)
			return 1;
	}
	return 0;
}

const char *
log_q(const char *s)
{
	static __thread char	 bufs[Q_BUFS][Q_SIZE];
	static __thread unsigned next;
	static const char	 hex[] = "0123456789abcdef";
	char			*b = bufs[next++ % Q_BUFS];
	const unsigned char	*p;
	char			 esc[4];
	size_t			 o = 0, elen, slen, n;

	if (s == NULL)
		return "(null)";
	if (!needs_quotes(s)) {
		slen = strlen(s);
		if (slen < Q_SIZE)
			return s;
		memcpy(b, s, Q_SIZE - 4);
		memcpy(b + Q_SIZE - 4, "...", 4);
		return b;
	}
	b[o++] = '"';
	slen = strlen(s);
	for (p = (const unsigned char *)s; *p != '\0'; p += n, slen -= n) {
		elen = 2;
		n = 1;
		esc[0] = '\\';
		switch (*p) {
		case '"':  esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			/* a valid UTF-8 sequence as it is; a control byte or
			 * a byte that is not UTF-8 as \xNN */
			if (*p >= 0x80 && (n = pathchk_utf8_len(p, slen)) > 0) {
				memcpy(esc, p, n);
				elen = n;
			} else if (*p < 0x20 || *p >= 0x7f) {
				n = 1;
				esc[1] = 'x';
				esc[2] = hex[*p >> 4];
				esc[3] = hex[*p & 0xf];
				elen = 4;
			} else {
				esc[0] = (char)*p;
				elen = 1;
			}
		}
		/* keep room for '..."' and the NUL */
		if (o + elen > Q_SIZE - 5) {
			memcpy(b + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(b + o, esc, elen);
		o += elen;
	}
	b[o++] = '"';
	b[o] = '\0';
	return b;
}

void
fatalx(const char *fmt, ...)
{
	char	 buf[LOG_LINE_MAX];
	va_list	 ap;
	int	 n;
	size_t	 len;

	n = snprintf(buf, sizeof(buf), "sluiced: ");
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	len = strlen(buf);
	buf[len++] = '\n';
	write_line(buf, len);
	exit(1);
}
