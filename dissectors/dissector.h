/*
 * dissector.h - what a protocol dissector is, and the services the daemon
 * offers it.
 *
 * One dissector = one file + one `const struct mm_dissector` in the
 * registry (registry.c).  A dissector never sees sockets, libnids, zones
 * or ZeroMQ: it frames PDUs (TCP), parses one whole PDU through the bounded
 * reader (rd.h) and reports what it found through the mm_* calls below:
 *   - operations (classified requests) for the zone policy,
 *   - named events (anomalies) from its own event table,
 *   - transaction-log records (only when the log is on),
 *   - asset facts (what a device says about itself).
 */
#ifndef MM_DISSECTOR_H
#define MM_DISSECTOR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "../common/fmt.h"
#include "../common/rec.h"
#include "rd.h"

/* Operation classes (DESIGN.md): the protocol-agnostic policy vocabulary. */
enum mm_op_class {
	MM_OP_READ = 0,
	MM_OP_WRITE,
	MM_OP_PROGRAM,
	MM_OP_CONTROL,
	MM_OP_DISCOVER,
	MM_OP_OTHER,
	MM_OP__N
};

extern const char *const mm_op_class_names[MM_OP__N];
/* -1 when s names no class */
int mm_op_class_from_name(const char *s);

/* Direction of the bytes being parsed, relative to the TCP/UDP server. */
enum mm_dir {
	MM_DIR_TO_SERVER = 0, /* requests */
	MM_DIR_TO_CLIENT = 1, /* responses */
};

/*
 * A named event.  Names are `<area>.<snake_case>` and stable: users write
 * suppressions against them.  Severity 1 is the highest (EVE convention).
 */
struct mm_event_def {
	const char *name;     /* "modbus.invalid_length" */
	uint8_t severity;     /* 1 (highest) .. 4 */
	const char *category; /* EVE alert.category */
	const char *cause;    /* one line: what it usually means */
};

/* deferred target text: parts, and arguments per part (mm_op_target_defer) */
#define MM_OP_TARGET_PARTS 2
#define MM_OP_TARGET_ARGS 4

/* One classified request, handed to the zone policy. */
struct mm_op {
	enum mm_op_class cls;
	unsigned function;         /* protocol function / service code */
	const char *function_name; /* "write_single_register" */
	/*
	 * Human-readable: "unit 1 holding 100 x10".  Read it through
	 * mm_op_target(): a dissector may leave the formatting for later
	 * (mm_op_target_defer), since most operations never raise an alert.
	 */
	char target[96];
	/* deferred parts, appended in order by mm_op_target (fmt.h) */
	const char *target_fmt[MM_OP_TARGET_PARTS];
	union mm_fmt_arg target_arg[MM_OP_TARGET_PARTS][MM_OP_TARGET_ARGS];
	uint8_t target_nargs[MM_OP_TARGET_PARTS];
	/*
	 * Optional: the dissector's own named event for what this request
	 * does (s7comm.plc_stop, bacnet.reinitialize_device).  For program
	 * and control operations it is carried by the op.program/op.control
	 * alert (metadata.event), so one fact makes one alert; for other
	 * classes it is raised as an alert of its own.
	 */
	const struct mm_event_def *event;
	/*
	 * Optional structured target, for baselines and behaviour detectors
	 * (scans, sweeps, floods): set has_ref when filled.  unit: the device
	 * addressed through this peer (Modbus unit id, S7 DB number, BACnet
	 * device instance); space: the protocol's own address-space code
	 * (Modbus table = function's table, S7 area, BACnet object type);
	 * [addr, addr + count): the range touched (count 0: unknown).
	 */
	bool has_ref;
	uint32_t unit, space, addr, count;
};

/*
 * The daemon's view of the flow and of the packet being processed.  The
 * daemon fills `ops` with its services; unit tests fill it with recorders.
 * Dissectors use only the mm_* wrappers below.
 */
struct mm_ctx;

struct mm_ctx_ops {
	void (*op)(struct mm_ctx *c, const struct mm_op *op);
	void (*event)(struct mm_ctx *c, const struct mm_event_def *ev,
		      const char *detail);
	struct mm_rec *(*txlog_begin)(struct mm_ctx *c);
	void (*txlog_end)(struct mm_ctx *c, struct mm_rec *r);
	void (*asset_fact)(struct mm_ctx *c, bool server_side, const char *key,
			   const uint8_t *value, size_t len);
	void (*origin)(struct mm_ctx *c, uint32_t ip_be, uint16_t port);
	void (*exclude)(struct mm_ctx *c);
};

struct mm_ctx {
	const struct mm_ctx_ops *ops;
	enum mm_dir dir;            /* which way the PDU being parsed travels */
	void *host;                 /* the daemon's flow (or a test's recorder) */
	const struct timeval *now;  /* the packet's time (rates, timeouts) */
};

/* --- services, dispatched through c->ops (dissectors/ctx.c) --- */

/* which way the PDU being parsed travels */
static inline enum mm_dir mm_ctx_dir(const struct mm_ctx *c)
{
	return c->dir;
}
/* report a classified request (policy, op.program/op.control alerts) */
void mm_emit_op(struct mm_ctx *c, const struct mm_op *op);
/*
 * Append fmt (fmt.h conversions; %s: a string constant) to op->target
 * later, when mm_op_target() is first called: the common case - no alert,
 * no detector naming it - never formats.  Parts are appended in the order
 * deferred, after whatever op->target already holds.
 */
void mm_op_target_defer(struct mm_op *op, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void mm_op_target_vdefer(struct mm_op *op, const char *fmt, va_list ap);
/* drop the deferred parts (the target is being written anew) */
static inline void mm_op_target_reset(struct mm_op *op)
{
	for (int i = 0; i < MM_OP_TARGET_PARTS; i++)
		op->target_fmt[i] = NULL;
}
/* an op's target text, formatting its deferred parts on first use (the
 * op is the dissector's own, alive until mm_emit_op returns; a copy of
 * it carries its parts along) */
const char *mm_op_target(const struct mm_op *op);
/* true when the target is empty: no text and nothing deferred */
static inline bool mm_op_target_empty(const struct mm_op *op)
{
	return op->target[0] == 0 && !op->target_fmt[0];
}
/* report a named event; detail is a short printf-style explanation */
void mm_emit_event(struct mm_ctx *c, const struct mm_event_def *ev,
		   const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * Start a transaction-log record for this PDU.  Returns NULL when this
 * protocol's log is off: build nothing then.  The daemon has already
 * written the common fields (ts, frame, flow_id, addresses, zones,
 * direction); the dissector adds its own and calls mm_txlog_end().
 */
struct mm_rec *mm_txlog_begin(struct mm_ctx *c);
void mm_txlog_end(struct mm_ctx *c, struct mm_rec *r);
/*
 * A fact a device states about itself (vendor, model, firmware...).
 * `server_side` true: the fact is about the server end of the flow.
 */
void mm_asset_fact(struct mm_ctx *c, bool server_side, const char *key,
		   const uint8_t *value, size_t len);

/*
 * The PDU being parsed was relayed: its real sender is ip_be:port (network
 * byte order address, host order port), e.g. a BACnet Forwarded-NPDU's
 * original source, not the BBMD that forwarded it.  Until parse() returns,
 * the daemon zones the sender by that address: policy, alerts and the
 * transaction log name it as the source.
 */
void mm_set_origin(struct mm_ctx *c, uint32_t ip_be, uint16_t port);

/*
 * This flow is not the dissector's protocol after all (e.g. ISO-MMS on
 * TCP/102, which shares TPKT/COTP with S7comm): stop dissecting it.  The
 * daemon counts it as excluded and never offers it again.
 */
void mm_flow_exclude(struct mm_ctx *c);

/* the time of the packet being processed, in seconds */
static inline double mm_ctx_time(const struct mm_ctx *c)
{
	return c->now ? (double)c->now->tv_sec + (double)c->now->tv_usec / 1e6 : 0;
}

/* --- the dissector itself --- */

enum mm_probe {
	MM_PROBE_NO = 0,   /* not this protocol */
	MM_PROBE_YES = 1,  /* bytes look like a valid PDU start */
	MM_PROBE_MORE = 2, /* too few bytes to tell */
};

struct mm_dissector {
	const char *name;      /* app_proto, and the log file's name */
	uint8_t transport;     /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t ports[8];     /* server ports it is tried on, 0-terminated */
	size_t max_pdu;        /* framing bound: a longer PDU is invalid */
	/*
	 * Cheap heuristic on the first bytes seen in one direction: numbered
	 * checks, never the port alone.  Also used to find the next PDU
	 * boundary after a gap or on mid-stream pickup.
	 */
	enum mm_probe (*probe)(const uint8_t *p, size_t n, enum mm_dir dir);
	/*
	 * TCP framing: the length of the PDU that starts at p (> 0), 0 when
	 * more bytes are needed to tell, -1 when p is not a PDU start.
	 * NULL for UDP dissectors (a datagram is one PDU).
	 */
	long (*pdu_len)(const uint8_t *p, size_t n);
	/* per-flow state; NULL state_new means stateless */
	void *(*state_new)(void);
	void (*state_free)(void *st);
	/* parse one whole PDU (TCP) or one datagram's payload (UDP) */
	void (*parse)(struct mm_ctx *c, void *st, const uint8_t *p, size_t n);
	/* the flow ends (close, reset, timeout, end of capture); may be NULL */
	void (*flow_end)(struct mm_ctx *c, void *st);
	const struct mm_event_def *events; /* this dissector's event table */
	size_t n_events;
};

/* registry.c: every dissector, NULL-terminated */
extern const struct mm_dissector *const mm_dissectors[];

const struct mm_dissector *mm_dissector_by_name(const char *name);

#endif /* MM_DISSECTOR_H */
