/*
 * config.c: load and validate the INI configuration (config.h).
 *
 * One table, config_keys[], names every key: its section, type, range, default
 * text and where it lives in struct config.  The same table drives the
 * defaults (each default text goes through the same parser as a value
 * from the file), the parsing, the "missing" checks and the messages, so
 * a key is added in one place (STYLE 15).
 *
 * inih splits lines into section, name and value.  We feed it through our
 * own reader so that we know the current line number (the Debian build of
 * inih has no INI_HANDLER_LINENO) and can see every raw line: the reader
 * notes section headers itself (an empty or unknown section is still
 * reported), notices key lines for which inih never called the handler
 * (a syntax error: inih only returns the first one), and keeps the whole
 * line so a value longer than inih's fixed 200-byte line buffer is taken
 * from the raw text instead of inih's truncated copy.
 *
 * Nothing stops at the first problem: every error is appended to the
 * caller's buffer as "FILE:LINE: [section] key: message" (no LINE when the
 * key is absent), and config_load() fails at the end if there was any.
 * Then validate() fills computed defaults (id, control, server_name) and
 * checks what spans keys or touches the file system (TLS files, the
 * secret, the sink root).  config_load() is for start-up only: it sets
 * inih's process-wide options and is not thread-safe.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "sluice.h"

#define CFG_MAX_LINE	8192		/* longest line we accept */
#define SECRET_MIN	16
#define SECRET_MAX	sizeof(((struct config *)0)->secret)

#include "config_int.h"

enum lkind { LK_BLANK, LK_SECT, LK_KEY };

struct pctx {
	struct config	*c;
	FILE		*f;
	const char	*file;		/* as the caller named it */
	char		*err;
	size_t		 errlen, errpos;
	int		 nerr;
	/* the line inih is working on */
	int		 lineno;
	char		*raw;		/* whole line, no newline */
	size_t		 rawcap;
	size_t		 rawlen;
	enum lkind	 kind;
	int		 handled;	/* inih called the handler for it */
	int		 truncated;	/* inih saw only part of it */
	/* what the file set */
	int		 keyline[CONFIG_MAX_KEYS];	/* 0: not set */
	int		 sectline[CONFIG_MAX_SECTS];	/* first header line, 0: none */
};

static void errf(struct pctx *, int, const char *, const char *,
    const char *, ...) __attribute__((format(printf, 5, 6)));

/*
 * Append one error line.  line 0 leaves out the line number; sect NULL
 * leaves out "[section] key".
 */
static void
errf(struct pctx *p, int line, const char *sect, const char *key,
    const char *fmt, ...)
{
	char	 msg[1024], where[512];
	va_list	 ap;
	int	 n;

	p->nerr++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sect == NULL)
		where[0] = '\0';
	else if (key == NULL)
		snprintf(where, sizeof(where), "[%s]: ", sect);
	else
		snprintf(where, sizeof(where), "[%s] %s: ", sect, key);
	if (p->errlen == 0 || p->errpos >= p->errlen - 1)
		return;
	if (line > 0)
		n = snprintf(p->err + p->errpos, p->errlen - p->errpos,
		    "%s:%d: %s%s\n", p->file, line, where, msg);
	else
		n = snprintf(p->err + p->errpos, p->errlen - p->errpos,
		    "%s: %s%s\n", p->file, where, msg);
	if (n < 0)
		return;
	p->errpos += (size_t)n;
	if (p->errpos > p->errlen - 1)
		p->errpos = p->errlen - 1;
}

static const struct keydef *
find_key(const char *sect, const char *key, size_t *idx)
{
	size_t	 i;

	for (i = 0; i < config_nkeys; i++)
		if (strcmp(config_keys[i].sect, sect) == 0 &&
		    strcmp(config_keys[i].key, key) == 0) {
			*idx = i;
			return &config_keys[i];
		}
	return NULL;
}

static int
find_sect(const char *name)
{
	size_t	 i;

	for (i = 0; i < config_nsects; i++)
		if (strcmp(config_sects[i].name, name) == 0)
			return (int)i;
	return -1;
}

static const char *
role_name(int role)
{
	return role == ROLE_SINK ? "sink" : "agent";
}

int
config_parse_size(const char *s, uint64_t *out)
{
	uint64_t	 v = 0, mult = 1;
	const char	*p = s;

	if (s == NULL || !isdigit((unsigned char)*p))
		return SL_EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return SL_EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (toupper((unsigned char)*p)) {
	case 'K': mult = 1ULL << 10; p++; break;
	case 'M': mult = 1ULL << 20; p++; break;
	case 'G': mult = 1ULL << 30; p++; break;
	default: break;
	}
	/* "8MiB", "8MB", "512B" */
	if (mult > 1 && *p == 'i' && p[1] == 'B')
		p += 2;
	else if (*p == 'B')
		p++;
	if (*p != '\0')
		return SL_EINVAL;
	if (v > UINT64_MAX / mult)
		return SL_EINVAL;
	*out = v * mult;
	return 0;
}

int
config_parse_duration(const char *s, double *out)
{
	double		 v = 0, frac = 0.1, unit = 1;
	const char	*p = s;
	int		 digits = 0;

	if (s == NULL || strlen(s) > 32)
		return SL_EINVAL;
	for (; isdigit((unsigned char)*p); p++, digits++)
		v = v * 10 + (*p - '0');
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++, digits++) {
			v += (*p - '0') * frac;
			frac /= 10;
		}
	if (digits == 0)
		return SL_EINVAL;
	if (strcmp(p, "ms") == 0)
		unit = 0.001;
	else if (strcmp(p, "s") == 0 || *p == '\0')
		unit = 1;
	else if (strcmp(p, "m") == 0)
		unit = 60;
	else if (strcmp(p, "h") == 0)
		unit = 3600;
	else
		return SL_EINVAL;
	*out = v * unit;
	return 0;
}

/* "8M" for 8388608: the shortest exact K/M/G form, for messages. */
static const char *
size_text(double v, char *buf, size_t len)
{
	uint64_t	 u = (uint64_t)v;

	if (u != 0 && u % (1ULL << 30) == 0)
		snprintf(buf, len, "%lluG", (unsigned long long)(u >> 30));
	else if (u != 0 && u % (1ULL << 20) == 0)
		snprintf(buf, len, "%lluM", (unsigned long long)(u >> 20));
	else if (u != 0 && u % (1ULL << 10) == 0)
		snprintf(buf, len, "%lluK", (unsigned long long)(u >> 10));
	else
		snprintf(buf, len, "%llu", (unsigned long long)u);
	return buf;
}

/*
 * Parse text for key kd and store it in c.  On failure write the message
 * (without the "FILE:LINE: [section] key: " prefix) into msg.
 */
static int
set_value(struct config *c, const struct keydef *kd, const char *v,
    char *msg, size_t msglen)
{
	char		*field = (char *)c + kd->off, *end;
	char		 a[32], b[32];
	long long	 ll;
	uint64_t	 u;
	uint32_t	 u32;
	double		 d;
	int		 i, len;
	size_t		 n;

	if (*v == '\0') {
		snprintf(msg, msglen, "empty value");
		return SL_EINVAL;
	}
	switch (kd->type) {
	case KT_STR:
		n = strlen(v);
		if (n >= kd->size) {
			snprintf(msg, msglen, "too long (%zu bytes, at most %zu)",
			    n, kd->size - 1);
			return SL_EINVAL;
		}
		memcpy(field, v, n + 1);
		return 0;
	case KT_INT:
		errno = 0;
		ll = strtoll(v, &end, 10);
		if (*end != '\0' || errno != 0 || isspace((unsigned char)*v)) {
			snprintf(msg, msglen, "\"%.64s\" is not an integer", v);
			return SL_EINVAL;
		}
		if (ll < kd->min || ll > kd->max) {
			snprintf(msg, msglen, "%lld is out of range %.0f..%.0f",
			    ll, kd->min, kd->max);
			return SL_EINVAL;
		}
		i = (int)ll;
		memcpy(field, &i, sizeof(i));
		return 0;
	case KT_SIZE:
		if (config_parse_size(v, &u) != 0) {
			snprintf(msg, msglen,
			    "\"%.64s\" is not a size (use K, M, G)", v);
			return SL_EINVAL;
		}
		if (u < kd->min || u > kd->max) {
			snprintf(msg, msglen, "%.64s is out of range %s..%s", v,
			    size_text(kd->min, a, sizeof(a)),
			    size_text(kd->max, b, sizeof(b)));
			return SL_EINVAL;
		}
		u32 = (uint32_t)u;
		memcpy(field, &u32, sizeof(u32));
		return 0;
	case KT_DUR:
		if (config_parse_duration(v, &d) != 0) {
			snprintf(msg, msglen,
			    "\"%.64s\" is not a duration (use ms, s, m, h)", v);
			return SL_EINVAL;
		}
		if (d < kd->min || d > kd->max) {
			snprintf(msg, msglen, "%.64s is out of range %gs..%gs",
			    v, kd->min, kd->max);
			return SL_EINVAL;
		}
		memcpy(field, &d, sizeof(d));
		return 0;
	case KT_MODE:
		/* Octal permission bits, as chmod takes them: "0644" or "644". */
		errno = 0;
		ll = strtoll(v, &end, 8);
		if (*end != '\0' || errno != 0 || !isdigit((unsigned char)*v)) {
			snprintf(msg, msglen, "\"%.64s\" is not an octal mode such as 0644", v);
			return SL_EINVAL;
		}
		if (ll < kd->min || ll > kd->max) {
			snprintf(msg, msglen, "%s: only the permission bits 0..0777 are "
			    "allowed", v);
			return SL_EINVAL;
		}
		i = (int)ll;
		memcpy(field, &i, sizeof(i));
		return 0;
	case KT_ENUM:
		for (i = 0; kd->ev[i].name != NULL; i++)
			if (strcmp(kd->ev[i].name, v) == 0) {
				memcpy(field, &kd->ev[i].val, sizeof(int));
				return 0;
			}
		len = snprintf(msg, msglen, "\"%.64s\" is not one of ", v);
		for (i = 0; kd->ev[i].name != NULL && len > 0 &&
		    (size_t)len < msglen; i++)
			len += snprintf(msg + len, msglen - (size_t)len, "%s%s",
			    i ? "|" : "", kd->ev[i].name);
		return SL_EINVAL;
	}
	snprintf(msg, msglen, "bad table entry");
	return SL_EINVAL;
}

/* Strip leading and trailing white space in place. */
static char *
trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * The value of a key line, found the way inih finds it: after the first
 * '=' or ':', up to an inline ';' comment that follows white space.  Used
 * when inih only saw the first part of a long line.
 */
static char *
raw_value(char *line)
{
	char	*s, *e;

	s = strpbrk(line, "=:");
	if (s == NULL)
		return line + strlen(line);
	s++;
	for (e = s; *e != '\0'; e++)
		if (*e == ';' && e > s && isspace((unsigned char)e[-1])) {
			*e = '\0';
			break;
		}
	return trim(s);
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct pctx		*p = user;
	const struct keydef	*kd;
	char			 msg[512];
	size_t			 idx;
	const char		*v = value;

	p->handled = 1;
	if (*section == '\0') {
		errf(p, p->lineno, NULL, NULL,
		    "%s: key outside any section", name);
		return 1;
	}
	if (find_sect(section) < 0)
		return 1;	/* reported at the section header */
	kd = find_key(section, name, &idx);
	if (kd == NULL) {
		errf(p, p->lineno, section, name, "unknown key");
		return 1;
	}
	if (p->keyline[idx] != 0) {
		errf(p, p->lineno, section, name,
		    "duplicate key (first set on line %d)", p->keyline[idx]);
		return 1;
	}
	p->keyline[idx] = p->lineno;
	if (p->truncated)
		v = raw_value(p->raw);
	if (set_value(p->c, kd, v, msg, sizeof(msg)) != 0)
		errf(p, p->lineno, section, name, "%s", msg);
	return 1;
}

/* inih found nothing to call the handler with on a key line. */
static void
check_unhandled(struct pctx *p)
{
	if (p->kind == LK_KEY && !p->handled)
		errf(p, p->lineno, NULL, NULL,
		    "syntax error: expected \"key = value\"");
}

/* Note a section header line; s is the trimmed line, starting with '['. */
static void
note_section(struct pctx *p, char *s)
{
	char	*e;
	int	 i;

	e = strchr(s, ']');
	if (e == NULL) {
		errf(p, p->lineno, NULL, NULL,
		    "syntax error: section header without ']'");
		return;
	}
	*e = '\0';
	i = find_sect(s + 1);
	if (i < 0) {
		errf(p, p->lineno, s + 1, NULL, "unknown section");
		return;
	}
	if (p->sectline[i] == 0)
		p->sectline[i] = p->lineno;
}

/*
 * fgets-style reader for ini_parse_stream: reads one whole line, notes
 * what kind it is, and hands inih at most num - 2 bytes of it.
 */
static char *
reader(char *str, int num, void *stream)
{
	struct pctx	*p = stream;
	char		*s, *copy;
	ssize_t		 n;
	size_t		 give;

	check_unhandled(p);
	p->handled = 0;
	p->truncated = 0;
	p->kind = LK_BLANK;
	n = getline(&p->raw, &p->rawcap, p->f);
	if (n < 0)
		return NULL;
	p->lineno++;
	while (n > 0 && (p->raw[n - 1] == '\n' || p->raw[n - 1] == '\r'))
		p->raw[--n] = '\0';
	p->rawlen = (size_t)n;
	s = p->raw;
	if (p->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (isspace((unsigned char)*s))
		s++;
	if (p->rawlen > CFG_MAX_LINE) {
		errf(p, p->lineno, NULL, NULL,
		    "line too long (more than %d bytes)", CFG_MAX_LINE);
		snprintf(str, (size_t)num, "\n");
		return str;
	}
	if (*s == '[') {
		p->kind = LK_SECT;
		copy = strdup(s);
		if (copy != NULL) {
			note_section(p, copy);
			free(copy);
		}
	} else if (*s != '\0' && *s != ';' && *s != '#')
		p->kind = LK_KEY;

	give = p->rawlen;
	if (give > (size_t)num - 2) {
		give = (size_t)num - 2;
		p->truncated = 1;
	}
	memcpy(str, p->raw, give);
	str[give] = '\n';
	str[give + 1] = '\0';
	return str;
}

/* "host:port" or "[v6]:port"; the host goes to host (may be NULL). */
static int
check_hostport(const char *s, char *host, size_t hostlen, char *msg,
    size_t msglen)
{
	const char	*h, *he, *colon, *e;
	long		 port;

	if (*s == '[') {
		h = s + 1;
		he = strchr(h, ']');
		if (he == NULL || he[1] != ':') {
			snprintf(msg, msglen, "\"%s\" is not [address]:port", s);
			return SL_EINVAL;
		}
		colon = he + 1;
	} else {
		h = s;
		colon = strrchr(s, ':');
		if (colon == NULL) {
			snprintf(msg, msglen, "\"%s\" is not host:port", s);
			return SL_EINVAL;
		}
		he = colon;
		if (memchr(h, ':', (size_t)(he - h)) != NULL) {
			snprintf(msg, msglen,
			    "\"%s\": put an IPv6 address in brackets, [addr]:port", s);
			return SL_EINVAL;
		}
	}
	if (he == h) {
		snprintf(msg, msglen, "\"%s\": empty host", s);
		return SL_EINVAL;
	}
	errno = 0;
	port = strtol(colon + 1, (char **)&e, 10);
	if (!isdigit((unsigned char)colon[1]) || *e != '\0' || errno != 0 ||
	    port < 1 || port > 65535) {
		snprintf(msg, msglen, "\"%s\": port must be 1..65535", s);
		return SL_EINVAL;
	}
	if (host != NULL) {
		if ((size_t)(he - h) >= hostlen) {
			snprintf(msg, msglen, "\"%s\": host too long", s);
			return SL_EINVAL;
		}
		memcpy(host, h, (size_t)(he - h));
		host[he - h] = '\0';
	}
	return 0;
}

static int
keyline(struct pctx *p, const char *sect, const char *key)
{
	size_t	 idx;

	if (find_key(sect, key, &idx) == NULL)
		return 0;
	return p->keyline[idx];
}

/* A readable regular file; fills st. */
static int
check_file(struct pctx *p, const char *sect, const char *key, const char *path,
    struct stat *st)
{
	int	 fd, line = keyline(p, sect, key);

	/* O_NONBLOCK: a FIFO named here must not hang start-up. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1) {
		errf(p, line, sect, key, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode)) {
		errf(p, line, sect, key, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Read a secret file: a regular file, private (no group or other bits),
 * 16..SECRET_MAX bytes after one trailing newline (and CR).  0 with
 * out/len filled, or -1 with msg naming the file and what is wrong
 * (enoent set when it does not exist).  nofollow: refuse a symlink as
 * the last component (an agent's file in agent_secrets).
 */
static int
read_secret(const char *path, int nofollow, uint8_t *out, size_t outlen,
    size_t *lenp, int *enoent, char *msg, size_t msglen)
{
	struct stat	 st;
	uint8_t		 buf[SECRET_MAX + 3];
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd, rc = -1;

	*enoent = 0;
	/* O_NONBLOCK: a FIFO named here must not hang start-up. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY |
	    (nofollow ? O_NOFOLLOW : 0));
	if (fd == -1) {
		*enoent = errno == ENOENT;
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(msg, msglen, "%s: not a regular file", path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(msg, msglen, "%s: readable by others (chmod 600)", path);
		goto out;
	}
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(msg, msglen, "read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len < SECRET_MIN)
		snprintf(msg, msglen, "%s: secret is %zu bytes, at least %d needed",
		    path, len, SECRET_MIN);
	else if (len > SECRET_MAX || len > outlen)
		snprintf(msg, msglen, "%s: secret is longer than %zu bytes", path,
		    SECRET_MAX);
	else {
		memcpy(out, buf, len);
		*lenp = len;
		rc = 0;
	}
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

/* Read the shared secret: private, 16..256 bytes after one newline. */
static void
load_secret(struct pctx *p)
{
	struct config	*c = p->c;
	char		 msg[4096 + 128];
	int		 enoent;

	if (read_secret(c->secret_file, 0, c->secret, sizeof(c->secret), &c->secret_len,
	    &enoent, msg, sizeof(msg)) != 0)
		errf(p, keyline(p, "tls", "secret_file"), "tls", "secret_file", "%s", msg);
}

static int
valid_id(const char *s)
{
	size_t	 n = strlen(s);

	if (n == 0 || n > SL_MAX_ID)
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") == n;
}

/* An agent id that may name a file in agent_secrets (and a directory
 * under the sink's root): a valid id not starting with '.'. */
static int
file_id(const char *s)
{
	return valid_id(s) && s[0] != '.';
}

int
config_agent_secret(const struct config *c, const char *id, uint8_t *out,
    size_t outlen, size_t *len, char *err, size_t errlen)
{
	char	path[sizeof(c->agent_secrets) + SL_MAX_ID + 2];
	int	enoent;

	if (c->agent_secrets[0] == '\0' || !file_id(id)) {
		snprintf(err, errlen, "no secret for agent \"%.64s\"", id);
		return SL_ENOTFOUND;
	}
	snprintf(path, sizeof(path), "%s/%s", c->agent_secrets, id);
	if (read_secret(path, 1, out, outlen, len, &enoent, err, errlen) != 0)
		return enoent ? SL_ENOTFOUND : SL_EINVAL;
	return SL_OK;
}

/* [tls] agent_secrets: a directory of <agent id> files, each a secret.
 * Checked in full at start-up (sluiced -n says what is wrong); read again
 * at each HELLO. */
static void
validate_agent_secrets(struct pctx *p)
{
	struct config	*c = p->c;
	struct dirent	*de;
	struct stat	 st;
	uint8_t		 sec[SECRET_MAX];
	char		 msg[sizeof(c->agent_secrets) + 512];
	size_t		 len;
	DIR		*dir;
	int		 line = keyline(p, "tls", "agent_secrets"), n = 0;

	if (c->role != ROLE_SINK) {
		errf(p, line, "tls", "agent_secrets", "for role sink only (an agent "
		    "uses secret_file)");
		return;
	}
	if (c->tls) {
		errf(p, line, "tls", "agent_secrets", "only with mode = off (with TLS "
		    "the certificate is the identity)");
		return;
	}
	if (keyline(p, "tls", "secret_file") != 0) {
		errf(p, line, "tls", "agent_secrets", "set either secret_file (one "
		    "secret shared by every agent) or agent_secrets, not both");
		return;
	}
	if (stat(c->agent_secrets, &st) == -1) {
		errf(p, line, "tls", "agent_secrets", "%s: %s", c->agent_secrets,
		    strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		errf(p, line, "tls", "agent_secrets", "%s: not a directory",
		    c->agent_secrets);
		return;
	}
	if ((st.st_mode & 022) != 0) {
		errf(p, line, "tls", "agent_secrets", "%s: writable by others "
		    "(chmod 700)", c->agent_secrets);
		return;
	}
	if ((dir = opendir(c->agent_secrets)) == NULL) {
		errf(p, line, "tls", "agent_secrets", "%s: %s", c->agent_secrets,
		    strerror(errno));
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (!file_id(de->d_name)) {
			errf(p, line, "tls", "agent_secrets", "%s/%s: not an agent id "
			    "(1..%d of A-Z a-z 0-9 . _ -)", c->agent_secrets, de->d_name,
			    SL_MAX_ID);
			continue;
		}
		if (config_agent_secret(c, de->d_name, sec, sizeof(sec), &len, msg,
		    sizeof(msg)) != SL_OK)
			errf(p, line, "tls", "agent_secrets", "%s", msg);
		else
			n++;
	}
	closedir(dir);
	explicit_bzero(sec, sizeof(sec));
	if (n == 0)
		errf(p, line, "tls", "agent_secrets", "%s: no agent secret in it "
		    "(one file per agent, named by its id)", c->agent_secrets);
}

static const char *
req_text(enum kreq r)
{
	switch (r) {
	case RQ_AGENT:	return "required for role agent";
	case RQ_SINK:	return "required for role sink";
	case RQ_TLS_ON:	return "required when [tls] mode = on";
	case RQ_TLS_OFF: return "required when [tls] mode = off";
	default:	return "required";
	}
}

/* After the whole file: required keys, computed defaults, cross checks. */
/* [agent] destination: a comma-separated list of host:port, primary
 * first; at most CFG_MAX_DESTS. */
static void
validate_destinations(struct pctx *p, int line)
{
	struct config	*c = p->c;
	char		 list[sizeof(c->destination)], *tok, *save = NULL;
	char		 host[256], msg[512];
	int		 n = 0;

	snprintf(list, sizeof(list), "%s", c->destination);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		tok[strcspn(tok, " \t")] = '\0';
		if (++n > CFG_MAX_DESTS) {
			errf(p, line, "agent", "destination", "more than %d destinations",
			    CFG_MAX_DESTS);
			return;
		}
		if (check_hostport(tok, host, sizeof(host), msg, sizeof(msg)) != 0)
			errf(p, line, "agent", "destination", "%s", msg);
		else if (n == 1 && keyline(p, "agent", "server_name") == 0)
			snprintf(c->server_name, sizeof(c->server_name), "%s", host);
	}
	if (n == 0)
		errf(p, line, "agent", "destination", "empty list");
}

/* [hook]: what each kind needs, and the files it reads. */
static void
validate_hook(struct pctx *p)
{
	struct config	*c = p->c;
	struct stat	 st;
	int		 fd;

	if (c->hook_kind == HOOK_NONE)
		return;
	/* [job] alone may use the connection: no completion hook then. */
	if (c->hook_command[0] == '\0' && c->job_listen[0] == '\0')
		errf(p, 0, "hook", "command", "missing (required when kind is not none)");
	if (c->hook_state_dir[0] == '\0')
		errf(p, keyline(p, "hook", "state_dir"), "hook", "state_dir",
		    "empty (a directory at the remote, or none to run without the fence)");
	if (c->hook_kind != HOOK_SSH)
		return;
	if (c->hook_host[0] == '\0')
		errf(p, 0, "hook", "host", "missing (required for kind ssh)");
	if (c->hook_user[0] == '\0')
		errf(p, 0, "hook", "user", "missing (required for kind ssh)");
	if (c->hook_key[0] == '\0')
		errf(p, 0, "hook", "key", "missing (required for kind ssh)");
	else if ((fd = check_file(p, "hook", "key", c->hook_key, &st)) != -1)
		close(fd);
	if (c->hook_known_hosts[0] == '\0')
		errf(p, 0, "hook", "known_hosts", "missing (required for kind ssh: "
		    "host keys are always verified)");
	else if ((fd = check_file(p, "hook", "known_hosts", c->hook_known_hosts, &st)) != -1)
		close(fd);
}

/* [job]: route job needs a listener, credentials, a receiver CN, a
 * submission template and [hook]'s connection to run it over. */
static void
validate_job(struct pctx *p)
{
	struct config	*c = p->c;
	struct stat	 st;
	char		 msg[512], host[256];
	int		 fd;

	if (c->job_listen[0] == '\0') {
		if (c->job_submit[0] != '\0')
			errf(p, keyline(p, "job", "submit"), "job", "submit",
			    "set but pull_listen is not (route job is off without it)");
		return;
	}
	if (check_hostport(c->job_listen, host, sizeof(host), msg, sizeof(msg)) != 0)
		errf(p, keyline(p, "job", "pull_listen"), "job", "pull_listen", "%s", msg);
	if (c->job_ca[0] == '\0')
		snprintf(c->job_ca, sizeof(c->job_ca), "%s", c->ca);
	if (c->job_cert[0] == '\0')
		snprintf(c->job_cert, sizeof(c->job_cert), "%s", c->cert);
	if (c->job_key[0] == '\0')
		snprintf(c->job_key, sizeof(c->job_key), "%s", c->key);
	if (c->job_ca[0] == '\0' || c->job_cert[0] == '\0' || c->job_key[0] == '\0')
		errf(p, keyline(p, "job", "pull_listen"), "job", "pull_listen",
		    "pull sessions are mutual TLS: set [job] ca, cert and key (or [tls] ones)");
	if (c->job_ca[0] && (fd = check_file(p, "job", "ca", c->job_ca, &st)) != -1)
		close(fd);
	if (c->job_cert[0] && (fd = check_file(p, "job", "cert", c->job_cert, &st)) != -1)
		close(fd);
	if (c->job_key[0] && (fd = check_file(p, "job", "key", c->job_key, &st)) != -1)
		close(fd);
	if (c->job_peer_cn[0] == '\0')
		errf(p, 0, "job", "peer_cn", "missing (required with pull_listen: the CN "
		    "every receiver's certificate must carry)");
	if (c->job_submit[0] == '\0')
		errf(p, 0, "job", "submit", "missing (required with pull_listen: the "
		    "template that submits the job, e.g. sbatch --parsable ...)");
	if (c->hook_kind == HOOK_NONE)
		errf(p, keyline(p, "job", "pull_listen"), "job", "pull_listen",
		    "route job submits over [hook]'s connection: set [hook] kind = ssh "
		    "(or exec)");
}

static void
validate(struct pctx *p)
{
	struct config	*c = p->c;
	struct stat	 st;
	char		 msg[512], host[256];
	size_t		 i;
	int		 fd, n, need, line;

	/* sections of the other role */
	for (i = 0; i < config_nsects; i++)
		if (c->role != 0 && config_sects[i].role != 0 &&
		    config_sects[i].role != c->role && p->sectline[i] != 0)
			errf(p, p->sectline[i], config_sects[i].name, NULL,
			    "section [%s] is for role %s", config_sects[i].name,
			    role_name(config_sects[i].role));

	/* missing keys */
	for (i = 0; i < config_nkeys; i++) {
		switch (config_keys[i].req) {
		case RQ_NO:	need = 0; break;
		case RQ_ALWAYS:	need = 1; break;
		case RQ_AGENT:	need = c->role == ROLE_AGENT; break;
		case RQ_SINK:	need = c->role == ROLE_SINK; break;
		case RQ_TLS_ON:	need = c->tls == 1; break;
		case RQ_TLS_OFF: need = c->tls == 0 && !(c->role == ROLE_SINK &&
		    keyline(p, "tls", "agent_secrets") != 0); break;
		default:	need = 0; break;
		}
		if (need && p->keyline[i] == 0)
			errf(p, 0, config_keys[i].sect, config_keys[i].key, "missing (%s)",
			    req_text(config_keys[i].req));
	}

	/* [daemon] */
	line = keyline(p, "daemon", "id");
	if (line == 0) {
		if (gethostname(host, sizeof(host)) == -1)
			errf(p, 0, "daemon", "id", "gethostname: %s; set id",
			    strerror(errno));
		else {
			host[sizeof(host) - 1] = '\0';
			if (!valid_id(host))
				errf(p, 0, "daemon", "id", "hostname \"%s\" is "
				    "not a valid id (1..%d of A-Z a-z 0-9 . _ -); "
				    "set id", host, SL_MAX_ID);
			else {
				/* "<host>-agent", "<host>-sink": an agent and a
				 * sink on one host must not show the same name */
				n = snprintf(c->id, sizeof(c->id), "%s-%s", host,
				    c->role == ROLE_SINK ? "sink" : "agent");
				if (n < 0 || n > SL_MAX_ID || (size_t)n >= sizeof(c->id))
					snprintf(c->id, sizeof(c->id), "%s", host);
			}
		}
	} else if (c->id[0] != '\0' && !valid_id(c->id))
		errf(p, line, "daemon", "id", "\"%s\" is not 1..%d of "
		    "A-Z a-z 0-9 . _ -", c->id, SL_MAX_ID);
	if (keyline(p, "daemon", "control") == 0 && c->journal[0] != '\0') {
		n = snprintf(c->control, sizeof(c->control), "%s/control.sock",
		    c->journal);
		if (n < 0 || (size_t)n >= sizeof(c->control)) {
			errf(p, 0, "daemon", "control", "the default, "
			    "<journal>/control.sock, is %d bytes, more than a "
			    "unix socket path holds (%zu); set control", n,
			    sizeof(c->control) - 1);
			c->control[0] = '\0';
		}
	}

	/* [tls] */
	if (c->tls == 1) {
		if (c->ca[0] != '\0' && (fd = check_file(p, "tls", "ca", c->ca, &st)) != -1)
			close(fd);
		if (c->cert[0] != '\0' &&
		    (fd = check_file(p, "tls", "cert", c->cert, &st)) != -1)
			close(fd);
		if (c->key[0] != '\0' && (fd = check_file(p, "tls", "key", c->key, &st)) != -1)
			close(fd);
	} else if (c->secret_file[0] != '\0')
		load_secret(p);
	if (keyline(p, "tls", "agent_secrets") != 0)
		validate_agent_secrets(p);

	if (c->role == ROLE_SINK) {
		line = keyline(p, "sink", "listen");
		if (line != 0 && c->listen[0] != '\0' &&
		    check_hostport(c->listen, NULL, 0, msg, sizeof(msg)) != 0)
			errf(p, line, "sink", "listen", "%s", msg);
		line = keyline(p, "sink", "root");
		if (line != 0 && c->root[0] != '\0') {
			if (stat(c->root, &st) == -1)
				errf(p, line, "sink", "root", "%s: %s", c->root,
				    strerror(errno));
			else if (!S_ISDIR(st.st_mode))
				errf(p, line, "sink", "root",
				    "%s: not a directory", c->root);
		}
	}
	if (c->role == ROLE_AGENT) {
		line = keyline(p, "agent", "destination");
		if (line != 0 && c->destination[0] != '\0')
			validate_destinations(p, line);
		if (c->retention == RET_MOVE && c->retention_dir[0] == '\0')
			errf(p, keyline(p, "agent", "retention"), "agent", "retention_dir",
			    "missing (required when retention = move)");
		if (c->spool_high < c->spool_warn)
			errf(p, keyline(p, "agent", "spool_high"), "agent", "spool_high",
			    "%d%% is below spool_warn %d%%", c->spool_high, c->spool_warn);
		if (c->reconnect_max < c->reconnect_min) {
			line = keyline(p, "agent", "reconnect_max");
			if (line == 0)
				line = keyline(p, "agent", "reconnect_min");
			errf(p, line, "agent", "reconnect_max", "%gs is less "
			    "than reconnect_min %gs", c->reconnect_max,
			    c->reconnect_min);
		}
		validate_hook(p);
		validate_job(p);
	}
	line = keyline(p, "daemon", "metrics");
	if (line != 0 && c->metrics[0] != '\0' &&
	    check_hostport(c->metrics, NULL, 0, msg, sizeof(msg)) != 0)
		errf(p, line, "daemon", "metrics", "%s", msg);
}

int
config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	struct pctx	 p;
	char		 msg[512];
	size_t		 i;
	int		 rc;

	memset(c, 0, sizeof(*c));
	memset(&p, 0, sizeof(p));
	p.c = c;
	p.file = path;
	p.err = err;
	p.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';

	for (i = 0; i < config_nkeys; i++)
		if (config_keys[i].def != NULL &&
		    set_value(c, &config_keys[i], config_keys[i].def, msg, sizeof(msg)) != 0)
			errf(&p, 0, config_keys[i].sect, config_keys[i].key,
			    "bad default \"%s\": %s", config_keys[i].def, msg);

	if (strlen(path) >= sizeof(c->path)) {
		errf(&p, 0, NULL, NULL, "path too long");
		return SL_EINVAL;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	p.f = fopen(path, "re");
	if (p.f == NULL) {
		errf(&p, 0, NULL, NULL, "%s", strerror(errno));
		return SL_EINVAL;
	}
	/* process-wide inih options; config_load runs once, at start-up */
	ini_allow_multiline = false;
	ini_stop_on_first_error = false;
	rc = ini_parse_stream(reader, &p, handler, &p);
	check_unhandled(&p);
	if (ferror(p.f))
		errf(&p, p.lineno, NULL, NULL, "read: %s", strerror(errno));
	else if (rc > 0 && p.nerr == 0)
		errf(&p, rc, NULL, NULL, "syntax error");
	else if (rc < 0)
		errf(&p, 0, NULL, NULL, "out of memory");
	fclose(p.f);
	free(p.raw);

	/* runs even after parse errors, to report missing keys too */
	validate(&p);
	if (p.nerr > 0) {
		explicit_bzero(c->secret, sizeof(c->secret));
		c->secret_len = 0;
		return SL_EINVAL;
	}
	return 0;
}
