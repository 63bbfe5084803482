/*
 * mreg.c: the metrics registry (mreg.h).
 *
 * A fixed table of (collector, arg) pairs: two roles exist and each
 * registers one, so a table of MREG_MAX beats a list.  Rendering walks the
 * table in order; the text helpers format one sample the way the
 * Prometheus text format wants it (integers exact, NaN/+Inf/-Inf spelled
 * out) and drop what does not fit in the buffer's cap rather than grow.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "mreg.h"
#include "sluice.h"

static struct {
	mreg_collect_fn	 fn;
	void		*arg;
} collectors[MREG_MAX];
static int	ncollectors;

int
mreg_register(mreg_collect_fn fn, void *arg)
{
	for (int i = 0; i < ncollectors; i++)
		if (collectors[i].fn == fn && collectors[i].arg == arg)
			return SL_EEXIST;
	if (ncollectors == MREG_MAX)
		return SL_ETOOBIG;
	collectors[ncollectors].fn = fn;
	collectors[ncollectors].arg = arg;
	ncollectors++;
	return SL_OK;
}

void
mreg_unregister(mreg_collect_fn fn, void *arg)
{
	for (int i = 0; i < ncollectors; i++) {
		if (collectors[i].fn != fn || collectors[i].arg != arg)
			continue;
		for (int k = i + 1; k < ncollectors; k++)
			collectors[k - 1] = collectors[k];
		ncollectors--;
		return;
	}
}

void
mreg_render(void *arg, struct wbuf *out)
{
	(void)arg;
	for (int i = 0; i < ncollectors; i++)
		collectors[i].fn(collectors[i].arg, out);
}

static void
appendf(struct wbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
appendf(struct wbuf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || wbuf_reserve(b, (size_t)n + 1) != SL_OK)
		return;		/* past the cap: dropped */
	va_start(ap, fmt);
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
mreg_family(struct wbuf *b, const char *name, const char *type, const char *help)
{
	appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
mreg_sample(struct wbuf *b, const char *name, const char *labels, double value)
{
	char	v[64];

	if (isnan(value))
		snprintf(v, sizeof(v), "NaN");
	else if (isinf(value))
		snprintf(v, sizeof(v), value > 0 ? "+Inf" : "-Inf");
	else if (value == (double)(long long)value && value < 1e15 && value > -1e15)
		snprintf(v, sizeof(v), "%lld", (long long)value);
	else
		snprintf(v, sizeof(v), "%.17g", value);
	if (labels != NULL && labels[0] != '\0')
		appendf(b, "%s{%s} %s\n", name, labels, v);
	else
		appendf(b, "%s %s\n", name, v);
}
