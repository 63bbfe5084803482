/*
 * log.h: one line per event (agent/base/log.c), to stderr, which journald
 * captures.  Format:  "LEVEL component key=value ...".  Values with spaces
 * or quotes are quoted by log_q().  The level is checked before arguments
 * are formatted; nothing secret is ever passed in (STYLE 14).
 *
 * log_* may be called from any thread (one write(2) per line).
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

enum log_level { LOG_ERR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

void	log_init(int level, int timestamps);	/* timestamps: prefix ISO time */
int	log_level_parse(const char *s);		/* -1 if unknown */
int	log_enabled(int level);

/* fmt continues the line after "LEVEL component ".  log_warn appends
 * " error=\"strerror(errno)\"", log_warnx does not. */
void	log_msg(int level, const char *comp, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	log_warn(const char *comp, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
#define log_err(c, ...)		do { if (log_enabled(LOG_ERR)) log_msg(LOG_ERR, c, __VA_ARGS__); } while (0)
#define log_warnx(c, ...)	do { if (log_enabled(LOG_WARN)) log_msg(LOG_WARN, c, __VA_ARGS__); } while (0)
#define log_info(c, ...)	do { if (log_enabled(LOG_INFO)) log_msg(LOG_INFO, c, __VA_ARGS__); } while (0)
#define log_debug(c, ...)	do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, c, __VA_ARGS__); } while (0)

/* Quote a value for a key=value field: returned pointer is into one of a
 * few rotating thread-local buffers (valid for the current log call). */
const char *log_q(const char *s);

/* Print to stderr and exit(1): start-up errors and broken invariants only. */
void	fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
