/*
 * zones.c - the zone model in memory: zones, archetypes, and the address
 * plan with its longest-prefix match.  Loading the YAML file is load.c;
 * the conduit policy is policy.c.
 *
 * Address lookup: a binary trie, one node per prefix bit, kept in a single
 * array (indices, not pointers).  A lookup walks at most 32 nodes from the
 * most significant bit and remembers the last node where a prefix ends:
 * that is the longest match, by construction, with no hashing and no
 * compare of whole prefixes.  A named host is a /32, so it always wins over
 * the network it sits in.  Hundreds of prefixes cost a few thousand
 * 12-byte nodes.  Chosen over per-length sorted arrays (up to 33 binary
 * searches) because the worst case is fixed and the code is short; lookups
 * happen once per flow end, so either would do.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "zones_int.h"

/*
 * The archetypes of DESIGN.md ("Zones"), with the guideline's Japanese
 * names for people-facing output.  `other` is for zones that fit none.
 */
static const struct {
	const char *id;
	const char *ja;
} zm_archetypes[] = {
	{ "joho", "情報系" },                       /* enterprise IT, Purdue 4 */
	{ "dmz", "中継(DMZ)" },                     /* IT/OT DMZ, 3.5 */
	{ "seisan_kanri", "生産管理・監視" },       /* MES, SCADA, historian, 3 */
	{ "seigyo", "制御系" },                     /* PLC, HMI, robots, 1-2 */
	{ "hozen", "保全・エンジニアリング" },      /* engineering stations, 2 */
	{ "jido_hanso", "自動搬送" },               /* AGV/AMR, 1-2 */
	{ "jido_soko", "自動倉庫" },                /* AS/RS, 1-3 */
	{ "setsubi", "建屋設備" },                  /* HVAC, power meters, 1-2 */
	{ "remote", "リモートメンテナンス" },       /* external service, 5 */
	{ "other", "その他" },
};
#define ZM_N_ARCHETYPES (sizeof(zm_archetypes) / sizeof(zm_archetypes[0]))

const char zm_archetype_list[] = "joho, dmz, seisan_kanri, seigyo, hozen, "
				 "jido_hanso, jido_soko, setsubi, remote, other";

int zm_archetype_index(const char *id)
{
	for (size_t i = 0; i < ZM_N_ARCHETYPES; i++)
		if (strcmp(id, zm_archetypes[i].id) == 0)
			return (int)i;
	return -1;
}

const char *zone_archetype_name_ja(const char *archetype)
{
	int i;

	if (!archetype)
		return NULL;
	i = zm_archetype_index(archetype);
	return i < 0 ? NULL : zm_archetypes[i].ja;
}

const char *zone_strength_name(enum zone_strength s)
{
	switch (s) {
	case ZONE_STRENGTH_MINIMUM:
		return "minimum";
	case ZONE_STRENGTH_MEDIUM:
		return "medium";
	case ZONE_STRENGTH_HIGH:
		return "high";
	}
	return "?";
}

const char *zone_strength_name_ja(enum zone_strength s)
{
	switch (s) {
	case ZONE_STRENGTH_MINIMUM:
		return "最低限";
	case ZONE_STRENGTH_MEDIUM:
		return "中";
	case ZONE_STRENGTH_HIGH:
		return "高";
	}
	return "?";
}

/* --- the model --- */

struct zone_model *zm_new(void)
{
	struct zone_model *zm = calloc(1, sizeof(*zm));

	if (!zm)
		return NULL;
	zm->site = strdup("");
	zm->nodes = calloc(1, sizeof(*zm->nodes));
	if (!zm->site || !zm->nodes) {
		zone_model_free(zm);
		return NULL;
	}
	zm->nodes[0].prefix = -1; /* the root: matches 0.0.0.0/0 if listed */
	zm->nnodes = zm->nodes_cap = 1;
	return zm;
}

/* grow *p (n used, *cap allocated, elements of size sz) to hold one more */
static int grow(void **p, size_t n, size_t *cap, size_t sz)
{
	size_t ncap;
	void *np;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	np = realloc(*p, ncap * sz);
	if (!np)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

int zm_add_zone(struct zone_model *zm, const char *id, const char *name,
		const char *archetype, enum zone_strength strength,
		bool intra_policy)
{
	struct zone *z;

	if (zm->nzones == zm->zones_cap) {
		size_t ncap = zm->zones_cap ? zm->zones_cap * 2 : 8;
		struct zone *nz;
		bool *ni;

		nz = realloc(zm->zones, ncap * sizeof(*nz));
		if (!nz)
			return -1;
		zm->zones = nz;
		ni = realloc(zm->intra_policy, ncap * sizeof(*ni));
		if (!ni)
			return -1;
		zm->intra_policy = ni;
		zm->zones_cap = ncap;
	}
	z = &zm->zones[zm->nzones];
	memset(z, 0, sizeof(*z));
	z->id = strdup(id);
	z->name = strdup(name);
	z->archetype = strdup(archetype);
	if (!z->id || !z->name || !z->archetype) {
		free(z->id);
		free(z->name);
		free(z->archetype);
		return -1;
	}
	z->strength = strength;
	z->index = (int)zm->nzones;
	zm->intra_policy[zm->nzones] = intra_policy;
	zm->nzones++;
	return 0;
}

enum zm_insert zm_insert_prefix(struct zone_model *zm, uint32_t net,
				uint8_t len, int zone, const char *host,
				int line, const struct zm_prefix **other)
{
	uint32_t n = 0;
	struct zm_prefix *p;

	/* walk (and extend) the trie along the prefix bits */
	for (unsigned i = 0; i < len; i++) {
		unsigned bit = (net >> (31 - i)) & 1;

		if (zm->nodes[n].child[bit] == 0) {
			if (grow((void **)&zm->nodes, zm->nnodes,
				 &zm->nodes_cap, sizeof(*zm->nodes)))
				return ZM_INSERT_NOMEM;
			zm->nodes[zm->nnodes].child[0] = 0;
			zm->nodes[zm->nnodes].child[1] = 0;
			zm->nodes[zm->nnodes].prefix = -1;
			zm->nodes[n].child[bit] = (uint32_t)zm->nnodes;
			zm->nnodes++;
		}
		n = zm->nodes[n].child[bit];
	}

	if (zm->nodes[n].prefix >= 0) {
		p = &zm->prefixes[zm->nodes[n].prefix];
		/* a name for a /32 its own zone lists as a network */
		if (p->zone == zone && (host != NULL) != p->is_host) {
			if (host) {
				p->host = strdup(host);
				if (!p->host)
					return ZM_INSERT_NOMEM;
				p->is_host = true;
				p->line = line;
			}
			return ZM_INSERT_OK;
		}
		*other = p;
		return ZM_INSERT_CONFLICT;
	}

	if (grow((void **)&zm->prefixes, zm->nprefixes, &zm->prefixes_cap,
		 sizeof(*zm->prefixes)))
		return ZM_INSERT_NOMEM;
	p = &zm->prefixes[zm->nprefixes];
	memset(p, 0, sizeof(*p));
	if (host) {
		p->host = strdup(host);
		if (!p->host)
			return ZM_INSERT_NOMEM;
		p->is_host = true;
	}
	p->net = net;
	p->len = len;
	p->zone = zone;
	p->line = line;
	zm->nodes[n].prefix = (int32_t)zm->nprefixes;
	zm->nprefixes++;
	return ZM_INSERT_OK;
}

void zone_model_free(struct zone_model *zm)
{
	if (!zm)
		return;
	for (size_t i = 0; i < zm->nzones; i++) {
		free(zm->zones[i].id);
		free(zm->zones[i].name);
		free(zm->zones[i].archetype);
	}
	free(zm->zones);
	free(zm->intra_policy);
	for (size_t i = 0; i < zm->nprefixes; i++)
		free(zm->prefixes[i].host);
	free(zm->prefixes);
	free(zm->nodes);
	zm_policy_free(zm);
	free(zm->site);
	free(zm);
}

const char *zone_model_site(const struct zone_model *zm)
{
	return zm && zm->site ? zm->site : "";
}

size_t zone_model_count(const struct zone_model *zm)
{
	return zm ? zm->nzones : 0;
}

const struct zone *zone_model_get(const struct zone_model *zm, size_t i)
{
	if (!zm || i >= zm->nzones)
		return NULL;
	return &zm->zones[i];
}

const struct zone *zone_by_id(const struct zone_model *zm, const char *id)
{
	if (!zm || !id)
		return NULL;
	for (size_t i = 0; i < zm->nzones; i++)
		if (strcmp(zm->zones[i].id, id) == 0)
			return &zm->zones[i];
	return NULL;
}

bool zone_intra_policy(const struct zone_model *zm, const struct zone *z)
{
	if (!zm || !z || z->index < 0 || (size_t)z->index >= zm->nzones ||
	    &zm->zones[z->index] != z)
		return false;
	return zm->intra_policy[z->index];
}

const struct zone *zone_lookup(const struct zone_model *zm, uint32_t addr_be,
			       const char **host_name)
{
	uint32_t a = ntohl(addr_be), n = 0;
	int32_t best;

	if (host_name)
		*host_name = NULL;
	if (!zm)
		return NULL;
	best = zm->nodes[0].prefix;
	for (int bit = 31; bit >= 0; bit--) {
		n = zm->nodes[n].child[(a >> bit) & 1];
		if (n == 0)
			break;
		if (zm->nodes[n].prefix >= 0)
			best = zm->nodes[n].prefix;
	}
	if (best < 0)
		return NULL;
	if (host_name)
		*host_name = zm->prefixes[best].host;
	return &zm->zones[zm->prefixes[best].zone];
}
