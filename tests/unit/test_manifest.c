// links: agent/libstore.a
/*
 * test_manifest.c: the .sluice-manifest line parser that `sluice verify`
 * uses at a sink (agent/store/manifest.c): good lines, comments, and every way
 * a line can be malformed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sluice.h"
#include "manifest.h"

#define SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define XXH "99aa06d3014798d86001c324468d497f"

static int
parse(const char *text, char *buf, size_t cap, struct manifest_ent *e)
{
	snprintf(buf, cap, "%s", text);
	return manifest_parse_line(buf, strlen(buf), e);
}

static void
test_good(void **state)
{
	struct manifest_ent	e;
	char			b[512];

	(void)state;
	assert_int_equal(parse("1234\t" SHA "\t" XXH "\tsub/a.dat\n", b, sizeof(b), &e), 0);
	assert_int_equal(e.size, 1234);
	assert_string_equal(e.sha256, SHA);
	assert_string_equal(e.xxh128, XXH);
	assert_string_equal(e.path, "sub/a.dat");	/* the '\n' is gone */
	/* no trailing newline (last line of a file); tabs after the third
	 * belong to the path */
	assert_int_equal(parse("0\t" SHA "\t" XXH "\ta\tb", b, sizeof(b), &e), 0);
	assert_string_equal(e.path, "a\tb");
	assert_int_equal(e.size, 0);
	/* "-": the sink did not compute a SHA-256 ([sink] sha256 = off) */
	assert_int_equal(parse("7\t-\t" XXH "\tc\n", b, sizeof(b), &e), 0);
	assert_string_equal(e.sha256, "");
	assert_string_equal(e.xxh128, XXH);
	assert_string_equal(e.path, "c");
}

static void
test_skip(void **state)
{
	struct manifest_ent	e;
	char			b[512];

	(void)state;
	assert_int_equal(parse("# sluice manifest v1\n", b, sizeof(b), &e), MANIFEST_SKIP);
	assert_int_equal(parse("\n", b, sizeof(b), &e), MANIFEST_SKIP);
	assert_int_equal(parse("", b, sizeof(b), &e), MANIFEST_SKIP);
}

static void
test_malformed(void **state)
{
	static const char *bad[] = {
		"1\t" SHA "\t" XXH "\t\n",		/* empty path */
		"1\t" SHA "\t" XXH "\n",		/* no path field */
		"1\t" SHA "\n",
		"1\n",
		" \n",
		"1\t" SHA "0\t" XXH "\tp\n",		/* 65 hex digits */
		"1\t" XXH "\t" XXH "\tp\n",		/* 32 where 64 belong */
		"1\t" SHA "\t" SHA "\tp\n",
		"1\tE3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\t"
		    XXH "\tp\n",			/* upper case */
		"1\t" SHA "\t" XXH "\x00" "\tp\n",	/* cut by a NUL */
		"1\t--\t" XXH "\tp\n",			/* only "-" stands for none */
		"1\t-\t-\tp\n",			/* XXH3-128 is always there */
		"1\t\t" XXH "\tp\n",			/* empty */
	};
	struct manifest_ent	e;
	char			b[512];
	size_t			i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], b, sizeof(b), &e), SL_EPROTO);
	/* a NUL inside the line (getline passes it through): the path field
	 * ends there and is empty */
	memcpy(b, "1\t" SHA "\t" XXH "\t\0p\n", 2 + 64 + 1 + 32 + 1 + 3);
	assert_int_equal(manifest_parse_line(b, 2 + 64 + 1 + 32 + 1 + 3, &e), SL_EPROTO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_skip),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
