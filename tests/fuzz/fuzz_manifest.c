/*
 * fuzz_manifest.c: libFuzzer target for the .sluice-manifest line parser
 * (agent/store/manifest.c), which `sluice verify` runs on a file in the sink
 * root.
 *
 * The input is split into lines the way getline does (each keeps its
 * '\n'; NUL bytes may sit inside), and each line goes to
 * manifest_parse_line in an exact-size heap buffer.  An accepted line
 * must give 64 (or, for a "-" column, no) and 32 lower-case hex digits
 * and a non-empty path that lies inside the line buffer.
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
	char			*line;
	size_t			 off = 0, len;
	int			 rc;

	while (off < size) {
		nl = memchr(data + off, '\n', size - off);
		len = nl != NULL ? (size_t)(nl - (data + off)) + 1 : size - off;
		line = malloc(len + 1);
		CHECK(line != NULL);
		memcpy(line, data + off, len);
		line[len] = '\0';
		memset(&e, 0, sizeof(e));
		rc = manifest_parse_line(line, len, &e);
		CHECK(rc == 0 || rc == MANIFEST_SKIP || rc == SL_EPROTO);
		if (rc == 0) {
			/* "" stands for a "-" column (sha256 = off) */
			CHECK(hexlen(e.sha256) == MANIFEST_SHA_HEX ||
			    hexlen(e.sha256) == 0);
			CHECK(hexlen(e.xxh128) == MANIFEST_XXH_HEX);
			CHECK(e.path > line && e.path < line + len);
			CHECK(e.path[0] != '\0' && strchr(e.path, '\n') == NULL);
		}
		free(line);
		off += len;
	}
	return 0;
}
