/*
 * zones_int.h - the inside of a zone model, shared by zones.c (model and
 * address lookup), policy.c (conduit matrix) and load.c (the YAML file).
 * Not for use outside zones/: everything else goes through zones.h.
 */
#ifndef MM_ZONES_INT_H
#define MM_ZONES_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zones.h"

/* Bounds that keep a hostile or broken file from costing much memory. */
#define ZM_MAX_ZONES 1024 /* the conduit matrix is ZM_MAX_ZONES^2 int32 */
#define ZM_MAX_PROTOS 256 /* distinct protocol names in conduits */
#define ZM_MAX_PREFIXES 65536 /* networks + hosts: <= 2M trie nodes, 24 MB */

/* the op-class bitmask that `ops: [any]` stands for */
#define ZM_OPS_ALL ((uint8_t)((1u << MM_OP__N) - 1))

/*
 * One prefix of the address plan: a zone's network, or a named host (a
 * /32).  `line` is where the file said it, for conflict messages.
 */
struct zm_prefix {
	uint32_t net;  /* host byte order, host bits clear */
	uint8_t len;   /* 0..32 */
	bool is_host;  /* a named host (then `host` is set) */
	int zone;      /* index into zm->zones */
	char *host;    /* host name, or NULL */
	int line;
};

/*
 * Binary trie node, one per prefix bit.  Nodes live in one array and refer
 * to each other by index; index 0 is the root, so 0 also means "no child".
 */
struct zm_node {
	uint32_t child[2];
	int32_t prefix; /* index into zm->prefixes, -1 when none ends here */
};

/* what one conduit allows for one protocol */
struct zm_rule {
	uint16_t proto; /* index into zm->protos */
	uint8_t ops;    /* bit (1 << mm_op_class) per allowed class */
};

/* everything the conduits allow from one zone to another, merged */
struct zm_cell {
	uint8_t any_ops;       /* classes allowed for `protocol: any` */
	size_t nrules;         /* one rule per named protocol, merged */
	struct zm_rule *rules;
};

struct zone_model {
	char *site;

	struct zone *zones;
	bool *intra_policy; /* per zone: `intra_zone: policy` */
	size_t nzones, zones_cap;

	struct zm_prefix *prefixes;
	size_t nprefixes, prefixes_cap;
	struct zm_node *nodes;
	size_t nnodes, nodes_cap;

	char **protos; /* interned protocol names used in conduits */
	size_t nprotos, protos_cap;
	/* [src * nzones + dst] -> index into cells, -1 when no conduit */
	int32_t *cell_of;
	struct zm_cell *cells;
	size_t ncells, cells_cap;
};

struct zone_model *zm_new(void);
/* 0, or -1 when out of memory; takes copies of the strings */
int zm_add_zone(struct zone_model *zm, const char *id, const char *name,
		const char *archetype, enum zone_strength strength,
		bool intra_policy);

enum zm_insert {
	ZM_INSERT_OK = 0,
	ZM_INSERT_NOMEM,
	ZM_INSERT_CONFLICT, /* *other is the prefix already there */
};
/*
 * Put a network (host == NULL) or a named host (a /32) of zone `zone` into
 * the address plan.  The same prefix twice is a conflict, except that a
 * named host may name a /32 that its own zone lists under networks.
 */
enum zm_insert zm_insert_prefix(struct zone_model *zm, uint32_t net,
				uint8_t len, int zone, const char *host,
				int line, const struct zm_prefix **other);

/* index of an archetype id in the table, -1 when unknown */
int zm_archetype_index(const char *id);
/* "joho, dmz, ..." for messages */
extern const char zm_archetype_list[];

/* policy.c: build the conduit matrix once the zones are known */
int zm_policy_init(struct zone_model *zm);
/* index of an interned protocol name, adding it; -1 when out of memory
 * or over ZM_MAX_PROTOS */
int zm_proto_intern(struct zone_model *zm, const char *proto);
/* allow `ops` for protocol `proto` (-1: any) from zone src to zone dst */
int zm_policy_allow(struct zone_model *zm, int src, int dst, int proto,
		    uint8_t ops);
void zm_policy_free(struct zone_model *zm);

#endif /* MM_ZONES_INT_H */
