/* SPDX-License-Identifier: MIT */
/*
 * The partboot program: a table of verbs (main.c), each implemented in the
 * cmd-*.c of the library it drives. A verb parses its arguments with
 * getopt_long, validates them, calls the libraries, prints the result, and
 * returns an exit status: 0 success, 1 failure, 2 usage error.
 */
#ifndef PARTBOOT_CLI_H
#define PARTBOOT_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <termios.h>
#include <time.h>

#include "common/err.h"
#include "disk/disk.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct cli_verb {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the verb */
	const char *summary;
	const char *usage; /* man-page form: "partboot add DISK NAME --type TYPE ..." + options */
};

extern const struct cli_verb cli_verbs[];

/* Global options, set by main() before the verb runs. */
extern int cli_verbosity; /* 0 = -q, 1 = normal, 2+ = -v */

/* Print "partboot: MSG" on stderr; log once, where the error is handled. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "partboot: warning: MSG" on stderr (kept with -q). */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Progress and notes on stderr; silent with -q. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only with -v. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * What the long verbs (install, apply, run) show while they work: warnings
 * and step notes on standard error, a progress bar on a terminal only
 * (cli_show_progress()), warnings starting on a line of their own. One
 * struct cli_progress per verb; cli_diag() points a disk's diagnostics at
 * it.
 */
struct cli_progress {
	time_t last;
	bool shown;
	bool want_status;        /* set before cli_disk_open(): an installer's progress line (cli_diag()) */
	char status_last[161];   /* the installer's line shown last (not on a terminal: -v prints changes) */
};
struct disk_diag;
void cli_diag(struct disk_diag *ret, struct cli_progress *pr);
/* End a progress bar left on the terminal (a newline when one is shown). */
void cli_progress_done(struct cli_progress *pr);

/* Print err's message and return EXIT_FAIL. */
int cli_fail(const struct pb_err *err);
/* Print "partboot VERB: MSG", a hint to --help, and return EXIT_USAGE. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print the verb's usage on stdout and return EXIT_OK (for --help). */
int cli_help(const char *verb);
/* True when standard error is a terminal and not -q (for progress bars). */
bool cli_show_progress(void);

/*
 * Common option handling for verbs: add CLI_COMMON_LONGOPTS to the option
 * table, then call cli_common_option() in the default: branch of the getopt
 * loop; it handles -h/--help, -v, -q and returns -1 when the option is not a
 * common one. Returns the exit status to return immediately otherwise
 * (EXIT_OK after --help, EXIT_USAGE after an unknown option), or 0 to go on
 * — see cmd-part.c for the pattern.
 */
#define CLI_COMMON_SHORTOPTS "hvq"
#define CLI_COMMON_LONGOPTS                                                                \
	{ "help", no_argument, NULL, 'h' }, { "verbose", no_argument, NULL, 'v' },           \
		{ "quiet", no_argument, NULL, 'q' }
enum { CLI_OPT_CONTINUE = -100 };
int cli_common_option(const char *verb, int opt);

/*
 * Open DISK through disk/ with diagnostics on pr (may be NULL: warnings
 * only); prints the error and returns EXIT_FAIL, or 0 with *ret set.
 */
int cli_disk_open(const char *path, unsigned flags, struct cli_progress *pr, struct disk **ret);
/* _cleanup_ for a struct disk and a struct pb_err, in verbs. */
void cli_disk_freep(struct disk **k);
void cli_err_clearp(struct pb_err *e);
#define _cleanup_disk_ __attribute__((cleanup(cli_disk_freep)))
#define _cleanup_err_ __attribute__((cleanup(cli_err_clearp)))

/*
 * What install, customize (and apply's layout keys) put into a guest:
 * the options, their getopt ids (above every verb's own) and their parser
 * (cmd-customize.c). Repeated --ssh-key options add up (at most
 * CLI_SSH_KEYS_MAX).
 */
enum {
	CLI_OPT_ROOT_PASSWORD_FILE = 0x300,
	CLI_OPT_ROOT_PASSWORD,
	CLI_OPT_USER,
	CLI_OPT_USER_PASSWORD_FILE,
	CLI_OPT_SSH_KEY,
	CLI_OPT_FIRSTBOOT,
	CLI_OPT_CLOUD_INIT,
	CLI_OPT_META_DATA,
};
#define CLI_CUSTOMIZE_LONGOPTS                                                                      \
	{ "root-password-file", required_argument, NULL, CLI_OPT_ROOT_PASSWORD_FILE },              \
		{ "root-password", required_argument, NULL, CLI_OPT_ROOT_PASSWORD },                \
		{ "user", required_argument, NULL, CLI_OPT_USER },                                  \
		{ "user-password-file", required_argument, NULL, CLI_OPT_USER_PASSWORD_FILE },      \
		{ "ssh-key", required_argument, NULL, CLI_OPT_SSH_KEY },                            \
		{ "firstboot", required_argument, NULL, CLI_OPT_FIRSTBOOT },                        \
		{ "cloud-init", required_argument, NULL, CLI_OPT_CLOUD_INIT },                      \
		{ "meta-data", required_argument, NULL, CLI_OPT_META_DATA }
#define CLI_SSH_KEYS_MAX 16
struct cli_customize {
	struct disk_customize_opts o;
	const char *keys[CLI_SSH_KEYS_MAX];
};
/* One of the options above into cc: 1 when c was one, 0 when not, EXIT_USAGE (after the message) for a bad value. */
int cli_customize_option(const char *verb, int c, const char *arg, struct cli_customize *cc);
/*
 * A password read from standard input while it is a terminal: a prompt on
 * standard error and no echo until cli_password_tty_end() (which accepts a
 * state where nothing was changed).
 */
struct cli_tty {
	bool changed;
	struct termios saved;
};
void cli_password_tty_begin(const struct disk_customize_opts *o, struct cli_tty *t);
void cli_password_tty_end(struct cli_tty *t);

/* Verbs, by library. */
int cmd_init(int argc, char **argv);
int cmd_add(int argc, char **argv);
int cmd_remove(int argc, char **argv);
int cmd_rename(int argc, char **argv);
int cmd_resize(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_apply(int argc, char **argv);

int cmd_mkfs(int argc, char **argv);
int cmd_install(int argc, char **argv);
int cmd_adopt(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_cat(int argc, char **argv);

int cmd_bootloader(int argc, char **argv);
int cmd_default(int argc, char **argv);
int cmd_next(int argc, char **argv);
int cmd_boot(int argc, char **argv);

int cmd_move(int argc, char **argv);
int cmd_clone(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_snapshots(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_customize(int argc, char **argv);
int cmd_ssh(int argc, char **argv);

int cmd_run(int argc, char **argv);
/* install --via-vm SRC (cmd-vm.c): cmd_install() hands its whole argv over. */
int cmd_install_via_vm(int argc, char **argv);
/* install (cmd-fs.c and cmd-vm.c): seed (may be NULL) for identifiers; run the install, print the outcome, return the exit status. */
int cli_install_run(const char *disk, const char *name, const struct disk_install_opts *o, const char *seed);

#endif
