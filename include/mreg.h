/*
 * mreg.h: the metrics registry (agent/base/mreg.c), the seam between the
 * roles that own the numbers and the daemon that serves them.
 *
 * A role registers one collector at start and removes it at stop; the
 * daemon's HTTP exposition (metrics.h) calls mreg_render once per scrape,
 * which asks every registered collector, in registration order, to append
 * its families in the Prometheus text format with mreg_family and
 * mreg_sample.  So a role never sees the HTTP server and the daemon never
 * knows which numbers a role has.
 *
 * Threads: the loop thread only (the registry is a small process-wide
 * table, like the log level: one daemon, one loop).
 */
#ifndef MREG_H
#define MREG_H

#include "wire.h"

#define MREG_MAX	8		/* collectors at once */

typedef void (*mreg_collect_fn)(void *arg, struct wbuf *out);

/* Add fn(arg) to the collectors.  SL_EEXIST if (fn, arg) is already
 * registered, SL_ETOOBIG past MREG_MAX. */
int	mreg_register(mreg_collect_fn fn, void *arg);
/* Remove fn(arg); unknown pairs are ignored.  Never call from a collector. */
void	mreg_unregister(mreg_collect_fn fn, void *arg);
/* Append every collector's text to out (a metrics_render_fn; arg unused). */
void	mreg_render(void *arg, struct wbuf *out);

/* For collectors.  mreg_family appends "# HELP name help" and "# TYPE name
 * type" (type: counter, gauge, ...).  mreg_sample appends "name{labels}
 * value"; labels is the text inside the braces ('dest="a",state="queued"',
 * caller escapes it) or NULL / "" for none.  Integral values print
 * without a fraction, NaN and infinities as Prometheus spells them.  An
 * append that does not fit in out is dropped (out's cap). */
void	mreg_family(struct wbuf *out, const char *name, const char *type,
	    const char *help);
void	mreg_sample(struct wbuf *out, const char *name, const char *labels,
	    double value);

#endif
