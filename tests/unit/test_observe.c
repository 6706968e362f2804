/*
 * test_observe.c - the observations the sensor reports for the learned
 * baseline (daemon/observe.c): what makes a key, when a key is reported
 * (first sight at once, then each report interval of packet time, then at
 * exit) with which n, interval and peak_per_s, eviction from a full
 * table, the learn_for switch, mode off, and the settings file's
 * baseline: section with its errors (FILE:LINE: message).
 *
 * Records are caught by replacing the module's sink (the daemon's sends
 * them over the link) and read back with jansson.  Time is the packets'
 * own: every call sets mm.now.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../daemon/sensor.h"

#include "cfg_fixture.h"

struct mm_sensor mm; /* the sensor's state: ours to set up here */

static const char zones_yaml[] =
	"zones:\n"
	"  - { id: it, archetype: joho, strength: minimum, networks: [10.1.0.0/24] }\n"
	"  - { id: scada, archetype: seisan_kanri, strength: medium, networks: [10.3.0.0/24] }\n"
	"  - { id: line1, archetype: seigyo, strength: high, networks: [10.10.1.0/24] }\n"
	"conduits:\n"
	"  - { from: scada, to: line1, allow: [{ protocol: modbus, ops: [read, write] }] }\n";

#define IP(a, b, c, d) htonl((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | \
			     (uint32_t)(c) << 8 | (uint32_t)(d))
#define SCADA IP(10, 3, 0, 10)
#define PLC IP(10, 10, 1, 10)
#define PC IP(10, 1, 0, 7)
#define T0 1775030400.0 /* 2026-04-01T08:00:00Z */

#define MAX_RECS 64
static json_t *recs[MAX_RECS];
static int n_recs;

static void sink(const char *json, size_t len)
{
	json_error_t e;
	json_t *j = json_loadb(json, len, 0, &e);

	assert_non_null(j); /* every record is valid JSON */
	assert_true(n_recs < MAX_RECS);
	recs[n_recs++] = j;
}

static void at(double t)
{
	mm.now.tv_sec = (time_t)t;
	mm.now.tv_usec = (suseconds_t)((t - (double)(time_t)t) * 1e6 + 0.5);
}

static struct observe_cfg base_cfg(void)
{
	struct mm_cfg c;

	mm_cfg_defaults(&c);
	return c.obs;
}

static int start(const struct observe_cfg *c)
{
	return observe_init(c);
}

static int setup(void **state)
{
	char err[256];
	struct observe_cfg c = base_cfg();

	(void)state;
	memset(&mm, 0, sizeof(mm));
	mm.cfg.sensor = "unit-test";
	for (int i = 0; mm_dissectors[i]; i++)
		mm.n_dissectors = i + 1;
	mm.zones = zone_model_parse(zones_yaml, sizeof(zones_yaml) - 1, "test",
				    err, sizeof(err));
	if (!mm.zones) {
		fprintf(stderr, "zones: %s\n", err);
		return -1;
	}
	n_recs = 0;
	observe_sink = sink;
	at(T0);
	return start(&c);
}

static int teardown(void **state)
{
	(void)state;
	observe_free();
	for (int i = 0; i < n_recs; i++)
		json_decref(recs[i]);
	n_recs = 0;
	zone_model_free(mm.zones);
	return 0;
}

/* ---------------- helpers ---------------- */

static int modbus_index(void)
{
	for (int i = 0; mm_dissectors[i]; i++)
		if (!strcmp(mm_dissectors[i]->name, "modbus"))
			return i;
	return -1;
}

/* one Modbus request SCADA -> PLC:502 at time t */
static void op_at(double t, uint32_t src, enum mm_op_class cls, unsigned fn,
		  uint32_t addr)
{
	struct mm_flow f;
	struct mm_ends e;
	struct mm_op op;

	at(t);
	memset(&f, 0, sizeof(f));
	f.d_index = modbus_index();
	f.d = mm_dissectors[f.d_index];
	memset(&e, 0, sizeof(e));
	e.transport = IPPROTO_TCP;
	e.src_ip = src;
	e.dest_ip = PLC;
	e.src_port = 40000;
	e.dest_port = 502;
	memset(&op, 0, sizeof(op));
	op.cls = cls;
	op.function = fn;
	op.function_name = cls == MM_OP_WRITE ? "write_single_register"
					      : "read_holding_registers";
	op.has_ref = true;
	op.unit = 1;
	op.space = 4;
	op.addr = addr;
	op.count = 1;
	observe_op(&f, &e, &op, POLICY_ALLOWED);
}

static void read_at(double t, uint32_t addr)
{
	op_at(t, SCADA, MM_OP_READ, 3, addr);
}

static void write_at(double t)
{
	op_at(t, SCADA, MM_OP_WRITE, 6, 100);
}

/* record i's member k (NULL: none) */
static json_t *member(int i, const char *k)
{
	assert_true(i < n_recs);
	return json_object_get(recs[i], k);
}

static const char *s_of(int i, const char *k)
{
	json_t *v = member(i, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static long long i_of(int i, const char *k)
{
	json_t *v = member(i, k);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static double d_of(int i, const char *k)
{
	json_t *v = member(i, k);

	assert_true(json_is_number(v));
	return json_number_value(v);
}

static bool has(int i, const char *k)
{
	return member(i, k) != NULL;
}

/* a member a record must have: a string (S) or an integer (I) */
struct want {
	const char *k;
	const char *s; /* NULL: the integer i */
	long long i;
};
#define S(k, v) {k, v, 0}
#define I(k, v) {k, NULL, v}

static void expect_n(int i, const struct want *w, size_t n)
{
	for (size_t j = 0; j < n; j++) {
		const char *s = w[j].s ? s_of(i, w[j].k) : NULL;
		if (w[j].s && (!s || strcmp(s, w[j].s)))
			fail_msg("record %d \"%s\": \"%s\", want \"%s\"", i,
				 w[j].k, s ? s : "(none)", w[j].s);
		if (!w[j].s && i_of(i, w[j].k) != w[j].i)
			fail_msg("record %d \"%s\": %lld, want %lld", i,
				 w[j].k, i_of(i, w[j].k), w[j].i);
	}
}
/* record i has these members: EXPECT(0, S("what", "op"), I("n", 1)) */
#define EXPECT(i, ...)                                                        \
	expect_n(i, (const struct want[]){__VA_ARGS__},                       \
		 sizeof((const struct want[]){__VA_ARGS__}) /                 \
			 sizeof(struct want))

/* ---------------- tests ---------------- */

/* the first sighting is reported at once: n 1, interval 0, every field */
static void test_first_report(void **state)
{
	(void)state;
	read_at(T0 + 0.25, 7);
	assert_int_equal(n_recs, 1);
	EXPECT(0, S("what", "op"), S("mode", "detect"),
	       S("timestamp", "2026-04-01T08:00:00.250000Z"),
	       S("first_seen", "2026-04-01T08:00:00.250000Z"),
	       S("src_ip", "10.3.0.10"), S("dest_ip", "10.10.1.10"),
	       I("dest_port", 502), S("src_zone", "scada"),
	       S("dest_zone", "line1"), S("proto", "modbus"), S("op", "read"),
	       S("verdict", "allowed"), I("function", 3),
	       S("function_name", "read_holding_registers"), I("unit", 1),
	       I("space", 4), I("addr", 7), I("count", 1), I("n", 1));
	assert_true(d_of(0, "interval") == 0);
	assert_false(has(0, "peak_per_s")); /* reads have none */
	assert_int_equal(mm.st.obs_keys, 1);
}

/* the same op twice is one key; another address is another key */
static void test_key_identity(void **state)
{
	(void)state;
	read_at(T0, 100);
	read_at(T0 + 1, 100);
	assert_int_equal(mm.st.obs_keys, 1);
	assert_int_equal(n_recs, 1);
	read_at(T0 + 2, 101);
	assert_int_equal(mm.st.obs_keys, 2);
	assert_int_equal(n_recs, 2);
	assert_int_equal(i_of(1, "addr"), 101);
	/* another requester, another key */
	op_at(T0 + 3, PC, MM_OP_READ, 3, 100);
	assert_int_equal(mm.st.obs_keys, 3);
	assert_string_equal(s_of(2, "src_zone"), "it");
}

/* each report interval of packet time: the keys seen, with n and the
 * seconds since their own last report; at exit the rest */
static void test_interval_reports(void **state)
{
	(void)state;
	read_at(T0, 1);           /* first report */
	read_at(T0 + 10, 1);
	read_at(T0 + 20, 1);
	read_at(T0 + 30, 2);      /* another key: first report */
	assert_int_equal(n_recs, 2);
	read_at(T0 + 60, 2);      /* the minute is up: report before counting */
	assert_int_equal(n_recs, 3);
	EXPECT(2, I("addr", 1), I("n", 2),
	       S("timestamp", "2026-04-01T08:00:20.000000Z"),
	       S("first_seen", "2026-04-01T08:00:00.000000Z"));
	assert_true(d_of(2, "interval") == 60);
	/* address 2 had nothing pending at the tick (only its first
	 * report): the op at T0+60 is reported at exit, interval counted
	 * from its own last report (T0+30) */
	at(T0 + 70.5);
	observe_finish();
	assert_int_equal(n_recs, 4);
	EXPECT(3, I("addr", 2), I("n", 1));
	assert_true(d_of(3, "interval") == 40.5);
	assert_int_equal(mm.st.obs_reports, 4);
	/* nothing pending: a second finish sends nothing */
	observe_finish();
	assert_int_equal(n_recs, 4);
}

/* writes: the most in one second of packet time since the last report */
static void test_peak_per_s(void **state)
{
	(void)state;
	write_at(T0 + 0.1);       /* first report: peak 1 */
	assert_int_equal(i_of(0, "peak_per_s"), 1);
	write_at(T0 + 5.1);
	write_at(T0 + 5.2);
	write_at(T0 + 5.3);       /* 3 in second 5 */
	for (int i = 0; i < 5; i++)
		write_at(T0 + 6 + i * 0.1); /* 5 in second 6 */
	write_at(T0 + 7.5);
	at(T0 + 61);
	observe_finish();
	assert_int_equal(n_recs, 2);
	EXPECT(1, I("n", 9), I("peak_per_s", 5), S("op", "write"),
	       S("peak_at", "2026-04-01T08:00:06.000000Z"));
	/* the next report starts over */
	write_at(T0 + 70);
	write_at(T0 + 71);
	at(T0 + 80);
	observe_finish();
	EXPECT(2, I("n", 2), I("peak_per_s", 1));
}

/* the module started again with a table of n keys */
static void with_max_keys(int n)
{
	struct observe_cfg c = base_cfg();

	c.max_keys = n;
	assert_int_equal(observe_init(&c), 0);
}

/* a full table: the least recently used key reports what it holds, then
 * gives up its slot; counted */
static void test_eviction(void **state)
{
	(void)state;
	with_max_keys(2);
	read_at(T0, 1);           /* A */
	read_at(T0 + 1, 2);       /* B */
	read_at(T0 + 2, 2);       /* B pending 1 */
	read_at(T0 + 3, 1);       /* A pending 1: B is now least recent */
	assert_int_equal(n_recs, 2);
	read_at(T0 + 4, 3);       /* C: B goes */
	assert_int_equal(mm.st.obs_evictions, 1);
	assert_int_equal(n_recs, 4);
	EXPECT(2, I("addr", 2), I("n", 1));
	assert_true(d_of(2, "interval") == 3);
	EXPECT(3, I("addr", 3), I("n", 1));
	/* A is still there: counted, not new */
	read_at(T0 + 5, 1);
	assert_int_equal(n_recs, 4);
	assert_int_equal(mm.st.obs_keys, 3);
	/* B again: a new key (it was forgotten); C is least recent now and
	 * has nothing pending: evicted without a report */
	read_at(T0 + 6, 2);
	assert_int_equal(mm.st.obs_evictions, 2);
	assert_int_equal(n_recs, 5);
	EXPECT(4, I("addr", 2), I("n", 1));
	at(T0 + 7);
	observe_finish();         /* A's two since its first report */
	assert_int_equal(n_recs, 6);
	EXPECT(5, I("addr", 1), I("n", 2));
}

/*
 * The report budget (token bucket in packet time): what it cannot pay for
 * waits, its count adding up (a late first report: interval 0, n > 1),
 * and goes out when tokens came back; what never could is counted.
 */
static void test_budget(void **state)
{
	struct observe_cfg c = base_cfg();

	(void)state;
	c.reports_per_s = 1;
	c.report_burst = 2;
	assert_int_equal(observe_init(&c), 0);
	read_at(T0, 1);
	read_at(T0, 2);
	read_at(T0, 3);           /* no token left: waits */
	read_at(T0 + 0.2, 3);     /* counted while waiting */
	read_at(T0 + 0.5, 4);     /* half a token: waits */
	assert_int_equal(n_recs, 2);
	assert_int_equal(mm.st.obs_deferred, 2);
	read_at(T0 + 1, 5);       /* a whole token again */
	assert_int_equal(n_recs, 3);
	EXPECT(2, I("addr", 5), I("n", 1));
	/* the periodic report (T0 + 60) finds a full bucket of 2: the two
	 * waiting keys, most recent first, as first reports */
	read_at(T0 + 61, 1);
	assert_int_equal(n_recs, 5);
	EXPECT(3, I("addr", 4), I("n", 1));
	EXPECT(4, I("addr", 3), I("n", 2));
	assert_true(d_of(4, "interval") == 0);
	/* address 1's new count finds no token at the end: counted */
	at(T0 + 61);
	observe_finish();
	assert_int_equal(n_recs, 5);
	assert_int_equal(mm.st.obs_unreported, 1);
	assert_int_equal(mm.st.obs_keys, 5);
}

/* interval 0 marks a first report only: a later report in the same
 * instant (evicted at once) says 0.001 */
static void test_interval_never_zero(void **state)
{
	(void)state;
	with_max_keys(1);
	read_at(T0, 1);
	read_at(T0, 1);
	read_at(T0, 2);           /* evicts address 1 with n 1 */
	assert_int_equal(n_recs, 3);
	EXPECT(1, I("addr", 1), I("n", 1));
	assert_true(d_of(1, "interval") == 0.001);
	assert_true(d_of(2, "interval") == 0);
}

/* learn_for: learn from the start for that long, then detect; what was
 * pending at the switch is reported as learned */
static void test_learn_for(void **state)
{
	struct observe_cfg c = base_cfg();

	(void)state;
	c.learn_for = 100;
	c.report_interval = 3600;
	assert_int_equal(observe_init(&c), 0);
	assert_string_equal(observe_mode_name(), "learn");
	read_at(T0, 1);
	assert_string_equal(s_of(0, "mode"), "learn");
	read_at(T0 + 50, 1);
	read_at(T0 + 99.9, 1);
	assert_int_equal(mm.st.obs_mode_switches, 0);
	read_at(T0 + 100, 2);
	assert_int_equal(mm.st.obs_mode_switches, 1);
	assert_string_equal(observe_mode_name(), "detect");
	assert_int_equal(n_recs, 3);
	EXPECT(1, S("mode", "learn"), I("addr", 1), I("n", 2));
	assert_true(d_of(1, "interval") == 100);
	EXPECT(2, S("mode", "detect"), I("addr", 2));
	read_at(T0 + 5000, 3);
	assert_int_equal(mm.st.obs_mode_switches, 1);
}

/* off: nothing kept, nothing sent */
static void test_off(void **state)
{
	struct observe_cfg c = base_cfg();
	static const uint8_t mac[6] = { 0x00, 0x80, 0xf4, 1, 2, 3 };

	(void)state;
	c.mode = MM_OBS_OFF;
	assert_int_equal(observe_init(&c), 0);
	read_at(T0, 1);
	observe_service(IPPROTO_TCP, PC, PLC, 445, POLICY_NO_CONDUIT);
	observe_mac(PLC, NULL, mac);
	observe_finish();
	assert_int_equal(n_recs, 0);
	assert_int_equal(mm.st.obs_keys, 0);
	assert_string_equal(observe_mode_name(), "off");
}

/* services: the verdict is part of the key; n counts attempts */
static void test_service(void **state)
{
	(void)state;
	observe_service(IPPROTO_TCP, PC, PLC, 445, POLICY_NO_CONDUIT);
	at(T0 + 1);
	observe_service(IPPROTO_TCP, PC, PLC, 445, POLICY_NO_CONDUIT);
	observe_service(IPPROTO_TCP, PC, PLC, 445, POLICY_NO_CONDUIT);
	assert_int_equal(n_recs, 1);
	EXPECT(0, S("what", "service"), S("proto", "tcp/445"), S("op", "other"),
	       S("verdict", "no_conduit"), S("src_zone", "it"),
	       I("dest_port", 445));
	assert_false(has(0, "function"));
	observe_service(IPPROTO_ICMP, PC, PLC, 0, POLICY_NO_CONDUIT);
	assert_string_equal(s_of(1, "proto"), "icmp");
	at(T0 + 2);
	observe_finish();
	assert_int_equal(n_recs, 2 + 1);
	assert_int_equal(i_of(2, "n"), 2);
	assert_true(d_of(2, "interval") == 2);
}

/* a MAC: vendor when known, zone, archetype, watch for control zones */
static void test_mac(void **state)
{
	static const uint8_t mac[6] = { 0x00, 0x80, 0xf4, 1, 2, 3 };
	const char *h;

	(void)state;
	observe_mac(PLC, zone_lookup(mm.zones, PLC, &h), mac);
	observe_mac(PC, zone_lookup(mm.zones, PC, &h), mac);
	observe_mac(IP(192, 168, 9, 9), NULL, mac);
	assert_int_equal(n_recs, 3);
	EXPECT(0, S("what", "mac"), S("ip", "10.10.1.10"),
	       S("mac", "00:80:f4:01:02:03"), S("zone", "line1"),
	       S("archetype", "seigyo"));
	assert_true(json_is_true(json_object_get(recs[0], "watch")));
	assert_true(json_is_false(json_object_get(recs[1], "watch")));
	assert_true(json_is_null(json_object_get(recs[2], "zone")));
	assert_true(json_is_false(json_object_get(recs[2], "watch")));
	assert_false(has(0, "mac_vendor")); /* no OUI table loaded here */
}

/* ---------------- the settings file ---------------- */

static char cfg_path[64];

static int load(const char *yaml, struct mm_cfg *c, char *err, size_t n)
{
	return fx_cfg_load(c, yaml, "observe", cfg_path, sizeof(cfg_path), err,
			   n);
}

static void expect_error(const char *yaml, int line, const char *msg)
{
	struct mm_cfg c;
	char err[512], want[512];

	assert_int_equal(load(yaml, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:%d: %s", cfg_path, line, msg);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("got '%s', want '%s...'", err, want);
}

/* the baseline: section as read (max_keys -1: not checked) */
static void expect_obs(const struct observe_cfg *o, int mode,
		       double learn_for, double report_interval, int max_keys,
		       int n_watch)
{
	assert_int_equal(o->mode, mode);
	assert_true(o->learn_for == learn_for);
	assert_true(o->report_interval == report_interval);
	if (max_keys >= 0)
		assert_int_equal(o->max_keys, max_keys);
	assert_int_equal(o->n_watch, n_watch);
}

static void test_settings(void **state)
{
	struct mm_cfg c;
	char err[512];

	(void)state;
	/* the defaults */
	mm_cfg_defaults(&c);
	expect_obs(&c.obs, MM_OBS_DETECT, 0, 60, 16384, 5);
	assert_true(c.obs.reports_per_s == 20);
	assert_int_equal(c.obs.report_burst, 500);
	assert_string_equal(c.obs.watch[0], "seigyo");
	assert_string_equal(c.obs.watch[4], "setsubi");

	assert_int_equal(load("baseline:\n"
			      "  mode: learn\n"
			      "  learn_for: 7d\n"
			      "  report_interval: 30s\n"
			      "  max_keys: 1024\n"
			      "  watch_archetypes: [hozen, seigyo]\n",
			      &c, err, sizeof(err)), 0);
	expect_obs(&c.obs, MM_OBS_LEARN, 7 * 86400, 30, 1024, 2);
	assert_string_equal(c.obs.watch[0], "hozen");
	assert_string_equal(c.obs.watch[1], "seigyo");

	assert_int_equal(load("baseline:\n  mode: off\n  learn_for: 12h\n"
			      "  report_interval: 2m\n  watch_archetypes: []\n",
			      &c, err, sizeof(err)), 0);
	expect_obs(&c.obs, MM_OBS_OFF, 12 * 3600, 120, -1, 0);
	assert_int_equal(load("baseline:\n  learn_for: 90\n", &c, err, sizeof(err)), 0);
	assert_true(c.obs.learn_for == 90);

	expect_error("sensor: s1\nbaseline:\n  mode: sometimes\n", 3,
		     "mode must be learn, detect or off, not 'sometimes'");
	expect_error("baseline:\n  mode: learn\n  learn_for: 7x\n", 3,
		     "learn_for must be a duration");
	expect_error("baseline:\n  report_interval: 0s\n", 2,
		     "report_interval must be a duration");
	expect_error("baseline:\n  max_keys: 3\n", 2, "max_keys must be a number");
	expect_error("baseline:\n  watch_archetypes:\n    - seigyo\n    - kitchen\n",
		     4, "unknown archetype 'kitchen' in watch_archetypes");
	expect_error("baseline:\n  watch_archetypes: seigyo\n", 2,
		     "watch_archetypes must be a list");
	expect_error("baseline:\n  learn: yes\n", 2,
		     "unknown setting 'learn' in this section");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interval_reports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peak_per_s, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eviction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interval_never_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_learn_for, setup, teardown),
		cmocka_unit_test_setup_teardown(test_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mac, setup, teardown),
		cmocka_unit_test(test_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
