// links: agent/libstore.a agent/libbase.a
/*
 * test_manifest.c: the .sluice-manifest line parser that `sluice verify`
 * uses at a sink (agent/store/manifest.c): good lines, comments, and every way
 * a line can be malformed; the escaped form of a path holding a newline, a
 * carriage return or a backslash (as sha256sum and xxhsum write it), read
 * and written.
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

/* Escaped lines: a leading backslash, then "\n", "\r", "\\" in the path. */
static void
test_escaped(void **state)
{
	struct manifest_ent	e;
	char			b[512];

	(void)state;
	assert_int_equal(parse("\\12\t" SHA "\t" XXH "\tdir/new\\nline\n", b,
	    sizeof(b), &e), 0);
	assert_int_equal(e.size, 12);
	assert_string_equal(e.sha256, SHA);
	assert_string_equal(e.xxh128, XXH);
	assert_string_equal(e.path, "dir/new\nline");
	assert_int_equal(parse("\\0\t-\t" XXH "\tback\\\\slash\\r\\n\\\\\n", b,
	    sizeof(b), &e), 0);
	assert_string_equal(e.path, "back\\slash\r\n\\");
	/* a tab and bytes that are not UTF-8 are never escaped */
	assert_int_equal(parse("\\1\t-\t" XXH "\ttab\there\xff\\n\n", b,
	    sizeof(b), &e), 0);
	assert_string_equal(e.path, "tab\there\xff\n");
	/* without the leading backslash a backslash is just a byte (the
	 * form of names that need no escape, and of older manifests) */
	assert_int_equal(parse("1\t-\t" XXH "\tc:\\n\n", b, sizeof(b), &e), 0);
	assert_string_equal(e.path, "c:\\n");
	/* an unknown escape, a trailing backslash, an escaped line whose
	 * fields are wrong */
	assert_int_equal(parse("\\1\t-\t" XXH "\ta\\tb\n", b, sizeof(b), &e),
	    SL_EPROTO);
	assert_int_equal(parse("\\1\t-\t" XXH "\tab\\\n", b, sizeof(b), &e),
	    SL_EPROTO);
	assert_int_equal(parse("\\1\t-\t" XXH "\t\n", b, sizeof(b), &e), SL_EPROTO);
	assert_int_equal(parse("\\1\t-\n", b, sizeof(b), &e), SL_EPROTO);
	assert_int_equal(parse("\\\n", b, sizeof(b), &e), SL_EPROTO);
	assert_int_equal(parse("\\# not a comment\n", b, sizeof(b), &e), SL_EPROTO);
}

/* The writer's side: which paths are escaped, and how. */
static void
test_escape(void **state)
{
	char	out[64];

	(void)state;
	assert_int_equal(manifest_needs_escape("plain name"), 0);
	assert_int_equal(manifest_needs_escape("tab\there"), 0);
	assert_int_equal(manifest_needs_escape("\xff\xfe"), 0);
	assert_int_equal(manifest_needs_escape("-dash \"q\" 'q'"), 0);
	assert_int_equal(manifest_needs_escape("a\nb"), 1);
	assert_int_equal(manifest_needs_escape("a\rb"), 1);
	assert_int_equal(manifest_needs_escape("a\\b"), 1);

	assert_int_equal(manifest_escape("a\nb\\c\rd\te", out, sizeof(out)), 12);
	assert_string_equal(out, "a\\nb\\\\c\\rd\te");
	assert_int_equal(manifest_escape("", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* cut like snprintf: the whole length is returned */
	assert_int_equal(manifest_escape("\n\n\n", out, 4), 6);
	assert_string_equal(out, "\\n\\");
	assert_int_equal(manifest_escape("abc", NULL, 0), 3);
}

/* What the writer writes, the parser reads back: every byte 1..255 in a
 * path, escaped where needed. */
static void
test_roundtrip(void **state)
{
	char	path[300], line[1024], esc[700];
	struct manifest_ent e;
	int	c, n;

	(void)state;
	for (c = 1, n = 0; c < 256; c++)
		if (c != '/')
			path[n++] = (char)c;
	path[n] = '\0';
	assert_int_equal(manifest_needs_escape(path), 1);
	manifest_escape(path, esc, sizeof(esc));
	assert_null(strchr(esc, '\n'));
	snprintf(line, sizeof(line), "\\%d\t-\t" XXH "\t%s\n", n, esc);
	assert_int_equal(manifest_parse_line(line, strlen(line), &e), 0);
	assert_string_equal(e.path, path);
	assert_int_equal(e.size, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_skip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_escaped),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
