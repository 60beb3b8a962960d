/* SPDX-License-Identifier: MIT */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

int pb_err_set(struct pb_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (code > 0)
		code = -code;
	if (!err)
		return code;
	err->code = code;
	strbuf_reset(&err->msg);
	va_start(ap, fmt);
	strbuf_vaddf(&err->msg, fmt, ap);
	va_end(ap);
	return code;
}

int pb_err_prefix(struct pb_err *err, int code, const char *fmt, ...)
{
	struct strbuf head = STRBUF_INIT;
	va_list ap;

	if (code > 0)
		code = -code;
	if (!err)
		return code;
	if (!err->code)
		err->code = code;
	if (!err->msg.len)
		strbuf_addstr(&err->msg, strerror(-err->code));
	va_start(ap, fmt);
	strbuf_vaddf(&head, fmt, ap);
	va_end(ap);
	strbuf_add(&head, err->msg.buf, err->msg.len);
	strbuf_release(&err->msg);
	err->msg = head;
	return err->code;
}

void pb_err_clear(struct pb_err *err)
{
	if (!err)
		return;
	err->code = 0;
	strbuf_release(&err->msg);
}

const char *pb_err_msg(const struct pb_err *err)
{
	if (err->msg.len)
		return err->msg.buf;
	return strerror(err->code ? -err->code : EIO);
}
