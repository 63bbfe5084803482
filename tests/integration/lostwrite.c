/*
 * lostwrite.c: an LD_PRELOAD shim for t_sink_lostwrite.sh.  pwrite() to a
 * file whose name starts with "lost-" says it wrote every byte and writes
 * none: a write that did not land, as a lying layer under the sink would
 * make it.  Everything else goes to the real pwrite.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int
lost(int fd)
{
	char		 link[64], path[4096];
	const char	*base;
	ssize_t		 n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	base = strrchr(path, '/');
	return base != NULL && strncmp(base + 1, "lost-", 5) == 0;
}

typedef ssize_t pwrite_fn(int, const void *, size_t, off_t);

/* The write that did not land, or the real one (looked up once as sym). */
static ssize_t
lose_or(pwrite_fn **real, const char *sym, int fd, const void *p, size_t len,
    off_t off)
{
	if (*real == NULL)
		*real = (pwrite_fn *)dlsym(RTLD_NEXT, sym);
	return lost(fd) ? (ssize_t)len : (*real)(fd, p, len, off);
}

ssize_t
pwrite(int fd, const void *p, size_t len, off_t off)
{
	static pwrite_fn *real;

	return lose_or(&real, "pwrite", fd, p, len, off);
}

ssize_t
pwrite64(int fd, const void *p, size_t len, off_t off)
{
	static pwrite_fn *real;

	return lose_or(&real, "pwrite64", fd, p, len, off);
}
