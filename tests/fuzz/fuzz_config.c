/*
 * fuzz_config.c: libFuzzer target for the configuration loader
 * (agent/base/config.c, inih underneath).
 *
 * The input is written to a memfd and loaded through its /proc/self/fd
 * path, so nothing touches the disk and parallel fuzzers do not collide.
 * config_load must return 0 or SL_EINVAL, never crash, leak or overrun,
 * and on failure leave a NUL-terminated message in err.  Paths named in
 * the input (root, secret_file, ...) are looked at for real; that is part
 * of what is under test.
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_config: %s:%d: %s\n", \
	__FILE__, __LINE__, #c); abort(); } } while (0)

static struct config	cfg;		/* large: keep it off the stack */
static char		err[8192];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	path[64];
	size_t	off = 0;
	ssize_t	n;
	int	fd, rc;

	fd = memfd_create("fuzz_config", MFD_CLOEXEC);
	CHECK(fd != -1);
	while (off < size) {
		n = write(fd, data + off, size - off);
		CHECK(n > 0);
		off += (size_t)n;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = config_load(&cfg, path, err, sizeof(err));
	CHECK(rc == 0 || rc == SL_EINVAL);
	CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	if (rc != 0)
		CHECK(err[0] != '\0');
	else
		CHECK(cfg.role == ROLE_AGENT || cfg.role == ROLE_SINK);
	close(fd);
	return 0;
}
