/*
 * livepage.c: agent/daemon/livepage.html, embedded (livepage.h).
 *
 * The assembler's .incbin copies the file into .rodata at build time (the
 * Makefile makes livepage.o depend on the .html), so the page is edited as
 * HTML, not as a C string, and the daemon needs no file at run time.
 * The path is relative to the directory make runs in, the top of the tree.
 */
#include "livepage.h"

__asm__(
"	.section .rodata\n"
"	.global livepage_html\n"
"	.type livepage_html, @object\n"
"	.balign 16\n"
"livepage_html:\n"
"	.incbin \"agent/daemon/livepage.html\"\n"
"livepage_html_end:\n"
"	.byte 0\n"
"	.size livepage_html, . - livepage_html\n"
"	.global livepage_html_size\n"
"	.balign 8\n"
"livepage_html_size:\n"
"	.quad livepage_html_end - livepage_html\n"
"	.previous\n");

extern const size_t	livepage_html_size;

size_t
livepage_len(void)
{
	return livepage_html_size;
}
