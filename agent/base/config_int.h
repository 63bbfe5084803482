/*
 * config_int.h: the key table behind config.c, private to agent/base.
 * config_keys.c holds the table (one line per key: section, type, when
 * required, default text, field, range, enum values); config.c parses and
 * validates with it.
 */
#ifndef CONFIG_INT_H
#define CONFIG_INT_H

#include <stddef.h>

#define CONFIG_MAX_KEYS		128	/* config_keys[] fits (static assert) */
#define CONFIG_MAX_SECTS	16

enum ktype { KT_STR, KT_INT, KT_SIZE, KT_DUR, KT_ENUM, KT_MODE };
/* When a key must be present. */
enum kreq { RQ_NO, RQ_ALWAYS, RQ_AGENT, RQ_SINK, RQ_TLS_ON, RQ_TLS_OFF };

struct enumval {
	const char	*name;
	int		 val;
};

struct keydef {
	const char	*sect, *key;
	enum ktype	 type;
	enum kreq	 req;
	const char	*def;		/* NULL: none, or computed in validate() */
	size_t		 off, size;	/* the field in struct config */
	double		 min, max;	/* KT_INT, KT_SIZE, KT_DUR (seconds) */
	const struct enumval *ev;	/* KT_ENUM, NULL-terminated */
};

/* A section, and the role it belongs to (0: any). */
struct sectdef {
	const char	*name;
	int		 role;
};

extern const struct keydef	config_keys[];
extern const size_t		config_nkeys;
extern const struct sectdef	config_sects[];
extern const size_t		config_nsects;

#endif
