/*
 * fuzz_pathchk.c: libFuzzer target for the path checks (proto/pathchk.c).
 *
 * The whole input is offered to pathchk_rel and pathchk_name.  Whatever is
 * accepted must be safe to join beneath a root: 1..SL_MAX_PATH bytes, no
 * NUL, no leading or trailing '/', no empty, "." or ".." component, each
 * component <= SL_MAX_COMPONENT bytes; a name also has no '/' and no
 * leading '.', and passes pathchk_rel.  Any other byte (control bytes,
 * bytes that are not UTF-8) is a POSIX name byte and allowed.  Conversely,
 * whatever meets those rules must be accepted (no name is refused for its
 * bytes).  A refusal must set why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "pathchk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_pathchk: %s:%d: %s\n", \
	__FILE__, __LINE__, #c); abort(); } } while (0)

/* The rules, written the other way round: 1 if p meets them. */
static int
is_safe(const char *p, size_t len)
{
	size_t	i, comp = 0, n;

	if (len < 1 || len > SL_MAX_PATH || memchr(p, '\0', len) != NULL ||
	    p[0] == '/' || p[len - 1] == '/')
		return 0;
	for (i = 0; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		n = i - comp;
		if (n < 1 || n > SL_MAX_COMPONENT || (n == 1 && p[comp] == '.') ||
		    (n == 2 && p[comp] == '.' && p[comp + 1] == '.'))
			return 0;
		comp = i + 1;
	}
	return 1;
}

static void
check_safe(const char *p, size_t len)
{
	size_t	i, comp = 0, n;

	CHECK(len >= 1 && len <= SL_MAX_PATH);
	CHECK(memchr(p, '\0', len) == NULL);
	CHECK(p[0] != '/' && p[len - 1] != '/');
	for (i = 0; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		n = i - comp;
		CHECK(n >= 1 && n <= SL_MAX_COMPONENT);
		CHECK(!(n == 1 && p[comp] == '.'));
		CHECK(!(n == 2 && p[comp] == '.' && p[comp + 1] == '.'));
		comp = i + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*why;
	char		*p;
	int		 rc;

	/* an exact-size heap copy: ASan catches a read one past the end */
	p = malloc(size ? size : 1);
	CHECK(p != NULL);
	memcpy(p, data, size);

	why = NULL;
	rc = pathchk_rel(size ? p : NULL, size, &why);
	CHECK(rc == 0 || rc == SL_EPATH);
	if (rc == 0)
		check_safe(p, size);
	else
		CHECK(why != NULL && why[0] != '\0');
	CHECK((rc == 0) == is_safe(p, size));
	CHECK(pathchk_rel(size ? p : NULL, size, NULL) == rc);

	why = NULL;
	rc = pathchk_name(size ? p : NULL, size, &why);
	CHECK(rc == 0 || rc == SL_EPATH);
	if (rc == 0) {
		check_safe(p, size);
		CHECK(size <= SL_MAX_NAME && memchr(p, '/', size) == NULL);
		CHECK(p[0] != '.');
		CHECK(pathchk_rel(p, size, NULL) == 0);
	} else
		CHECK(why != NULL && why[0] != '\0');
	free(p);
	return 0;
}
