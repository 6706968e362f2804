/*
 * sensor.h - the sensor's modules and the state they share.
 *
 * One capture thread runs capture -> libnids -> dissectors -> policy and
 * never blocks on output: alerts leave through the link (store/link.c),
 * which queues without blocking.  libnids is global state, so the sensor is
 * one instance per process (`mm` below).
 */
#ifndef MM_SENSOR_H
#define MM_SENSOR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>

#include "../dissectors/dissector.h"
#include "../zones/zones.h"

#define MM_VERSION "0.1.0"
#define MM_MAX_DISSECTORS 16

struct mm_link;
struct store_server;
struct tcp_stream;

/* ---------------- configuration (config.c, main.c) ---------------- */

/* the learned baseline's observations (observe.c; settings `baseline:`) */
enum mm_obs_mode { MM_OBS_DETECT = 0, MM_OBS_LEARN, MM_OBS_OFF };
#define MM_OBS_WATCH_MAX 10

struct observe_cfg {
	int mode;               /* enum mm_obs_mode (baseline.mode) */
	double learn_for;       /* seconds: learn, then detect; 0 = no switch */
	double report_interval; /* seconds of packet time between reports */
	int max_keys;           /* distinct keys kept (the table, fixed) */
	/* reports sent at most: reports_per_s on average (0: no bound),
	 * report_burst at once; the rest wait, counted (observe.c) */
	double reports_per_s;
	int report_burst;
	/* archetypes whose never-seen MACs matter (asset.new): ids */
	int n_watch;
	const char *watch[MM_OBS_WATCH_MAX];
};

struct mm_cfg {
	const char *config_path; /* --config, etc/mimamori.yaml */
	const char *iface;       /* -i */
	const char *pcap_file;   /* -r */
	const char *bpf;         /* -f */
	const char *zones_path;  /* --zones */
	const char *db_path;     /* --db (embedded store) */
	const char *store_ep;    /* --store (remote store); NULL = embedded */
	const char *log_dir;     /* --log-dir: transaction logs, eve.json */
	const char *sensor;      /* --sensor, default: host name */
	int snaplen;
	int buffer_mb;           /* kernel capture buffer */
	int log_queue_mb;        /* log data that may wait for the disk */
	bool promisc;
	int max_streams;         /* concurrent TCP streams libnids keeps */
	int udp_flows_max;       /* concurrent UDP flows we keep */
	double udp_idle;         /* seconds before an idle UDP flow ends */
	double gap_timeout;      /* seconds a TCP hole may stall a stream */
	bool tcp_fast_path;      /* in-order segments bypass libnids (tcpfast.c) */
	int hosts_max;           /* hosts remembered (zones, asset facts) */
	size_t spool_max;        /* unacknowledged records kept by the link */
	int resend_ms;
	int flush_timeout_ms;    /* at exit: wait this long for the store */
	double aggregate_window; /* embedded store: alert aggregation window */
	bool stats_json;         /* print the exit stats as JSON */
	bool quiet;
	/* -r with --realtime: packets paced by their time stamps, the
	 * capture's clock divided by speed (exercises: alerts appear as the
	 * scenario unfolds); never used on a live capture */
	bool realtime;
	double speed;            /* --speed; 0: not given (1) */
	/* least privilege (privdrop.c) */
	const char *run_user;    /* --user; NULL: mimamori, else nobody */
	const char *run_group;   /* --group; NULL: the user's own */
	const char *chroot_dir;  /* --chroot */
	bool no_seccomp;         /* --no-seccomp */
	bool seccomp_log;        /* --seccomp-log: allow and log, never kill */
	struct observe_cfg obs;  /* baseline: section */
	bool learn;              /* --learn: learn for the whole run */
};

void mm_cfg_defaults(struct mm_cfg *c);
/* read a YAML config file; -1 with "FILE:LINE: message" on error */
int mm_cfg_load(struct mm_cfg *c, const char *path, char *err, size_t errlen);

/* ---------------- counters (stats.c) ---------------- */

struct mm_stats {
	uint64_t packets, bytes;
	uint64_t kern_recv, kern_drops, kern_ifdrops; /* pcap_stats, live */
	uint64_t non_ipv4;        /* frames that carry no IPv4 */
	uint64_t truncated;       /* frames cut short (snaplen or damage) */
	uint64_t ip_csum_fixed;   /* IPv4 header checksums we repaired */
	uint64_t ip_fragments;
	uint64_t capture_truncated; /* 1 when the file ended mid-record */
	uint64_t tcp_streams;     /* seen from their handshake */
	uint64_t tcp_midstream;   /* picked up without a handshake */
	uint64_t tcp_gaps;        /* holes we stepped over */
	uint64_t tcp_gap_bytes;
	uint64_t tcp_gaps_abandoned; /* holes too large: stream restarted */
	uint64_t tcp_desync;      /* framing lost, resynchronised */
	uint64_t tcp_other_packets; /* TCP on no dissector's port: not reassembled */
	uint64_t tcp_half_open_evicted; /* half-open streams pushed out of a
					 * full table (libnids: no warning) */
	uint64_t tcp_fast;        /* in-order segments that bypassed libnids */
	uint64_t tcp_restarted;   /* streams libnids dropped for a new SYN on
				   * their ports, their flows ended (reasm.c) */
	uint64_t udp_datagrams;
	uint64_t udp_flows;
	uint64_t udp_flows_evicted;
	uint64_t nids_warnings;
	uint64_t nids_warn[16];   /* by libnids warning number */
	uint64_t flows_excluded;  /* port matched, bytes did not */
	uint64_t pdus[MM_MAX_DISSECTORS];
	uint64_t events;
	uint64_t alerts;          /* raised */
	uint64_t alerts_queue_dropped; /* link queue full: counted */
	uint64_t log_records;
	uint64_t log_errors;
	uint64_t log_reopens;        /* SIGHUPs that reopened the logs */
	uint64_t hosts_table_full;
	uint64_t mac_changes;
	uint64_t identity_changes;
	uint64_t service_flows;     /* flows of generic services judged */
	uint64_t service_table_full;
	uint64_t zone_reloads;       /* SIGHUP: new zone file in force */
	uint64_t zone_reload_errors; /* SIGHUP: file rejected, old one kept */
	/* observations (observe.c) */
	uint64_t obs_keys;           /* keys entered (again after an eviction) */
	uint64_t obs_reports;        /* obs records sent (mac ones too) */
	uint64_t obs_evictions;      /* keys dropped: the table was full */
	uint64_t obs_mode_switches;  /* learn_for ran out: learn -> detect */
	uint64_t obs_dropped;        /* obs records the link refused */
	uint64_t obs_deferred;       /* reports postponed: over the budget */
	uint64_t obs_unreported;     /* keys whose counts never went out */
};

/* one JSON object with every counter and the link's figures */
void mm_stats_json(struct mm_rec *r);
void mm_stats_print(FILE *f);

/* ---------------- the sensor (one per process) ---------------- */

struct logw; /* a log file written by logw.c's thread */

struct mm_sensor {
	struct mm_cfg cfg;
	struct zone_model *zones;
	struct mm_link *link;
	struct store_server *store; /* embedded store, or NULL */
	void *zctx;
	struct mm_stats st;
	/* the packet being processed */
	uint64_t frame;             /* 1-based, as tshark's frame.number */
	struct timeval now;         /* its timestamp */
	/* scratch records: a dissector may raise an alert while it builds
	 * its log record, so each has its own */
	struct mm_rec *rec_log, *rec_alert, *rec_misc;
	struct logw *logs[MM_MAX_DISSECTORS]; /* transaction logs, opened
					       * lazily (logw.c) */
	struct logw *eve;           /* log_dir/eve.json, or NULL */
	int n_dissectors;
	/* the link-layer and IP addresses of the frame being processed */
	uint8_t cur_src_mac[6], cur_dst_mac[6];
	bool cur_has_src_mac, cur_has_dst_mac;
	uint32_t cur_src_ip, cur_dst_ip;  /* network byte order */
	struct oui_table *oui;      /* MAC vendors, or NULL */
};

extern struct mm_sensor mm;

/* ---------------- flows (flow.c) ---------------- */

/* how far dissection of a flow has got */
enum mm_flow_state {
	FLOW_UNDISSECTED = 0, /* no dissector for its ports */
	FLOW_PROBING,         /* candidate dissector, not confirmed yet */
	FLOW_ACTIVE,          /* dissecting */
	FLOW_EXCLUDED,        /* port matched, bytes did not: never again */
};

/*
 * A segment libnids queued behind a hole: when the hole is filled the
 * queue is delivered at once, and each PDU is still attributed to the
 * frame (and time) that carried its last byte.
 */
struct mm_ooo_seg {
	uint32_t seq, len;
	uint64_t frame;
	struct timeval ts;
};

/* per direction of a TCP flow: framing and hole bookkeeping */
struct mm_half {
	bool hunting;         /* looking for the next PDU boundary */
	bool desync_reported;
	bool gap_pending;     /* a filled hole lies ahead in the stream */
	uint32_t gap_start;   /* stream offsets of the filled hole */
	uint32_t gap_end;
	/* a hole libnids is waiting on (segments queued beyond it) */
	bool hole;
	double hole_since;
	struct mm_ooo_seg *ooo; /* segments queued beyond the hole */
	uint32_t n_ooo, cap_ooo;
	bool replay;          /* libnids is delivering the queue after a fill */
};

/*
 * What the detection path remembers of a flow (alert.c, detect.c).  Each
 * entry is checked before use (a table slot against its key, a verdict
 * against the model, reload count, zones and dissector it was judged
 * with): a stale one only costs the lookup it would have saved.
 */
struct mm_flow_memo {
	void *det_slot[6];            /* detect.c: table slots last used */
	const struct zone_model *zm;  /* alert.c: the verdicts below are */
	uint64_t zone_reloads;        /* policy_check's for this model, */
	const struct zone *src, *dst; /* these zones */
	const struct mm_dissector *d; /* and this dissector's protocol */
	uint8_t known;                /* bit c: verdict[c] holds */
	uint8_t verdict[MM_OP__N];    /* enum policy_verdict per op class */
};

struct mm_flow {
	uint64_t id;
	uint8_t transport;           /* IPPROTO_TCP / IPPROTO_UDP */
	uint32_t cli_ip, srv_ip;     /* network byte order */
	uint16_t cli_port, srv_port; /* host byte order */
	char cli_str[16], srv_str[16];
	const struct zone *cli_zone, *srv_zone;
	const char *cli_host, *srv_host; /* named hosts, or NULL */
	const struct mm_dissector *d;
	int d_index;
	void *dstate;
	enum mm_flow_state state;
	bool midstream;
	bool swapped;                /* the protocol server opened the TCP
	                                connection: its TCP client answers */
	uint32_t probe_bytes;        /* bytes seen while probing */
	struct mm_half half[2];      /* [MM_DIR_TO_SERVER], [MM_DIR_TO_CLIENT] */
	struct tcp_stream *tcp;
	struct mm_ctx ctx;
	/* the relayed sender of the PDU being parsed (mm_set_origin): valid
	 * until that parse returns */
	bool has_origin;
	uint32_t origin_ip;
	uint16_t origin_port;
	const struct zone *origin_zone;
	const char *origin_host;
	char origin_str[16];
	/* flows with an open hole (reasm.c) */
	struct mm_flow *hole_prev, *hole_next;
	bool on_hole_list;
	/* TCP lookup table (flow.c): the TCP roles as libnids has them */
	struct mm_flow *tnext;
	uint32_t tcp_cli, tcp_srv;
	uint16_t tcp_cport, tcp_sport;
	bool in_tcp_table;
	/* UDP table (flow.c) */
	struct mm_flow *hnext, *lru_prev, *lru_next;
	double last_seen;
	struct mm_flow_memo memo;    /* alert.c, detect.c */
};

/* the two ends of one PDU as alerts and logs name them: the sender is
 * the source (or the relayed origin, see mm_set_origin) */
struct mm_ends {
	uint8_t transport;            /* IPPROTO_TCP, _UDP, _ICMP */
	uint32_t src_ip, dest_ip;
	const char *src_str, *dest_str;
	uint16_t src_port, dest_port;
	const struct zone *src_zone, *dest_zone;
	const char *src_host, *dest_host;
};

void flow_ends(const struct mm_flow *f, enum mm_dir dir, struct mm_ends *e);
/* parse one PDU of the flow in direction dir (sets and clears the context) */
void flow_parse(struct mm_flow *f, enum mm_dir dir, const uint8_t *p, size_t n);
/* record a relayed sender for the PDU being parsed */
void flow_set_origin(struct mm_flow *f, uint32_t ip, uint16_t port);

/* a flow for (client, server); zones looked up once here */
struct mm_flow *flow_new(uint8_t transport, uint32_t cli_ip, uint16_t cli_port,
			 uint32_t srv_ip, uint16_t srv_port);
/* pick the dissector candidate by the server port (NULL: none) */
void flow_choose_dissector(struct mm_flow *f);
/* end of a flow: dissector's flow_end, state freed, flow freed */
void flow_end(struct mm_flow *f);
/* the dissector whose port is `port` for `transport`, or -1 */
int flow_dissector_for_port(uint8_t transport, uint16_t port);

/* established TCP streams by address pair (flow.c) */
int tcp_table_init(int max);
void tcp_table_free(void);
void tcp_flow_add(struct mm_flow *f, uint32_t tcp_cli, uint16_t tcp_cport,
		  uint32_t tcp_srv, uint16_t tcp_sport);
void tcp_flow_remove(struct mm_flow *f);
struct mm_flow *tcp_flow_find(uint32_t sa, uint16_t sp, uint32_t da,
			      uint16_t dp, bool *from_tcp_client);

/* UDP flows: find or create by the datagram's addresses; NULL if none */
struct mm_flow *udp_flow_get(uint32_t saddr, uint16_t sport, uint32_t daddr,
			     uint16_t dport, enum mm_dir *dir);
void udp_flows_expire(double now);
void udp_flows_end_all(void);
int udp_table_init(int max);
/* call fn on every live TCP and UDP flow (fn must not add or end flows);
 * returns how many */
size_t flow_foreach(void (*fn)(struct mm_flow *f, void *arg), void *arg);

/* ---------------- reassembly (reasm.c) ---------------- */

int reasm_init(char *err, size_t errlen);
/* stop dissecting a flow that is not its dissector's protocol */
void flow_exclude(struct mm_flow *f, struct tcp_stream *a);
/* one IPv4 packet (ip points at its header, len bytes captured) */
void reasm_packet(const uint8_t *ip, size_t len);
/* end of capture: fill holes, flush every stream (nids_exit) */
void reasm_finish(void);

/* ---------------- alerts and policy (alert.c) ---------------- */

void alert_from_op(struct mm_flow *f, enum mm_dir dir, const struct mm_op *op);
void alert_from_event(struct mm_flow *f, enum mm_dir dir,
		      const struct mm_event_def *ev, const char *detail);
extern const struct mm_ctx_ops mm_sensor_ctx_ops;
/* a flow no conduit allows, for a service with no dissector */
void alert_service(const struct mm_ends *e, const char *service,
		   enum policy_verdict verdict);
/* flow-level conduit checks for traffic no dissector takes (conduit.c) */
void conduit_packet(uint8_t proto, uint32_t sa, uint16_t sp, uint32_t da,
		    uint16_t dp, uint8_t tcp_flags);
int conduit_init(int max);
void conduit_free(void);
void conduit_reset(void);
/* an alert about a host, not a flow (asset.mac_changed ...) */
/* the pieces every alert is made of (detect.c's too): see alert.c */
void alert_begin(struct mm_rec *r, const struct mm_flow *f,
		 const struct mm_ends *e, const char *app, int signature_id,
		 const struct mm_event_def *sig, int severity);
void alert_zones(struct mm_rec *r, const struct mm_ends *e);
void alert_emit(struct mm_rec *r);
void alert_asset(const struct mm_event_def *sig, int signature_id,
		 uint32_t ip, const struct zone *z, const char *detail);

/* ---------------- transaction logs (txlog.c) ---------------- */

int txlog_open_dir(const char *dir, char *err, size_t errlen);
struct mm_rec *txlog_begin(struct mm_flow *f, enum mm_dir dir);
void txlog_end(struct mm_flow *f, struct mm_rec *r);
void txlog_write_line(FILE *fp, const char *s, size_t n);
void txlog_close(void);
void txlog_reopen(void);
void txlog_tick(void);
void txlog_sync(void);
void txlog_alert_line(const char *s, size_t n);

/* ---------------- hosts and asset facts (hosts.c) ---------------- */

int hosts_init(int max);
/* true the first time this address is reported as in no zone */
bool hosts_first_unknown(uint32_t ip);
void hosts_fact(uint32_t ip, const struct zone *z, const char *key,
		const uint8_t *v, size_t n, uint64_t flow);
/* a frame showed ip with this MAC (from flow_new: once per flow end) */
void hosts_observe_mac(uint32_t ip, const struct zone *z, const uint8_t mac[6]);
/* send the asset records the last message's facts made due (flow.c) */
void hosts_flush_facts(void);
void hosts_free(void);

/* ---------------- capture (capture.c) ---------------- */

/* open the capture (live or file), check its link type, set the filter:
 * everything that needs privilege, before priv_drop() */
int capture_open(char *err, size_t errlen);
/* the packet loop (opens the capture first if capture_open was not called) */
int capture_run(char *err, size_t errlen);
/* set from signal handlers */
extern volatile int mm_stop_requested;
extern volatile int mm_stats_requested;
extern volatile int mm_reload_requested; /* SIGHUP */

/* ---------------- least privilege (privdrop.c) ---------------- */

/* as root: resolve --user/--group (default mimamori, else nobody) and
 * --chroot while /etc/passwd is reachable; nothing to do when not root */
int priv_init(char *err, size_t errlen);
/* started unprivileged but with capabilities (CAP_NET_RAW from systemd):
 * once the capture is open, give them all up; call before any thread
 * starts (capabilities are per thread) */
int priv_caps_drop(char *err, size_t errlen);
/*
 * After the capture, the store and the logs are open: hand the log folder
 * over, chroot, setgroups/setresgid/setresuid (checked, and regaining root
 * must fail), no capability left.  0 or -1.
 */
int priv_drop(char *err, size_t errlen);
/* once every thread runs: the seccomp filter (unless --no-seccomp), and
 * a line saying who the sensor now runs as */
int priv_filter(char *err, size_t errlen);
/* the system call filter alone, on every thread (tests use it too) */
int priv_seccomp(bool log_only, char *err, size_t errlen);

/* ---------------- zone reload on SIGHUP (reload.c) ---------------- */

/* remember the zone file's folder (before the drop and any chroot) */
int reload_init(char *err, size_t errlen);
/* load the zone file again; a broken one is rejected (file and line on
 * stderr) and the zones in force stay.  0 or -1 */
int reload_zones(void);
void reload_on_hup(void);
void reload_free(void);

/* current packet time in seconds */
static inline double mm_now(void)
{
	return (double)mm.now.tv_sec + (double)mm.now.tv_usec / 1e6;
}

/* ---------------- observations for the baseline (observe.c) ----------------
 *
 * What the sensor saw, as "obs" records for the store's learned baseline
 * and zone matrix (the record: store/store.h, "Observation records").
 * A fixed table of keys, allocated once; each key is reported when first
 * seen, then every report_interval of packet time while it is seen, and at
 * exit.  Nothing is sent in mode off.
 */
int observe_init(const struct observe_cfg *c);  /* 0, or -1 out of memory */
void observe_free(void);
/* an operation (alert.c alert_from_op, after the verdict) */
void observe_op(const struct mm_flow *f, const struct mm_ends *e,
		const struct mm_op *op, enum policy_verdict v);
/* a connection attempt of a generic service (conduit.c): "tcp/445" ... */
void observe_service(uint8_t proto, uint32_t cli, uint32_t srv, uint16_t port,
		     enum policy_verdict v);
/* a MAC newly bound to an address (hosts.c) */
void observe_mac(uint32_t ip, const struct zone *z, const uint8_t mac[6]);
/* exit: report every key seen since its last report */
void observe_finish(void);
/* where records go: the link by default; tests replace it */
typedef void observe_sink_fn(const char *json, size_t len);
extern observe_sink_fn *observe_sink;
/* "learn", "detect" or "off": the mode in force now */
const char *observe_mode_name(void);

/* ---------------- behaviour detectors (detect.c) ---------------- */

/*
 * What policy alone misses: each request may be allowed, their pattern is
 * the attack (scans, sweeps, floods, storms).  Thresholds come from the
 * settings file's `detect:` section (etc/mimamori.yaml); a count or rate
 * of 0 turns its detector off.  Each detector raises once per episode: an
 * episode ends when its trigger has not held for `quiet_period` seconds.
 * Times are the packets' own.  Kept outside struct mm_cfg (set by
 * mm_cfg_defaults and mm_cfg_load all the same).
 */
struct detect_cfg {
	bool enabled;
	double quiet_period;         /* seconds without the trigger: episode over */
	double modbus_scan_window;   /* modbus.scan: distinct codes/units within */
	int modbus_scan_functions;   /* distinct function codes, client->server */
	int modbus_scan_refused;     /* distinct codes refused as illegal function */
	int modbus_scan_units;       /* distinct unit ids */
	int sweep_span;              /* modbus.register_sweep: addresses walked */
	int sweep_requests;          /* consecutive requests in the walk */
	int sweep_gap;               /* addresses a step may skip */
	double sweep_idle;           /* longest pause inside one walk */
	double s7_recon_window;      /* s7comm.recon */
	int s7_recon_items;          /* distinct SZL/block items, outside hozen */
	int write_flood_rate;        /* *.write_flood: writes/s to one target */
	int write_flood_seconds;     /* ... in that many consecutive seconds */
	double error_storm_window;   /* *.exception_storm, *.error_storm */
	int error_storm_count;       /* error responses server->client within */
	double who_is_window;        /* bacnet.who_is_flood, across flows */
	int who_is_count;            /* Who-Is/Who-Has from one sender within */
	double port_scan_window;     /* net.port_scan */
	int port_scan_pairs;         /* distinct (host, port) of one zone within */
};

extern struct detect_cfg detect_cfg;
void detect_cfg_defaults(struct detect_cfg *c);

/* one key of the settings file's `detect:` section (config.c) */
struct detect_setting {
	const char *key;
	size_t offset;        /* in struct detect_cfg */
	char type;            /* 'b' bool, 'i' int, 'd' double */
	double min, max;
};
/* NULL when `key` is no detect setting */
const struct detect_setting *detect_setting_find(const char *key);
void detect_setting_apply(struct detect_cfg *c, const struct detect_setting *s,
			  double v);

/* counters: alerts per detector, table slots taken from live keys */
#define DETECT_MAX 16
struct detect_stats {
	uint64_t raised;        /* detector alerts, all detectors */
	uint64_t raised_by[DETECT_MAX]; /* per detector (detect_name) */
	uint64_t evicted;       /* live entries replaced: a table was full */
	uint64_t absorbed;      /* dissector events a detector stands in for */
};
extern struct detect_stats detect_stats;
/* detector i's signature ("modbus.scan"), NULL past the last */
const char *detect_name(int i);

/* hooks: every op (alert.c alert_from_op), with the ends it judged */
void detect_op(struct mm_flow *f, const struct mm_ends *e,
	       const struct mm_op *op);
/* every dissector event (alert_from_event); true when a detector stands
 * in for it (bacnet.who_is_flood, counted here across flows): no alert */
bool detect_event(struct mm_flow *f, const struct mm_ends *e,
		  const struct mm_event_def *ev, const char *detail);
/* a TCP connection attempt (bare SYN) src -> dst:dport, or the first
 * datagram of a UDP (client, server, port) (conduit.c, reasm.c) */
void detect_touch(uint8_t proto, uint32_t src, uint32_t dst, uint16_t dport);
/* forget every table (tests; a zone reload needs nothing: keys hold no
 * zone pointers) */
void detect_reset(void);

#endif /* MM_SENSOR_H */
