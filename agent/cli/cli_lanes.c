/*
 * cli_lanes.c: the agent's lanes as `sluice status` and `watch` show them.
 *
 * The daemon's ping reply carries one line per lane ("lane=live share=80
 * in_flight=2 waiting=3 waiting_bytes=... oldest_waiting=EPOCH
 * sent_bytes=... published=... max_in_flight=4") and one per dataset on
 * the wire ("flight=ID lane=live"); send_ops.c writes them.  Only the
 * daemon knows what is in flight and which lane a dataset given none is
 * in now, so these are read, not recomputed from the journal.  A daemon
 * from before lanes sends no such lines: nothing is shown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

/* The value of key in the one line at l (values here hold no spaces). */
static int
kv(const char *l, const char *key, char *out, size_t outlen)
{
	size_t		 k = strlen(key), n;
	const char	*p = l, *e = strchr(l, '\n');

	if (e == NULL)
		e = l + strlen(l);
	while (p < e) {
		if ((p == l || p[-1] == ' ') && strncmp(p, key, k) == 0 && p[k] == '=') {
			p += k + 1;
			n = strcspn(p, " \n");
			if (n >= outlen)
				n = outlen - 1;
			memcpy(out, p, n);
			out[n] = '\0';
			return 0;
		}
		p++;
	}
	out[0] = '\0';
	return -1;
}

static double
kvnum(const char *l, const char *key)
{
	char v[64];

	return kv(l, key, v, sizeof(v)) == 0 ? strtod(v, NULL) : 0;
}

/* The next line of text starting with prefix, from *pos on. */
static const char *
next_line(const char **pos, const char *prefix)
{
	const char	*l = *pos, *e;
	size_t		 n = strlen(prefix);

	while (l && *l) {
		e = strchr(l, '\n');
		*pos = e ? e + 1 : NULL;
		if (strncmp(l, prefix, n) == 0)
			return l;
		l = *pos;
	}
	return NULL;
}

void
cli_lanes_print(const char *ping)
{
	const char	*pos = ping, *l;
	char		 name[16], b1[32], b2[32], b3[32];
	double		 oldest;
	int		 first = 1;

	if (ping == NULL)
		return;
	while ((l = next_line(&pos, "lane=")) != NULL) {
		kv(l, "lane", name, sizeof(name));
		oldest = kvnum(l, "oldest_waiting");
		printf("%s %-8s %.0f in flight, %.0f waiting (%s)", first ? "lanes:   " :
		    "         ", name, kvnum(l, "in_flight"), kvnum(l, "waiting"),
		    cli_bytes((uint64_t)kvnum(l, "waiting_bytes"), b1, sizeof(b1)));
		if (oldest > 0)
			printf(", oldest waiting %s", cli_duration(cli_now() - oldest, b2,
			    sizeof(b2)));
		printf("; share %.0f%%%s; sent %s, %.0f published\n", kvnum(l, "share"),
		    strcmp(name, "backlog") == 0 ? " at least" : "",
		    cli_bytes((uint64_t)kvnum(l, "sent_bytes"), b3, sizeof(b3)),
		    kvnum(l, "published"));
		first = 0;
	}
}

void
cli_lanes_summary(const char *ping, char *out, size_t outlen)
{
	const char	*pos = ping, *l;
	char		 name[16], b[32];
	size_t		 n = 0;

	out[0] = '\0';
	while (ping && (l = next_line(&pos, "lane=")) != NULL && n < outlen) {
		kv(l, "lane", name, sizeof(name));
		n += (size_t)snprintf(out + n, outlen - n, "%s%s: %.0f in flight, %.0f "
		    "waiting (%s)", n ? "  |  " : "lanes  ", name, kvnum(l, "in_flight"),
		    kvnum(l, "waiting"), cli_bytes((uint64_t)kvnum(l, "waiting_bytes"), b,
		    sizeof(b)));
	}
}

const char *
cli_lanes_of(const char *ping, const char *id)
{
	static char	 lane[16];
	const char	*pos = ping, *l;
	char		 v[32];

	while (ping && (l = next_line(&pos, "flight=")) != NULL)
		if (kv(l, "flight", v, sizeof(v)) == 0 && strcmp(v, id) == 0) {
			kv(l, "lane", lane, sizeof(lane));
			return lane;
		}
	return NULL;
}

json_t *
cli_lanes_json(const char *ping)
{
	const char	*pos = ping, *l;
	json_t		*o, *lanes, *fl;
	char		 name[16], id[32];
	double		 oldest;

	if (ping == NULL || strstr(ping, "\nlane=") == NULL)
		return json_null();
	lanes = json_object();
	while ((l = next_line(&pos, "lane=")) != NULL) {
		kv(l, "lane", name, sizeof(name));
		oldest = kvnum(l, "oldest_waiting");
		o = json_pack("{s:I, s:I, s:I, s:I, s:o, s:I, s:I}",
		    "share_pct", (json_int_t)kvnum(l, "share"),
		    "in_flight", (json_int_t)kvnum(l, "in_flight"),
		    "waiting", (json_int_t)kvnum(l, "waiting"),
		    "waiting_bytes", (json_int_t)kvnum(l, "waiting_bytes"),
		    "oldest_waiting_age", oldest > 0 ? json_real(cli_now() - oldest) :
		    json_null(),
		    "sent_bytes", (json_int_t)kvnum(l, "sent_bytes"),
		    "published", (json_int_t)kvnum(l, "published"));
		json_object_set_new(lanes, name, o);
	}
	fl = json_array();
	pos = ping;
	while ((l = next_line(&pos, "flight=")) != NULL) {
		kv(l, "flight", id, sizeof(id));
		kv(l, "lane", name, sizeof(name));
		json_array_append_new(fl, json_pack("{s:s, s:s}", "id", id, "lane", name));
	}
	json_object_set_new(lanes, "in_flight", fl);
	pos = ping;
	if ((l = next_line(&pos, "lane=")) != NULL)
		json_object_set_new(lanes, "max_in_flight",
		    json_integer((json_int_t)kvnum(l, "max_in_flight")));
	return lanes;
}
