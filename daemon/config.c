/*
 * config.c - the sensor's settings: defaults, then the YAML config file
 * (etc/mimamori.yaml), then the command line.  Parsed with libyaml's
 * document API; every error names the file and line, and unknown keys are
 * errors (a typo must not silently leave a default in force).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "sensor.h"
#include "store_cfg.h"

void mm_cfg_defaults(struct mm_cfg *c)
{
	static char host[256];

	memset(c, 0, sizeof(*c));
	if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
		snprintf(host, sizeof(host), "sensor");
	c->sensor = host;
	c->zones_path = NULL; /* main.c picks the installed or bundled file */
	c->db_path = "mimamori.db";
	c->snaplen = 262144;
	c->buffer_mb = 64;
	c->log_queue_mb = 8;
	c->promisc = true;
	c->max_streams = 100000;
	c->udp_flows_max = 65536;
	c->udp_idle = 120;
	c->gap_timeout = 5;
	c->tcp_fast_path = true;
	c->hosts_max = 65536;
	c->spool_max = 100000;
	c->resend_ms = 1000;
	c->flush_timeout_ms = 30000;
	c->aggregate_window = 60;
	detect_cfg_defaults(&detect_cfg);
	/* the learned baseline (observe.c): detect unless told to learn */
	c->obs.mode = MM_OBS_DETECT;
	c->obs.learn_for = 0;
	c->obs.report_interval = 60;
	c->obs.max_keys = 16384;
	c->obs.reports_per_s = 20;
	c->obs.report_burst = 500;
	/* control and engineering zones (the guideline's 持ち込み機器: a
	 * brought-in PC or a rogue device is news there, not in 情報系) */
	c->obs.n_watch = 0;
	c->obs.watch[c->obs.n_watch++] = "seigyo";
	c->obs.watch[c->obs.n_watch++] = "hozen";
	c->obs.watch[c->obs.n_watch++] = "jido_hanso";
	c->obs.watch[c->obs.n_watch++] = "jido_soko";
	c->obs.watch[c->obs.n_watch++] = "setsubi";
}

struct cfg_parse {
	const char *path;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
};

static int fail(struct cfg_parse *p, yaml_node_t *n, const char *fmt,
		const char *a, const char *b)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, a, b);
	snprintf(p->err, p->errlen, "%s:%lu: %s", p->path,
		 n ? (unsigned long)n->start_mark.line + 1 : 0UL, msg);
	return -1;
}

static int get_str(struct cfg_parse *p, yaml_node_t *v, const char *key,
		   const char **out)
{
	if (v->type != YAML_SCALAR_NODE)
		return fail(p, v, "%s must be a text value%s", key, "");
	*out = strdup((const char *)v->data.scalar.value);
	return *out ? 0 : fail(p, v, "out of memory%s%s", "", "");
}

static int get_num(struct cfg_parse *p, yaml_node_t *v, const char *key,
		   double min, double max, double *out)
{
	char *end;
	const char *s;

	if (v->type != YAML_SCALAR_NODE)
		return fail(p, v, "%s must be a number%s", key, "");
	s = (const char *)v->data.scalar.value;
	errno = 0;
	*out = strtod(s, &end);
	if (errno || end == s || *end || *out < min || *out > max) {
		char range[96];
		snprintf(range, sizeof(range), " (from %g to %g), not '%s'", min, max, s);
		return fail(p, v, "%s must be a number%s", key, range);
	}
	return 0;
}

static int get_int(struct cfg_parse *p, yaml_node_t *v, const char *key,
		   double min, double max, int *out)
{
	double d;

	if (get_num(p, v, key, min, max, &d) < 0)
		return -1;
	*out = (int)d;
	return 0;
}

static int get_bool(struct cfg_parse *p, yaml_node_t *v, const char *key,
		    bool *out)
{
	const char *s;

	if (v->type != YAML_SCALAR_NODE)
		return fail(p, v, "%s must be true or false%s", key, "");
	s = (const char *)v->data.scalar.value;
	if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
		*out = false;
	else
		return fail(p, v, "%s must be true or false, not '%s'", key, s);
	return 0;
}

/* a duration: a number with s, m, h or d (60s, 30m, 12h, 7d), or seconds */
static int get_duration(struct cfg_parse *p, yaml_node_t *v, const char *key,
			double min, double max, double *out)
{
	const char *s;
	char *end;
	double d, unit = 1;

	if (v->type != YAML_SCALAR_NODE)
		return fail(p, v, "%s must be a duration such as 60s, 30m, 12h or 7d%s",
			    key, "");
	s = (const char *)v->data.scalar.value;
	errno = 0;
	d = strtod(s, &end);
	if (end != s && end[0] && !end[1]) {
		switch (end[0]) {
		case 's': unit = 1; end++; break;
		case 'm': unit = 60; end++; break;
		case 'h': unit = 3600; end++; break;
		case 'd': unit = 86400; end++; break;
		}
	}
	d *= unit;
	if (errno || end == s || *end || !(d >= min && d <= max)) {
		char range[128];
		snprintf(range, sizeof(range), " from %gs to %gs (60s, 30m, 12h, "
			 "7d), not '%s'", min, max, s);
		return fail(p, v, "%s must be a duration%s", key, range);
	}
	*out = d;
	return 0;
}

/* baseline.watch_archetypes: a list of archetype ids */
static int get_archetypes(struct cfg_parse *p, yaml_node_t *v, const char *key,
			  struct observe_cfg *o)
{
	yaml_node_item_t *it;

	if (v->type != YAML_SEQUENCE_NODE)
		return fail(p, v, "%s must be a list of archetypes, such as "
			    "[seigyo, hozen]%s", key, "");
	o->n_watch = 0;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *a = yaml_document_get_node(p->doc, *it);
		const char *s;

		if (!a || a->type != YAML_SCALAR_NODE)
			return fail(p, a ? a : v, "%s: each entry must be an "
				    "archetype id%s", key, "");
		s = (const char *)a->data.scalar.value;
		/* a known archetype has a Japanese name (zones.c's table) */
		if (!zone_archetype_name_ja(s))
			return fail(p, a, "unknown archetype '%s' in %s (joho, dmz, "
				    "seisan_kanri, seigyo, hozen, jido_hanso, "
				    "jido_soko, setsubi, remote, other)", s, key);
		if (o->n_watch >= MM_OBS_WATCH_MAX)
			return fail(p, a, "%s: at most 10 archetypes%s", key, "");
		o->watch[o->n_watch] = strdup(s);
		if (!o->watch[o->n_watch])
			return fail(p, a, "out of memory%s%s", "", "");
		o->n_watch++;
	}
	return 0;
}

/* the baseline: section (observe.c); -1 on error, 1 when unknown */
static int set_baseline(struct cfg_parse *p, struct observe_cfg *o,
			const char *k, yaml_node_t *v)
{
	int i;

	if (!strcmp(k, "mode")) {
		const char *s = v->type == YAML_SCALAR_NODE
					? (const char *)v->data.scalar.value : "";
		if (!strcmp(s, "learn"))
			o->mode = MM_OBS_LEARN;
		else if (!strcmp(s, "detect"))
			o->mode = MM_OBS_DETECT;
		else if (!strcmp(s, "off"))
			o->mode = MM_OBS_OFF;
		else
			return fail(p, v, "mode must be learn, detect or off, "
				    "not '%s'%s", s, "");
		return 0;
	}
	if (!strcmp(k, "learn_for"))
		return get_duration(p, v, k, 0, 3650 * 86400.0, &o->learn_for);
	if (!strcmp(k, "report_interval"))
		return get_duration(p, v, k, 1, 86400, &o->report_interval);
	if (!strcmp(k, "max_keys")) {
		if (get_int(p, v, k, 16, 1 << 23, &i) < 0)
			return -1;
		o->max_keys = i;
		return 0;
	}
	if (!strcmp(k, "reports_per_s")) {
		if (get_int(p, v, k, 0, 1000000, &i) < 0)
			return -1;
		o->reports_per_s = i;
		return 0;
	}
	if (!strcmp(k, "report_burst")) {
		if (get_int(p, v, k, 1, 1 << 24, &i) < 0)
			return -1;
		o->report_burst = i;
		return 0;
	}
	if (!strcmp(k, "watch_archetypes"))
		return get_archetypes(p, v, k, o);
	return 1;
}

/* one key of a section; -1 on error, 1 when the key is unknown */
static int set_key(struct cfg_parse *p, struct mm_cfg *c, const char *sect,
		   const char *k, yaml_node_t *v)
{
	double d;
	int i;

#define IS(s, key) (!strcmp(sect, s) && !strcmp(k, key))
	if (IS("", "sensor"))
		return get_str(p, v, k, &c->sensor);
	if (IS("", "zones"))
		return get_str(p, v, k, &c->zones_path);
	if (IS("", "db"))
		return get_str(p, v, k, &c->db_path);
	if (IS("", "store"))
		return get_str(p, v, k, &c->store_ep);
	if (IS("", "log_dir"))
		return get_str(p, v, k, &c->log_dir);
	if (IS("", "log_queue_mb"))
		return get_int(p, v, k, 1, 1024, &c->log_queue_mb);
	if (IS("", "hosts_max"))
		return get_int(p, v, k, 16, 1 << 22, &c->hosts_max);
	if (IS("capture", "interface"))
		return get_str(p, v, k, &c->iface);
	if (IS("capture", "filter"))
		return get_str(p, v, k, &c->bpf);
	if (IS("capture", "snaplen"))
		return get_int(p, v, k, 64, 262144, &c->snaplen);
	if (IS("capture", "buffer_mb"))
		return get_int(p, v, k, 1, 4096, &c->buffer_mb);
	if (IS("capture", "promiscuous"))
		return get_bool(p, v, k, &c->promisc);
	if (IS("tcp", "max_streams"))
		return get_int(p, v, k, 64, 10000000, &c->max_streams);
	if (IS("tcp", "gap_timeout"))
		return get_num(p, v, k, 0, 3600, &c->gap_timeout);
	if (IS("tcp", "fast_path"))
		return get_bool(p, v, k, &c->tcp_fast_path);
	if (IS("udp", "max_flows"))
		return get_int(p, v, k, 16, 10000000, &c->udp_flows_max);
	if (IS("udp", "idle_timeout"))
		return get_num(p, v, k, 1, 86400, &c->udp_idle);
	if (IS("link", "spool_max")) {
		if (get_int(p, v, k, 16, 100000000, &i) < 0)
			return -1;
		c->spool_max = (size_t)i;
		return 0;
	}
	if (IS("link", "resend_ms"))
		return get_int(p, v, k, 10, 600000, &c->resend_ms);
	if (IS("link", "flush_timeout_ms"))
		return get_int(p, v, k, 0, 3600000, &c->flush_timeout_ms);
	if (IS("store", "aggregate_window")) {
		if (get_num(p, v, k, 0, 86400 * 7, &d) < 0)
			return -1;
		c->aggregate_window = d;
		return 0;
	}
	/* the link's disk spool and keys, the embedded store's retention
	 * (store_cfg.h: kept apart from struct mm_cfg) */
	if (IS("link", "spool_dir"))
		return get_str(p, v, k, &mm_store_cfg.spool_dir);
	if (IS("link", "spool_mb"))
		return get_num(p, v, k, 1, 1 << 20, &mm_store_cfg.spool_mb);
	if (IS("link", "curve_secret"))
		return get_str(p, v, k, &mm_store_cfg.curve_secret);
	if (IS("link", "store_public"))
		return get_str(p, v, k, &mm_store_cfg.store_public);
	if (IS("store", "retain_days"))
		return get_num(p, v, k, 0, 36500, &mm_store_cfg.retain_days);
	if (IS("store", "retain_mb"))
		return get_num(p, v, k, 0, 1e9, &mm_store_cfg.retain_mb);
#undef IS
	if (!strcmp(sect, "baseline"))
		return set_baseline(p, &c->obs, k, v);
	if (!strcmp(sect, "detect")) {
		/* the behaviour detectors' thresholds (detect.c's table) */
		const struct detect_setting *s = detect_setting_find(k);
		bool b;

		if (!s)
			return 1;
		if (s->type == 'b') {
			if (get_bool(p, v, k, &b) < 0)
				return -1;
			d = b;
		} else if (get_num(p, v, k, s->min, s->max, &d) < 0) {
			return -1;
		}
		detect_setting_apply(&detect_cfg, s, d);
		return 0;
	}
	return 1;
}

static int walk_map(struct cfg_parse *p, struct mm_cfg *c, yaml_node_t *map,
		    const char *sect)
{
	yaml_node_pair_t *pair;

	if (map->type != YAML_MAPPING_NODE)
		return fail(p, map, "%s%s must be a mapping of settings",
			    sect[0] ? sect : "the file", "");
	for (pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(p->doc, pair->value);
		const char *key;
		int rc;

		if (!k || !v || k->type != YAML_SCALAR_NODE)
			return fail(p, k, "keys must be plain names%s%s", "", "");
		key = (const char *)k->data.scalar.value;
		if (!sect[0] && v->type == YAML_MAPPING_NODE &&
		    (!strcmp(key, "capture") || !strcmp(key, "tcp") ||
		     !strcmp(key, "udp") || !strcmp(key, "link") ||
		     !strcmp(key, "store") || !strcmp(key, "detect") ||
		     !strcmp(key, "baseline"))) {
			if (walk_map(p, c, v, key) < 0)
				return -1;
			continue;
		}
		rc = set_key(p, c, sect, key, v);
		if (rc < 0)
			return -1;
		if (rc > 0)
			return fail(p, k, "unknown setting '%s'%s", key,
				    sect[0] ? " in this section" : "");
	}
	return 0;
}

int mm_cfg_load(struct mm_cfg *c, const char *path, char *err, size_t errlen)
{
	struct cfg_parse p = { path, NULL, err, errlen };
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	FILE *fp = fopen(path, "rb");
	int rc = 0;

	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!yaml_parser_initialize(&parser)) {
		fclose(fp);
		snprintf(err, errlen, "%s: cannot start the YAML parser", path);
		return -1;
	}
	yaml_parser_set_input_file(&parser, fp);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%lu: %s", path,
			 (unsigned long)parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "not valid YAML");
		yaml_parser_delete(&parser);
		fclose(fp);
		return -1;
	}
	p.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root) /* an empty file sets nothing */
		rc = walk_map(&p, c, root, "");
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(fp);
	return rc;
}
