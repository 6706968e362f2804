/*
 * ctx.c - the services a dissector calls, dispatched to whoever hosts it
 * (the daemon, or a unit test's recorder).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dissector.h"

void mm_emit_op(struct mm_ctx *c, const struct mm_op *op)
{
	if (c->ops && c->ops->op)
		c->ops->op(c, op);
}

void mm_op_target_vdefer(struct mm_op *op, const char *fmt, va_list ap)
{
	int i = 0;
	size_t n;
	va_list aq;

	while (i < MM_OP_TARGET_PARTS && op->target_fmt[i])
		i++;
	if (i < MM_OP_TARGET_PARTS) {
		va_copy(aq, ap);
		n = mm_fmt_capture(fmt, aq, op->target_arg[i], MM_OP_TARGET_ARGS);
		va_end(aq);
		if (n <= MM_OP_TARGET_ARGS) {
			op->target_fmt[i] = fmt;
			op->target_nargs[i] = (uint8_t)n;
			return;
		}
	}
	/* no room to defer it: what is deferred so far, then this, now */
	mm_op_target(op);
	n = strnlen(op->target, sizeof(op->target));
	mm_vfmt(op->target + n, sizeof(op->target) - n, fmt, ap);
}

void mm_op_target_defer(struct mm_op *op, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mm_op_target_vdefer(op, fmt, ap);
	va_end(ap);
}

/*
 * The op handed to a consumer is const, but it is the dissector's own
 * (non-const) object or a copy of it, so filling its text in place - once,
 * the parts are cleared - is well defined.
 */
const char *mm_op_target(const struct mm_op *cop)
{
	struct mm_op *op = (struct mm_op *)cop;
	size_t n;

	if (!op->target_fmt[0])
		return op->target;
	n = strnlen(op->target, sizeof(op->target));
	for (int i = 0; i < MM_OP_TARGET_PARTS && op->target_fmt[i]; i++) {
		n += mm_afmt(op->target + n, sizeof(op->target) - n,
			     op->target_fmt[i], op->target_arg[i],
			     op->target_nargs[i]);
		op->target_fmt[i] = NULL;
	}
	return op->target;
}

void mm_emit_event(struct mm_ctx *c, const struct mm_event_def *ev,
		   const char *fmt, ...)
{
	char detail[256];
	va_list ap;

	if (!c->ops || !c->ops->event)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	c->ops->event(c, ev, detail);
}

struct mm_rec *mm_txlog_begin(struct mm_ctx *c)
{
	if (c->ops && c->ops->txlog_begin)
		return c->ops->txlog_begin(c);
	return NULL;
}

void mm_txlog_end(struct mm_ctx *c, struct mm_rec *r)
{
	if (r && c->ops && c->ops->txlog_end)
		c->ops->txlog_end(c, r);
}

void mm_asset_fact(struct mm_ctx *c, bool server_side, const char *key,
		   const uint8_t *value, size_t len)
{
	if (c->ops && c->ops->asset_fact)
		c->ops->asset_fact(c, server_side, key, value, len);
}

void mm_set_origin(struct mm_ctx *c, uint32_t ip_be, uint16_t port)
{
	if (c->ops && c->ops->origin)
		c->ops->origin(c, ip_be, port);
}

void mm_flow_exclude(struct mm_ctx *c)
{
	if (c->ops && c->ops->exclude)
		c->ops->exclude(c);
}
