/*
 * ctx.c - the services a dissector calls, dispatched to whoever hosts it
 * (the daemon, or a unit test's recorder).
 */
#include <stdarg.h>
#include <stdio.h>

#include "dissector.h"

void mm_emit_op(struct mm_ctx *c, const struct mm_op *op)
{
	if (c->ops && c->ops->op)
		c->ops->op(c, op);
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
