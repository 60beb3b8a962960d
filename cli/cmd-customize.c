/* SPDX-License-Identifier: MIT */
/*
 * partboot customize DISK NAME: passwords, a user, SSH keys, a first-boot
 * script, a cloud-init seed into an installed guest (disk_customize()), and
 * the options install shares for the same things.
 */
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common/macros.h"

int cli_customize_option(const char *verb, int c, const char *arg, struct cli_customize *cc)
{
	struct disk_customize_opts *o = &cc->o;

	switch (c) {
	case CLI_OPT_ROOT_PASSWORD_FILE:
		o->root_password_file = arg;
		return 1;
	case CLI_OPT_ROOT_PASSWORD:
		if (!strcmp(arg, "locked"))
			o->root_password = DISK_ROOT_PASSWORD_LOCKED;
		else if (!strcmp(arg, "disabled"))
			o->root_password = DISK_ROOT_PASSWORD_DISABLED;
		else
			return cli_usage_error(verb, "--root-password takes locked or disabled; a password comes "
					       "from a file: --root-password-file FILE (or - for standard input)");
		return 1;
	case CLI_OPT_USER:
		o->user = arg;
		return 1;
	case CLI_OPT_USER_PASSWORD_FILE:
		o->user_password_file = arg;
		return 1;
	case CLI_OPT_SSH_KEY:
		if (o->n_ssh_keys == CLI_SSH_KEYS_MAX)
			return cli_usage_error(verb, "at most %d --ssh-key files", CLI_SSH_KEYS_MAX);
		cc->keys[o->n_ssh_keys++] = arg;
		o->ssh_keys = cc->keys;
		return 1;
	case CLI_OPT_FIRSTBOOT:
		o->firstboot = arg;
		return 1;
	case CLI_OPT_CLOUD_INIT:
		o->cloud_init = arg;
		return 1;
	case CLI_OPT_META_DATA:
		o->meta_data = arg;
		return 1;
	default:
		return 0;
	}
}

void cli_password_tty_begin(const struct disk_customize_opts *o, struct cli_tty *t)
{
	struct termios raw;
	bool from_stdin = (o->root_password_file && !strcmp(o->root_password_file, "-")) ||
			  (o->user_password_file && !strcmp(o->user_password_file, "-"));

	t->changed = false;
	if (!from_stdin || !isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t->saved) < 0)
		return;
	raw = t->saved;
	raw.c_lflag &= ~(tcflag_t)ECHO;
	raw.c_lflag |= ECHONL;
	fprintf(stderr, "%s's password (not shown): ",
		o->root_password_file && !strcmp(o->root_password_file, "-") ? "root" : o->user);
	fflush(stderr);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0)
		t->changed = true;
}

void cli_password_tty_end(struct cli_tty *t)
{
	if (t->changed)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t->saved);
	t->changed = false;
}

static void dry_note(const char *msg, void *userdata)
{
	printf("%s\n", msg);
}

int cmd_customize(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_CUSTOMIZE_LONGOPTS,
		{ "dry-run", no_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 'S' },
		CLI_COMMON_LONGOPTS,
		{},
	};
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct disk *k = NULL;
	struct cli_customize cc = { 0 };
	struct cli_progress pr = { 0 };
	struct cli_tty tty;
	const char *seed = NULL;
	unsigned flags = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "n" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			flags |= DISK_CUSTOMIZE_DRY_RUN;
			break;
		case 'S':
			seed = optarg;
			break;
		default:
			r = cli_customize_option("customize", c, optarg, &cc);
			if (r == 1)
				break;
			if (r)
				return r;
			r = cli_common_option("customize", c);
			if (r != CLI_OPT_CONTINUE)
				return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("customize", "expected DISK and NAME");
	cc.o.password_fd = STDIN_FILENO;
	if (disk_customize_check(&cc.o, &err) < 0)
		return cli_usage_error("customize", "%s", pb_err_msg(&err));
	if (disk_customize_empty(&cc.o))
		return cli_usage_error("customize", "nothing to change: give --root-password-file, --root-password, "
				       "--user, --ssh-key, --firstboot or --cloud-init");

	if (flags & DISK_CUSTOMIZE_DRY_RUN) {
		/* the plan on standard output, as apply --dry-run prints its own */
		struct disk_diag diag;

		cli_diag(&diag, &pr);
		diag.note = dry_note;
		if (disk_open(argv[optind], DISK_OPEN_RDONLY, 0, &diag, &k, &err) < 0)
			return cli_fail(&err);
	} else if (cli_disk_open(argv[optind], 0, &pr, &k)) {
		return EXIT_FAIL;
	}
	if (seed)
		disk_set_seed(k, seed);
	cli_password_tty_begin(&cc.o, &tty);
	r = disk_customize(k, argv[optind + 1], &cc.o, flags, &err);
	cli_password_tty_end(&tty);
	if (r < 0)
		return cli_fail(&err);
	if (flags & DISK_CUSTOMIZE_DRY_RUN)
		log_info("%s: dry run: nothing was written", argv[optind]);
	return EXIT_OK;
}
