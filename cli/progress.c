/* SPDX-License-Identifier: MIT */
/*
 * What the long verbs (install, apply) show while they work: a progress bar
 * on a terminal, warnings that do not land in the middle of it, and the boot
 * menu refreshed when a guest goes incomplete.
 */
#include <string.h>
#include <time.h>

#include "boot/boot.h"
#include "cli.h"
#include "common/util.h"

void cli_progress_show(uint64_t done, uint64_t total, void *userdata)
{
	struct cli_progress *pr = userdata;
	char a[32], b[32];
	time_t now = time(NULL);

	/* Once a second is enough for a terminal, and the last update always shows. */
	if (now == pr->last && done < total)
		return;
	pr->last = now;
	pr->shown = true;
	pb_format_size(done, a, sizeof(a));
	if (total) {
		unsigned pct = (unsigned)(done * 100 / total);
		char bar[31];

		if (pct > 100)
			pct = 100;
		memset(bar, '#', pct * 30 / 100);
		memset(bar + pct * 30 / 100, '.', 30 - pct * 30 / 100);
		bar[30] = '\0';
		pb_format_size(total, b, sizeof(b));
		fprintf(stderr, "\r[%s] %3u%% %s of %s ", bar, pct, a, b);
	} else {
		fprintf(stderr, "\r%s read ", a);
	}
	fflush(stderr);
}

void cli_progress_warn(const char *msg, void *userdata)
{
	struct cli_progress *pr = userdata;

	if (pr && pr->shown) {
		fputc('\n', stderr);
		pr->shown = false;
	}
	log_warn("%s", msg);
}

int cli_menu_refresh_marked(void *userdata, struct pb_err *err)
{
	int r;

	/* "left out: incomplete" about the guest being installed says nothing new. */
	boot_set_warn_handler(NULL, NULL);
	r = boot_menu_refresh(userdata, err);
	boot_set_warn_handler(cli_warn_cb, NULL);
	return r;
}
