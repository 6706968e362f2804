/*
 * alert.c - from what a dissector reports to EVE-shaped alerts: the zone
 * policy for operations, the dissectors' own events, and the services a
 * dissector calls (mm_sensor_ctx_ops).
 *
 * Alerts are Suricata-EVE-shaped JSON (timestamp, event_type "alert",
 * src_ip/src_port/dest_ip/dest_port, proto, app_proto, alert.signature,
 * alert.category, alert.severity with 1 = highest) plus src_zone,
 * dest_zone, sensor, frame and the protocol object.  They leave through the
 * link, which never blocks the capture thread.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "../store/store.h"
#include "sensor.h"

/*
 * The policy signatures.  Names are stable: users write suppressions
 * against them.  signature_id values are stable too (2100000 + n).
 */
enum pol_sig { SIG_NO_CONDUIT, SIG_OP_NOT_ALLOWED, SIG_UNKNOWN_HOST,
	       SIG_OP_PROGRAM, SIG_OP_CONTROL, SIG__N };

static const struct mm_event_def policy_sigs[SIG__N] = {
	[SIG_NO_CONDUIT] = { "zone.no_conduit", 1, "Policy Violation",
		"an operation between two zones that no conduit connects: "
		"the zone model says these zones do not talk at all" },
	[SIG_OP_NOT_ALLOWED] = { "zone.op_not_allowed", 2, "Policy Violation",
		"a conduit connects the zones, but not for this protocol or "
		"operation class (e.g. a write where only reads are allowed)" },
	[SIG_UNKNOWN_HOST] = { "zone.unknown_host", 2, "Unknown Device",
		"a host in no zone talks an industrial protocol: a new device, "
		"or a brought-in maintenance PC (持ち込み機器)" },
	[SIG_OP_PROGRAM] = { "op.program", 3, "Program Change",
		"logic or firmware of a controller is being changed (download, "
		"upload, block or object changes)" },
	[SIG_OP_CONTROL] = { "op.control", 3, "Operating State Change",
		"the operating state of a device is being changed (start, stop, "
		"restart, listen-only, communication control)" },
};

/* MITRE ATT&CK for ICS techniques per operation class (DESIGN.md) */
static const char *const op_attack[MM_OP__N][2] = {
	[MM_OP_WRITE] = { "T0855", "T0836" },   /* unauthorized command, modify parameter */
	[MM_OP_PROGRAM] = { "T0843", "T0845" }, /* program download, program upload */
	[MM_OP_CONTROL] = { "T0858", "T0816" }, /* change operating mode, device restart */
	[MM_OP_DISCOVER] = { "T0888", "T0846" },/* remote system (information) discovery */
};

static int clamp_sev(int s)
{
	return s < 1 ? 1 : s > 4 ? 4 : s;
}

/* how much a zone's 対策強度 softens a policy alert: high 0 .. minimum 2 */
static int strength_adj(const struct zone *z)
{
	if (!z)
		return 1;
	return 2 - (int)z->strength;
}

static bool class_changes_process(enum mm_op_class c)
{
	return c == MM_OP_WRITE || c == MM_OP_PROGRAM || c == MM_OP_CONTROL;
}

/*
 * Severity of a policy alert = how unexpected the operation is x the
 * strength of the destination zone (DESIGN.md "Zones"):
 *
 *   signature            write/program/control   read/discover/other
 *   zone.no_conduit              1                       2
 *   zone.op_not_allowed          2                       3
 *   + 0 for a high (高) zone, +1 medium (中), +2 minimum (最低限); 1..4.
 *
 *   op.program/op.control: 1 outside the policy (2 into a minimum zone),
 *   3 when a conduit allows it (4 into a minimum zone).
 *   zone.unknown_host: 2 + the adjustment of the other end's zone.
 */
static int policy_severity(enum pol_sig sig, enum mm_op_class cls,
			   const struct zone *dst, bool allowed)
{
	bool minimum = dst && dst->strength == ZONE_STRENGTH_MINIMUM;

	switch (sig) {
	case SIG_NO_CONDUIT:
		return clamp_sev((class_changes_process(cls) ? 1 : 2) + strength_adj(dst));
	case SIG_OP_NOT_ALLOWED:
		return clamp_sev((class_changes_process(cls) ? 2 : 3) + strength_adj(dst));
	case SIG_OP_PROGRAM:
	case SIG_OP_CONTROL:
		return (allowed ? 3 : 1) + (minimum ? 1 : 0);
	case SIG_UNKNOWN_HOST:
		return clamp_sev(2 + (dst ? strength_adj(dst) : 1));
	default:
		return 3;
	}
}

static void zone_obj(struct mm_rec *r, const char *k, const struct zone *z,
		     const char *host)
{
	if (!z) {
		rec_null(r, k);
		return;
	}
	rec_obj_begin(r, k);
	rec_str(r, "id", z->id);
	if (z->name)
		rec_str(r, "name", z->name);
	if (z->archetype)
		rec_str(r, "archetype", z->archetype);
	rec_str(r, "strength", zone_strength_name(z->strength));
	if (host)
		rec_str(r, "host", host);
	rec_obj_end(r);
}

struct alert_args {
	const struct mm_event_def *sig;
	int signature_id;
	int severity;
	const struct mm_op *op;     /* NULL for protocol events */
	const char *detail;
	const char *unknown_ip;     /* zone.unknown_host: which address */
	const char *service;        /* flow-level: "tcp/445" */
};

static const char *transport_name(uint8_t t)
{
	return t == IPPROTO_TCP ? "TCP" : t == IPPROTO_UDP ? "UDP"
					   : t == IPPROTO_ICMP ? "ICMP" : "IP";
}

/*
 * What every flow alert starts with (EVE): time, flow, both ends, the
 * protocols, sensor, frame, zone ids, and "alert" up to its cause.  The
 * caller writes alert.metadata and closes "alert", then alert_zones, its
 * protocol object and alert_emit.  f may be NULL for a flow-level alert:
 * then e->transport says which.
 */
void alert_begin(struct mm_rec *r, const struct mm_flow *f,
		 const struct mm_ends *e, const char *app, int signature_id,
		 const struct mm_event_def *sig, int severity)
{
	char ts[40];

	mm_format_ts(ts, sizeof(ts), mm.now.tv_sec, mm.now.tv_usec);
	rec_begin(r);
	rec_str(r, "timestamp", ts);
	if (f)
		rec_uint(r, "flow_id", f->id);
	rec_str(r, "event_type", "alert");
	rec_str(r, "src_ip", e->src_str);
	if (e->transport != IPPROTO_ICMP)
		rec_int(r, "src_port", e->src_port);
	rec_str(r, "dest_ip", e->dest_str);
	if (e->transport != IPPROTO_ICMP)
		rec_int(r, "dest_port", e->dest_port);
	rec_str(r, "proto", transport_name(f ? f->transport : e->transport));
	if (app)
		rec_str(r, "app_proto", app);
	rec_str(r, "sensor", mm.cfg.sensor);
	rec_uint(r, "frame", mm.frame);
	rec_str(r, "src_zone", e->src_zone ? e->src_zone->id : NULL);
	rec_str(r, "dest_zone", e->dest_zone ? e->dest_zone->id : NULL);

	rec_obj_begin(r, "alert");
	rec_str(r, "action", "allowed"); /* passive: we never block */
	rec_int(r, "gid", 1);
	rec_int(r, "signature_id", signature_id);
	rec_int(r, "rev", 1);
	rec_str(r, "signature", sig->name);
	rec_str(r, "category", sig->category);
	rec_int(r, "severity", severity);
	rec_str(r, "cause", sig->cause);
}

/* both ends' zones, described (after "alert") */
void alert_zones(struct mm_rec *r, const struct mm_ends *e)
{
	rec_obj_begin(r, "zones");
	zone_obj(r, "src", e->src_zone, e->src_host);
	zone_obj(r, "dest", e->dest_zone, e->dest_host);
	rec_obj_end(r);
}

/* the finished alert to eve.json and the store, never blocking */
void alert_emit(struct mm_rec *r)
{
	size_t len;
	const char *json = rec_finish(r, &len);

	txlog_alert_line(json, len);
	if (mm.link && mm_link_send(mm.link, "alert", json, len) < 0)
		mm.st.alerts_queue_dropped++;
}

static void send_alert(struct mm_flow *f, const struct mm_ends *e,
		       const struct alert_args *a)
{
	struct mm_rec *r = mm.rec_alert;
	const char *app = f && f->d ? f->d->name : NULL;

	alert_begin(r, f, e, app, a->signature_id, a->sig, a->severity);
	rec_obj_begin(r, "metadata");
	if (a->op) {
		rec_arr_begin(r, "op");
		rec_str(r, NULL, mm_op_class_names[a->op->cls]);
		rec_arr_end(r);
		if (op_attack[a->op->cls][0]) {
			rec_arr_begin(r, "mitre_attack");
			rec_str(r, NULL, op_attack[a->op->cls][0]);
			rec_str(r, NULL, op_attack[a->op->cls][1]);
			rec_arr_end(r);
		}
	}
	if (a->op && a->op->event && a->sig != a->op->event) {
		rec_str(r, "event", a->op->event->name);
		rec_str(r, "event_cause", a->op->event->cause);
	}
	if (a->service)
		rec_str(r, "service", a->service);
	if (a->unknown_ip) {
		rec_arr_begin(r, "unknown_host");
		rec_str(r, NULL, a->unknown_ip);
		rec_arr_end(r);
	}
	rec_obj_end(r);
	rec_obj_end(r);
	alert_zones(r, e);

	if (app) {
		rec_obj_begin(r, app);
		if (a->op) {
			rec_uint(r, "function", a->op->function);
			if (a->op->function_name)
				rec_str(r, "function_name", a->op->function_name);
			rec_str(r, "op", mm_op_class_names[a->op->cls]);
			const char *t = mm_op_target(a->op);
			if (t[0])
				rec_str(r, "target", t);
		}
		if (a->detail && a->detail[0])
			rec_str(r, "detail", a->detail);
		rec_obj_end(r);
	}
	mm.st.alerts++;
	alert_emit(r);
}

static void policy_alert(struct mm_flow *f, const struct mm_ends *e,
			 enum pol_sig sig, const struct mm_op *op, bool allowed,
			 const char *unknown_ip)
{
	struct alert_args a = {
		.sig = &policy_sigs[sig],
		.signature_id = 2100001 + (int)sig,
		.op = op,
		.unknown_ip = unknown_ip,
	};
	const struct zone *dst = e->dest_zone;

	if (sig == SIG_UNKNOWN_HOST && !dst)
		dst = e->src_zone;
	a.severity = policy_severity(sig, op->cls, dst, allowed);
	send_alert(f, e, &a);
}

/* limited broadcast or multicast: a group, not a host that could be zoned */
static bool is_group_address(uint32_t ip_be)
{
	uint32_t ip = ntohl(ip_be);
	return ip == 0xffffffffu || (ip >> 28) == 0xe;
}

/*
 * policy_check for an op of the flow, remembered per flow: a flow's ops
 * come from the same zones in the same protocol, a handful of classes.
 * The memo holds for the model in force and its reload count (a new model
 * may reuse the old one's address), the zones and the dissector.
 */
static enum policy_verdict flow_policy(struct mm_flow *f, const struct zone *src,
				       const struct zone *dst,
				       enum mm_op_class cls)
{
	struct mm_flow_memo *m = &f->memo;
	const char *proto = f->d ? f->d->name : "unknown";
	enum policy_verdict v;

	if ((unsigned)cls >= MM_OP__N)
		return policy_check(mm.zones, src, dst, proto, cls);
	if (m->zm != mm.zones || m->zone_reloads != mm.st.zone_reloads ||
	    m->src != src || m->dst != dst || m->d != f->d) {
		m->zm = mm.zones;
		m->zone_reloads = mm.st.zone_reloads;
		m->src = src;
		m->dst = dst;
		m->d = f->d;
		m->known = 0;
	} else if (m->known & (1u << cls)) {
		return (enum policy_verdict)m->verdict[cls];
	}
	v = policy_check(mm.zones, src, dst, proto, cls);
	m->verdict[cls] = (uint8_t)v;
	m->known |= (uint8_t)(1u << cls);
	return v;
}

void alert_from_op(struct mm_flow *f, enum mm_dir dir, const struct mm_op *op)
{
	enum policy_verdict v;
	struct mm_ends e;

	/* the requester is whoever sent this request (in BACnet both ends
	 * of a flow may ask), or the relayed origin */
	flow_ends(f, dir, &e);
	/* a broadcast stays in the sender's segment: judge it as its zone */
	if (!e.dest_zone && is_group_address(e.dest_ip))
		e.dest_zone = e.src_zone;
	if (!e.src_zone || !e.dest_zone) {
		if (!e.src_zone && hosts_first_unknown(e.src_ip))
			policy_alert(f, &e, SIG_UNKNOWN_HOST, op, false, e.src_str);
		if (!e.dest_zone && !is_group_address(e.dest_ip) &&
		    hosts_first_unknown(e.dest_ip))
			policy_alert(f, &e, SIG_UNKNOWN_HOST, op, false, e.dest_str);
		v = POLICY_UNKNOWN_HOST;
	} else {
		v = flow_policy(f, e.src_zone, e.dest_zone, op->cls);
		if (v == POLICY_NO_CONDUIT)
			policy_alert(f, &e, SIG_NO_CONDUIT, op, false, NULL);
		else if (v == POLICY_OP_NOT_ALLOWED)
			policy_alert(f, &e, SIG_OP_NOT_ALLOWED, op, false, NULL);
	}
	/* engineers want to know whenever logic or operating state changes;
	 * the dissector's own event for it rides on that alert */
	if (op->cls == MM_OP_PROGRAM)
		policy_alert(f, &e, SIG_OP_PROGRAM, op, v == POLICY_ALLOWED, NULL);
	else if (op->cls == MM_OP_CONTROL)
		policy_alert(f, &e, SIG_OP_CONTROL, op, v == POLICY_ALLOWED, NULL);
	else if (op->event)
		alert_from_event(f, dir, op->event, mm_op_target(op));
	/* scans, sweeps, floods: the pattern of allowed requests (detect.c) */
	detect_op(f, &e, op);
	/* what is normal here: the learned baseline (observe.c) */
	observe_op(f, &e, op, v);
}

void alert_from_event(struct mm_flow *f, enum mm_dir dir,
		      const struct mm_event_def *ev, const char *detail)
{
	struct alert_args a = {
		.sig = ev,
		.severity = clamp_sev(ev->severity),
		.detail = detail,
	};
	size_t idx = 0;
	struct mm_ends e;

	mm.st.events++;
	if (f->d && ev >= f->d->events && ev < f->d->events + f->d->n_events)
		idx = (size_t)(ev - f->d->events);
	/* stable per registry position and event table row */
	a.signature_id = 2200000 + (f->d_index < 0 ? 0 : f->d_index) * 1000 + (int)idx;
	flow_ends(f, dir, &e);
	/* storms count it; a detector may stand in for it (detect.c) */
	if (detect_event(f, &e, ev, detail))
		return;
	send_alert(f, &e, &a);
}

/*
 * A flow that no conduit allows, whatever its protocol (a generic service
 * such as SMB or RDP: no operations to judge, the flow itself is the
 * fact).  verdict is POLICY_NO_CONDUIT or POLICY_OP_NOT_ALLOWED.
 */
void alert_service(const struct mm_ends *e, const char *service,
		   enum policy_verdict verdict)
{
	static const struct mm_op generic = { .cls = MM_OP_OTHER };
	enum pol_sig sig = verdict == POLICY_NO_CONDUIT ? SIG_NO_CONDUIT
							 : SIG_OP_NOT_ALLOWED;
	struct alert_args a = {
		.sig = &policy_sigs[sig],
		.signature_id = 2100001 + (int)sig,
		.service = service,
	};

	/* a flow is no request: judged as an operation of class other */
	a.severity = policy_severity(sig, generic.cls, e->dest_zone, false);
	send_alert(NULL, e, &a);
}

/*
 * An alert about one host rather than a flow: the host is both source and
 * destination (EVE consumers expect both), there is no app_proto.
 */
void alert_asset(const struct mm_event_def *sig, int signature_id,
		 uint32_t ip, const struct zone *z, const char *detail)
{
	struct mm_rec *r = mm.rec_alert;
	char ts[40], ips[16];

	mm_fmt_ipv4(ips, ip);
	mm_format_ts(ts, sizeof(ts), mm.now.tv_sec, mm.now.tv_usec);
	rec_begin(r);
	rec_str(r, "timestamp", ts);
	rec_str(r, "event_type", "alert");
	rec_str(r, "src_ip", ips);
	rec_str(r, "dest_ip", ips);
	rec_str(r, "sensor", mm.cfg.sensor);
	rec_uint(r, "frame", mm.frame);
	rec_str(r, "src_zone", z ? z->id : NULL);
	rec_str(r, "dest_zone", z ? z->id : NULL);
	rec_obj_begin(r, "alert");
	rec_str(r, "action", "allowed");
	rec_int(r, "gid", 1);
	rec_int(r, "signature_id", signature_id);
	rec_int(r, "rev", 1);
	rec_str(r, "signature", sig->name);
	rec_str(r, "category", sig->category);
	rec_int(r, "severity", sig->severity);
	rec_str(r, "cause", sig->cause);
	rec_obj_end(r);
	rec_obj_begin(r, "asset");
	rec_str(r, "ip", ips);
	if (detail)
		rec_str(r, "detail", detail);
	rec_obj_end(r);
	mm.st.alerts++;
	alert_emit(r);
}

/* ---------------- the services a dissector calls ---------------- */

static struct mm_flow *ctx_flow(struct mm_ctx *c)
{
	return (struct mm_flow *)c->host;
}

static void ctx_op(struct mm_ctx *c, const struct mm_op *op)
{
	alert_from_op(ctx_flow(c), c->dir, op);
}

static void ctx_event(struct mm_ctx *c, const struct mm_event_def *ev,
		      const char *detail)
{
	alert_from_event(ctx_flow(c), c->dir, ev, detail);
}

static struct mm_rec *ctx_txlog_begin(struct mm_ctx *c)
{
	return txlog_begin(ctx_flow(c), c->dir);
}

static void ctx_txlog_end(struct mm_ctx *c, struct mm_rec *r)
{
	txlog_end(ctx_flow(c), r);
}

static void ctx_asset_fact(struct mm_ctx *c, bool server_side, const char *key,
			   const uint8_t *value, size_t len)
{
	struct mm_flow *f = ctx_flow(c);

	if (server_side)
		hosts_fact(f->srv_ip, f->srv_zone, key, value, len, f->id);
	else
		hosts_fact(f->cli_ip, f->cli_zone, key, value, len, f->id);
}

static void ctx_origin(struct mm_ctx *c, uint32_t ip, uint16_t port)
{
	flow_set_origin(ctx_flow(c), ip, port);
}

static void ctx_exclude(struct mm_ctx *c)
{
	struct mm_flow *f = ctx_flow(c);
	flow_exclude(f, f->tcp);
}

const struct mm_ctx_ops mm_sensor_ctx_ops = {
	.origin = ctx_origin,
	.exclude = ctx_exclude,
	.op = ctx_op,
	.event = ctx_event,
	.txlog_begin = ctx_txlog_begin,
	.txlog_end = ctx_txlog_end,
	.asset_fact = ctx_asset_fact,
};
