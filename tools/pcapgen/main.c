/*
 * pcapgen - deterministic generator of synthetic plant captures.
 *
 *   pcapgen SCENARIO OUT.pcap [options]
 *
 * Scenarios (pcapgen --help lists them with their options):
 *   demo                      five minutes of a small plant's morning, with
 *                             the events listed in modbus.c
 *   bench [--packets N]       a large mixed capture for `make bench`
 *                             (Modbus/TCP, S7comm, BACnet/IP, IT background)
 *   gap                       one Modbus flow with one client->server segment
 *                             missing from the capture
 *   midstream                 the same flow, capture starting after the
 *                             handshake and the first exchanges
 *   reconnect                 one Modbus client that reconnects from the
 *                             same port two hours later (pcaps/regress/)
 *   streams --flows N [--half-open M]
 *                             N concurrent TCP connections (+ M SYN-only
 *                             attempts), for memory tests
 * Options:
 *   --seed S                  PRNG seed (default: fixed per scenario)
 *   --oui XX:XX:XX[/A.B.C.D/LEN]
 *                             give hosts (all, or those in the prefix) MACs
 *                             with this vendor OUI; repeatable, first match
 *                             wins, before the scenario's own OUIs
 *
 * Why synthetic: the plant captures people can share are few, never show the
 * attacks an exercise needs, and carry real addresses.  A generator gives
 * byte-exact, reviewable captures whose every event is known in advance, so
 * tests can say which alert each must raise.
 *
 * Layout: gen.h/core.c the shared core (PRNG, hosts, output, TCP/UDP);
 * modbus.c, bench.c, s7.c, bacnet.c, generic.c, scenarios.c (the
 * exercise kit of pcaps/scenarios/), attacks.c (what the behaviour
 * detectors catch) and baseline.c (learn, then detect: pcaps/baseline/)
 * the scenario modules, each exporting a
 * {NULL}-terminated table of struct gen_scenario that main() walks;
 * background.c DNS/HTTPS background traffic.
 *
 * Adding a scenario: write `static int run_NAME(int argc, char **argv,
 * uint64_t seed)` in its protocol's module (read options with gen_opt_num),
 * and add {"NAME", "[--opt N]", "help line", run_NAME, false} to that
 * module's table before the {NULL}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

static const struct gen_scenario *const tables[] = {
	gen_modbus_scenarios, gen_bench_scenarios, gen_s7_scenarios,
	gen_bacnet_scenarios, gen_generic_scenarios, gen_scenario_scenarios,
	gen_attacks_scenarios, gen_baseline_scenarios,
};
#define NTABLES (sizeof tables / sizeof tables[0])

static void usage(FILE *f)
{
	fputs("usage: pcapgen SCENARIO OUT.pcap [options]\n"
	      "scenarios:\n",
	      f);
	for (size_t t = 0; t < NTABLES; t++) {
		for (const struct gen_scenario *s = tables[t]; s->name; s++) {
			char syn[128];
			snprintf(syn, sizeof syn, "%s%s%s", s->name,
				 *s->usage ? " " : "", s->usage);
			if (strlen(syn) <= 26)
				fprintf(f, "  %-26s %s\n", syn, s->help);
			else
				fprintf(f, "  %s\n  %-26s %s\n", syn, "", s->help);
		}
	}
	fputs("options:\n"
	      "  --seed S                   PRNG seed (default: fixed)\n"
	      "  --oui XX:XX:XX[/A.B.C.D/LEN]  vendor OUI for all hosts or a prefix\n",
	      f);
}

/* the scenario called name; dies when two modules register it */
static const struct gen_scenario *find_scenario(const char *name)
{
	const struct gen_scenario *found = NULL;
	for (size_t t = 0; t < NTABLES; t++)
		for (const struct gen_scenario *s = tables[t]; s->name; s++)
			if (!strcmp(s->name, name)) {
				if (found)
					die("internal: scenario %s registered twice", name);
				found = s;
			}
	return found;
}

/* true when some scenario's usage names option o (e.g. "--packets") */
static bool known_option(const char *o)
{
	size_t n = strlen(o);
	for (size_t t = 0; t < NTABLES; t++)
		for (const struct gen_scenario *s = tables[t]; s->name; s++)
			for (const char *p = s->usage; (p = strstr(p, o)); p += n)
				if ((p == s->usage || p[-1] == ' ' || p[-1] == '[') &&
				    (p[n] == '\0' || p[n] == ' ' || p[n] == ']'))
					return true;
	return false;
}

static void parse_oui(const char *s)
{
	unsigned o[3], a, b, c, d, len = 0;
	int n = 0;
	if (sscanf(s, "%2x:%2x:%2x%n", &o[0], &o[1], &o[2], &n) != 3)
		die("--oui: expected XX:XX:XX[/A.B.C.D/LEN]: %s", s);
	uint32_t net = 0;
	int plen = 0;
	if (s[n] == '/') {
		int m = 0;
		if (sscanf(s + n, "/%u.%u.%u.%u/%u%n", &a, &b, &c, &d, &len, &m) != 5 ||
		    s[n + m] || a > 255 || b > 255 || c > 255 || d > 255 || len > 32)
			die("--oui: bad prefix in %s", s);
		net = PG_IP(a, b, c, d);
		plen = (int)len;
	} else if (s[n]) {
		die("--oui: expected XX:XX:XX[/A.B.C.D/LEN]: %s", s);
	}
	uint8_t oui[3] = {(uint8_t)o[0], (uint8_t)o[1], (uint8_t)o[2]};
	host_add_oui(oui, net, plen);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	const char *scen = argv[1], *path = argv[2];
	uint64_t seed = 0x6d696d616d6f7269ull; /* "mimamori" */
	/* --seed and --oui are everyone's; the rest go to the scenario, in
	 * order, as "--name value" pairs (at most argc - 3 strings) */
	char **sargv = xcalloc((size_t)argc, sizeof *sargv);
	int sargc = 0;
	for (int i = 3; i < argc; i++) {
		const char *o = argv[i];
		if (i + 1 >= argc)
			die("%s: missing value (see --help)", o);
		char *v = argv[++i];
		if (!strcmp(o, "--seed")) {
			seed = parse_num(o, v);
		} else if (!strcmp(o, "--oui")) {
			parse_oui(v);
		} else if (known_option(o)) {
			sargv[sargc++] = argv[i - 1];
			sargv[sargc++] = v;
		} else {
			die("unknown option %s (see --help)", o);
		}
	}

	const struct gen_scenario *sc = find_scenario(scen);
	if (!sc) {
		fprintf(stderr, "pcapgen: unknown scenario %s\n", scen);
		usage(stderr);
		return 2;
	}

	out_open(path);
	int rc = sc->run(sargc, sargv, seed);
	out_close(path);
	out_summary(scen, path, sc->class_summary);
	free(sargv);
	return rc;
}
