// links:
/*
 * test_pathchk.c: pathchk_rel and pathchk_name on hostile and ordinary
 * names.  Every name POSIX allows passes (any byte but '/' and NUL, within
 * the lengths); what could leave a root ("..", absolute, empty or "."
 * components) or is not a name (NUL, too long) does not.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "pathchk.h"

static int
rel(const char *s)
{
	return pathchk_rel(s, strlen(s), NULL);
}

static int
name(const char *s)
{
	return pathchk_name(s, strlen(s), NULL);
}

static void
test_rel_rejects(void **state)
{
	static const char *bad[] = {
		"", "..", ".", "a/../b", "../a", "a/..", "/abs", "/", "a//b",
		"a/", "a/./b", "./a", "a/.", "\n/../x", "a\t/./b", "\xff//b",
		"//", "../\xff",
	};
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (pathchk_rel(bad[i], strlen(bad[i]), &why) != SL_EPATH)
			fail_msg("accepted bad path #%zu", i);
		assert_non_null(why);
	}
}

static void
test_rel_nul(void **state)
{
	const char	*why = NULL;

	(void)state;
	assert_int_equal(pathchk_rel("a\0b", 3, &why), SL_EPATH);
	assert_non_null(why);
	assert_int_equal(pathchk_rel("a/\0", 3, NULL), SL_EPATH);
	assert_int_equal(pathchk_rel("\0", 1, NULL), SL_EPATH);
	assert_int_equal(pathchk_rel(NULL, 0, NULL), SL_EPATH);
	assert_int_equal(pathchk_name("a\0", 2, NULL), SL_EPATH);
}

static void
test_rel_lengths(void **state)
{
	char	*p;
	size_t	 i;

	(void)state;
	p = malloc(SL_MAX_PATH + 2);
	assert_non_null(p);

	/* 256-byte component rejected, 255 accepted */
	memset(p, 'x', 256);
	assert_int_equal(pathchk_rel(p, 256, NULL), SL_EPATH);
	assert_int_equal(pathchk_rel(p, 255, NULL), 0);

	/* 4096 bytes of 8-byte components accepted, 4097 rejected */
	for (i = 0; i < SL_MAX_PATH + 1; i++)
		p[i] = (i % 8 == 7) ? '/' : 'a';
	p[SL_MAX_PATH - 1] = 'z';		/* no trailing slash */
	assert_int_equal(pathchk_rel(p, SL_MAX_PATH, NULL), 0);
	p[SL_MAX_PATH] = 'z';
	assert_int_equal(pathchk_rel(p, SL_MAX_PATH + 1, NULL), SL_EPATH);
	free(p);
}

static void
test_rel_accepts(void **state)
{
	static const char *good[] = {
		"a", "dir/sub/file.dat", "name with spaces",
		"donn\303\251es/\xe6\x97\xa5\xe6\x9c\xac.h5", ".hidden",
		"a..b", "...", "..a", "a.", "d/.hidden/x", "\xf0\x9f\x98\x80",
		"\xef\xbf\xbd", "\xf4\x8f\xbf\xbf", "\xc2\x80",
		/* every byte but '/' and NUL is a POSIX name byte */
		"a\nb", "a\tb", "\x1f", "a\x7f", "\r", "back\\slash", "-leading-dash",
		"\"quoted\" 'single'", "\xff", "a/\xff/b", "\xc0\xaf",
		"\xe0\x80\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80",
		"\xf8\x88\x80\x80\x80", "\x80", "a\xc3", "\xf0\x9f\x98",
		"new\nline/tab\there", ".\n", "..\t", "\x01\x02\x03",
	};
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		why = NULL;
		if (pathchk_rel(good[i], strlen(good[i]), &why) != 0)
			fail_msg("rejected good path #%zu: %s", i, why);
	}
}

/* Every single byte but '/', NUL and '.' is a one-byte name. */
static void
test_every_byte(void **state)
{
	char	b[3];
	int	c;

	(void)state;
	for (c = 1; c < 256; c++) {
		b[0] = (char)c;
		if (c == '/' || c == '.') {
			assert_int_equal(pathchk_rel(b, 1, NULL), SL_EPATH);
			continue;
		}
		assert_int_equal(pathchk_rel(b, 1, NULL), 0);
		assert_int_equal(pathchk_name(b, 1, NULL), 0);
		b[1] = '/';
		b[2] = (char)c;
		assert_int_equal(pathchk_rel(b, 3, NULL), 0);
	}
}

/* pathchk_utf8_len: what log_q leaves alone and what it escapes. */
static void
test_utf8_len(void **state)
{
	(void)state;
	assert_int_equal(pathchk_utf8_len((const unsigned char *)"a", 1), 1);
	assert_int_equal(pathchk_utf8_len((const unsigned char *)"\303\251", 2), 2);
	assert_int_equal(pathchk_utf8_len((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
	assert_int_equal(pathchk_utf8_len((const unsigned char *)"\xf0\x9f\x98", 3), 0);
	assert_int_equal(pathchk_utf8_len((const unsigned char *)"\xff", 1), 0);
	assert_int_equal(pathchk_utf8_len((const unsigned char *)"\xc0\xaf", 2), 0);
	assert_int_equal(pathchk_utf8_len((const unsigned char *)"\xed\xa0\x80", 3), 0);
	assert_int_equal(pathchk_utf8_len((const unsigned char *)"\x80", 1), 0);
	assert_int_equal(pathchk_utf8_len((const unsigned char *)"", 0), 0);
}

static void
test_rel_len_not_nul_terminated(void **state)
{
	(void)state;
	/* only len bytes are looked at */
	assert_int_equal(pathchk_rel("ab/../c", 2, NULL), 0);
	assert_int_equal(pathchk_rel("ab/", 3, NULL), SL_EPATH);
}

static void
test_name(void **state)
{
	char	buf[300];

	(void)state;
	assert_int_equal(name("run-42"), 0);
	assert_int_equal(name("donn\303\251es"), 0);
	assert_int_equal(name("a..b"), 0);
	assert_int_equal(name(""), SL_EPATH);
	assert_int_equal(name("."), SL_EPATH);
	assert_int_equal(name(".."), SL_EPATH);
	assert_int_equal(name(".hidden"), SL_EPATH);
	assert_int_equal(name(".x.partial"), SL_EPATH);
	assert_int_equal(name("a/b"), SL_EPATH);
	assert_int_equal(name("/a"), SL_EPATH);
	assert_int_equal(name("a/"), SL_EPATH);
	assert_int_equal(name("a\nb"), 0);
	assert_int_equal(name("\xed\xa0\x80"), 0);
	assert_int_equal(name("tab\there"), 0);
	assert_int_equal(name("-dash"), 0);
	assert_int_equal(name(".\n"), SL_EPATH);	/* still a leading '.' */
	memset(buf, 'n', sizeof(buf));
	assert_int_equal(pathchk_name(buf, SL_MAX_NAME, NULL), 0);
	assert_int_equal(pathchk_name(buf, SL_MAX_NAME + 1, NULL), SL_EPATH);
	assert_int_equal(rel("ok"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rel_rejects),
		cmocka_unit_test(test_rel_nul),
		cmocka_unit_test(test_rel_lengths),
		cmocka_unit_test(test_rel_accepts),
		cmocka_unit_test(test_rel_len_not_nul_terminated),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_utf8_len),
		cmocka_unit_test(test_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
