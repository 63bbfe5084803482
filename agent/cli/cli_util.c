/*
 * cli_util.c: what every sluice command stands on.  The daemon's config,
 * loaded once by main and read-only after; the journal opened read-only
 * for no longer than one look takes (a read txn held open pins LMDB pages
 * and grows the map while the daemon writes); and the one way sizes,
 * durations, states and names are printed, so that status, ls, show,
 * watch and verify say them alike.  It calls nothing above it in the room.
 *
 * A name may hold any byte but '/' and NUL (pathchk.h): printed, a
 * newline in it must not split an output line, nor a byte that is not
 * UTF-8 break a terminal or a JSON document, so names go through cli_esc
 * (text) and cli_json_str (JSON).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "config.h"
#include "journal.h"
#include "pathchk.h"
#include "sltime.h"

#define ESC_BUFS	4
#define ESC_SIZE	(4 * SL_MAX_PATH + 64)

struct config		cli_cfg;
const char	       *cli_cfg_path;

double
cli_now(void)
{
	return sl_time_wall();
}

void
cli_load_config(const char *path)
{
	char err[8192];

	if (config_load(&cli_cfg, path, err, sizeof(err)) != SL_OK) {
		fprintf(stderr, "%s", err);
		if (err[0] && err[strlen(err) - 1] != '\n')
			fputc('\n', stderr);
		exit(SL_EXIT_USAGE);
	}
}

struct journal *
cli_open_journal(int quiet_missing)
{
	struct journal	*j;
	char		 err[1024];
	int		 rc;

	rc = journal_open(&j, cli_cfg.journal, cli_cfg.role == ROLE_AGENT ?
	    JOURNAL_AGENT : JOURNAL_SINK, JOURNAL_RDONLY, 0, err, sizeof(err));
	if (rc == SL_ENOTFOUND && quiet_missing)
		return NULL;
	if (rc != SL_OK) {
		fprintf(stderr, "sluice: %s\n", err);
		exit(SL_EXIT_FAIL);
	}
	return j;
}

int
cli_ds_foreach(int quiet_missing, int (*fn)(const struct ds_rec *, void *), void *arg)
{
	struct journal	*j;

	j = cli_open_journal(quiet_missing);
	if (j == NULL)
		return -1;
	journal_ds_foreach(j, fn, arg);
	journal_close(j);
	return 0;
}

int
cli_ds_lookup(const char *name_or_id, struct ds_rec *d)
{
	struct journal	*j;
	int		 rc;

	memset(d, 0, sizeof(*d));
	j = cli_open_journal(1);
	if (j == NULL)
		return SL_ENOTFOUND;
	rc = journal_ds_find(j, name_or_id, d);
	journal_close(j);
	return rc;
}

const char *
cli_bytes(uint64_t b, char *buf, size_t len)
{
	const char	*u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double		 v = (double)b;
	int		 i = 0;

	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
	return buf;
}

const char *
cli_state_name(int state)
{
	return cli_cfg.role == ROLE_AGENT ? ds_state_name(state) :
	    sds_state_name(state);
}

const char *
cli_duration(double s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, len, "%.0fs", s);
	else if (s < 7200)
		snprintf(buf, len, "%.0fm", s / 60);
	else
		snprintf(buf, len, "%.1fh", s / 3600);
	return buf;
}

/* Escape s into b (ESC_SIZE bytes); 1 if anything was escaped. */
static int
esc_into(const char *s, char *b)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 o = 0, left = strlen(s), n;
	int			 any = 0;
	char			 c2;

	for (; *p != '\0' && o < ESC_SIZE - 8; p += n, left -= n) {
		n = 1;
		switch (*p) {
		case '\\':	c2 = '\\'; break;
		case '\n':	c2 = 'n'; break;
		case '\r':	c2 = 'r'; break;
		case '\t':	c2 = 't'; break;
		default:	c2 = 0;
		}
		if (c2 != 0) {
			b[o++] = '\\';
			b[o++] = c2;
			any = 1;
			continue;
		}
		if (*p >= 0x80)
			n = pathchk_utf8_len(p, left);
		if (n == 0 || *p < 0x20 || *p == 0x7f) {
			n = 1;
			b[o++] = '\\';
			b[o++] = 'x';
			b[o++] = hex[*p >> 4];
			b[o++] = hex[*p & 0xf];
			any = 1;
			continue;
		}
		memcpy(b + o, p, n);
		o += n;
	}
	b[o] = '\0';
	return any;
}

const char *
cli_esc(const char *s)
{
	static char	 bufs[ESC_BUFS][ESC_SIZE];
	static unsigned	 next;
	char		*b = bufs[next++ % ESC_BUFS];

	if (s == NULL)
		return "(null)";
	esc_into(s, b);
	return b;
}

json_t *
cli_json_str(const char *s)
{
	static char	 b[ESC_SIZE];
	json_t		*j;

	if (s == NULL)
		return json_null();
	/* jansson takes valid UTF-8 only (and escapes control bytes
	 * itself); anything else goes as escaped text */
	j = json_string(s);
	if (j != NULL)
		return j;
	esc_into(s, b);
	return json_string(b);
}
