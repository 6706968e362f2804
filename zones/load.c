/*
 * load.c - read a zone file into a zone model.
 *
 * The YAML is parsed by libyaml's document API (yaml_parser_load): anchors,
 * aliases, quoting, flow and block styles and UTF-8 checks are libyaml's
 * job; this file only walks the resulting node tree against the schema
 * (etc/zones.yaml documents it).
 *
 * Strict on purpose: a typo in a zone file must not pass silently, since
 * it would quietly weaken the policy.  Unknown keys, keys given twice,
 * wrong node types, unknown zone ids or op classes, bad addresses are all
 * errors, each reported once as "FILE:LINE: what is wrong" (libyaml lines
 * are 0-based, ours 1-based).  Nothing here exits or aborts; every input,
 * broken or hostile, yields a model or NULL and a message.
 *
 * The walker only descends where the schema expects children, so cyclic
 * aliases (`&a [*a]`) are met as a wrong node type, never followed, and an
 * alias repeated many times costs no more than its uses (lists of zones
 * are merged into sets, allow rules into one mask per protocol, before the
 * conduit matrix is filled).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "zones_int.h"

#define ZM_MAX_FILE (4u << 20) /* a zone file is a few KiB; refuse junk */
#define ZM_MAX_ID 63           /* zone ids and protocol names */
#define ZM_MAX_DEPTH 32        /* a zone file nests 5 deep */

/*
 * Names seen so far (zone ids, host names) and a number for each, so that
 * checking a name is not a scan of all the names before it (a hostile
 * file may hold 100,000).  Open addressing with FNV-1a, kept at most half
 * full.  The strings are the document's, which outlives the loading.
 */
struct names {
	struct name_slot {
		const char *s; /* NULL: free */
		size_t v;
	} *slot;
	size_t cap, n;
};

static size_t names_hash(const char *s, size_t cap)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h & (cap - 1);
}

/* the number stored for s, or false */
static bool names_find(const struct names *t, const char *s, size_t *v)
{
	if (!t->cap)
		return false;
	for (size_t i = names_hash(s, t->cap); t->slot[i].s;
	     i = (i + 1) & (t->cap - 1)) {
		if (strcmp(t->slot[i].s, s) == 0) {
			*v = t->slot[i].v;
			return true;
		}
	}
	return false;
}

/* add s (not yet there); -1 when out of memory */
static int names_add(struct names *t, const char *s, size_t v)
{
	size_t i;

	if (2 * (t->n + 1) > t->cap) {
		struct names bigger = { NULL, t->cap ? 2 * t->cap : 64, 0 };

		bigger.slot = calloc(bigger.cap, sizeof(*bigger.slot));
		if (!bigger.slot)
			return -1;
		for (i = 0; i < t->cap; i++)
			if (t->slot[i].s)
				names_add(&bigger, t->slot[i].s, t->slot[i].v);
		free(t->slot);
		*t = bigger;
	}
	for (i = names_hash(s, t->cap); t->slot[i].s; i = (i + 1) & (t->cap - 1))
		;
	t->slot[i].s = s;
	t->slot[i].v = v;
	t->n++;
	return 0;
}

struct ld {
	const char *name; /* the file, for messages */
	char *err;
	size_t errlen;
	const char *text; /* the whole input, for reader-error lines */
	size_t len;
	yaml_document_t *doc;
	struct zone_model *zm;
	size_t *zone_line; /* per zone: line of its id, for duplicates */
	struct names zone_ids; /* id -> zone index */
	struct names hosts;    /* host name -> line */
};

/* --- messages --- */

static bool fail_line(struct ld *ld, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool fail_line(struct ld *ld, size_t line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!ld->err || ld->errlen == 0)
		return false;
	n = snprintf(ld->err, ld->errlen, "%s:%zu: ", ld->name, line);
	if (n < 0 || (size_t)n >= ld->errlen)
		return false;
	va_start(ap, fmt);
	vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

static size_t line_of(const yaml_node_t *n)
{
	return n ? n->start_mark.line + 1 : 1;
}

#define fail(ld, node, ...) fail_line((ld), line_of(node), __VA_ARGS__)

/*
 * A value from the file, fit to quote in a message: at most 40 bytes (cut
 * on a UTF-8 character boundary), control characters shown as '?'.
 */
struct shown {
	char s[64];
};

static struct shown show(const char *v)
{
	struct shown o;
	size_t i = 0, j = 0;

	for (; v[i] && j < 40; i++, j++) {
		unsigned char c = (unsigned char)v[i];

		o.s[j] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (v[i]) {
		/* cut inside a multi-byte character: drop its first bytes */
		if (((unsigned char)v[i] & 0xc0) == 0x80) {
			while (j > 0 && ((unsigned char)o.s[j - 1] & 0xc0) == 0x80)
				j--;
			if (j > 0 && (unsigned char)o.s[j - 1] >= 0xc0)
				j--;
		}
		memcpy(o.s + j, "...", 4);
	} else {
		o.s[j] = '\0';
	}
	return o;
}

static const char *kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a single value";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* --- node helpers --- */

static yaml_node_t *node(struct ld *ld, int i)
{
	return yaml_document_get_node(ld->doc, i);
}

/* the text of a scalar node, or NULL (and an error) */
static const char *scalar(struct ld *ld, const yaml_node_t *n, const char *what)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE) {
		fail(ld, n, "%s must be a single value, not %s", what, kind(n));
		return NULL;
	}
	v = (const char *)n->data.scalar.value;
	if (strlen(v) != n->data.scalar.length) {
		fail(ld, n, "%s must not contain a NUL character", what);
		return NULL;
	}
	return v;
}

/* free text (site, names): any UTF-8 (libyaml checked it), no controls */
static const char *text(struct ld *ld, const yaml_node_t *n, const char *what)
{
	const char *v = scalar(ld, n, what);

	if (!v)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			fail(ld, n, "%s must not contain control characters "
				    "(tab, newline...)", what);
			return NULL;
		}
	}
	return v;
}

/* [a-z0-9_]+, at most ZM_MAX_ID */
static bool ident_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ZM_MAX_ID)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return false;
	return true;
}

/* a plain empty value (`key:` with nothing after it) */
static bool is_empty(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0 &&
	       n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/*
 * The entries of a list, where a single value also counts as a list of
 * one (`to: seigyo_line1` or `to: [a, b]`) when `single` is set, and an
 * empty value as an empty list.
 */
struct items {
	const yaml_node_t *one;
	yaml_node_item_t *at, *end;
};

static bool items_of(struct ld *ld, const yaml_node_t *n, const char *what,
		     bool single, struct items *it)
{
	memset(it, 0, sizeof(*it));
	if (n->type == YAML_SEQUENCE_NODE) {
		it->at = n->data.sequence.items.start;
		it->end = n->data.sequence.items.top;
		return true;
	}
	if (is_empty(n))
		return true;
	if (single && n->type == YAML_SCALAR_NODE) {
		it->one = n;
		return true;
	}
	return fail(ld, n, "%s must be a list%s, not %s", what,
		    single ? " or a single value" : "", kind(n));
}

static const yaml_node_t *items_next(struct ld *ld, struct items *it)
{
	const yaml_node_t *n;

	if (it->one) {
		n = it->one;
		it->one = NULL;
		return n;
	}
	while (it->at < it->end) {
		n = node(ld, *it->at++);
		if (n)
			return n;
	}
	return NULL;
}

/*
 * The keys of one mapping, checked against the keys allowed there: each
 * field's `val` is set when the key is present.  Unknown keys, keys given
 * twice and keys that are not plain names are errors.
 */
struct field {
	const char *key;
	const yaml_node_t *val;
	const yaml_node_t *key_node;
};

static bool fields(struct ld *ld, const yaml_node_t *map, const char *what,
		   struct field *f, size_t nf)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = node(ld, p->key), *v = node(ld, p->value);
		const char *key;
		size_t i;

		if (!k || !v)
			return fail(ld, map, "%s: incomplete key/value", what);
		if (k->type != YAML_SCALAR_NODE)
			return fail(ld, k, "%s: a key must be a plain name, "
					   "not %s", what, kind(k));
		key = (const char *)k->data.scalar.value;
		for (i = 0; i < nf; i++)
			if (strcmp(f[i].key, key) == 0 &&
			    strlen(key) == k->data.scalar.length)
				break;
		if (i == nf) {
			char allowed[160];
			size_t at = 0;

			allowed[0] = '\0';
			for (size_t j = 0; j < nf && at < sizeof(allowed); j++) {
				int w = snprintf(allowed + at,
						 sizeof(allowed) - at, "%s%s",
						 j ? ", " : "", f[j].key);
				if (w < 0)
					break;
				at += (size_t)w;
			}
			return fail(ld, k, "%s: unknown key '%s' (expected %s)",
				    what, show(key).s, allowed);
		}
		if (f[i].val)
			return fail(ld, k, "%s: key '%s' given twice (first on "
					   "line %zu)", what, f[i].key,
				    line_of(f[i].key_node));
		f[i].val = v;
		f[i].key_node = k;
	}
	return true;
}

/* --- values --- */

static bool parse_strength(struct ld *ld, const yaml_node_t *n,
			   enum zone_strength *s)
{
	static const struct {
		const char *word;
		enum zone_strength s;
	} words[] = {
		{ "high", ZONE_STRENGTH_HIGH },
		{ "medium", ZONE_STRENGTH_MEDIUM },
		{ "minimum", ZONE_STRENGTH_MINIMUM },
		{ "高", ZONE_STRENGTH_HIGH },
		{ "中", ZONE_STRENGTH_MEDIUM },
		{ "最低限", ZONE_STRENGTH_MINIMUM },
	};
	const char *v = scalar(ld, n, "strength");

	if (!v)
		return false;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcmp(v, words[i].word) == 0) {
			*s = words[i].s;
			return true;
		}
	}
	return fail(ld, n, "strength must be high, medium or minimum "
			   "(高/中/最低限), not '%s'", show(v).s);
}

/*
 * "a.b.c.d" (a /32) or "a.b.c.d/len"; for a host (`host` set) only a /32.
 * inet_pton() takes only the strict dotted quad (no octal, no short
 * forms).  Returns false with an error.
 */
static bool parse_cidr(struct ld *ld, const yaml_node_t *n, const char *what,
		       bool host, uint32_t *net, uint8_t *len)
{
	const char *v = scalar(ld, n, what), *slash;
	char addr[INET_ADDRSTRLEN];
	struct in_addr in;
	size_t alen;
	unsigned l = 32;

	if (!v)
		return false;
	slash = strchr(v, '/');
	alen = slash ? (size_t)(slash - v) : strlen(v);
	if (alen >= sizeof(addr))
		goto bad;
	memcpy(addr, v, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, &in) != 1)
		goto bad;
	if (slash) {
		const char *d = slash + 1;

		/* one or two digits, nothing else: no overflow possible */
		if (!(d[0] >= '0' && d[0] <= '9') ||
		    (d[1] && !(d[1] >= '0' && d[1] <= '9')) || (d[1] && d[2]))
			return fail(ld, n, "%s: prefix length in '%s' must be "
					   "0 to 32", what, show(v).s);
		l = (unsigned)(d[0] - '0');
		if (d[1])
			l = l * 10 + (unsigned)(d[1] - '0');
		if (l > 32)
			return fail(ld, n, "%s: prefix length in '%s' must be "
					   "0 to 32", what, show(v).s);
	}
	*net = ntohl(in.s_addr);
	*len = (uint8_t)l;
	if (host && l != 32)
		return fail(ld, n, "%s: a host is one address (a.b.c.d), not "
				   "the network '%s'", what, show(v).s);
	if (l < 32 && (*net & (0xffffffffu >> l))) {
		struct in_addr m = { htonl(*net & ~(0xffffffffu >> l)) };
		char ms[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &m, ms, sizeof(ms));
		return fail(ld, n, "%s: '%s' has host bits set (the network "
				   "is %s/%u)", what, show(v).s, ms, l);
	}
	return true;
bad:
	return fail(ld, n, "%s: '%s' is not an IPv4 address or network "
			   "(a.b.c.d or a.b.c.d/len)", what, show(v).s);
}

static const char *fmt_prefix(const struct zm_prefix *p, char *buf,
			      size_t len)
{
	struct in_addr a = { htonl(p->net) };
	char s[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a, s, sizeof(s));
	snprintf(buf, len, "%s/%u", s, (unsigned)p->len);
	return buf;
}

/* put one prefix of the current zone in the address plan */
static bool add_prefix(struct ld *ld, const yaml_node_t *n, uint32_t net,
		       uint8_t len, const char *host)
{
	struct zone_model *zm = ld->zm;
	int zone = (int)zm->nzones - 1;
	const struct zm_prefix *o = NULL;
	char ps[32];

	if (zm->nprefixes >= ZM_MAX_PREFIXES)
		return fail(ld, n, "too many networks and hosts (at most %d)",
			    ZM_MAX_PREFIXES);
	switch (zm_insert_prefix(zm, net, len, zone, host, (int)line_of(n),
				 &o)) {
	case ZM_INSERT_OK:
		return true;
	case ZM_INSERT_NOMEM:
		return fail(ld, n, "out of memory");
	case ZM_INSERT_CONFLICT:
		break;
	}
	fmt_prefix(o, ps, sizeof(ps));
	if (o->is_host && host)
		return fail(ld, n, "host '%s': address %s is already host "
				   "'%s' (line %d)", show(host).s, ps,
			    show(o->host).s, o->line);
	if (o->zone != zone)
		return fail(ld, n, "%s is already in zone '%s' (line %d): one "
				   "network, one zone", ps,
			    zm->zones[o->zone].id, o->line);
	return fail(ld, n, "%s is listed twice in zone '%s' (line %d)", ps,
		    zm->zones[zone].id, o->line);
}

/* --- zones --- */

enum { ZF_ID, ZF_NAME, ZF_ARCH, ZF_STRENGTH, ZF_INTRA, ZF_NETS, ZF_HOSTS };

static bool load_host(struct ld *ld, const yaml_node_t *h, const char *zid)
{
	struct field f[] = { { "name", NULL, NULL }, { "ip", NULL, NULL } };
	const char *name;
	uint32_t net;
	uint8_t len;
	size_t first;
	char what[96];

	snprintf(what, sizeof(what), "zone '%s' host", zid);
	if (h->type != YAML_MAPPING_NODE)
		return fail(ld, h, "%s must be a mapping like { name: PLC-01, "
				   "ip: 10.10.1.10 }, not %s", what, kind(h));
	if (!fields(ld, h, what, f, 2))
		return false;
	if (!f[0].val)
		return fail(ld, h, "%s without name", what);
	if (!f[1].val)
		return fail(ld, h, "%s without ip", what);
	name = text(ld, f[0].val, "host name");
	if (!name)
		return false;
	if (!*name)
		return fail(ld, f[0].val, "host name must not be empty");
	if (names_find(&ld->hosts, name, &first))
		return fail(ld, f[0].val, "host name '%s' is already used "
					  "(line %zu)", show(name).s, first);
	if (!parse_cidr(ld, f[1].val, "ip", true, &net, &len) ||
	    !add_prefix(ld, f[1].val, net, len, name))
		return false;
	if (names_add(&ld->hosts, name, line_of(f[1].val)))
		return fail(ld, h, "out of memory");
	return true;
}

static bool load_zone(struct ld *ld, const yaml_node_t *zn)
{
	struct field f[] = {
		[ZF_ID] = { "id", NULL, NULL },
		[ZF_NAME] = { "name", NULL, NULL },
		[ZF_ARCH] = { "archetype", NULL, NULL },
		[ZF_STRENGTH] = { "strength", NULL, NULL },
		[ZF_INTRA] = { "intra_zone", NULL, NULL },
		[ZF_NETS] = { "networks", NULL, NULL },
		[ZF_HOSTS] = { "hosts", NULL, NULL },
	};
	struct zone_model *zm = ld->zm;
	const char *id, *name, *arch = "other", *v;
	size_t dup;
	enum zone_strength strength = ZONE_STRENGTH_HIGH;
	bool intra_policy = false;
	const yaml_node_t *n;
	struct items it;
	char what[96];

	if (zn->type != YAML_MAPPING_NODE)
		return fail(ld, zn, "each zone must be a mapping (id: ..., "
				    "strength: ..., networks: ...), not %s",
			    kind(zn));
	if (!fields(ld, zn, "zone", f, sizeof(f) / sizeof(f[0])))
		return false;

	if (!f[ZF_ID].val)
		return fail(ld, zn, "zone without id: every zone needs an id "
				    "([a-z0-9_]+)");
	id = scalar(ld, f[ZF_ID].val, "id");
	if (!id)
		return false;
	if (!ident_ok(id))
		return fail(ld, f[ZF_ID].val, "id must be 1 to %d lower-case "
					      "letters, digits or _, not '%s'",
			    ZM_MAX_ID, show(id).s);
	if (names_find(&ld->zone_ids, id, &dup))
		return fail(ld, f[ZF_ID].val, "duplicate zone id '%s' (first "
					      "on line %zu)", id,
			    ld->zone_line[dup]);
	snprintf(what, sizeof(what), "zone '%s'", id);
	if (zm->nzones >= ZM_MAX_ZONES)
		return fail(ld, f[ZF_ID].val, "too many zones (at most %d)",
			    ZM_MAX_ZONES);

	name = id;
	if (f[ZF_NAME].val && !is_empty(f[ZF_NAME].val)) {
		name = text(ld, f[ZF_NAME].val, "name");
		if (!name)
			return false;
	}

	if (f[ZF_ARCH].val) {
		arch = scalar(ld, f[ZF_ARCH].val, "archetype");
		if (!arch)
			return false;
		if (zm_archetype_index(arch) < 0)
			return fail(ld, f[ZF_ARCH].val, "archetype must be one "
					"of %s, not '%s'", zm_archetype_list,
				    show(arch).s);
	}

	if (!f[ZF_STRENGTH].val)
		return fail(ld, zn, "%s has no strength: give high, medium or "
				    "minimum (高/中/最低限, guideline Step 2-2)",
			    what);
	if (!parse_strength(ld, f[ZF_STRENGTH].val, &strength))
		return false;

	if (f[ZF_INTRA].val) {
		v = scalar(ld, f[ZF_INTRA].val, "intra_zone");
		if (!v)
			return false;
		if (strcmp(v, "policy") == 0)
			intra_policy = true;
		else if (strcmp(v, "allow") != 0)
			return fail(ld, f[ZF_INTRA].val, "intra_zone must be "
					"allow or policy, not '%s'", show(v).s);
	}

	if (zm_add_zone(zm, id, name, arch, strength, intra_policy))
		return fail(ld, zn, "out of memory");
	ld->zone_line[zm->nzones - 1] = line_of(f[ZF_ID].val);
	if (names_add(&ld->zone_ids, id, zm->nzones - 1))
		return fail(ld, zn, "out of memory");

	if (f[ZF_NETS].val) {
		if (!items_of(ld, f[ZF_NETS].val, "networks", true, &it))
			return false;
		while ((n = items_next(ld, &it))) {
			uint32_t net;
			uint8_t len;

			if (!parse_cidr(ld, n, "networks", false, &net, &len) ||
			    !add_prefix(ld, n, net, len, NULL))
				return false;
		}
	}
	if (f[ZF_HOSTS].val) {
		if (!items_of(ld, f[ZF_HOSTS].val, "hosts", false, &it))
			return false;
		while ((n = items_next(ld, &it)))
			if (!load_host(ld, n, id))
				return false;
	}
	return true;
}

/* --- conduits --- */

/* the zones a conduit end names, as a set (a flag per zone) */
static bool conduit_end(struct ld *ld, const yaml_node_t *n, const char *end,
			bool *set, size_t *count, int *last)
{
	const yaml_node_t *e;
	struct items it;

	*count = 0;
	if (!items_of(ld, n, end, true, &it))
		return false;
	while ((e = items_next(ld, &it))) {
		const char *id = scalar(ld, e, end);
		size_t z;

		if (!id)
			return false;
		if (!names_find(&ld->zone_ids, id, &z))
			return fail(ld, e, "conduit %s: unknown zone '%s' (not "
					   "defined under zones:)", end,
				    show(id).s);
		if (!set[z])
			(*count)++;
		set[z] = true;
		*last = (int)z;
	}
	if (*count == 0)
		return fail(ld, n, "conduit %s names no zone", end);
	return true;
}

struct rule {
	int proto; /* -1: any */
	uint8_t ops;
};

/* tcp/PORT or udp/PORT with a port 1..65535 written plainly, or icmp */
static bool service_ok(const char *p)
{
	const char *n;
	unsigned long port = 0;

	if (strcmp(p, "icmp") == 0)
		return true;
	if (strncmp(p, "tcp/", 4) != 0 && strncmp(p, "udp/", 4) != 0)
		return false;
	n = p + 4;
	if (*n < '1' || *n > '9')
		return false;
	for (; *n; n++) {
		if (*n < '0' || *n > '9')
			return false;
		port = port * 10 + (unsigned long)(*n - '0');
		if (port > 65535)
			return false;
	}
	return true;
}

/* one `allow` entry: { protocol: modbus, ops: [read, discover] },
 * or a service: { protocol: tcp/3389 } */
static bool load_allow(struct ld *ld, const yaml_node_t *a, struct rule *r)
{
	struct field f[] = { { "protocol", NULL, NULL }, { "ops", NULL, NULL } };
	const yaml_node_t *o;
	const char *proto;
	struct items it;

	if (a->type != YAML_MAPPING_NODE)
		return fail(ld, a, "each allow entry must be a mapping like { "
				   "protocol: modbus, ops: [read] }, not %s",
			    kind(a));
	if (!fields(ld, a, "allow entry", f, 2))
		return false;
	if (!f[0].val)
		return fail(ld, a, "allow entry without protocol (a dissector "
				   "name such as modbus, a service such as "
				   "tcp/3389, or any)");
	proto = scalar(ld, f[0].val, "protocol");
	if (!proto)
		return false;
	/*
	 * A generic service (tcp/445, udp/53, icmp) has no operation
	 * classes: ops may be left out and then means all of them.  An
	 * industrial protocol needs its ops said.
	 */
	if (service_ok(proto) && !f[1].val) {
		r->proto = zm_proto_intern(ld->zm, proto);
		if (r->proto < 0)
			return fail(ld, f[0].val, "too many protocols (at most "
					"%d) or out of memory", ZM_MAX_PROTOS);
		r->ops = ZM_OPS_ALL;
		return true;
	}
	if (!f[1].val)
		return fail(ld, a, "allow entry without ops (read, write, "
				   "program, control, discover, other, or any)");
	if (strcmp(proto, "any") == 0) {
		r->proto = -1;
	} else {
		if (!ident_ok(proto) && !service_ok(proto))
			return fail(ld, f[0].val, "protocol must be a dissector "
					"name in lower case (modbus, s7comm, "
					"bacnet...), a service (tcp/PORT, "
					"udp/PORT, icmp) or any, not '%s'",
				    show(proto).s);
		r->proto = zm_proto_intern(ld->zm, proto);
		if (r->proto < 0)
			return fail(ld, f[0].val, "too many protocols (at most "
					"%d) or out of memory", ZM_MAX_PROTOS);
	}
	r->ops = 0;
	if (!items_of(ld, f[1].val, "ops", true, &it))
		return false;
	while ((o = items_next(ld, &it))) {
		const char *op = scalar(ld, o, "ops");
		int c;

		if (!op)
			return false;
		if (strcmp(op, "any") == 0) {
			r->ops = ZM_OPS_ALL;
			continue;
		}
		c = mm_op_class_from_name(op);
		if (c < 0)
			return fail(ld, o, "unknown op class '%s' (read, write, "
					   "program, control, discover, other, "
					   "or any)", show(op).s);
		r->ops |= (uint8_t)(1u << c);
	}
	if (r->ops == 0)
		return fail(ld, f[1].val, "ops names no op class");
	return true;
}

static bool load_conduit(struct ld *ld, const yaml_node_t *cn, bool *from,
			 bool *to, struct rule *rules)
{
	struct field f[] = {
		{ "from", NULL, NULL },
		{ "to", NULL, NULL },
		{ "allow", NULL, NULL },
	};
	struct zone_model *zm = ld->zm;
	size_t nfrom, nto, nrules = 0;
	int lfrom = -1, lto = -1;
	const yaml_node_t *a;
	struct items it;

	if (cn->type != YAML_MAPPING_NODE)
		return fail(ld, cn, "each conduit must be a mapping (from: ..., "
				    "to: ..., allow: [...]), not %s", kind(cn));
	if (!fields(ld, cn, "conduit", f, 3))
		return false;
	if (!f[0].val)
		return fail(ld, cn, "conduit without from (the requesting, "
				    "client zone)");
	if (!f[1].val)
		return fail(ld, cn, "conduit without to (the serving zone)");
	if (!f[2].val)
		return fail(ld, cn, "conduit without allow (a list of "
				    "{ protocol, ops })");
	memset(from, 0, zm->nzones * sizeof(*from));
	memset(to, 0, zm->nzones * sizeof(*to));
	if (!conduit_end(ld, f[0].val, "from", from, &nfrom, &lfrom) ||
	    !conduit_end(ld, f[1].val, "to", to, &nto, &lto))
		return false;
	if (nfrom == 1 && nto == 1 && lfrom == lto && !zm->intra_policy[lfrom])
		return fail(ld, cn, "conduit from zone '%s' to itself does "
				    "nothing: traffic inside a zone is allowed "
				    "unless the zone says intra_zone: policy",
			    zm->zones[lfrom].id);

	if (f[2].val->type != YAML_SEQUENCE_NODE)
		return fail(ld, f[2].val, "allow must be a list of { protocol, "
					  "ops }, not %s", kind(f[2].val));
	if (!items_of(ld, f[2].val, "allow", false, &it))
		return false;
	/* merge to one rule per protocol: at most nprotos + 1 (any) */
	while ((a = items_next(ld, &it))) {
		struct rule r;
		size_t i;

		if (!load_allow(ld, a, &r))
			return false;
		for (i = 0; i < nrules; i++)
			if (rules[i].proto == r.proto)
				break;
		if (i == nrules)
			rules[nrules++] = r;
		else
			rules[i].ops |= r.ops;
	}
	if (nrules == 0)
		return fail(ld, f[2].val, "allow is empty: a conduit that "
					  "allows nothing is no conduit");

	for (size_t s = 0; s < zm->nzones; s++) {
		if (!from[s])
			continue;
		for (size_t d = 0; d < zm->nzones; d++) {
			if (!to[d])
				continue;
			/* inside an `allow` zone a conduit changes nothing */
			if (s == d && !zm->intra_policy[s])
				continue;
			for (size_t i = 0; i < nrules; i++)
				if (zm_policy_allow(zm, (int)s, (int)d,
						    rules[i].proto,
						    rules[i].ops))
					return fail(ld, cn, "out of memory");
		}
	}
	return true;
}

static bool load_conduits(struct ld *ld, const yaml_node_t *list)
{
	size_t nz = ld->zm->nzones;
	bool *from = calloc(nz, sizeof(*from));
	bool *to = calloc(nz, sizeof(*to));
	/* one slot per protocol name there can be, plus `any` */
	struct rule *rules = calloc(ZM_MAX_PROTOS + 1, sizeof(*rules));
	const yaml_node_t *c;
	struct items it;
	bool ok = true;

	if (!from || !to || !rules) {
		ok = fail(ld, list, "out of memory");
		goto out;
	}
	if (!items_of(ld, list, "conduits", false, &it)) {
		ok = false;
		goto out;
	}
	while (ok && (c = items_next(ld, &it)))
		ok = load_conduit(ld, c, from, to, rules);
out:
	free(from);
	free(to);
	free(rules);
	return ok;
}

/* --- the document --- */

static bool load_root(struct ld *ld, const yaml_node_t *root)
{
	struct field f[] = {
		{ "site", NULL, NULL },
		{ "zones", NULL, NULL },
		{ "conduits", NULL, NULL },
	};
	const yaml_node_t *z;
	struct items it;

	if (is_empty(root)) /* "---" and nothing else */
		return fail(ld, root, "empty zone file: expected zones: (and "
				      "site:, conduits:)");
	if (root->type != YAML_MAPPING_NODE)
		return fail(ld, root, "a zone file is a mapping with zones: "
				      "(and site:, conduits:), not %s",
			    kind(root));
	if (!fields(ld, root, "zone file", f, 3))
		return false;
	if (f[0].val && !is_empty(f[0].val)) {
		const char *site = text(ld, f[0].val, "site");
		char *s;

		if (!site)
			return false;
		s = strdup(site);
		if (!s)
			return fail(ld, f[0].val, "out of memory");
		free(ld->zm->site);
		ld->zm->site = s;
	}
	if (!f[1].val)
		return fail(ld, root, "no zones: the file must list its zones "
				      "under zones:");
	if (f[1].val->type != YAML_SEQUENCE_NODE && !is_empty(f[1].val))
		return fail(ld, f[1].val, "zones must be a list of zones, not "
					  "%s", kind(f[1].val));
	if (!items_of(ld, f[1].val, "zones", false, &it))
		return false;
	ld->zone_line = calloc(ZM_MAX_ZONES, sizeof(*ld->zone_line));
	if (!ld->zone_line)
		return fail(ld, root, "out of memory");
	while ((z = items_next(ld, &it)))
		if (!load_zone(ld, z))
			return false;
	if (ld->zm->nzones == 0)
		return fail(ld, f[1].val, "zones is empty: define at least one "
					  "zone");
	if (zm_policy_init(ld->zm))
		return fail(ld, root, "out of memory");
	if (f[2].val && !load_conduits(ld, f[2].val))
		return false;
	return true;
}

/* report libyaml's own error, at its line */
static void yaml_fail(struct ld *ld, const yaml_parser_t *p)
{
	size_t line = p->problem_mark.line + 1;
	const char *problem = p->problem ? p->problem : "parse error";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		fail_line(ld, 1, "out of memory reading YAML");
		return;
	case YAML_READER_ERROR:
		/* the reader reports a byte offset, not a mark */
		line = 1;
		for (size_t i = 0; i < p->problem_offset && i < ld->len; i++)
			if (ld->text[i] == '\n')
				line++;
		if (p->problem_value >= 0)
			fail_line(ld, line, "not valid YAML: %s (0x%x at byte "
					    "offset %zu)", problem,
				  (unsigned)p->problem_value,
				  p->problem_offset);
		else
			fail_line(ld, line, "not valid YAML: %s (at byte "
					    "offset %zu)", problem,
				  p->problem_offset);
		return;
	default:
		if (p->context)
			fail_line(ld, line, "not valid YAML: %s %s (line %zu)",
				  problem, p->context,
				  (size_t)p->context_mark.line + 1);
		else
			fail_line(ld, line, "not valid YAML: %s", problem);
		return;
	}
}

/*
 * libyaml's scanner spends O(depth^2) on deeply nested collections
 * (100,000 '[' take over a minute), and nothing in a zone file nests
 * deeper than 5 levels.  So a first pass over the events stops at
 * ZM_MAX_DEPTH, before the document is built.  It also finds libyaml's
 * syntax errors, reported the same way the loader would.
 */
static bool check_depth(struct ld *ld)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0;
	bool ok = true;

	if (!yaml_parser_initialize(&p))
		return fail_line(ld, 1, "out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)ld->text,
				     ld->len);
	for (;;) {
		yaml_event_type_t type;
		size_t line;

		if (!yaml_parser_parse(&p, &ev)) {
			yaml_fail(ld, &p);
			ok = false;
			break;
		}
		type = ev.type;
		line = ev.start_mark.line + 1;
		yaml_event_delete(&ev);
		if (type == YAML_SEQUENCE_START_EVENT ||
		    type == YAML_MAPPING_START_EVENT) {
			if (++depth > ZM_MAX_DEPTH) {
				ok = fail_line(ld, line, "nested deeper than %d "
					       "levels: not a zone file",
					       ZM_MAX_DEPTH);
				break;
			}
		} else if (type == YAML_SEQUENCE_END_EVENT ||
			   type == YAML_MAPPING_END_EVENT) {
			depth--;
		} else if (type == YAML_STREAM_END_EVENT) {
			break;
		}
	}
	yaml_parser_delete(&p);
	return ok;
}

struct zone_model *zone_model_parse(const char *yaml, size_t len,
				    const char *name, char *err, size_t errlen)
{
	struct ld ld = {
		.name = name ? name : "(zones)",
		.err = err,
		.errlen = errlen,
		.text = yaml,
		.len = len,
	};
	yaml_parser_t parser;
	yaml_document_t doc, more;
	const yaml_node_t *root;
	bool ok = false;

	if (err && errlen)
		err[0] = '\0';
	if (!yaml) {
		fail_line(&ld, 1, "no input");
		return NULL;
	}
	if (!check_depth(&ld))
		return NULL;
	if (!yaml_parser_initialize(&parser)) {
		fail_line(&ld, 1, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml,
				     len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_fail(&ld, &parser);
		yaml_parser_delete(&parser);
		return NULL;
	}
	ld.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		fail_line(&ld, 1, "empty zone file: expected zones: (and "
				  "site:, conduits:)");
		goto out;
	}
	/* a second document would be silently ignored: refuse it */
	if (!yaml_parser_load(&parser, &more)) {
		yaml_fail(&ld, &parser);
		goto out;
	}
	if (yaml_document_get_root_node(&more)) {
		fail_line(&ld, more.start_mark.line + 1, "only one YAML "
			  "document is allowed in a zone file");
		yaml_document_delete(&more);
		goto out;
	}
	yaml_document_delete(&more);

	ld.zm = zm_new();
	if (!ld.zm) {
		fail_line(&ld, 1, "out of memory");
		goto out;
	}
	ok = load_root(&ld, root);
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	free(ld.zone_line);
	free(ld.zone_ids.slot);
	free(ld.hosts.slot);
	if (!ok) {
		zone_model_free(ld.zm);
		return NULL;
	}
	return ld.zm;
}

struct zone_model *zone_model_load(const char *path, char *err, size_t errlen)
{
	struct ld ld = { .name = path, .err = err, .errlen = errlen };
	struct zone_model *zm;
	size_t len = 0, cap = 0;
	char *buf = NULL;
	FILE *f;

	if (err && errlen)
		err[0] = '\0';
	if (!path) {
		ld.name = "(null)";
		fail_line(&ld, 1, "no zone file given");
		return NULL;
	}
	f = fopen(path, "rb");
	if (!f) {
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot open: %s", path,
				 strerror(errno));
		return NULL;
	}
	/* read it all, up to one byte past the bound (to notice it) */
	for (;;) {
		size_t n;

		if (len == cap) {
			char *nb;

			cap = cap ? cap * 2 : 16384;
			if (cap > ZM_MAX_FILE + 1)
				cap = ZM_MAX_FILE + 1;
			nb = realloc(buf, cap);
			if (!nb) {
				if (err && errlen)
					snprintf(err, errlen, "%s: out of "
						 "memory", path);
				goto fail;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0 || len > ZM_MAX_FILE)
			break;
	}
	if (len > ZM_MAX_FILE) {
		if (err && errlen)
			snprintf(err, errlen, "%s: larger than %u bytes: not "
				 "a zone file", path, ZM_MAX_FILE);
		goto fail;
	}
	if (ferror(f)) {
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot read: %s", path,
				 strerror(errno));
		goto fail;
	}
	fclose(f);
	zm = zone_model_parse(buf ? buf : "", len, path, err, errlen);
	free(buf);
	return zm;
fail:
	fclose(f);
	free(buf);
	return NULL;
}
