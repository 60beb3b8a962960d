/* SPDX-License-Identifier: MIT */
/*
 * The guest's serial console (ttyS0), three ways:
 *  - to a file (--console FILE): QEMU writes it, partboot's terminal stays quiet;
 *  - on an interactive terminal: QEMU's stdio backend in raw mode, keys go to
 *    the guest (Ctrl-C included), multiplexed with QEMU's monitor so Ctrl-A x
 *    quits and Ctrl-A c reaches the monitor, as with qemu -nographic;
 *  - output only (stdin not a terminal, e.g. scripts and CI): the same backend,
 *    QEMU's stdin is /dev/null (vm_run() arranges it).
 * signal=off everywhere: QEMU must not turn a Ctrl-C into a hard quit;
 * partboot handles SIGINT and powers the guest down through QMP.
 */
#include <string.h>

#include "vm-private.h"

void vm_console_args(const struct vm_opts *o, struct strv *a)
{
	struct strbuf sb = STRBUF_INIT;

	strv_add(a, "-chardev");
	if (o->console_path) {
		strbuf_addstr(&sb, "file,id=con0,path=");
		for (const char *p = o->console_path; *p; p++) {
			if (*p == ',')
				strbuf_addch(&sb, ',');
			strbuf_addch(&sb, *p);
		}
		strv_add(a, sb.buf);
	} else if (o->interactive) {
		strv_add(a, "stdio,id=con0,mux=on,signal=off");
	} else {
		strv_add(a, "stdio,id=con0,signal=off");
	}
	strv_add(a, "-serial");
	strv_add(a, "chardev:con0");
	if (!o->console_path && o->interactive) {
		strv_add(a, "-mon");
		strv_add(a, "chardev=con0,mode=readline");
	}
	strbuf_release(&sb);
}

/*
 * The console as one screen line, for progress and failure messages. States
 * of the escape parser: 0 text, 1 after ESC, 2 inside a CSI (ESC [ ... final
 * byte 0x40-0x7e), 3 inside a string (OSC ESC ], DCS ESC P, screen's title
 * ESC k: up to BEL or ESC \), 4 ESC seen inside a string, 5 one more byte to
 * drop (ESC ( B and the other charset selectors).
 */
static void line_end(struct vm_console_screen *s)
{
	size_t a = 0, b = s->cur_len;

	while (a < b && s->cur[a] == ' ')
		a++;
	while (b > a && s->cur[b - 1] == ' ')
		b--;
	if (b > a) {
		memcpy(s->last, s->cur + a, b - a);
		s->last[b - a] = '\0';
	}
	s->cur_len = 0;
	s->cur[0] = '\0';
}

void vm_console_feed(struct vm_console_screen *s, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		switch (s->esc) {
		case 1:
			s->esc = c == '[' ? 2 : c == ']' || c == 'P' || c == 'k' || c == '_' ? 3
				 : c == '(' || c == ')' || c == '#' ? 5 : 0;
			continue;
		case 2:
			if (c >= 0x40 && c <= 0x7e) {
				s->esc = 0;
				if (c == 'H' || c == 'f' || c == 'J' || c == 'd')
					line_end(s); /* a cursor move or a cleared screen: a new line */
			}
			continue;
		case 3:
			s->esc = c == 0x1b ? 4 : c == 0x07 ? 0 : 3;
			continue;
		case 4:
			s->esc = c == '\\' ? 0 : 3;
			continue;
		case 5:
			s->esc = 0;
			continue;
		}
		if (c == 0x1b) {
			s->esc = 1;
		} else if (c == '\r' || c == '\n') {
			line_end(s);
		} else if (c == '\t') {
			if (s->cur_len < VM_CONSOLE_LINE_MAX)
				s->cur[s->cur_len++] = ' ';
		} else if (c >= 0x20 && c < 0x7f) {
			/*
			 * Printable ASCII only: the line goes to the user's terminal, and
			 * bytes of 0x80 and above could spell a C1 control (U+009B is a
			 * CSI to some terminals); installers on a serial console speak
			 * ASCII anyway.
			 */
			if (s->cur_len < VM_CONSOLE_LINE_MAX)
				s->cur[s->cur_len++] = (char)c;
		}
		s->cur[s->cur_len] = '\0';
	}
}

const char *vm_console_line(const struct vm_console_screen *s)
{
	for (size_t i = 0; i < s->cur_len; i++)
		if (s->cur[i] != ' ')
			return s->cur + i;
	return s->last;
}
