/* SPDX-License-Identifier: MIT */
/*
 * two-guests — a bootable disk with two guests, through libpartboot's public API only.
 *
 *   two-guests DISK GUEST_TAR
 *
 * DISK, an image file (created, sparse, when it does not exist) or a disk without a
 * partition table, gets a GPT with a 1 MiB BIOS boot partition, a 64 MiB ESP and two
 * root partitions, alpha and beta. GUEST_TAR, a root filesystem as a tar archive (plain,
 * gzip, xz or zstd; partboot's test guest is .cache/guest/guest.tar), is installed into
 * both, without mounting anything. GRUB for BIOS and UEFI goes on the disk, with alpha
 * as the default. Exit status 0 on success, 1 on failure, 2 for a usage error.
 *
 * Build (docs/examples/README.md):
 *   cc -Wall -Wextra two-guests.c $(pkg-config --cflags --libs partboot) -o two-guests
 *
 * Every libpartboot call returns 0 or -errno and fills a struct pb_err with one sentence
 * naming the disk, partition and cause; the library never prints, so this program says
 * it once, where it gives up. Warnings and step notes come through struct disk_diag.
 */
#include <disk/disk.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define MIB (1024ULL * 1024)

/* A sparse image of this size when DISK does not exist: the four partitions fit in it. */
#define DISK_SIZE (512 * MIB)

static const struct part_spec layout[] = {
	{ .name = "bios", .type = PART_TYPE_BIOS_BOOT, .size = 1 * MIB },
	{ .name = "esp", .type = PART_TYPE_ESP, .size = 64 * MIB },
	{ .name = "alpha", .type = PART_TYPE_ROOT, .size = 192 * MIB },
	{ .name = "beta", .type = PART_TYPE_ROOT, .size = 192 * MIB },
};
static const char *const guests[] = { "alpha", "beta" };

static void on_warn(const char *msg, void *userdata)
{
	(void)userdata;
	fprintf(stderr, "two-guests: warning: %s\n", msg);
}

static void on_note(const char *msg, void *userdata)
{
	(void)userdata;
	printf("%s\n", msg);
}

static int build(struct disk *k, const char *tar, struct pb_err *err)
{
	struct part_disk *d = disk_part(k); /* borrowed from k */
	size_t i;
	int r;

	/* The table is made in memory, partition by partition; part_disk_write() writes it. */
	if (part_disk_table(d) != PART_TABLE_NONE)
		return pb_err_set(err, -EEXIST, "%s: already has a partition table; give an empty disk",
				  disk_path(k));
	r = part_disk_new_table(d, PART_TABLE_GPT, NULL, err);
	if (r < 0)
		return r;
	for (i = 0; i < sizeof(layout) / sizeof(layout[0]); i++) {
		r = part_disk_add(d, &layout[i], NULL, err);
		if (r < 0)
			return r;
	}
	r = part_disk_write(d, err);
	if (r < 0)
		return r;
	printf("%s: GPT with bios-boot, esp, alpha, beta\n", disk_path(k));

	/* Each install makes the ext4, fills it from the archive and sets the guest up. */
	for (i = 0; i < sizeof(guests) / sizeof(guests[0]); i++) {
		struct disk_install_opts o = { .source = tar, .hostname = guests[i] };

		r = disk_install(k, guests[i], &o, NULL, err);
		if (r < 0)
			return r;
		printf("%s: installed '%s' from %s\n", disk_path(k), guests[i], tar);
	}

	/* GRUB for both firmwares, its menu listing both guests; alpha boots by default. */
	r = disk_bootloader_install(k, BOOT_INSTALL_BIOS | BOOT_INSTALL_UEFI, err);
	if (r < 0)
		return r;
	r = boot_set_default(d, guests[0], err);
	if (r < 0)
		return r;
	printf("%s: GRUB for BIOS and UEFI, default '%s'\n", disk_path(k), guests[0]);
	return 0;
}

/* What the disk holds now, as the boot menu sees it. */
static int show(struct disk *k, struct pb_err *err)
{
	struct disk_guests g;
	size_t i;
	int r;

	r = disk_guest_scan(k, &g, err);
	if (r < 0)
		return r;
	for (i = 0; i < g.n; i++) {
		const struct disk_guest *e = &g.v[i];

		if (e->state == DISK_GUEST_NONE)
			continue;
		printf("  %u %-6s %s", e->part.partno, e->part.name, disk_guest_state_to_string(e->state));
		if (e->bootable)
			printf(", in the boot menu: %s", e->info.pretty_name ? e->info.pretty_name : "Linux");
		else if (e->why)
			printf(", not bootable: %s", e->why);
		putchar('\n');
	}
	disk_guests_release(&g);
	return 0;
}

int main(int argc, char **argv)
{
	const struct disk_diag diag = { .warn = on_warn, .note = on_note };
	struct pb_err err = PB_ERR_INIT;
	struct disk *k = NULL;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: two-guests DISK GUEST_TAR\n");
		return 2;
	}

	/* Opening locks the disk against other partboot users until disk_free(). */
	r = disk_open(argv[1], DISK_OPEN_CREATE, DISK_SIZE, &diag, &k, &err);
	if (r >= 0)
		r = build(k, argv[2], &err);
	if (r >= 0)
		r = show(k, &err);
	if (r < 0)
		fprintf(stderr, "two-guests: %s\n", pb_err_msg(&err));
	disk_free(k);
	pb_err_clear(&err);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
