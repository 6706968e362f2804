/*
 * stats.c - the sensor's counters, as one JSON object (sent to the store,
 * written to DIR/stats.jsonl) and as a readable block on stderr at exit or
 * on SIGUSR1.
 */
#include <nids.h>
#include <stdio.h>

#include "../store/store.h"
#include "logw.h"
#include "sensor.h"

/* libnids' warning numbers (nids.h) by name, for the stats record */
static const char *const nids_warn_names[] = {
	[NIDS_WARN_IP_OVERSIZED] = "ip_oversized",
	[NIDS_WARN_IP_INVLIST] = "ip_invalid_fragment_list",
	[NIDS_WARN_IP_OVERLAP] = "ip_overlapping_fragments",
	[NIDS_WARN_IP_HDR] = "ip_invalid_header",
	[NIDS_WARN_IP_SRR] = "ip_source_routed",
	[NIDS_WARN_TCP_TOOMUCH] = "tcp_too_many_streams",
	[NIDS_WARN_TCP_HDR] = "tcp_invalid_header",
	[NIDS_WARN_TCP_BIGQUEUE] = "tcp_queue_overflow",
	[NIDS_WARN_TCP_BADFLAGS] = "tcp_bad_flags",
};

#define N_WARN_NAMES (sizeof(nids_warn_names) / sizeof(nids_warn_names[0]))

/* log write errors (ours and the writer thread's) and dropped lines */
static void log_counts(uint64_t *errors, uint64_t *dropped)
{
	logw_counts(errors, dropped);
	*errors += mm.st.log_errors;
}

void mm_stats_json(struct mm_rec *r)
{
	const struct mm_stats *s = &mm.st;
	struct mm_link_stats ls = { 0 };
	uint64_t log_errors, log_dropped;
	char ts[40];

	if (mm.link)
		mm_link_stats(mm.link, &ls);
	mm_format_ts(ts, sizeof(ts), mm.now.tv_sec, mm.now.tv_usec);
	rec_str(r, "timestamp", ts);
	rec_str(r, "event_type", "stats");
	rec_str(r, "sensor", mm.cfg.sensor);
	rec_str(r, "version", MM_VERSION);
	rec_uint(r, "packets", s->packets);
	rec_uint(r, "bytes", s->bytes);
	rec_obj_begin(r, "kernel");
	rec_uint(r, "received", s->kern_recv);
	rec_uint(r, "dropped", s->kern_drops);
	rec_uint(r, "if_dropped", s->kern_ifdrops);
	rec_obj_end(r);
	rec_uint(r, "non_ipv4", s->non_ipv4);
	rec_uint(r, "truncated", s->truncated);
	rec_uint(r, "ip_checksum_repaired", s->ip_csum_fixed);
	rec_uint(r, "ip_fragments", s->ip_fragments);
	rec_bool(r, "capture_truncated", s->capture_truncated != 0);
	rec_obj_begin(r, "tcp");
	rec_uint(r, "streams", s->tcp_streams);
	rec_uint(r, "midstream", s->tcp_midstream);
	rec_uint(r, "gaps", s->tcp_gaps);
	rec_uint(r, "gap_bytes", s->tcp_gap_bytes);
	rec_uint(r, "gaps_abandoned", s->tcp_gaps_abandoned);
	rec_uint(r, "resync", s->tcp_desync);
	rec_uint(r, "other_packets", s->tcp_other_packets);
	rec_uint(r, "half_open_evicted", s->tcp_half_open_evicted);
	rec_uint(r, "fast_path", s->tcp_fast);
	rec_uint(r, "restarted", s->tcp_restarted);
	rec_obj_end(r);
	rec_obj_begin(r, "udp");
	rec_uint(r, "datagrams", s->udp_datagrams);
	rec_uint(r, "flows", s->udp_flows);
	rec_uint(r, "flows_evicted", s->udp_flows_evicted);
	rec_obj_end(r);
	rec_uint(r, "flows_excluded", s->flows_excluded);
	rec_obj_begin(r, "libnids_warnings");
	rec_uint(r, "total", s->nids_warnings);
	for (size_t i = 1; i < N_WARN_NAMES; i++)
		if (nids_warn_names[i] && s->nids_warn[i])
			rec_uint(r, nids_warn_names[i], s->nids_warn[i]);
	rec_obj_end(r);
	rec_obj_begin(r, "pdus");
	for (int i = 0; mm_dissectors[i]; i++)
		rec_uint(r, mm_dissectors[i]->name, s->pdus[i]);
	rec_obj_end(r);
	rec_uint(r, "events", s->events);
	rec_obj_begin(r, "alerts");
	rec_uint(r, "raised", s->alerts);
	rec_uint(r, "queue_dropped", s->alerts_queue_dropped);
	rec_obj_end(r);
	rec_obj_begin(r, "link");
	rec_uint(r, "queued", ls.queued);
	rec_uint(r, "sent", ls.sent);
	rec_uint(r, "resent", ls.resent);
	rec_uint(r, "acknowledged", ls.acked);
	rec_uint(r, "dropped", ls.dropped);
	rec_uint(r, "backlog", ls.backlog);
	rec_obj_end(r);
	rec_uint(r, "log_records", s->log_records);
	log_counts(&log_errors, &log_dropped);
	rec_uint(r, "log_errors", log_errors);
	rec_uint(r, "log_dropped", log_dropped);
	rec_uint(r, "log_reopens", s->log_reopens);
	rec_uint(r, "hosts_table_full", s->hosts_table_full);
	rec_uint(r, "mac_changes", s->mac_changes);
	rec_uint(r, "identity_changes", s->identity_changes);
	rec_obj_begin(r, "services");
	rec_uint(r, "judged", s->service_flows);
	rec_uint(r, "table_evictions", s->service_table_full);
	rec_obj_end(r);
	rec_obj_begin(r, "zone_reloads");
	rec_uint(r, "done", s->zone_reloads);
	rec_uint(r, "rejected", s->zone_reload_errors);
	rec_obj_end(r);
	rec_obj_begin(r, "baseline");
	rec_str(r, "mode", observe_mode_name());
	rec_uint(r, "keys", s->obs_keys);
	rec_uint(r, "reports", s->obs_reports);
	rec_uint(r, "evictions", s->obs_evictions);
	rec_uint(r, "mode_switches", s->obs_mode_switches);
	rec_uint(r, "dropped", s->obs_dropped);
	rec_uint(r, "deferred", s->obs_deferred);
	rec_uint(r, "unreported", s->obs_unreported);
	rec_obj_end(r);
	rec_obj_begin(r, "detectors");
	rec_uint(r, "raised", detect_stats.raised);
	rec_obj_begin(r, "by_detector");
	for (int i = 0; detect_name(i); i++)
		rec_uint(r, detect_name(i), detect_stats.raised_by[i]);
	rec_obj_end(r);
	rec_uint(r, "evicted", detect_stats.evicted);
	rec_uint(r, "absorbed", detect_stats.absorbed);
	rec_obj_end(r);
}

void mm_stats_print(FILE *f)
{
	const struct mm_stats *s = &mm.st;
	struct mm_link_stats ls = { 0 };
	uint64_t log_errors, log_dropped;

	log_counts(&log_errors, &log_dropped);

	if (mm.link)
		mm_link_stats(mm.link, &ls);
	fprintf(f, "mimamorid: stats for sensor %s\n", mm.cfg.sensor);
	fprintf(f, "  packets %llu, bytes %llu, kernel drops %llu (interface %llu)\n",
		(unsigned long long)s->packets, (unsigned long long)s->bytes,
		(unsigned long long)s->kern_drops,
		(unsigned long long)s->kern_ifdrops);
	fprintf(f, "  non-IPv4 %llu, truncated %llu, IP checksums repaired %llu, fragments %llu%s\n",
		(unsigned long long)s->non_ipv4, (unsigned long long)s->truncated,
		(unsigned long long)s->ip_csum_fixed,
		(unsigned long long)s->ip_fragments,
		s->capture_truncated ? ", capture file truncated" : "");
	fprintf(f, "  TCP streams on dissector ports %llu with handshake, %llu picked up mid-stream; "
		"gaps %llu (%llu bytes, %llu abandoned), resync %llu; other TCP packets %llu\n",
		(unsigned long long)s->tcp_streams, (unsigned long long)s->tcp_midstream,
		(unsigned long long)s->tcp_gaps, (unsigned long long)s->tcp_gap_bytes,
		(unsigned long long)s->tcp_gaps_abandoned,
		(unsigned long long)s->tcp_desync,
		(unsigned long long)s->tcp_other_packets);
	if (s->nids_warn[NIDS_WARN_TCP_TOOMUCH] || s->tcp_half_open_evicted)
		fprintf(f, "  TCP table full (tcp.max_streams): %llu established and %llu half-open streams pushed out\n",
			(unsigned long long)s->nids_warn[NIDS_WARN_TCP_TOOMUCH],
			(unsigned long long)s->tcp_half_open_evicted);
	if (s->tcp_restarted)
		fprintf(f, "  TCP connections restarted on the same ports (new SYN after "
			"an hour): %llu\n", (unsigned long long)s->tcp_restarted);
	fprintf(f, "  UDP datagrams %llu, flows %llu (evicted %llu); flows excluded %llu; libnids warnings %llu\n",
		(unsigned long long)s->udp_datagrams, (unsigned long long)s->udp_flows,
		(unsigned long long)s->udp_flows_evicted,
		(unsigned long long)s->flows_excluded,
		(unsigned long long)s->nids_warnings);
	fprintf(f, "  PDUs:");
	for (int i = 0; mm_dissectors[i]; i++)
		fprintf(f, " %s %llu", mm_dissectors[i]->name,
			(unsigned long long)s->pdus[i]);
	fprintf(f, "\n  events %llu, alerts %llu raised (%llu lost to a full queue)\n",
		(unsigned long long)s->events, (unsigned long long)s->alerts,
		(unsigned long long)s->alerts_queue_dropped);
	fprintf(f, "  store link: %llu records (alerts, assets, hello, stats) queued, "
		"%llu acknowledged by the store, %llu unacknowledged, %llu dropped\n",
		(unsigned long long)ls.queued, (unsigned long long)ls.acked,
		(unsigned long long)ls.backlog, (unsigned long long)ls.dropped);
	if (s->log_records || log_errors || s->log_reopens || log_dropped)
		fprintf(f, "  log records %llu, log write errors %llu, lines "
			"dropped for a full disk queue %llu, logs reopened on "
			"SIGHUP %llu\n",
			(unsigned long long)s->log_records,
			(unsigned long long)log_errors,
			(unsigned long long)log_dropped,
			(unsigned long long)s->log_reopens);
	fprintf(f, "  baseline (%s): %llu keys, %llu reports, %llu evicted (table "
		"full), %llu switches learn -> detect, %llu refused by the link\n",
		observe_mode_name(), (unsigned long long)s->obs_keys,
		(unsigned long long)s->obs_reports,
		(unsigned long long)s->obs_evictions,
		(unsigned long long)s->obs_mode_switches,
		(unsigned long long)s->obs_dropped);
	if (s->obs_deferred || s->obs_unreported)
		fprintf(f, "  baseline reports over the budget: %llu postponed, "
			"%llu keys never reported (baseline.reports_per_s)\n",
			(unsigned long long)s->obs_deferred,
			(unsigned long long)s->obs_unreported);
	fprintf(f, "  behaviour detectors: %llu alerts",
		(unsigned long long)detect_stats.raised);
	for (int i = 0, shown = 0; detect_name(i); i++)
		if (detect_stats.raised_by[i])
			fprintf(f, "%s %s %llu", shown++ ? "," : " (",
				detect_name(i),
				(unsigned long long)detect_stats.raised_by[i]);
	if (detect_stats.raised)
		fputc(')', f);
	fprintf(f, "; %llu table entries evicted, %llu events absorbed\n",
		(unsigned long long)detect_stats.evicted,
		(unsigned long long)detect_stats.absorbed);
	if (s->zone_reloads || s->zone_reload_errors)
		fprintf(f, "  zone file reloads %llu, rejected %llu\n",
			(unsigned long long)s->zone_reloads,
			(unsigned long long)s->zone_reload_errors);
}
