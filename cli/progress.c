/* SPDX-License-Identifier: MIT */
/*
 * What the long verbs (install, apply) show while they work: a progress bar
 * on a terminal, warnings that do not land in the middle of it, and step
 * notes; all fed by a disk's diagnostics callbacks (disk.h).
 */
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

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

/*
 * An installer's progress: "[12:34] Installing the base system ... 40%" on one line
 * updated in place on a terminal, cut to its width; elsewhere (logs, CI) a line for each
 * new step with -v only.
 */
static void status_show(const char *line, unsigned elapsed, void *userdata)
{
	struct cli_progress *pr = userdata;
	struct winsize ws;
	char head[32];
	int width = 80;

	snprintf(head, sizeof(head), "[%u:%02u:%02u] ", elapsed / 3600, elapsed / 60 % 60, elapsed % 60);
	if (cli_show_progress()) {
		if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
			width = ws.ws_col;
		width -= (int)strlen(head) + 1;
		fprintf(stderr, "\r\033[K%s%.*s", head, width, *line ? line : "(the installer's console is quiet)");
		fflush(stderr);
		pr->shown = true;
	} else if (cli_verbosity > 1 && *line && strcmp(line, pr->status_last)) {
		fprintf(stderr, "%s%s\n", head, line);
	}
	snprintf(pr->status_last, sizeof(pr->status_last), "%s", line);
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
		.status = pr->want_status ? status_show : NULL,
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
