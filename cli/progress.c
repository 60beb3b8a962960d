/* SPDX-License-Identifier: MIT */
/*
 * What the long verbs (install, apply) show while they work: a progress bar
 * on a terminal, warnings that do not land in the middle of it, and step
 * notes; all fed by a disk's diagnostics callbacks (disk.h).
 */
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common/util.h"

static void progress_show(uint64_t done, uint64_t total, void *userdata)
{
	struct cli_progress *pr = userdata;
	char a[32], b[32];
	time_t now = time(NULL);

	if (!cli_show_progress())
		return;
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

void cli_progress_done(struct cli_progress *pr)
{
	if (pr && pr->shown) {
		fputc('\n', stderr);
		pr->shown = false;
	}
}

static void progress_warn(const char *msg, void *userdata)
{
	cli_progress_done(userdata);
	log_warn("%s", msg);
}

static void progress_note(const char *msg, void *userdata)
{
	cli_progress_done(userdata);
	log_info("%s", msg);
}

void cli_diag(struct disk_diag *ret, struct cli_progress *pr)
{
	*ret = (struct disk_diag){
		.warn = progress_warn,
		.note = progress_note,
		.progress = progress_show,
		.userdata = pr,
	};
}

int cli_disk_open(const char *path, unsigned flags, struct cli_progress *pr, struct disk **ret)
{
	static struct cli_progress none;
	struct pb_err err = PB_ERR_INIT;
	struct disk_diag diag;
	int r;

	cli_diag(&diag, pr ? pr : &none);
	r = disk_open(path, flags, 0, &diag, ret, &err);
	if (r < 0) {
		cli_fail(&err);
		pb_err_clear(&err);
		return EXIT_FAIL;
	}
	return 0;
}

void cli_disk_freep(struct disk **k)
{
	disk_free(*k);
}

void cli_err_clearp(struct pb_err *e)
{
	pb_err_clear(e);
}
