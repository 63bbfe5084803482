/*
 * fuzz_manifest.c: libFuzzer target for the .sluice-manifest line parser
 * (agent/store/manifest.c), which `sluice verify` runs on a file in the sink
 * root.
 *
 * The input is split into lines the way getline does (each keeps its
 * '\n'; NUL bytes may sit inside), and each line goes to
 * manifest_parse_line in an exact-size heap buffer.  An accepted line
 * must give 64 (or, for a "-" column, no) and 32 lower-case hex digits
 * and a non-empty path that lies inside the line buffer.  A line that does
 * not start with a backslash gives its path field as it is (no newline in
 * it); one that does gives the unescaped path, and escaping that path
 * again (manifest_escape) must give back the field exactly (but for a raw
 * carriage return, which the writer escapes): the escape is canonical, so
 * what the sink writes, verify reads back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_manifest: %s:%d: %s\n", \
	__FILE__, __LINE__, #c); abort(); } } while (0)

static int
hexlen(const char *s)
{
	int	n = 0;

	while ((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))
		n++;
	return s[n] == '\0' ? n : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest_ent	 e;
	const uint8_t		*nl;
	char			*line, *raw, *field, *esc, *want;
	const char		*p;
	size_t			 off = 0, len, rlen, n;
	int			 rc, i;

	while (off < size) {
		nl = memchr(data + off, '\n', size - off);
		len = nl != NULL ? (size_t)(nl - (data + off)) + 1 : size - off;
		line = malloc(len + 1);
		CHECK(line != NULL);
		memcpy(line, data + off, len);
		line[len] = '\0';
		raw = strdup(line);	/* up to a NUL, like the parser */
		CHECK(raw != NULL);
		memset(&e, 0, sizeof(e));
		rc = manifest_parse_line(line, len, &e);
		CHECK(rc == 0 || rc == MANIFEST_SKIP || rc == SL_EPROTO);
		if (rc == 0) {
			/* "" stands for a "-" column (sha256 = off) */
			CHECK(hexlen(e.sha256) == MANIFEST_SHA_HEX ||
			    hexlen(e.sha256) == 0);
			CHECK(hexlen(e.xxh128) == MANIFEST_XXH_HEX);
			CHECK(e.path > line && e.path < line + len);
			CHECK(e.path[0] != '\0');
			/* the raw path field: after the third tab, less one
			 * trailing newline */
			rlen = strlen(raw);
			if (rlen > 0 && raw[rlen - 1] == '\n')
				raw[--rlen] = '\0';
			field = raw;
			for (i = 0; i < 3; i++) {
				field = strchr(field, '\t');
				CHECK(field != NULL);
				field++;
			}
			if (raw[0] != '\\') {
				CHECK(strchr(e.path, '\n') == NULL);
				CHECK(strcmp(e.path, field) == 0);
			} else {
				/* a raw '\r' may stand in an escaped field;
				 * the writer would have written "\\r" */
				want = malloc(2 * strlen(field) + 1);
				CHECK(want != NULL);
				for (n = 0, p = field; *p != '\0'; p++) {
					if (*p == '\r') {
						want[n++] = '\\';
						want[n++] = 'r';
					} else
						want[n++] = *p;
				}
				want[n] = '\0';
				n = manifest_escape(e.path, NULL, 0);
				CHECK(n == strlen(want));
				esc = malloc(n + 1);
				CHECK(esc != NULL);
				CHECK(manifest_escape(e.path, esc, n + 1) == n);
				CHECK(strcmp(esc, want) == 0);
				CHECK(strlen(e.path) <= n);
				free(esc);
				free(want);
			}
		}
		free(raw);
		free(line);
		off += len;
	}
	return 0;
}
