/*
 * zones.h - the plant's zone model (METI 工場システムにおけるサイバー・フィジカル・
 * セキュリティ対策ガイドライン, Steps 1-6/1-7 ゾーンの整理, Step 2-2 対策強度) and the
 * conduit policy between zones.
 *
 * A zone file (YAML) names zones with their networks and hosts, and
 * conduits: directed (from the requesting zone to the serving zone) lists of
 * protocol x operation-class pairs that are allowed.
 *
 * Lookups are done once per flow end (longest-prefix match), never per
 * packet.
 */
#ifndef MM_ZONES_H
#define MM_ZONES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../dissectors/dissector.h"

/* 対策強度 (Step 2-2): how strongly a zone must be protected */
enum zone_strength {
	ZONE_STRENGTH_MINIMUM = 0, /* 最低限 */
	ZONE_STRENGTH_MEDIUM = 1,  /* 中 */
	ZONE_STRENGTH_HIGH = 2,    /* 高 */
};

struct zone {
	char *id;        /* "seigyo_line1": stable key used in alerts */
	char *name;      /* "制御系 ライン1" (free text, Japanese and/or English) */
	char *archetype; /* "seigyo", "seisan_kanri", ... (DESIGN.md table) */
	enum zone_strength strength;
	int index;       /* position in the model, 0-based */
};

struct zone_model;

/*
 * Load a zone file.  On error returns NULL and writes
 * "FILE:LINE: what is wrong" into err.
 */
struct zone_model *zone_model_load(const char *path, char *err, size_t errlen);
/* the same from a string (tests); `name` is used in messages */
struct zone_model *zone_model_parse(const char *yaml, size_t len,
				    const char *name, char *err, size_t errlen);
void zone_model_free(struct zone_model *zm);

/* the site name given in the file ("" when none) */
const char *zone_model_site(const struct zone_model *zm);
size_t zone_model_count(const struct zone_model *zm);
const struct zone *zone_model_get(const struct zone_model *zm, size_t i);
const struct zone *zone_by_id(const struct zone_model *zm, const char *id);

/*
 * The zone of an IPv4 address (network byte order, as in struct in_addr),
 * by longest-prefix match over every zone's networks and hosts (a named
 * host is a /32).  NULL when the address is in no zone.
 * If host_name is not NULL, it receives the host's name when the address
 * is a named host, else NULL.
 */
const struct zone *zone_lookup(const struct zone_model *zm, uint32_t addr_be,
			       const char **host_name);

/* What the conduits say about one operation. */
enum policy_verdict {
	POLICY_ALLOWED = 0,     /* same zone, or a conduit allows it */
	POLICY_NO_CONDUIT,      /* no conduit at all from src zone to dst zone */
	POLICY_OP_NOT_ALLOWED,  /* a conduit exists, not for this proto/op */
	POLICY_UNKNOWN_HOST,    /* one end is in no zone */
};

/*
 * Judge an operation of class `cls` in protocol `proto` ("modbus"),
 * requested by a host in `src` of a server in `dst` (either may be NULL).
 * Traffic inside one zone is allowed unless the zone file says
 * `intra_zone: policy` for that zone (then conduits from the zone to itself
 * apply).
 * src and dst must come from zm itself (zone_lookup, zone_by_id): a zone
 * of another model (say, before a reload) counts as unknown.  A NULL proto
 * matches only `protocol: any`.  Precomputed: no string compare of zone
 * ids, a few of protocol names at most.
 */
enum policy_verdict policy_check(const struct zone_model *zm,
				 const struct zone *src, const struct zone *dst,
				 const char *proto, enum mm_op_class cls);

/* "high" / "medium" / "minimum" */
const char *zone_strength_name(enum zone_strength s);
/* "高" / "中" / "最低限" (Step 2-2's words, for people-facing output) */
const char *zone_strength_name_ja(enum zone_strength s);

/*
 * The Japanese name of an archetype id: "seigyo" -> "制御系",
 * "seisan_kanri" -> "生産管理・監視", "other" -> "その他".  NULL when the id
 * is no archetype (a loaded model only holds known ones).
 */
const char *zone_archetype_name_ja(const char *archetype);

/* true when the zone file says `intra_zone: policy` for z */
bool zone_intra_policy(const struct zone_model *zm, const struct zone *z);

/* "allowed", "no_conduit", "op_not_allowed", "unknown_host" */
const char *policy_verdict_name(enum policy_verdict v);

/*
 * What the conduits allow from src to dst, as text for people (the zone
 * matrix): "any: read, discover; modbus: read; s7comm: any".  Returns true
 * when a conduit leads from src to dst (buf is "" when not).  Traffic
 * inside a zone without `intra_zone: policy` is allowed whatever this says.
 */
bool policy_describe(const struct zone_model *zm, const struct zone *src,
		     const struct zone *dst, char *buf, size_t len);

#endif /* MM_ZONES_H */
