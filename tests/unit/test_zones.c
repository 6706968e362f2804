/*
 * test_zones.c - the zone model: the default etc/zones.yaml loads as the
 * address plan says, longest-prefix match picks the right zone and host,
 * every conduit verdict is the one the file means, and every kind of
 * mistake in a zone file is reported at its line.  Also broken and hostile
 * inputs (truncated at every offset, mutated, binary, deeply nested, huge
 * numbers, alias loops): a model or an error, never a crash.
 *
 * Runs from the repository root (tests/run.sh does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "../../zones/zones.h"
#include "file_fixture.h"

#define DEFAULT_FILE "etc/zones.yaml"
#define DATA "tests/data/zones/"

/* an IPv4 address in network byte order */
static uint32_t ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		fail_msg("bad address in test: %s", s);
	return a.s_addr;
}

static struct zone_model *load_default(void)
{
	char err[512] = "";
	struct zone_model *zm = zone_model_load(DEFAULT_FILE, err, sizeof(err));

	if (!zm)
		fail_msg("%s does not load: %s", DEFAULT_FILE, err);
	return zm;
}

static struct zone_model *parse(const char *yaml)
{
	char err[512] = "";
	struct zone_model *zm = zone_model_parse(yaml, strlen(yaml), "t.yaml",
						 err, sizeof(err));

	if (!zm)
		fail_msg("does not load: %s", err);
	return zm;
}

/* `yaml` must be refused, the message at `line` and containing `word` */
static void expect_err_in(const char *name, struct zone_model *zm,
			  const char *err, int line, const char *word)
{
	char prefix[300];

	if (zm) {
		zone_model_free(zm);
		fail_msg("%s was accepted; expected an error at line %d (%s)",
			 name, line, word);
	}
	snprintf(prefix, sizeof(prefix), "%s:%d: ", name, line);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("expected '%s...', got '%s'", prefix, err);
	if (!strstr(err, word))
		fail_msg("expected '%s' in '%s'", word, err);
}

static void expect_err_len(const char *yaml, size_t len, int line,
			   const char *word)
{
	char err[512] = "";
	struct zone_model *zm =
		zone_model_parse(yaml, len, "t.yaml", err, sizeof(err));

	expect_err_in("t.yaml", zm, err, line, word);
}

static void expect_err(const char *yaml, int line, const char *word)
{
	expect_err_len(yaml, strlen(yaml), line, word);
}

static void expect_file_err(const char *path, int line, const char *word)
{
	char err[512] = "";
	struct zone_model *zm = zone_model_load(path, err, sizeof(err));

	expect_err_in(path, zm, err, line, word);
}

static const char *zid(const struct zone *z)
{
	return z ? z->id : "(none)";
}

/* zone_lookup gives zone `zone` (NULL: none) and host `host` (NULL: none) */
static void expect_lookup(const struct zone_model *zm, const char *addr,
			  const char *zone, const char *host)
{
	const char *h = "unset";
	const struct zone *z = zone_lookup(zm, ip(addr), &h);

	if (zone == NULL ? z != NULL : (z == NULL || strcmp(z->id, zone)))
		fail_msg("%s: zone %s, expected %s", addr, zid(z),
			 zone ? zone : "(none)");
	if (host == NULL ? h != NULL : (h == NULL || strcmp(h, host)))
		fail_msg("%s: host %s, expected %s", addr, h ? h : "(none)",
			 host ? host : "(none)");
}

static const char *verdict(enum policy_verdict v)
{
	return policy_verdict_name(v);
}

static void expect_policy(const struct zone_model *zm, const char *src,
			  const char *dst, const char *proto,
			  enum mm_op_class cls, enum policy_verdict want)
{
	const struct zone *s = src ? zone_by_id(zm, src) : NULL;
	const struct zone *d = dst ? zone_by_id(zm, dst) : NULL;
	enum policy_verdict v;

	if (src)
		assert_non_null(s);
	if (dst)
		assert_non_null(d);
	v = policy_check(zm, s, d, proto, cls);
	if (v != want)
		fail_msg("%s -> %s %s %s: %s, expected %s", src ? src : "-",
			 dst ? dst : "-", proto ? proto : "(null)",
			 (unsigned)cls < MM_OP__N ? mm_op_class_names[cls] : "?",
			 verdict(v), verdict(want));
}

/* --- the default model --- */

static const struct {
	const char *id, *archetype, *ja;
	enum zone_strength strength;
	const char *name_part;
} default_zones[] = {
	{ "joho", "joho", "情報系", ZONE_STRENGTH_MINIMUM, "情報系" },
	{ "dmz", "dmz", "中継(DMZ)", ZONE_STRENGTH_MEDIUM, "DMZ" },
	{ "seisan_kanri", "seisan_kanri", "生産管理・監視",
	  ZONE_STRENGTH_MEDIUM, "生産管理・監視" },
	{ "hozen", "hozen", "保全・エンジニアリング", ZONE_STRENGTH_HIGH,
	  "保全" },
	{ "seigyo_line1", "seigyo", "制御系", ZONE_STRENGTH_HIGH,
	  "制御系 ライン1" },
	{ "seigyo_line2", "seigyo", "制御系", ZONE_STRENGTH_HIGH,
	  "制御系 ライン2" },
	{ "jido_hanso", "jido_hanso", "自動搬送", ZONE_STRENGTH_MEDIUM,
	  "自動搬送" },
	{ "jido_soko", "jido_soko", "自動倉庫", ZONE_STRENGTH_MEDIUM,
	  "自動倉庫" },
	{ "setsubi", "setsubi", "建屋設備", ZONE_STRENGTH_MINIMUM,
	  "建屋設備" },
	{ "remote", "remote", "リモートメンテナンス", ZONE_STRENGTH_MEDIUM,
	  "リモートメンテナンス" },
};
#define N_DEFAULT (sizeof(default_zones) / sizeof(default_zones[0]))

static void test_default_zones(void **state)
{
	struct zone_model *zm = load_default();

	(void)state;
	assert_string_equal(zone_model_site(zm), "見本工場 (example plant)");
	assert_int_equal(zone_model_count(zm), N_DEFAULT);
	for (size_t i = 0; i < N_DEFAULT; i++) {
		const struct zone *z = zone_model_get(zm, i);

		assert_non_null(z);
		assert_string_equal(z->id, default_zones[i].id);
		assert_string_equal(z->archetype, default_zones[i].archetype);
		assert_int_equal(z->strength, default_zones[i].strength);
		assert_int_equal(z->index, (int)i);
		assert_non_null(strstr(z->name, default_zones[i].name_part));
		assert_string_equal(zone_archetype_name_ja(z->archetype),
				    default_zones[i].ja);
		assert_ptr_equal(zone_by_id(zm, z->id), z);
		assert_false(zone_intra_policy(zm, z));
	}
	assert_null(zone_model_get(zm, N_DEFAULT));
	assert_null(zone_by_id(zm, "seigyo"));
	assert_null(zone_by_id(zm, NULL));
	zone_model_free(zm);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(zone_strength_name(ZONE_STRENGTH_HIGH), "high");
	assert_string_equal(zone_strength_name(ZONE_STRENGTH_MEDIUM), "medium");
	assert_string_equal(zone_strength_name(ZONE_STRENGTH_MINIMUM),
			    "minimum");
	assert_string_equal(zone_strength_name_ja(ZONE_STRENGTH_HIGH), "高");
	assert_string_equal(zone_strength_name_ja(ZONE_STRENGTH_MEDIUM), "中");
	assert_string_equal(zone_strength_name_ja(ZONE_STRENGTH_MINIMUM),
			    "最低限");
	assert_string_equal(zone_archetype_name_ja("other"), "その他");
	assert_string_equal(zone_archetype_name_ja("dmz"), "中継(DMZ)");
	assert_null(zone_archetype_name_ja("seigyo_line1"));
	assert_null(zone_archetype_name_ja(NULL));
	assert_string_equal(policy_verdict_name(POLICY_ALLOWED), "allowed");
	assert_string_equal(policy_verdict_name(POLICY_NO_CONDUIT),
			    "no_conduit");
	assert_string_equal(policy_verdict_name(POLICY_OP_NOT_ALLOWED),
			    "op_not_allowed");
	assert_string_equal(policy_verdict_name(POLICY_UNKNOWN_HOST),
			    "unknown_host");
}

static void test_default_lookup(void **state)
{
	struct zone_model *zm = load_default();

	(void)state;
	/* every named host of the address plan */
	expect_lookup(zm, "10.3.0.10", "seisan_kanri", "SCADA-01");
	expect_lookup(zm, "10.3.0.20", "seisan_kanri", "HISTORIAN-01");
	expect_lookup(zm, "10.3.0.30", "seisan_kanri", "MES-01");
	expect_lookup(zm, "10.4.0.10", "hozen", "EWS-01");
	expect_lookup(zm, "10.10.1.10", "seigyo_line1", "PLC-L1-01");
	expect_lookup(zm, "10.10.1.20", "seigyo_line1", "HMI-L1-01");
	expect_lookup(zm, "10.10.2.10", "seigyo_line2", "PLC-L2-01");
	expect_lookup(zm, "10.21.0.10", "jido_soko", "ASRS-PLC-01");
	expect_lookup(zm, "10.30.0.10", "setsubi", "BAC-HVAC-01");
	expect_lookup(zm, "10.30.0.20", "setsubi", "PM-01");
	/* unnamed addresses of each network, edges included */
	expect_lookup(zm, "10.1.0.0", "joho", NULL);
	expect_lookup(zm, "10.1.255.255", "joho", NULL);
	expect_lookup(zm, "10.1.77.3", "joho", NULL);
	expect_lookup(zm, "10.2.0.5", "dmz", NULL);
	expect_lookup(zm, "10.3.0.11", "seisan_kanri", NULL);
	expect_lookup(zm, "10.4.0.255", "hozen", NULL);
	expect_lookup(zm, "10.10.1.11", "seigyo_line1", NULL);
	expect_lookup(zm, "10.10.2.0", "seigyo_line2", NULL);
	expect_lookup(zm, "10.20.0.50", "jido_hanso", NULL);
	expect_lookup(zm, "10.21.0.11", "jido_soko", NULL);
	expect_lookup(zm, "10.30.0.99", "setsubi", NULL);
	expect_lookup(zm, "10.99.0.7", "remote", NULL);
	/* in no zone */
	expect_lookup(zm, "10.2.1.0", NULL, NULL);
	expect_lookup(zm, "10.10.3.1", NULL, NULL);
	expect_lookup(zm, "10.0.255.255", NULL, NULL);
	expect_lookup(zm, "10.5.0.1", NULL, NULL);
	expect_lookup(zm, "192.168.1.1", NULL, NULL);
	expect_lookup(zm, "0.0.0.0", NULL, NULL);
	expect_lookup(zm, "255.255.255.255", NULL, NULL);
	/* host_name may be NULL; a NULL model finds nothing */
	assert_string_equal(zone_lookup(zm, ip("10.4.0.10"), NULL)->id, "hozen");
	assert_null(zone_lookup(NULL, ip("10.4.0.10"), NULL));
	zone_model_free(zm);
}

/*
 * The conduits of etc/zones.yaml, written out: for each (src, dst) pair
 * with a conduit, each protocol's allowed classes.  Every other pair of
 * different zones has no conduit.
 */
#define B(c) (1u << (c))
#define ALL 0x3fu
static const struct {
	const char *src, *dst;
	unsigned modbus, s7comm, bacnet, other; /* `other`: a protocol no
						   conduit names (fins) */
} default_conduits[] = {
	{ "seisan_kanri", "seigyo_line1", B(MM_OP_READ) | B(MM_OP_DISCOVER),
	  B(MM_OP_READ) | B(MM_OP_DISCOVER), 0, 0 },
	{ "seisan_kanri", "seigyo_line2", B(MM_OP_READ) | B(MM_OP_DISCOVER),
	  B(MM_OP_READ) | B(MM_OP_DISCOVER), 0, 0 },
	{ "seisan_kanri", "jido_soko", B(MM_OP_READ) | B(MM_OP_DISCOVER),
	  B(MM_OP_READ) | B(MM_OP_DISCOVER), 0, 0 },
	{ "seisan_kanri", "setsubi", B(MM_OP_READ), 0,
	  B(MM_OP_READ) | B(MM_OP_DISCOVER), 0 },
	{ "hozen", "seigyo_line1", ALL, ALL, ALL, ALL },
	{ "hozen", "seigyo_line2", ALL, ALL, ALL, ALL },
	{ "hozen", "jido_soko", ALL, ALL, ALL, ALL },
	{ "hozen", "setsubi", ALL, ALL, ALL, ALL },
	{ "jido_hanso", "jido_soko", B(MM_OP_READ) | B(MM_OP_WRITE), 0, 0, 0 },
	{ "remote", "hozen", B(MM_OP_READ) | B(MM_OP_DISCOVER),
	  B(MM_OP_READ) | B(MM_OP_DISCOVER), B(MM_OP_READ) | B(MM_OP_DISCOVER),
	  B(MM_OP_READ) | B(MM_OP_DISCOVER) },
};
#define N_CONDUITS (sizeof(default_conduits) / sizeof(default_conduits[0]))

static void test_default_policy_matrix(void **state)
{
	static const char *const protos[] = { "modbus", "s7comm", "bacnet",
					      "fins" };
	struct zone_model *zm = load_default();
	size_t checked = 0;

	(void)state;
	for (size_t i = 0; i < N_DEFAULT; i++) {
		for (size_t j = 0; j < N_DEFAULT; j++) {
			const char *s = default_zones[i].id;
			const char *d = default_zones[j].id;
			size_t k;

			for (k = 0; k < N_CONDUITS; k++)
				if (!strcmp(default_conduits[k].src, s) &&
				    !strcmp(default_conduits[k].dst, d))
					break;
			for (size_t p = 0; p < 4; p++) {
				for (int c = 0; c < MM_OP__N; c++) {
					enum policy_verdict want;
					unsigned allowed;

					if (i == j) {
						want = POLICY_ALLOWED;
					} else if (k == N_CONDUITS) {
						want = POLICY_NO_CONDUIT;
					} else {
						allowed = p == 0 ? default_conduits[k].modbus
							: p == 1 ? default_conduits[k].s7comm
							: p == 2 ? default_conduits[k].bacnet
							: default_conduits[k].other;
						want = allowed & B(c)
							       ? POLICY_ALLOWED
							       : POLICY_OP_NOT_ALLOWED;
					}
					expect_policy(zm, s, d, protos[p],
						      (enum mm_op_class)c, want);
					checked++;
				}
			}
		}
	}
	assert_int_equal(checked, N_DEFAULT * N_DEFAULT * 4 * MM_OP__N);
	zone_model_free(zm);
}

static void test_default_policy_cases(void **state)
{
	struct zone_model *zm = load_default();
	const struct zone *plc = zone_lookup(zm, ip("10.10.1.10"), NULL);
	const struct zone *scada = zone_lookup(zm, ip("10.3.0.10"), NULL);

	(void)state;
	/* the sentences the file's comments promise */
	expect_policy(zm, "seisan_kanri", "seigyo_line1", "modbus", MM_OP_READ,
		      POLICY_ALLOWED);
	expect_policy(zm, "seisan_kanri", "seigyo_line1", "modbus",
		      MM_OP_WRITE, POLICY_OP_NOT_ALLOWED);
	expect_policy(zm, "seisan_kanri", "seigyo_line2", "s7comm",
		      MM_OP_CONTROL, POLICY_OP_NOT_ALLOWED);
	expect_policy(zm, "hozen", "seigyo_line1", "s7comm", MM_OP_PROGRAM,
		      POLICY_ALLOWED);
	expect_policy(zm, "joho", "seigyo_line1", "modbus", MM_OP_READ,
		      POLICY_NO_CONDUIT);
	expect_policy(zm, "dmz", "seigyo_line2", "s7comm", MM_OP_READ,
		      POLICY_NO_CONDUIT);
	expect_policy(zm, "remote", "seigyo_line1", "modbus", MM_OP_READ,
		      POLICY_NO_CONDUIT);
	expect_policy(zm, "remote", "hozen", "rdp", MM_OP_WRITE,
		      POLICY_OP_NOT_ALLOWED);
	/* conduits are directed: the PLC does not poll SCADA */
	expect_policy(zm, "seigyo_line1", "seisan_kanri", "modbus", MM_OP_READ,
		      POLICY_NO_CONDUIT);
	expect_policy(zm, "seigyo_line1", "seigyo_line2", "modbus", MM_OP_READ,
		      POLICY_NO_CONDUIT);
	/* a NULL protocol matches only `any` rules */
	expect_policy(zm, "remote", "hozen", NULL, MM_OP_READ, POLICY_ALLOWED);
	expect_policy(zm, "seisan_kanri", "seigyo_line1", NULL, MM_OP_READ,
		      POLICY_OP_NOT_ALLOWED);
	/* protocol names compare exactly */
	expect_policy(zm, "seisan_kanri", "seigyo_line1", "Modbus", MM_OP_READ,
		      POLICY_OP_NOT_ALLOWED);
	expect_policy(zm, "seisan_kanri", "seigyo_line1", "modbus2",
		      MM_OP_READ, POLICY_OP_NOT_ALLOWED);
	/* a host in no zone, on either side */
	assert_int_equal(policy_check(zm, NULL, plc, "modbus", MM_OP_READ),
			 POLICY_UNKNOWN_HOST);
	assert_int_equal(policy_check(zm, scada, NULL, "modbus", MM_OP_READ),
			 POLICY_UNKNOWN_HOST);
	assert_int_equal(policy_check(zm, NULL, NULL, "modbus", MM_OP_READ),
			 POLICY_UNKNOWN_HOST);
	assert_int_equal(policy_check(NULL, scada, plc, "modbus", MM_OP_READ),
			 POLICY_UNKNOWN_HOST);
	/* an out-of-range class matches nothing, even hozen's `any` */
	expect_policy(zm, "hozen", "seigyo_line1", "modbus", MM_OP__N,
		      POLICY_OP_NOT_ALLOWED);
	assert_int_equal(policy_check(zm, scada, plc, "modbus", MM_OP_READ),
			 POLICY_ALLOWED);
	zone_model_free(zm);
}

static void test_zone_of_other_model(void **state)
{
	struct zone_model *a = load_default(), *b = load_default();
	const struct zone *s = zone_by_id(a, "seisan_kanri");
	const struct zone *d = zone_by_id(a, "seigyo_line1");
	struct zone copy = *d;

	(void)state;
	/* zones belong to the model they came from (e.g. across a reload) */
	assert_int_equal(policy_check(b, s, d, "modbus", MM_OP_READ),
			 POLICY_UNKNOWN_HOST);
	assert_int_equal(policy_check(a, s, &copy, "modbus", MM_OP_READ),
			 POLICY_UNKNOWN_HOST);
	assert_int_equal(policy_check(a, s, d, "modbus", MM_OP_READ),
			 POLICY_ALLOWED);
	zone_model_free(a);
	zone_model_free(b);
}

static void test_describe(void **state)
{
	struct zone_model *zm = load_default();
	const struct zone *sk = zone_by_id(zm, "seisan_kanri");
	const struct zone *l1 = zone_by_id(zm, "seigyo_line1");
	const struct zone *st = zone_by_id(zm, "setsubi");
	const struct zone *hz = zone_by_id(zm, "hozen");
	const struct zone *rm = zone_by_id(zm, "remote");
	char buf[128], tiny[12];

	(void)state;
	assert_true(policy_describe(zm, sk, l1, buf, sizeof(buf)));
	assert_string_equal(buf, "modbus: read, discover; s7comm: read, "
				 "discover");
	assert_true(policy_describe(zm, sk, st, buf, sizeof(buf)));
	assert_string_equal(buf, "modbus: read; bacnet: read, discover");
	assert_true(policy_describe(zm, hz, l1, buf, sizeof(buf)));
	assert_string_equal(buf, "any: any");
	assert_true(policy_describe(zm, rm, hz, buf, sizeof(buf)));
	assert_string_equal(buf, "any: read, discover");
	assert_false(policy_describe(zm, l1, sk, buf, sizeof(buf)));
	assert_string_equal(buf, "");
	assert_false(policy_describe(zm, NULL, sk, buf, sizeof(buf)));
	/* a short buffer is cut, terminated */
	assert_true(policy_describe(zm, sk, l1, tiny, sizeof(tiny)));
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
	assert_memory_equal(tiny, "modbus: rea", sizeof(tiny));
	zone_model_free(zm);
}

/* --- intra_zone: policy, any, Japanese strengths (a fixture file) --- */

static void test_intra_zone_policy(void **state)
{
	char err[512] = "";
	struct zone_model *zm =
		zone_model_load(DATA "intra_policy.yaml", err, sizeof(err));

	(void)state;
	if (!zm)
		fail_msg("%s", err);
	assert_string_equal(zone_model_site(zm), "テスト工場 intra");
	assert_int_equal(zone_model_count(zm), 3);
	assert_int_equal(zone_by_id(zm, "cell_a")->strength, ZONE_STRENGTH_HIGH);
	assert_int_equal(zone_by_id(zm, "cell_b")->strength,
			 ZONE_STRENGTH_MEDIUM);
	assert_int_equal(zone_by_id(zm, "office")->strength,
			 ZONE_STRENGTH_MINIMUM);
	assert_string_equal(zone_by_id(zm, "cell_a")->name, "セルA");
	/* no name: the id stands in; no archetype: other */
	assert_string_equal(zone_by_id(zm, "cell_b")->name, "cell_b");
	assert_string_equal(zone_by_id(zm, "cell_b")->archetype, "other");
	assert_true(zone_intra_policy(zm, zone_by_id(zm, "cell_a")));
	assert_true(zone_intra_policy(zm, zone_by_id(zm, "cell_b")));
	assert_false(zone_intra_policy(zm, zone_by_id(zm, "office")));

	/* inside cell_a the self-conduit applies: any read/discover, modbus write */
	expect_policy(zm, "cell_a", "cell_a", "bacnet", MM_OP_READ,
		      POLICY_ALLOWED);
	expect_policy(zm, "cell_a", "cell_a", "s7comm", MM_OP_DISCOVER,
		      POLICY_ALLOWED);
	expect_policy(zm, "cell_a", "cell_a", "modbus", MM_OP_WRITE,
		      POLICY_ALLOWED);
	expect_policy(zm, "cell_a", "cell_a", "s7comm", MM_OP_WRITE,
		      POLICY_OP_NOT_ALLOWED);
	expect_policy(zm, "cell_a", "cell_a", "modbus", MM_OP_PROGRAM,
		      POLICY_OP_NOT_ALLOWED);
	/* cell_b polices its inside and has no conduit to itself */
	expect_policy(zm, "cell_b", "cell_b", "modbus", MM_OP_READ,
		      POLICY_NO_CONDUIT);
	/* office is an `allow` zone: everything inside goes */
	expect_policy(zm, "office", "office", "modbus", MM_OP_PROGRAM,
		      POLICY_ALLOWED);
	expect_policy(zm, "office", "office", NULL, MM_OP_OTHER,
		      POLICY_ALLOWED);
	/* the list conduit: {office, cell_b} x {office, cell_a}, s7comm any */
	for (int c = 0; c < MM_OP__N; c++) {
		expect_policy(zm, "office", "cell_a", "s7comm",
			      (enum mm_op_class)c, POLICY_ALLOWED);
		expect_policy(zm, "cell_b", "cell_a", "s7comm",
			      (enum mm_op_class)c, POLICY_ALLOWED);
		expect_policy(zm, "cell_b", "office", "s7comm",
			      (enum mm_op_class)c, POLICY_ALLOWED);
	}
	expect_policy(zm, "office", "cell_a", "modbus", MM_OP_READ,
		      POLICY_OP_NOT_ALLOWED);
	expect_policy(zm, "cell_a", "office", "s7comm", MM_OP_READ,
		      POLICY_NO_CONDUIT);
	expect_policy(zm, "office", "cell_b", "s7comm", MM_OP_READ,
		      POLICY_NO_CONDUIT);
	expect_policy(zm, "cell_a", "cell_b", "s7comm", MM_OP_READ,
		      POLICY_NO_CONDUIT);
	expect_lookup(zm, "192.168.10.200", "cell_a", NULL);
	expect_lookup(zm, "192.168.40.1", NULL, NULL);
	zone_model_free(zm);
}

static void test_any_and_merge(void **state)
{
	/* two conduits for one pair add up; any protocol with some ops plus
	 * one protocol with more; ops given as a single value */
	struct zone_model *zm = parse(
		"zones:\n"
		"  - { id: a, strength: medium, networks: 10.0.1.0/24 }\n"
		"  - { id: b, strength: high, networks: [10.0.2.0/24] }\n"
		"conduits:\n"
		"  - from: a\n"
		"    to: b\n"
		"    allow:\n"
		"      - { protocol: any, ops: discover }\n"
		"      - { protocol: modbus, ops: [read] }\n"
		"  - from: [a]\n"
		"    to: [b]\n"
		"    allow:\n"
		"      - { protocol: modbus, ops: [write] }\n"
		"      - { protocol: modbus, ops: [read] }\n"
		"      - { protocol: s7comm, ops: [any] }\n");

	(void)state;
	expect_policy(zm, "a", "b", "bacnet", MM_OP_DISCOVER, POLICY_ALLOWED);
	expect_policy(zm, "a", "b", "bacnet", MM_OP_READ,
		      POLICY_OP_NOT_ALLOWED);
	expect_policy(zm, "a", "b", "modbus", MM_OP_READ, POLICY_ALLOWED);
	expect_policy(zm, "a", "b", "modbus", MM_OP_WRITE, POLICY_ALLOWED);
	expect_policy(zm, "a", "b", "modbus", MM_OP_DISCOVER, POLICY_ALLOWED);
	expect_policy(zm, "a", "b", "modbus", MM_OP_CONTROL,
		      POLICY_OP_NOT_ALLOWED);
	expect_policy(zm, "a", "b", "s7comm", MM_OP_PROGRAM, POLICY_ALLOWED);
	expect_policy(zm, "a", "b", "s7comm", MM_OP_OTHER, POLICY_ALLOWED);
	expect_policy(zm, "b", "a", "s7comm", MM_OP_READ, POLICY_NO_CONDUIT);
	expect_lookup(zm, "10.0.1.1", "a", NULL);
	assert_string_equal(zone_model_site(zm), "");
	zone_model_free(zm);
}

static void test_services(void **state)
{
	/* generic services in conduits (flow-level policy): ops optional */
	struct zone_model *zm = parse(
		"zones:\n"
		"  - { id: it, strength: minimum, networks: 10.1.0.0/16 }\n"
		"  - { id: ews, strength: high, networks: 10.4.0.0/24 }\n"
		"  - { id: plc, strength: high, networks: 10.10.1.0/24 }\n"
		"conduits:\n"
		"  - from: it\n"
		"    to: ews\n"
		"    allow:\n"
		"      - { protocol: tcp/3389 }\n"
		"      - { protocol: udp/53, ops: [other] }\n"
		"      - { protocol: icmp }\n"
		"  - from: ews\n"
		"    to: plc\n"
		"    allow:\n"
		"      - { protocol: modbus, ops: [any] }\n");

	(void)state;
	expect_policy(zm, "it", "ews", "tcp/3389", MM_OP_OTHER, POLICY_ALLOWED);
	expect_policy(zm, "it", "ews", "udp/53", MM_OP_OTHER, POLICY_ALLOWED);
	expect_policy(zm, "it", "ews", "icmp", MM_OP_OTHER, POLICY_ALLOWED);
	/* SMB is not in the it -> ews conduit; nothing at all it -> plc */
	expect_policy(zm, "it", "ews", "tcp/445", MM_OP_OTHER,
		      POLICY_OP_NOT_ALLOWED);
	expect_policy(zm, "it", "plc", "tcp/445", MM_OP_OTHER,
		      POLICY_NO_CONDUIT);
	/* an ICS conduit allows no generic service */
	expect_policy(zm, "ews", "plc", "tcp/3389", MM_OP_OTHER,
		      POLICY_OP_NOT_ALLOWED);
	zone_model_free(zm);
	expect_err("zones:\n  - { id: a, strength: high, networks: 10.0.0.0/8 }\n"
		   "  - { id: b, strength: high, networks: 11.0.0.0/8 }\n"
		   "conduits:\n  - { from: a, to: b, allow: [ { protocol: tcp/70000 } ] }\n",
		   5, "ops");
	expect_err("zones:\n  - { id: a, strength: high, networks: 10.0.0.0/8 }\n"
		   "  - { id: b, strength: high, networks: 11.0.0.0/8 }\n"
		   "conduits:\n  - { from: a, to: b, allow: [ { protocol: tcp/0, ops: any } ] }\n",
		   5, "tcp/PORT");
	expect_err("zones:\n  - { id: a, strength: high, networks: 10.0.0.0/8 }\n"
		   "  - { id: b, strength: high, networks: 11.0.0.0/8 }\n"
		   "conduits:\n  - { from: a, to: b, allow: [ { protocol: modbus } ] }\n",
		   5, "without ops");
}

static void test_aliases(void **state)
{
	/* anchors and aliases are YAML's own: one allow list for two pairs */
	struct zone_model *zm = parse(
		"zones:\n"
		"  - { id: scada, strength: medium, networks: [10.3.0.0/24] }\n"
		"  - { id: l1, strength: high, networks: [10.10.1.0/24] }\n"
		"  - { id: l2, strength: high, networks: [10.10.2.0/24] }\n"
		"conduits:\n"
		"  - from: scada\n"
		"    to: l1\n"
		"    allow: &ro\n"
		"      - { protocol: modbus, ops: [read] }\n"
		"  - { from: scada, to: l2, allow: *ro }\n");

	(void)state;
	expect_policy(zm, "scada", "l2", "modbus", MM_OP_READ, POLICY_ALLOWED);
	expect_policy(zm, "scada", "l2", "modbus", MM_OP_WRITE,
		      POLICY_OP_NOT_ALLOWED);
	zone_model_free(zm);
}

/* --- longest-prefix match --- */

static void test_lpm_overlap(void **state)
{
	struct zone_model *zm = parse(
		"zones:\n"
		"  - id: plant\n"
		"    strength: minimum\n"
		"    networks: [10.0.0.0/8]\n"
		"    hosts:\n"
		"      - { name: LAPTOP-7, ip: 10.5.7.9 }\n"
		"  - id: building\n"
		"    strength: medium\n"
		"    networks: [10.5.0.0/16, 10.6.0.0/16]\n"
		"  - id: cell\n"
		"    strength: high\n"
		"    networks: [10.5.7.0/24, 10.5.7.128/25, 10.5.7.200]\n"
		"    hosts:\n"
		"      - { name: PLC-9, ip: 10.5.7.129 }\n"
		"      - { name: PLC-10, ip: 10.5.7.200/32 }\n"
		"  - id: world\n"
		"    strength: minimum\n"
		"    networks: [0.0.0.0/0]\n");

	(void)state;
	expect_lookup(zm, "10.1.2.3", "plant", NULL);
	expect_lookup(zm, "10.5.0.1", "building", NULL);
	expect_lookup(zm, "10.5.255.255", "building", NULL);
	expect_lookup(zm, "10.6.1.1", "building", NULL);
	expect_lookup(zm, "10.7.1.1", "plant", NULL);
	expect_lookup(zm, "10.5.7.0", "cell", NULL);
	expect_lookup(zm, "10.5.7.8", "cell", NULL);
	expect_lookup(zm, "10.5.7.130", "cell", NULL);
	expect_lookup(zm, "10.5.6.255", "building", NULL);
	expect_lookup(zm, "10.5.8.0", "building", NULL);
	/* a named host of another zone inside cell's /24: the /32 wins */
	expect_lookup(zm, "10.5.7.9", "plant", "LAPTOP-7");
	expect_lookup(zm, "10.5.7.129", "cell", "PLC-9");
	/* a /32 network given a name by a host of the same zone */
	expect_lookup(zm, "10.5.7.200", "cell", "PLC-10");
	/* 0.0.0.0/0 catches the rest */
	expect_lookup(zm, "11.0.0.1", "world", NULL);
	expect_lookup(zm, "255.255.255.255", "world", NULL);
	expect_lookup(zm, "9.255.255.255", "world", NULL);
	zone_model_free(zm);
}

static uint32_t rng_state = 0x9e3779b9u;

static uint32_t rnd(void)
{
	/* xorshift32: deterministic, so a failure repeats */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static uint32_t mask_of(unsigned len)
{
	return len ? 0xffffffffu << (32 - len) : 0;
}

#define N_RANDOM 600

/* hundreds of random prefixes: the trie agrees with a linear scan */
static void test_lpm_random(void **state)
{
	static uint32_t net[N_RANDOM];
	static unsigned len[N_RANDOM], zone[N_RANDOM];
	size_t cap = 64 * N_RANDOM, at = 0;
	char *y = malloc(cap), err[512] = "";
	struct zone_model *zm;
	unsigned n = 0, nz = 40;

	(void)state;
	assert_non_null(y);
	while (n < N_RANDOM) {
		/* lengths 8..32, more of them long; nets clustered in 10/8
		 * so that many prefixes nest */
		unsigned l = 8 + rnd() % 25;
		uint32_t a = (10u << 24) | (rnd() & 0x00ff00ffu) |
			     ((rnd() % 4) << 8);
		bool dup = false;

		a &= mask_of(l);
		for (unsigned i = 0; i < n && !dup; i++)
			dup = net[i] == a && len[i] == l;
		if (dup)
			continue;
		net[n] = a;
		len[n] = l;
		zone[n] = rnd() % nz;
		n++;
	}
	at += (size_t)snprintf(y + at, cap - at, "zones:\n");
	for (unsigned z = 0; z < nz; z++) {
		at += (size_t)snprintf(y + at, cap - at,
				       "  - id: z%u\n    strength: high\n"
				       "    networks:\n", z);
		for (unsigned i = 0; i < n; i++) {
			struct in_addr in = { htonl(net[i]) };

			if (zone[i] == z)
				at += (size_t)snprintf(y + at, cap - at,
						       "      - %s/%u\n",
						       inet_ntoa(in), len[i]);
		}
	}
	assert_true(at < cap);
	zm = zone_model_parse(y, at, "random.yaml", err, sizeof(err));
	free(y);
	if (!zm)
		fail_msg("%s", err);
	assert_int_equal(zone_model_count(zm), nz);

	for (unsigned t = 0; t < 50000; t++) {
		uint32_t a;
		int best = -1;
		unsigned bestlen = 0;
		char want[16];
		const struct zone *z;

		/* half inside a random prefix, half anywhere in 10/8 */
		if (t & 1) {
			unsigned i = rnd() % n;

			a = net[i] | (rnd() & ~mask_of(len[i]));
		} else {
			a = (10u << 24) | (rnd() & 0x00ffffffu);
		}
		for (unsigned i = 0; i < n; i++)
			if ((a & mask_of(len[i])) == net[i] &&
			    (best < 0 || len[i] > bestlen)) {
				best = (int)i;
				bestlen = len[i];
			}
		z = zone_lookup(zm, htonl(a), NULL);
		if (best < 0) {
			if (z)
				fail_msg("%08x: zone %s, expected none", a,
					 z->id);
			continue;
		}
		snprintf(want, sizeof(want), "z%u", zone[best]);
		if (!z || strcmp(z->id, want))
			fail_msg("%08x: zone %s, expected %s (/%u)", a, zid(z),
				 want, bestlen);
	}
	zone_model_free(zm);
}

/* a growing text buffer for generated zone files */
struct buf {
	char *p;
	size_t n, cap;
};

static void bprintf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int w;

	for (;;) {
		va_start(ap, fmt);
		w = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		assert_true(w >= 0);
		if ((size_t)w < b->cap - b->n)
			break;
		b->cap = b->cap * 2 + (size_t)w + 1;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	b->n += (size_t)w;
}

/*
 * The largest model the bounds allow: 1024 zones, 61,440 named hosts and
 * a conduit chain.  Loading must not be quadratic in names (it takes
 * well under a second), and one zone or prefix more is refused.
 */
static void test_big_model(void **state)
{
	struct buf b = { malloc(1024), 0, 1024 };
	struct zone_model *zm;
	char err[512] = "", name[32];
	const char *h;
	size_t mark;

	(void)state;
	assert_non_null(b.p);
	b.p[0] = '\0';
	bprintf(&b, "zones:\n");
	for (int i = 0; i < 1024; i++) {
		bprintf(&b, "  - id: z%d\n    strength: high\n"
			    "    networks: [10.%d.%d.0/24]\n    hosts:\n",
			i, i >> 8, i & 255);
		for (int j = 0; j < 60; j++)
			bprintf(&b, "      - { name: H-%d-%d, ip: 10.%d.%d.%d }\n",
				i, j, i >> 8, i & 255, j + 1);
	}
	mark = b.n;
	bprintf(&b, "conduits:\n");
	for (int i = 0; i + 1 < 1024; i++)
		bprintf(&b, "  - { from: z%d, to: z%d, allow: [{ protocol: "
			    "modbus, ops: [read] }] }\n", i, i + 1);
	zm = zone_model_parse(b.p, b.n, "big.yaml", err, sizeof(err));
	if (!zm)
		fail_msg("%s", err);
	assert_int_equal(zone_model_count(zm), 1024);
	for (int i = 0; i < 1024; i += 97) {
		char a[32], zn[16];

		snprintf(a, sizeof(a), "10.%d.%d.%d", i >> 8, i & 255, 60);
		snprintf(name, sizeof(name), "H-%d-59", i);
		snprintf(zn, sizeof(zn), "z%d", i);
		expect_lookup(zm, a, zn, name);
		snprintf(a, sizeof(a), "10.%d.%d.200", i >> 8, i & 255);
		expect_lookup(zm, a, zn, NULL);
	}
	expect_lookup(zm, "10.4.0.1", NULL, NULL);
	expect_policy(zm, "z5", "z6", "modbus", MM_OP_READ, POLICY_ALLOWED);
	expect_policy(zm, "z1022", "z1023", "modbus", MM_OP_WRITE,
		      POLICY_OP_NOT_ALLOWED);
	expect_policy(zm, "z6", "z5", "modbus", MM_OP_READ, POLICY_NO_CONDUIT);
	h = NULL;
	assert_null(zone_lookup(zm, ip("11.0.0.1"), &h));
	zone_model_free(zm);

	/* one zone more than ZM_MAX_ZONES (line: after 1024 zones of 64
	 * lines and "zones:") */
	b.n = mark;
	bprintf(&b, "  - { id: one_too_many, strength: high }\n");
	zm = zone_model_parse(b.p, b.n, "big.yaml", err, sizeof(err));
	expect_err_in("big.yaml", zm, err, 1 + 1024 * 64 + 1,
		      "too many zones");

	/* 65,536 prefixes at most: the 1024 networks, 61,440 hosts, and
	 * 3,072 more hosts fit in one more zone... but the zone count is
	 * full, so add them to z0 instead, then one more */
	b.n = 0;
	bprintf(&b, "zones:\n  - id: z0\n    strength: high\n    hosts:\n");
	for (int k = 0; k < 65536; k++)
		bprintf(&b, "      - { name: h%d, ip: 10.%d.%d.%d }\n", k,
			k >> 16, (k >> 8) & 255, k & 255);
	zm = zone_model_parse(b.p, b.n, "big.yaml", err, sizeof(err));
	if (!zm)
		fail_msg("%s", err);
	expect_lookup(zm, "10.0.255.255", "z0", "h65535");
	zone_model_free(zm);
	bprintf(&b, "      - { name: h65536, ip: 10.1.0.0 }\n");
	zm = zone_model_parse(b.p, b.n, "big.yaml", err, sizeof(err));
	expect_err_in("big.yaml", zm, err, 4 + 65536 + 1,
		      "too many networks and hosts");
	free(b.p);
}

/* --- every kind of error, at its line --- */

/* a valid start, 4 lines: zone a on line 3, b on line 4 */
#define HEAD                                              \
	"# two zones\n"                                   \
	"zones:\n"                                        \
	"  - { id: a, strength: high, networks: [10.0.1.0/24] }\n" \
	"  - { id: b, strength: medium, networks: [10.0.2.0/24] }\n"

static void test_err_not_yaml(void **state)
{
	(void)state;
	expect_err("zones:\n  - id: a\n    strength: [high\n  - id: b\n", 4,
		   "not valid YAML");
	expect_err("zones:\n  - id: a\n\tstrength: high\n", 3, "tab");
	expect_err("zones: *nowhere\n", 1, "undefined alias");
	expect_err("zones:\n  - id: a\n    strength: \"high\n", 4,
		   "not valid YAML");
	expect_err("zones: [a\nb: ]\n", 2, "not valid YAML");
	expect_file_err(DATA "bad_syntax.yaml", 8, "(line 7)");
}

static void test_err_binary(void **state)
{
	static const char bin[] = "zones:\n  - id: a\n\x01\x02\x03\n";
	static const char nul[] = "zones:\n  - id: a\x00b\n";
	static const char utf8[] = "zones:\n\n  - id: \xff\xfe\n";

	(void)state;
	expect_err_len(bin, sizeof(bin) - 1, 3, "control characters");
	expect_err_len(nul, sizeof(nul) - 1, 2, "control characters");
	expect_err_len(utf8, sizeof(utf8) - 1, 3, "UTF-8");
	expect_file_err(DATA "garbage.bin", 1, "not valid YAML");
}

static void test_err_empty(void **state)
{
	char err[128] = "";

	(void)state;
	expect_err("", 1, "empty zone file");
	expect_err("# nothing but a comment\n\n", 1, "empty zone file");
	expect_err("---\n...\n", 2, "empty zone file");
	expect_err_len("", 0, 1, "empty");
	/* NULL input is refused, not dereferenced */
	assert_null(zone_model_parse(NULL, 5, "t.yaml", err, sizeof(err)));
	assert_non_null(strstr(err, "no input"));
	/* a tiny or absent error buffer is fine */
	assert_null(zone_model_parse("x", 1, "t.yaml", err, 4));
	assert_string_equal(err, "t.y");
	assert_null(zone_model_parse("x", 1, "t.yaml", NULL, 0));
}

static void test_err_two_documents(void **state)
{
	(void)state;
	expect_err(HEAD "---\nzones: []\n", 5, "one YAML document");
	expect_err(HEAD "---\n- [\n", 7, "not valid YAML");
}

static void test_err_root_type(void **state)
{
	(void)state;
	expect_err("- id: a\n  strength: high\n", 1, "is a mapping");
	expect_err("just a line\n", 1, "not a single value");
	expect_err("\n\n[zones]\n", 3, "not a list");
}

static void test_err_unknown_key(void **state)
{
	(void)state;
	/* a typo must not pass silently, at any level */
	expect_err("site: x\nzone:\n  - {id: a, strength: high}\n", 2,
		   "unknown key 'zone'");
	expect_err(HEAD "  - id: c\n    strength: high\n    network: [1.0.0.0/8]\n",
		   7, "unknown key 'network'");
	expect_err(HEAD "  - id: c\n    strength: high\n    hosts:\n"
			"      - { name: X, addr: 10.0.3.1 }\n",
		   8, "unknown key 'addr'");
	expect_err(HEAD "conduits:\n  - from: a\n    to: b\n    alow: []\n", 8,
		   "unknown key 'alow'");
	expect_err(HEAD "conduits:\n  - from: a\n    to: b\n    allow:\n"
			"      - { proto: modbus, ops: [read] }\n",
		   9, "unknown key 'proto'");
	/* keys are names, not lists */
	expect_err(HEAD "? [a, b]\n: c\n", 5, "plain name");
	expect_file_err(DATA "typo_key.yaml", 6, "stregth");
}

static void test_err_duplicate_key(void **state)
{
	(void)state;
	expect_err("zones:\n  - id: a\n    strength: high\n    id: b\n", 4,
		   "given twice (first on line 2)");
	expect_err(HEAD "zones: []\n", 5, "'zones' given twice");
}

static void test_err_missing_id(void **state)
{
	(void)state;
	expect_err(HEAD "  - name: no id here\n    strength: high\n", 5,
		   "without id");
	expect_err(HEAD "  - {}\n", 5, "without id");
	expect_err(HEAD "  - id:\n    strength: high\n", 5, "not ''");
}

static void test_err_bad_id(void **state)
{
	(void)state;
	expect_err(HEAD "  - { id: Seigyo, strength: high }\n", 5,
		   "lower-case");
	expect_err(HEAD "  - { id: seigyo-line3, strength: high }\n", 5,
		   "not 'seigyo-line3'");
	expect_err(HEAD "  - { id: 制御, strength: high }\n", 5, "lower-case");
	expect_err(HEAD "  - { id: [a], strength: high }\n", 5,
		   "id must be a single value, not a list");
	expect_err(HEAD "  - { id: \"a\\0b\", strength: high }\n", 5,
		   "NUL");
	expect_err(HEAD "  - { id: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			"aaaaaaaaaaaaaaaaaaaaaaaaaa, strength: high }\n",
		   5, "1 to 63");
}

static void test_err_duplicate_id(void **state)
{
	(void)state;
	expect_err(HEAD "  - id: c\n    strength: high\n  - id: a\n"
			"    strength: high\n",
		   7, "duplicate zone id 'a' (first on line 3)");
}

static void test_err_strength(void **state)
{
	(void)state;
	expect_err(HEAD "  - id: c\n    strength: hi\n", 6,
		   "strength must be high, medium or minimum (高/中/最低限), "
		   "not 'hi'");
	expect_err(HEAD "  - id: c\n    strength: High\n", 6, "not 'High'");
	expect_err(HEAD "  - id: c\n    strength: 99999999999999999999999\n", 6,
		   "not '99999999999999999999999'");
	expect_err(HEAD "  - id: c\n    strength: [high]\n", 6,
		   "single value");
	expect_err(HEAD "  - id: c\n    networks: [10.0.3.0/24]\n", 5,
		   "no strength");
	expect_file_err(DATA "bad_strength.yaml", 14,
			"strength must be high, medium or minimum "
			"(高/中/最低限), not 'hi'");
}

static void test_err_archetype(void **state)
{
	(void)state;
	expect_err(HEAD "  - id: c\n    strength: high\n    archetype: seigo\n",
		   7, "archetype must be one of joho, dmz");
	expect_err(HEAD "  - id: c\n    strength: high\n    archetype: 制御系\n",
		   7, "not '制御系'");
}

static void test_err_intra_zone(void **state)
{
	(void)state;
	expect_err(HEAD "  - id: c\n    strength: high\n    intra_zone: deny\n",
		   7, "intra_zone must be allow or policy, not 'deny'");
}

static void test_err_bad_address(void **state)
{
	(void)state;
	expect_err(HEAD "  - { id: c, strength: high, networks: [10.0.3/24] }\n",
		   5, "'10.0.3/24' is not an IPv4 address");
	expect_err(HEAD "  - { id: c, strength: high, networks: [10.0.3.256] }\n",
		   5, "not an IPv4");
	expect_err(HEAD "  - { id: c, strength: high, networks: [010.0.3.0/24] }\n",
		   5, "not an IPv4");
	expect_err(HEAD "  - { id: c, strength: high, networks: [plc.local] }\n",
		   5, "not an IPv4");
	expect_err(HEAD "  - { id: c, strength: high, networks: ['10.0.3.0 /24'] }\n",
		   5, "not an IPv4");
	expect_err(HEAD "  - { id: c, strength: high, networks: [\"\"] }\n",
		   5, "not an IPv4");
	expect_err(HEAD "  - { id: c, strength: high, networks: ['::1/128'] }\n",
		   5, "not an IPv4");
	expect_err(HEAD "  - { id: c, strength: high, networks: [10.0.3.0/33] }\n",
		   5, "must be 0 to 32");
	expect_err(HEAD "  - { id: c, strength: high, networks: [10.0.3.0/] }\n",
		   5, "must be 0 to 32");
	expect_err(HEAD "  - { id: c, strength: high, networks: [10.0.3.0/2a] }\n",
		   5, "must be 0 to 32");
	expect_err(HEAD "  - { id: c, strength: high, networks: [10.0.3.0/-8] }\n",
		   5, "must be 0 to 32");
	/* huge numbers: no overflow, no wrap to a valid value */
	expect_err(HEAD "  - { id: c, strength: high,\n"
			"      networks: [10.0.3.0/4294967320] }\n",
		   6, "must be 0 to 32");
	expect_err(HEAD "  - { id: c, strength: high,\n"
			"      networks: [4294967306.0.0.0/8] }\n",
		   6, "not an IPv4");
	expect_err(HEAD "  - { id: c, strength: high,\n"
			"      networks: [10.0.0.0/99999999999999999999999999] }\n",
		   6, "must be 0 to 32");
	expect_err(HEAD "  - id: c\n    strength: high\n    hosts:\n"
			"      - { name: X, ip: 10.0.3.1/24 }\n",
		   8, "a host is one address");
	expect_err(HEAD "  - id: c\n    strength: high\n    hosts:\n"
			"      - { name: X, ip: 10.0.3.x }\n",
		   8, "not an IPv4");
}

static void test_err_host_bits(void **state)
{
	(void)state;
	expect_err(HEAD "  - id: c\n    strength: high\n    networks:\n"
			"      - 10.0.3.0/24\n      - 10.10.1.1/24\n",
		   9, "'10.10.1.1/24' has host bits set (the network is "
		      "10.10.1.0/24)");
	expect_err(HEAD "  - { id: c, strength: high, networks: [1.0.0.0/0] }\n",
		   5, "host bits");
}

static void test_err_network_twice(void **state)
{
	(void)state;
	/* the same prefix in two zones */
	expect_err(HEAD "  - id: c\n    strength: high\n"
			"    networks: [10.0.3.0/24, 10.0.1.0/24]\n",
		   7, "10.0.1.0/24 is already in zone 'a' (line 3)");
	/* the same prefix twice in one zone */
	expect_err(HEAD "  - id: c\n    strength: high\n"
			"    networks: [10.0.3.0/24, 10.0.3.0/24]\n",
		   7, "listed twice in zone 'c'");
	/* a /32 network of one zone is not another zone's host */
	expect_err(HEAD "  - id: c\n    strength: high\n"
			"    networks: [10.0.3.7]\n"
			"  - id: d\n    strength: high\n    hosts:\n"
			"      - { name: X, ip: 10.0.3.7 }\n",
		   11, "already in zone 'c'");
	/* one address, two host entries */
	expect_err(HEAD "  - id: c\n    strength: high\n    hosts:\n"
			"      - { name: X, ip: 10.0.3.7 }\n"
			"      - { name: Y, ip: 10.0.3.7 }\n",
		   9, "already host 'X' (line 8)");
	expect_file_err(DATA "dup_network.yaml", 11,
			"10.10.9.0/24 is already in zone 'line1' (line 6)");
}

static void test_err_host(void **state)
{
	(void)state;
	expect_err(HEAD "  - id: c\n    strength: high\n    hosts:\n"
			"      - { name: X, ip: 10.0.3.7 }\n"
			"      - { name: X, ip: 10.0.3.8 }\n",
		   9, "host name 'X' is already used (line 8)");
	expect_err(HEAD "  - id: c\n    strength: high\n    hosts:\n"
			"      - { ip: 10.0.3.7 }\n",
		   8, "without name");
	expect_err(HEAD "  - id: c\n    strength: high\n    hosts:\n"
			"      - { name: X }\n",
		   8, "without ip");
	expect_err(HEAD "  - id: c\n    strength: high\n    hosts:\n"
			"      - { name: \"\", ip: 10.0.3.7 }\n",
		   8, "must not be empty");
	expect_err(HEAD "  - id: c\n    strength: high\n    hosts:\n"
			"      - { name: \"PLC\\n01\", ip: 10.0.3.7 }\n",
		   8, "control characters");
}

static void test_err_node_types(void **state)
{
	(void)state;
	expect_err("zones:\n  id: a\n  strength: high\n", 2,
		   "zones must be a list of zones, not a mapping");
	expect_err("zones: a\n", 1, "not a single value");
	expect_err(HEAD "  - [id, c]\n", 5,
		   "each zone must be a mapping");
	expect_err(HEAD "  - c\n", 5, "each zone must be a mapping");
	expect_err(HEAD "  - id: c\n    strength: high\n"
			"    networks: { net: 10.0.3.0/24 }\n",
		   7, "networks must be a list or a single value, not a "
		      "mapping");
	expect_err(HEAD "  - id: c\n    strength: high\n"
			"    networks: [[10.0.3.0/24]]\n",
		   7, "must be a single value, not a list");
	expect_err(HEAD "  - id: c\n    strength: high\n    hosts: PLC-1\n", 7,
		   "hosts must be a list, not a single value");
	expect_err(HEAD "  - id: c\n    strength: high\n    hosts: [PLC-1]\n", 7,
		   "must be a mapping like { name");
	expect_err(HEAD "  - id: c\n    strength: high\n    name: [x]\n", 7,
		   "name must be a single value");
	expect_err(HEAD "site: [x]\n", 5, "site must be a single value");
	expect_err(HEAD "conduits: { from: a, to: b }\n", 5,
		   "conduits must be a list");
	expect_err(HEAD "conduits:\n  - [a, b]\n", 6,
		   "each conduit must be a mapping");
	expect_err(HEAD "conduits:\n  - { from: a, to: b,\n"
			"      allow: { protocol: modbus, ops: [read] } }\n",
		   7, "allow must be a list");
	expect_err(HEAD "conduits:\n  - { from: a, to: b, allow: [modbus] }\n",
		   6, "each allow entry must be a mapping");
	expect_err(HEAD "conduits:\n  - { from: {a: 1}, to: b, allow: [] }\n",
		   6, "from must be a list or a single value, not a mapping");
	expect_err(HEAD "conduits:\n  - from: a\n    to: b\n    allow:\n"
			"      - { protocol: [modbus], ops: [read] }\n",
		   9, "protocol must be a single value");
	expect_err(HEAD "conduits:\n  - from: a\n    to: b\n    allow:\n"
			"      - { protocol: modbus, ops: [[read]] }\n",
		   9, "ops must be a single value, not a list");
	/* an alias loop is a wrong type, never followed */
	expect_err(HEAD "  - { id: c, strength: high, networks: &n [*n] }\n", 5,
		   "not a list");
}

static void test_err_no_zones(void **state)
{
	(void)state;
	expect_err("site: x\n", 1, "no zones");
	expect_err("site: x\nzones: []\n", 2, "zones is empty");
	expect_err("site: x\nzones:\n", 2, "zones is empty");
}

static void test_err_unknown_zone(void **state)
{
	(void)state;
	expect_err(HEAD "conduits:\n  - from: a\n    to: [b, seigyo_lin2]\n"
			"    allow: [{ protocol: modbus, ops: [read] }]\n",
		   7, "unknown zone 'seigyo_lin2'");
	expect_err(HEAD "conduits:\n  - from: [a, x]\n    to: b\n"
			"    allow: [{ protocol: modbus, ops: [read] }]\n",
		   6, "from: unknown zone 'x'");
	expect_err(HEAD "conduits:\n  - from: []\n    to: b\n"
			"    allow: [{ protocol: modbus, ops: [read] }]\n",
		   6, "from names no zone");
	expect_err(HEAD "conduits:\n  - to: b\n"
			"    allow: [{ protocol: modbus, ops: [read] }]\n",
		   6, "without from");
	expect_err(HEAD "conduits:\n  - from: a\n"
			"    allow: [{ protocol: modbus, ops: [read] }]\n",
		   6, "without to");
	expect_file_err(DATA "unknown_zone.yaml", 13,
			"to: unknown zone 'seigyo_lin2'");
}

static void test_err_op_class(void **state)
{
	(void)state;
	expect_err(HEAD "conduits:\n  - from: a\n    to: b\n    allow:\n"
			"      - protocol: modbus\n"
			"        ops:\n          - read\n          - wirte\n",
		   12, "unknown op class 'wirte'");
	expect_err(HEAD "conduits:\n  - from: a\n    to: b\n    allow:\n"
			"      - { protocol: modbus, ops: [READ] }\n",
		   9, "unknown op class 'READ'");
	expect_err(HEAD "conduits:\n  - from: a\n    to: b\n    allow:\n"
			"      - { protocol: modbus, ops: [] }\n",
		   9, "ops names no op class");
	expect_err(HEAD "conduits:\n  - from: a\n    to: b\n    allow:\n"
			"      - { protocol: modbus }\n",
		   9, "without ops");
	expect_err(HEAD "conduits:\n  - from: a\n    to: b\n    allow:\n"
			"      - { ops: [read] }\n",
		   9, "without protocol");
	expect_err(HEAD "conduits:\n  - from: a\n    to: b\n    allow:\n"
			"      - { protocol: Modbus/TCP, ops: [read] }\n",
		   9, "protocol must be a dissector name");
	expect_err(HEAD "conduits:\n  - from: a\n    to: b\n    allow: []\n", 8,
		   "allow is empty");
	expect_err(HEAD "conduits:\n  - { from: a, to: b }\n", 6,
		   "without allow");
}

static void test_err_self_conduit(void **state)
{
	(void)state;
	/* a zone's own conduit does nothing unless intra_zone: policy */
	expect_err(HEAD "conduits:\n  - from: a\n    to: a\n"
			"    allow: [{ protocol: any, ops: [read] }]\n",
		   6, "intra_zone: policy");
}

static void test_err_file(void **state)
{
	char err[512] = "", path[64];
	FILE *f;

	(void)state;
	assert_null(zone_model_load(DATA "no-such-file.yaml", err, sizeof(err)));
	assert_non_null(strstr(err, DATA "no-such-file.yaml: cannot open"));
	assert_null(zone_model_load(DATA, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot read"));
	assert_null(zone_model_load(NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "no zone file"));
	/* a file far larger than any zone file is refused before parsing */
	snprintf(path, sizeof(path), "/tmp/mm-test-zones-%d.yaml", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("zones:\n", f);
	for (int i = 0; i < 200000; i++)
		fputs("# padding padding padding\n", f);
	fclose(f);
	assert_null(zone_model_load(path, err, sizeof(err)));
	unlink(path);
	assert_non_null(strstr(err, "larger than"));
}

/* --- hostile inputs: a model or an error, never a crash --- */

/* any outcome but a crash or an error without "t.yaml:LINE: " */
static void parse_any(const char *p, size_t n)
{
	char err[256] = "";
	struct zone_model *zm = zone_model_parse(p, n, "t.yaml", err,
						 sizeof(err));

	if (zm) {
		/* a model that loaded must answer */
		(void)zone_lookup(zm, ip("10.10.1.10"), NULL);
		zone_model_free(zm);
		return;
	}
	if (strncmp(err, "t.yaml:", 7) != 0 || err[7] < '1' || err[7] > '9' ||
	    !strchr(err + 7, ':'))
		fail_msg("error without a line: '%s'", err);
}

static void test_truncated(void **state)
{
	size_t len, ok = 0;
	char *buf = fx_read_file(DEFAULT_FILE, &len);

	(void)state;
	assert_true(len > 0);
	/* the default file cut short at every offset (in a buffer of
	 * exactly that size, so ASan sees any read past it) */
	for (size_t n = 0; n < len; n++) {
		char *p = malloc(n ? n : 1);

		assert_non_null(p);
		memcpy(p, buf, n);
		parse_any(p, n);
		free(p);
	}
	/* and whole: still the model it is */
	{
		char err[256];
		struct zone_model *zm =
			zone_model_parse(buf, len, "t.yaml", err, sizeof(err));

		assert_non_null(zm);
		ok = zone_model_count(zm);
		zone_model_free(zm);
	}
	assert_int_equal(ok, N_DEFAULT);
	free(buf);
}

static void test_mutated(void **state)
{
	static const char junk[] = "\0\t\n\r\x7f\xff:-[]{}&*!|>'\"%@`#,?/.~";
	size_t len;
	char *buf = fx_read_file(DEFAULT_FILE, &len);
	char *p = malloc(len);

	(void)state;
	assert_true(len > 0);
	assert_non_null(p);
	rng_state = 12345;
	for (int t = 0; t < 3000; t++) {
		memcpy(p, buf, len);
		for (int k = 1 + (int)(rnd() % 4); k > 0; k--) {
			size_t at = rnd() % len;

			p[at] = (rnd() & 1) ? junk[rnd() % (sizeof(junk) - 1)]
					    : (char)rnd();
		}
		parse_any(p, len);
	}
	free(p);
	free(buf);
}

static void test_deep_and_big(void **state)
{
	size_t n = 100000;
	char *p = malloc(2 * n + 32);

	(void)state;
	assert_non_null(p);
	/* deeply nested flow lists: refused early, and quickly */
	memset(p, '[', n);
	memset(p + n, ']', n);
	expect_err_len(p, 2 * n, 1, "nested deeper than");
	/* unbalanced */
	expect_err_len(p, n, 1, "nested deeper than");
	/* deeply nested block mappings */
	{
		size_t at = 0, cap = 2 * n + 32;

		for (int d = 0; d < 200 && at + 512 < cap; d++) {
			memset(p + at, ' ', (size_t)d);
			at += (size_t)d;
			memcpy(p + at, "k:\n", 3);
			at += 3;
		}
		expect_err_len(p, at, 33, "nested deeper than");
	}
	/* a value 100,000 bytes long, quoted in the message in short */
	memcpy(p, HEAD "  - { id: c, strength: ", sizeof(HEAD) - 1 + 23);
	{
		size_t at = sizeof(HEAD) - 1 + 23;
		char err[512] = "";
		struct zone_model *zm;

		memset(p + at, '9', n);
		at += n;
		memcpy(p + at, " }\n", 3);
		at += 3;
		zm = zone_model_parse(p, at, "t.yaml", err, sizeof(err));
		expect_err_in("t.yaml", zm, err, 5, "not '9999");
		assert_true(strlen(err) < 200);
	}
	free(p);
}

static void test_alias_bomb(void **state)
{
	/* aliases are shared nodes, not copies: a "billion laughs" costs
	 * nothing, and repeated conduit entries merge */
	const char *y =
		"zones:\n"
		"  - { id: a, strength: high, networks: [10.0.1.0/24] }\n"
		"  - { id: b, strength: high, networks: [10.0.2.0/24] }\n"
		"x0: &x0 [{ protocol: modbus, ops: [read] }, { protocol: modbus, ops: [read] }]\n";

	(void)state;
	/* unknown top-level keys are refused before anything expands */
	expect_err(y, 4, "unknown key 'x0'");
	{
		const char *z =
			"zones:\n"
			"  - { id: a, strength: high, networks: [10.0.1.0/24] }\n"
			"  - { id: b, strength: high, networks: [10.0.2.0/24] }\n"
			"conduits:\n"
			"  - from: &f [a, a, a, a, a, a, a, a]\n"
			"    to: &t [b, b, b, b, b, b, b, b]\n"
			"    allow: &al [{ protocol: modbus, ops: [read] },\n"
			"                { protocol: modbus, ops: [read] },\n"
			"                { protocol: modbus, ops: [read] }]\n"
			"  - { from: *f, to: *t, allow: *al }\n"
			"  - { from: *f, to: *t, allow: *al }\n"
			"  - { from: *f, to: *t, allow: *al }\n";
		struct zone_model *zm = parse(z);
		char buf[64];

		assert_true(policy_describe(zm, zone_by_id(zm, "a"),
					    zone_by_id(zm, "b"), buf,
					    sizeof(buf)));
		assert_string_equal(buf, "modbus: read");
		zone_model_free(zm);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_zones),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_default_lookup),
		cmocka_unit_test(test_default_policy_matrix),
		cmocka_unit_test(test_default_policy_cases),
		cmocka_unit_test(test_zone_of_other_model),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_intra_zone_policy),
		cmocka_unit_test(test_services),
		cmocka_unit_test(test_any_and_merge),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_lpm_overlap),
		cmocka_unit_test(test_lpm_random),
		cmocka_unit_test(test_big_model),
		cmocka_unit_test(test_err_not_yaml),
		cmocka_unit_test(test_err_binary),
		cmocka_unit_test(test_err_empty),
		cmocka_unit_test(test_err_two_documents),
		cmocka_unit_test(test_err_root_type),
		cmocka_unit_test(test_err_unknown_key),
		cmocka_unit_test(test_err_duplicate_key),
		cmocka_unit_test(test_err_missing_id),
		cmocka_unit_test(test_err_bad_id),
		cmocka_unit_test(test_err_duplicate_id),
		cmocka_unit_test(test_err_strength),
		cmocka_unit_test(test_err_archetype),
		cmocka_unit_test(test_err_intra_zone),
		cmocka_unit_test(test_err_bad_address),
		cmocka_unit_test(test_err_host_bits),
		cmocka_unit_test(test_err_network_twice),
		cmocka_unit_test(test_err_host),
		cmocka_unit_test(test_err_node_types),
		cmocka_unit_test(test_err_no_zones),
		cmocka_unit_test(test_err_unknown_zone),
		cmocka_unit_test(test_err_op_class),
		cmocka_unit_test(test_err_self_conduit),
		cmocka_unit_test(test_err_file),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_mutated),
		cmocka_unit_test(test_deep_and_big),
		cmocka_unit_test(test_alias_bomb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
