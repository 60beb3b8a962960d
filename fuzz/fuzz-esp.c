/* SPDX-License-Identifier: MIT */
/*
 * The ESP's FAT walker and grubenv written in place (boot/esp.c,
 * boot/grubenv.c), on a 16 MiB disk in memory: GPT, an 8 MiB FAT16 ESP made
 * by mkfs.fat holding a grub.cfg with an entry for guest 'a' and a grubenv
 * (both copied in with mtools, once), and partition 'a'. The input is laid
 * over the ESP's first 128 KiB (boot sector, FATs, root directory, the
 * files' clusters). Then what default, next and remove do to grubenv:
 * boot_env_read(), boot_set_default(), boot_set_next(), boot_forget_guest().
 * Invariant: nothing outside the ESP changes, whatever the FAT says.
 */
#include <errno.h>

#include "boot/boot.h"
#include "fuzz-common.h"
#include "part/part.h"

#define DISK_SIZE (16ull << 20)
#define ESP_START (1ull << 20)
#define ESP_SIZE (8ull << 20)
#define HEAD_LEN (128u << 10)
#define TAIL_LEN (33 * 512)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_file disk;
static uint8_t lead[ESP_START], head[HEAD_LEN], tail[TAIL_LEN];

static void make_template(void)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = NULL;
	struct part_spec esp = { .name = "esp", .type = PART_TYPE_ESP, .size = ESP_SIZE };
	struct part_spec a = { .name = "a", .type = PART_TYPE_ROOT, .size = 4 << 20 };
	const struct boot_entry e = { .id = "a", .fs_uuid = "1234", .partuuid = "5678", .kernel = "/vmlinuz" };
	struct fuzz_file cfg, env;
	struct strbuf sb = STRBUF_INIT;
	char block[BOOT_GRUBENV_SIZE], spec[96], kib[32], off[32];

	fuzz_file_init(&disk, "disk.img");
	fuzz_file_set(&disk, NULL, 0, DISK_SIZE);
	if (part_disk_open(disk.path, 0, 0, &d, &err) < 0 || part_disk_new_table(d, PART_TABLE_GPT, "fuzz", &err) < 0 ||
	    part_disk_add(d, &esp, NULL, &err) < 0 || part_disk_add(d, &a, NULL, &err) < 0 ||
	    part_disk_write(d, &err) < 0) {
		fprintf(stderr, "fuzz: template: %s\n", pb_err_msg(&err));
		abort();
	}
	part_disk_free(d);
	snprintf(off, sizeof(off), "%llu", ESP_START / 512);
	snprintf(kib, sizeof(kib), "%llu", ESP_SIZE / 1024);
	snprintf(spec, sizeof(spec), "%s@@%llu", disk.path, ESP_START);
	{
		const char *mkfs[] = { "mkfs.fat", "-F", "16", "-s", "1", "-S", "512", "--offset", off, disk.path, kib, NULL };
		const char *mmd[] = { "mmd", "-i", spec, "::/grub", NULL };

		fuzz_run(mkfs);
		fuzz_run(mmd);
	}
	boot_menu_render(&e, 1, &sb);
	fuzz_file_init(&cfg, "grub.cfg");
	fuzz_file_set(&cfg, sb.buf, sb.len, 0);
	boot_grubenv_init(block);
	boot_grubenv_set(block, "saved_entry", "a");
	fuzz_file_init(&env, "grubenv");
	fuzz_file_set(&env, block, sizeof(block), 0);
	{
		const char *c1[] = { "mcopy", "-i", spec, cfg.path, "::/grub/grub.cfg", NULL };
		const char *c2[] = { "mcopy", "-i", spec, env.path, "::/grub/grubenv", NULL };

		fuzz_run(c1);
		fuzz_run(c2);
	}
	strbuf_release(&sb);
	close(cfg.fd);
	close(env.fd);
	if (pread(disk.fd, lead, sizeof(lead), 0) != sizeof(lead) ||
	    pread(disk.fd, head, sizeof(head), ESP_START) != sizeof(head) ||
	    pread(disk.fd, tail, sizeof(tail), DISK_SIZE - TAIL_LEN) != sizeof(tail))
		abort();
}

/* Nothing outside the ESP changed: the lead-in and the backup GPT as made, partition 'a' still a hole. */
static void check_outside(void)
{
	static uint8_t buf[ESP_START];
	off_t next;

	fuzz_assert(pread(disk.fd, buf, sizeof(lead), 0) == sizeof(lead) && !memcmp(buf, lead, sizeof(lead)));
	fuzz_assert(pread(disk.fd, buf, TAIL_LEN, DISK_SIZE - TAIL_LEN) == TAIL_LEN && !memcmp(buf, tail, TAIL_LEN));
	/* memfd pages are 4 KiB: the backup GPT's first page starts a little before it */
	next = lseek(disk.fd, (off_t)(ESP_START + ESP_SIZE), SEEK_DATA);
	fuzz_assert(next < 0 || (uint64_t)next >= ((DISK_SIZE - TAIL_LEN) & ~4095ull));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = NULL;
	char *def = NULL, *next = NULL;

	if (!ready) {
		make_template();
		ready = 1;
	}
	/* the template's ESP head again (the ops below write grubenv there), then the input over it */
	fuzz_pwrite(disk.fd, head, sizeof(head), ESP_START);
	fuzz_pwrite(disk.fd, data, size < HEAD_LEN ? size : HEAD_LEN, ESP_START);
	if (part_disk_open(disk.path, PART_OPEN_NOWAIT, 0, &d, &err) < 0)
		abort(); /* the table is the template's: it opens */
	boot_is_installed(d);
	if (boot_env_read(d, &def, &next, &err) == 0) {
		free(def);
		free(next);
	}
	pb_err_clear(&err);
	boot_set_default(d, "a", &err);
	pb_err_clear(&err);
	boot_set_next(d, "a", &err);
	pb_err_clear(&err);
	boot_forget_guest(d, "a", &err);
	pb_err_clear(&err);
	part_disk_free(d);
	check_outside();
	return 0;
}
