/*
 * livepage.h: the live page's bytes (agent/daemon/livepage.c), one HTML
 * document with its CSS and script inline, built into the binary from
 * agent/daemon/livepage.html.  Private to agent/daemon.
 *
 * The page is static: it shows nothing until its script fetches
 * status.json (same origin) and fills the DOM with textContent only, so no
 * value from the journal is ever parsed as HTML.
 *
 * Threads: read-only data, any thread.
 */
#ifndef LIVEPAGE_H
#define LIVEPAGE_H

#include <stddef.h>

extern const char	livepage_html[];	/* not NUL-terminated: use livepage_len */

/* Bytes of livepage_html. */
size_t	livepage_len(void);

/* The Content-Security-Policy for the page: nothing from elsewhere, only
 * status.json to fetch, and of inline code only the page's own <script>
 * and <style>, named by their SHA-256 (so even markup that slipped into
 * the DOM could run nothing).  Writes it into out; SL_EINVAL if the page
 * has no <script> or <style> element, SL_ETOOBIG if out is short,
 * SL_ENOMEM. */
int	livepage_csp(char *out, size_t outlen);

#endif
