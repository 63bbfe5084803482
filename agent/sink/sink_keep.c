/*
 * sink_keep.c: the fds of small files kept from their write to their
 * publication (sink_int.h: sds_keep_fd, sds_drop_vd).
 *
 * The fd a one-chunk small file was written through stays open from its
 * write, through the group commit's sync, to publication, which checks
 * its size and sets its mode through it instead of opening the file once
 * more: an open and a close less per small file.  Only while its digests
 * come from memory (d->vd): the publication's re-read of a file opens it
 * by its path, and so does everything after a restart.  At most
 * sk->kept_max at once (a share of RLIMIT_NOFILE); the rest are closed
 * after the sync as before.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "verify.h"
#include "sink_int.h"

void
sds_keep_fd(struct sink *sk, struct sds *d, uint32_t file, int fd, int ok)
{
	uint32_t i;

	if (ok && d->rec.state == SDS_RECEIVING && d->vd != NULL && d->kfd == NULL &&
	    (d->kfd = malloc(d->nfiles * sizeof(*d->kfd))) != NULL)
		for (i = 0; i < d->nfiles; i++)
			d->kfd[i] = -1;
	if (ok && d->rec.state == SDS_RECEIVING && d->vd != NULL && d->kfd != NULL &&
	    d->kfd[file] == -1) {
		d->kfd[file] = fd;
		return;
	}
	close(fd);
	sk->nkept--;
}

void
sds_drop_vd(struct sink *sk, struct sds *d)
{
	uint32_t i;

	verifier_drop(sk->ver, d->vd);
	d->vd = NULL;
	if (d->kfd == NULL)
		return;
	for (i = 0; i < d->nfiles; i++)
		if (d->kfd[i] >= 0) {
			close(d->kfd[i]);
			sk->nkept--;
		}
	free(d->kfd);
	d->kfd = NULL;
}
