/*
 * policy.c - the conduits between zones, precomputed at load into a
 * matrix so that a check is a table lookup.
 *
 * cell_of[src * nzones + dst] is -1 when no conduit leads from src to dst,
 * else the index of a cell holding everything the conduits allow for that
 * pair, merged: the op classes allowed for `protocol: any` as one bitmask,
 * and one (protocol, op bitmask) rule per named protocol.  A check indexes
 * the matrix with the zones' positions (no compare of zone ids), tests one
 * bit, and compares the protocol name only against the few protocols that
 * pair's conduits name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zones_int.h"

int zm_policy_init(struct zone_model *zm)
{
	size_t n = zm->nzones * zm->nzones;

	free(zm->cell_of);
	zm->cell_of = malloc((n ? n : 1) * sizeof(*zm->cell_of));
	if (!zm->cell_of)
		return -1;
	for (size_t i = 0; i < n; i++)
		zm->cell_of[i] = -1;
	return 0;
}

int zm_proto_intern(struct zone_model *zm, const char *proto)
{
	for (size_t i = 0; i < zm->nprotos; i++)
		if (strcmp(zm->protos[i], proto) == 0)
			return (int)i;
	if (zm->nprotos >= ZM_MAX_PROTOS)
		return -1;
	if (zm->nprotos == zm->protos_cap) {
		size_t ncap = zm->protos_cap ? zm->protos_cap * 2 : 8;
		char **np = realloc(zm->protos, ncap * sizeof(*np));

		if (!np)
			return -1;
		zm->protos = np;
		zm->protos_cap = ncap;
	}
	zm->protos[zm->nprotos] = strdup(proto);
	if (!zm->protos[zm->nprotos])
		return -1;
	return (int)zm->nprotos++;
}

int zm_policy_allow(struct zone_model *zm, int src, int dst, int proto,
		    uint8_t ops)
{
	int32_t *ci = &zm->cell_of[(size_t)src * zm->nzones + (size_t)dst];
	struct zm_cell *c;
	struct zm_rule *nr;

	if (*ci < 0) {
		if (zm->ncells == zm->cells_cap) {
			size_t ncap = zm->cells_cap ? zm->cells_cap * 2 : 8;
			struct zm_cell *nc;

			nc = realloc(zm->cells, ncap * sizeof(*nc));
			if (!nc)
				return -1;
			zm->cells = nc;
			zm->cells_cap = ncap;
		}
		memset(&zm->cells[zm->ncells], 0, sizeof(zm->cells[0]));
		*ci = (int32_t)zm->ncells++;
	}
	c = &zm->cells[*ci];
	if (proto < 0) {
		c->any_ops |= ops;
		return 0;
	}
	for (size_t i = 0; i < c->nrules; i++) {
		if (c->rules[i].proto == proto) {
			c->rules[i].ops |= ops;
			return 0;
		}
	}
	/* a cell holds at most one rule per distinct protocol (few) */
	nr = realloc(c->rules, (c->nrules + 1) * sizeof(*nr));
	if (!nr)
		return -1;
	c->rules = nr;
	c->rules[c->nrules].proto = (uint16_t)proto;
	c->rules[c->nrules].ops = ops;
	c->nrules++;
	return 0;
}

void zm_policy_free(struct zone_model *zm)
{
	for (size_t i = 0; i < zm->ncells; i++)
		free(zm->cells[i].rules);
	free(zm->cells);
	free(zm->cell_of);
	for (size_t i = 0; i < zm->nprotos; i++)
		free(zm->protos[i]);
	free(zm->protos);
	zm->cells = NULL;
	zm->cell_of = NULL;
	zm->protos = NULL;
	zm->ncells = zm->cells_cap = zm->nprotos = zm->protos_cap = 0;
}

/* z is one of this model's zones (not one from another model or a copy) */
static bool zone_of(const struct zone_model *zm, const struct zone *z)
{
	return z && z->index >= 0 && (size_t)z->index < zm->nzones &&
	       &zm->zones[z->index] == z;
}

static const struct zm_cell *cell(const struct zone_model *zm,
				  const struct zone *src,
				  const struct zone *dst)
{
	int32_t ci = zm->cell_of[(size_t)src->index * zm->nzones +
				 (size_t)dst->index];

	return ci < 0 ? NULL : &zm->cells[ci];
}

enum policy_verdict policy_check(const struct zone_model *zm,
				 const struct zone *src, const struct zone *dst,
				 const char *proto, enum mm_op_class cls)
{
	const struct zm_cell *c;
	uint8_t bit;

	if (!zm || !zone_of(zm, src) || !zone_of(zm, dst))
		return POLICY_UNKNOWN_HOST;
	if (src == dst && !zm->intra_policy[src->index])
		return POLICY_ALLOWED;
	c = cell(zm, src, dst);
	if (!c)
		return POLICY_NO_CONDUIT;
	/* an out-of-range class matches nothing, not even `ops: [any]` */
	bit = (unsigned)cls < MM_OP__N ? (uint8_t)(1u << cls) : 0;
	if (c->any_ops & bit)
		return POLICY_ALLOWED;
	if (proto)
		for (size_t i = 0; i < c->nrules; i++)
			if ((c->rules[i].ops & bit) &&
			    strcmp(zm->protos[c->rules[i].proto], proto) == 0)
				return POLICY_ALLOWED;
	return POLICY_OP_NOT_ALLOWED;
}

const char *policy_verdict_name(enum policy_verdict v)
{
	switch (v) {
	case POLICY_ALLOWED:
		return "allowed";
	case POLICY_NO_CONDUIT:
		return "no_conduit";
	case POLICY_OP_NOT_ALLOWED:
		return "op_not_allowed";
	case POLICY_UNKNOWN_HOST:
		return "unknown_host";
	}
	return "?";
}

/* append "name: read, write" for one op mask; keeps buf terminated */
static void describe_rule(char *buf, size_t len, size_t *at, const char *name,
			  uint8_t ops)
{
	int n;

	n = snprintf(buf + *at, len - *at, "%s%s:", *at ? "; " : "", name);
	if (n < 0 || (size_t)n >= len - *at)
		goto full;
	*at += (size_t)n;
	if (ops == ZM_OPS_ALL) {
		n = snprintf(buf + *at, len - *at, " any");
		if (n < 0 || (size_t)n >= len - *at)
			goto full;
		*at += (size_t)n;
		return;
	}
	for (int i = 0, first = 1; i < MM_OP__N; i++) {
		if (!(ops & (1u << i)))
			continue;
		n = snprintf(buf + *at, len - *at, "%s %s", first ? "" : ",",
			     mm_op_class_names[i]);
		if (n < 0 || (size_t)n >= len - *at)
			goto full;
		*at += (size_t)n;
		first = 0;
	}
	return;
full:
	*at = len - 1; /* snprintf truncated and terminated */
}

bool policy_describe(const struct zone_model *zm, const struct zone *src,
		     const struct zone *dst, char *buf, size_t len)
{
	const struct zm_cell *c;
	size_t at = 0;

	if (len)
		buf[0] = '\0';
	if (!zm || !zone_of(zm, src) || !zone_of(zm, dst))
		return false;
	c = cell(zm, src, dst);
	if (!c)
		return false;
	if (len < 2)
		return true;
	if (c->any_ops)
		describe_rule(buf, len, &at, "any", c->any_ops);
	for (size_t i = 0; i < c->nrules && at < len - 1; i++)
		describe_rule(buf, len, &at, zm->protos[c->rules[i].proto],
			      c->rules[i].ops);
	return true;
}
