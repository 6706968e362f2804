/*
 * modbus_peer.c - a real Modbus/TCP peer built on libmodbus, so that tests
 * and sample captures carry what a real implementation puts on the wire
 * (its transaction ids, its segmenting, its answers to what it does not
 * support) rather than bytes we crafted ourselves.
 *
 *   modbus_peer server IP PORT [--count N] [--map N]
 *       Serve Modbus/TCP on IP:PORT until killed, or until N requests
 *       were answered.  Prints "ready" on stdout once listening, then one
 *       line per request served.  --map: coils, inputs and registers in
 *       each table (default 100).
 *
 *   modbus_peer client IP PORT SCRIPT [--rate N] [--seconds S]
 *       Connect and run a named script of requests, one line per request
 *       on stdout:  "req N fc=F name detail: result".  Scripts:
 *         reads     FC 1, 2, 3, 4, three rounds
 *         writes    FC 5, 6, 15, 16, 22, 23
 *         control   FC 8 sub-function 1 (restart communications option),
 *                   FC 8 sub-function 0 (return query data, an echo)
 *         identify  FC 17 (report server id), FC 43/14 (read device id)
 *         bad       FC 3 read past the end of the server's map
 *         all       every script above, in that order, on one connection
 *       and what attackers do (tests/integration/test_detect.sh):
 *         scan      function codes 1..40, each once, as a scanner probes
 *                   what a device supports (most refused: exception 1)
 *         units     FC 3 to unit ids 1..60 in turn
 *         sweep     FC 3 across holding registers 0..4999, 100 at a time
 *                   (serve it with --map 5000)
 *         flood     FC 6 to holding register 10, --rate writes a second
 *                   (default 300) for --seconds (default 7)
 *
 * Exit status: 0 when every request got an answer (a normal response or
 * an exception), 1 when the connection failed, 2 on a usage error, 3 when
 * some request got no answer at all (timeout, connection lost).
 *
 * libmodbus 3.1 answers FC 8 and FC 43 with exception 1 (illegal
 * function): its server does not implement them.  That is what a test
 * expects from this server; the client sends them as raw requests because
 * libmodbus has no call for them.
 */
#include <errno.h>
#include <stdbool.h>
#include <modbus/modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PEER_UNIT 1           /* unit id the client addresses */
#define PEER_MAP_SIZE 100     /* coils, inputs, holding, input registers */
#define PEER_BAD_ADDRESS 200  /* past the end of the map: exception 2 */
#define PEER_READ_ROUNDS 3

/*
 * The server waits this long before flushing the rest of a request it
 * does not understand (libmodbus sleeps the response timeout there, 0.5 s
 * by default).  On loopback the rest of the request arrived with it.
 */
#define PEER_FLUSH_USEC 50000
#define PEER_CLIENT_TIMEOUT_SEC 2
#define PEER_MAP_MAX 65535

#define PEER_SCAN_LAST_FC 40    /* scan: function codes 1..40 */
#define PEER_SCAN_UNITS 60      /* units: unit ids 1..60 */
#define PEER_SWEEP_END 5000     /* sweep: holding registers 0..4999 */
#define PEER_SWEEP_STEP 100
#define PEER_FLOOD_RATE 300     /* flood: writes a second */
#define PEER_FLOOD_SECONDS 7
#define PEER_FLOOD_REGISTER 10

static int usage(void)
{
	fprintf(stderr,
		"usage: modbus_peer server IP PORT [--count N] [--map N]\n"
		"       modbus_peer client IP PORT "
		"(reads|writes|control|identify|bad|all|scan|units|sweep|flood)\n"
		"                   [--rate N] [--seconds S]\n");
	return 2;
}

static int parse_port(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end || v < 1 || v > 65535)
		return -1;
	return (int)v;
}

/* ------------------------------------------------------------------ */
/* Server                                                              */
/* ------------------------------------------------------------------ */

/* a pattern a reader of a capture or a log recognises at a glance */
static void fill_map(modbus_mapping_t *m, int size)
{
	for (int i = 0; i < size; i++) {
		m->tab_bits[i] = (i % 3 == 0);         /* coils: 1 0 0 1 0 0 */
		m->tab_input_bits[i] = (i % 2 == 0);   /* inputs: 1 0 1 0 */
		m->tab_registers[i] = (uint16_t)(0x1000 + i);       /* holding */
		m->tab_input_registers[i] = (uint16_t)(0x2000 + i); /* input */
	}
}

static int run_server(const char *ip, int port, long count, int size)
{
	uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
	modbus_mapping_t *map;
	modbus_t *ctx;
	long answered = 0;
	int listen_fd;

	ctx = modbus_new_tcp(ip, port);
	if (!ctx) {
		fprintf(stderr, "modbus_peer: server %s:%d: %s\n", ip, port,
			modbus_strerror(errno));
		return 1;
	}
	modbus_set_response_timeout(ctx, 0, PEER_FLUSH_USEC);
	map = modbus_mapping_new(size, size, size, size);
	if (!map) {
		fprintf(stderr, "modbus_peer: mapping: %s\n",
			modbus_strerror(errno));
		modbus_free(ctx);
		return 1;
	}
	fill_map(map, size);
	listen_fd = modbus_tcp_listen(ctx, 4);
	if (listen_fd < 0) {
		fprintf(stderr, "modbus_peer: listen on %s:%d: %s\n", ip, port,
			modbus_strerror(errno));
		modbus_mapping_free(map);
		modbus_free(ctx);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);

	while (count <= 0 || answered < count) {
		if (modbus_tcp_accept(ctx, &listen_fd) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "modbus_peer: accept: %s\n",
				modbus_strerror(errno));
			break;
		}
		while (count <= 0 || answered < count) {
			int n = modbus_receive(ctx, query);
			if (n == 0)
				continue; /* addressed to another unit: ignored */
			if (n < 0)
				break;    /* the client closed, or a broken request */
			int hl = modbus_get_header_length(ctx);
			int fc = query[hl];
			/* libmodbus 3.1 has no answer for FC 7 (read
			 * exception status): modbus_reply fails with
			 * ENOPROTOOPT.  Refuse it as a device without the
			 * function does, through libmodbus' own call. */
			if (modbus_reply(ctx, query, n, map) < 0 &&
			    (errno != ENOPROTOOPT ||
			     modbus_reply_exception(ctx, query,
				     MODBUS_EXCEPTION_ILLEGAL_FUNCTION) < 0)) {
				fprintf(stderr, "modbus_peer: reply: %s\n",
					modbus_strerror(errno));
				break;
			}
			answered++;
			printf("served %ld fc=%d len=%d\n", answered, fc, n);
			fflush(stdout);
		}
		modbus_close(ctx); /* the accepted connection; listen_fd stays */
	}
	close(listen_fd);
	modbus_mapping_free(map);
	modbus_free(ctx);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Client                                                              */
/* ------------------------------------------------------------------ */

struct client {
	modbus_t *ctx;
	int n;          /* requests made */
	int unanswered; /* requests that got no answer at all */
	long rate;      /* flood: writes a second */
	long seconds;   /* flood: how long */
};

/*
 * Print the result of a libmodbus call: rc >= 0 is a normal response;
 * errno above MODBUS_ENOBASE is an exception the server sent (libmodbus
 * puts the code there); anything else means no answer.
 */
static void result(struct client *c, int fc, const char *what, int rc,
		   const char *ok_detail)
{
	int e = errno;

	c->n++;
	printf("req %d fc=%d %s: ", c->n, fc, what);
	if (rc >= 0) {
		printf("ok%s%s\n", ok_detail ? " " : "", ok_detail ? ok_detail : "");
	} else if (e > MODBUS_ENOBASE && e <= MODBUS_ENOBASE + 11) {
		printf("exception %d (%s)\n", e - MODBUS_ENOBASE,
		       modbus_strerror(e));
	} else {
		printf("no answer (%s)\n", modbus_strerror(e));
		c->unanswered++;
	}
	fflush(stdout);
}

/* a request libmodbus has no call for: PDU bytes after the unit id */
static void raw(struct client *c, const char *what, const uint8_t *pdu,
		int len)
{
	uint8_t req[MODBUS_TCP_MAX_ADU_LENGTH];
	uint8_t rsp[MODBUS_TCP_MAX_ADU_LENGTH];
	int hl = modbus_get_header_length(c->ctx);
	int rc;

	req[0] = PEER_UNIT;
	memcpy(req + 1, pdu, (size_t)len);
	c->n++;
	printf("req %d fc=%d %s: ", c->n, pdu[0], what);
	rc = modbus_send_raw_request(c->ctx, req, len + 1);
	if (rc >= 0)
		rc = modbus_receive_confirmation(c->ctx, rsp);
	if (rc < 0) {
		printf("no answer (%s)\n", modbus_strerror(errno));
		c->unanswered++;
	} else if (rc > hl + 1 && (rsp[hl] & 0x80)) {
		/* the exception code follows the function code ([AP] 7) */
		printf("exception %d (%s)\n", rsp[hl + 1],
		       modbus_strerror(MODBUS_ENOBASE + rsp[hl + 1]));
	} else {
		printf("ok %d bytes\n", rc);
	}
	fflush(stdout);
}

static void script_reads(struct client *c)
{
	uint8_t bits[PEER_MAP_SIZE];
	uint16_t regs[PEER_MAP_SIZE];
	char d[64];
	int rc;

	for (int round = 0; round < PEER_READ_ROUNDS; round++) {
		int a = round * 10;

		rc = modbus_read_bits(c->ctx, a, 16, bits);
		snprintf(d, sizeof(d), "first %d", rc > 0 ? bits[0] : -1);
		result(c, MODBUS_FC_READ_COILS, "read_coils", rc, d);

		rc = modbus_read_input_bits(c->ctx, a, 8, bits);
		snprintf(d, sizeof(d), "first %d", rc > 0 ? bits[0] : -1);
		result(c, MODBUS_FC_READ_DISCRETE_INPUTS, "read_discrete_inputs",
		       rc, d);

		rc = modbus_read_registers(c->ctx, a, 10, regs);
		snprintf(d, sizeof(d), "first 0x%04x", rc > 0 ? regs[0] : 0);
		result(c, MODBUS_FC_READ_HOLDING_REGISTERS,
		       "read_holding_registers", rc, d);

		rc = modbus_read_input_registers(c->ctx, a, 4, regs);
		snprintf(d, sizeof(d), "first 0x%04x", rc > 0 ? regs[0] : 0);
		result(c, MODBUS_FC_READ_INPUT_REGISTERS, "read_input_registers",
		       rc, d);
	}
}

static void script_writes(struct client *c)
{
	uint8_t bits[10] = { 1, 0, 1, 1, 0, 0, 1, 0, 1, 1 };
	uint16_t regs[3] = { 0xBEEF, 0x0102, 0x0304 };
	uint16_t back[2];

	result(c, MODBUS_FC_WRITE_SINGLE_COIL, "write_single_coil",
	       modbus_write_bit(c->ctx, 5, 1), NULL);
	result(c, MODBUS_FC_WRITE_SINGLE_REGISTER, "write_single_register",
	       modbus_write_register(c->ctx, 7, 0x1234), NULL);
	result(c, MODBUS_FC_WRITE_MULTIPLE_COILS, "write_multiple_coils",
	       modbus_write_bits(c->ctx, 20, 10, bits), NULL);
	result(c, MODBUS_FC_WRITE_MULTIPLE_REGISTERS, "write_multiple_registers",
	       modbus_write_registers(c->ctx, 30, 3, regs), NULL);
	result(c, MODBUS_FC_MASK_WRITE_REGISTER, "mask_write_register",
	       modbus_mask_write_register(c->ctx, 8, 0x00F2, 0x0025), NULL);
	result(c, MODBUS_FC_WRITE_AND_READ_REGISTERS,
	       "read_write_multiple_registers",
	       modbus_write_and_read_registers(c->ctx, 40, 2, regs, 41, 2, back),
	       NULL);
}

static void script_control(struct client *c)
{
	/* FC 8, sub-function 0x0001, data 0x0000: restart, keep the log */
	static const uint8_t restart[] = { 0x08, 0x00, 0x01, 0x00, 0x00 };
	/* FC 8, sub-function 0x0000, any data: echoed back */
	static const uint8_t echo[] = { 0x08, 0x00, 0x00, 0x12, 0x34 };

	raw(c, "diagnostics restart_communications_option", restart,
	    (int)sizeof(restart));
	raw(c, "diagnostics return_query_data", echo, (int)sizeof(echo));
}

static void script_identify(struct client *c)
{
	/* FC 43, MEI 14, read device id code 1 (basic), from object 0 */
	static const uint8_t devid[] = { 0x2B, 0x0E, 0x01, 0x00 };
	uint8_t id[MODBUS_TCP_MAX_ADU_LENGTH];
	char d[64];
	int rc;

	rc = modbus_report_slave_id(c->ctx, (int)sizeof(id), id);
	snprintf(d, sizeof(d), "%d bytes, run indicator 0x%02x", rc,
		 rc > 1 ? id[1] : 0);
	result(c, MODBUS_FC_REPORT_SLAVE_ID, "report_server_id", rc, d);
	raw(c, "read_device_identification basic", devid, (int)sizeof(devid));
}

static void script_bad(struct client *c)
{
	uint16_t regs[4];

	result(c, MODBUS_FC_READ_HOLDING_REGISTERS,
	       "read_holding_registers past the map",
	       modbus_read_registers(c->ctx, PEER_BAD_ADDRESS, 4, regs), NULL);
}

/*
 * Every function code from 1 to 40 once, as a scanner learns what a
 * device supports.  The codes libmodbus' server frames by their layout
 * ([AP] 6.1-6.17) go through its own calls; the others carry four bytes
 * after the code, which the server answers with exception 1 (illegal
 * function) and flushes.  FC 7 and FC 17 carry nothing ([AP] 6.7, 6.13):
 * the server reads no more than the code for them and does not flush.
 */
static void script_scan(struct client *c)
{
	uint8_t bits[4];
	uint16_t regs[4], one = 1;
	char what[48];

	for (int fc = 1; fc <= PEER_SCAN_LAST_FC; fc++) {
		int rc;
		switch (fc) {
		case MODBUS_FC_READ_COILS:
			rc = modbus_read_bits(c->ctx, 0, 1, bits);
			break;
		case MODBUS_FC_READ_DISCRETE_INPUTS:
			rc = modbus_read_input_bits(c->ctx, 0, 1, bits);
			break;
		case MODBUS_FC_READ_HOLDING_REGISTERS:
			rc = modbus_read_registers(c->ctx, 0, 1, regs);
			break;
		case MODBUS_FC_READ_INPUT_REGISTERS:
			rc = modbus_read_input_registers(c->ctx, 0, 1, regs);
			break;
		case MODBUS_FC_WRITE_SINGLE_COIL:
			rc = modbus_write_bit(c->ctx, 0, 0);
			break;
		case MODBUS_FC_WRITE_SINGLE_REGISTER:
			rc = modbus_write_register(c->ctx, 0, 0x1000);
			break;
		case MODBUS_FC_WRITE_MULTIPLE_COILS:
			bits[0] = 1;
			rc = modbus_write_bits(c->ctx, 0, 1, bits);
			break;
		case MODBUS_FC_WRITE_MULTIPLE_REGISTERS:
			rc = modbus_write_registers(c->ctx, 0, 1, &one);
			break;
		case MODBUS_FC_MASK_WRITE_REGISTER:
			rc = modbus_mask_write_register(c->ctx, 0, 0xFFFF, 0);
			break;
		case MODBUS_FC_WRITE_AND_READ_REGISTERS:
			rc = modbus_write_and_read_registers(c->ctx, 0, 1, &one,
							     0, 1, regs);
			break;
		default: {
			uint8_t pdu[5] = { (uint8_t)fc, 0, 0, 0, 1 };
			snprintf(what, sizeof(what), "scan fc %d", fc);
			bool bare = fc == MODBUS_FC_READ_EXCEPTION_STATUS ||
				    fc == MODBUS_FC_REPORT_SLAVE_ID;
			raw(c, what, pdu, bare ? 1 : 5);
			continue;
		}
		}
		snprintf(what, sizeof(what), "scan fc %d", fc);
		result(c, fc, what, rc, NULL);
	}
}

/* FC 3 to each unit id in turn: which units does this gateway reach? */
static void script_units(struct client *c)
{
	uint16_t reg;
	char what[48];

	for (int u = 1; u <= PEER_SCAN_UNITS; u++) {
		modbus_set_slave(c->ctx, u);
		snprintf(what, sizeof(what), "read_holding_registers unit %d", u);
		result(c, MODBUS_FC_READ_HOLDING_REGISTERS, what,
		       modbus_read_registers(c->ctx, 0, 1, &reg), NULL);
	}
	modbus_set_slave(c->ctx, PEER_UNIT);
}

/* the holding registers, block after block: a memory-map dump */
static void script_sweep(struct client *c)
{
	uint16_t regs[PEER_SWEEP_STEP];
	char what[64];

	for (int a = 0; a < PEER_SWEEP_END; a += PEER_SWEEP_STEP) {
		snprintf(what, sizeof(what), "read_holding_registers %d x%d", a,
			 PEER_SWEEP_STEP);
		result(c, MODBUS_FC_READ_HOLDING_REGISTERS, what,
		       modbus_read_registers(c->ctx, a, PEER_SWEEP_STEP, regs),
		       NULL);
	}
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* one set point hammered at a steady rate (the test bench's own clock
 * paces it; the sensor only ever sees packet times) */
static void script_flood(struct client *c)
{
	double start = mono_now();
	char what[64];

	snprintf(what, sizeof(what), "write_single_register %d",
		 PEER_FLOOD_REGISTER);
	for (long i = 0;; i++) {
		double due = start + (double)i / (double)c->rate;
		double now = mono_now();
		if (due - start >= (double)c->seconds)
			break;
		if (due > now) {
			struct timespec d;
			d.tv_sec = (time_t)(due - now);
			d.tv_nsec = (long)((due - now - (double)d.tv_sec) * 1e9);
			nanosleep(&d, NULL);
		}
		result(c, MODBUS_FC_WRITE_SINGLE_REGISTER, what,
		       modbus_write_register(c->ctx, PEER_FLOOD_REGISTER,
					     (uint16_t)i), NULL);
	}
}

static const struct script {
	const char *name;
	void (*run)(struct client *c);
} scripts[] = {
	{ "reads", script_reads },
	{ "writes", script_writes },
	{ "control", script_control },
	{ "identify", script_identify },
	{ "bad", script_bad },
	{ NULL, NULL },     /* "all" stops here: the attacks are apart */
	{ "scan", script_scan },
	{ "units", script_units },
	{ "sweep", script_sweep },
	{ "flood", script_flood },
	{ NULL, NULL },
};

static int run_client(const char *ip, int port, const char *name, long rate,
		      long seconds)
{
	const struct script *s = NULL;
	struct client c = { 0 };
	bool all = strcmp(name, "all") == 0;
	size_t n = sizeof(scripts) / sizeof(scripts[0]);

	c.rate = rate;
	c.seconds = seconds;
	for (size_t i = 0; i < n && !all; i++)
		if (scripts[i].name && strcmp(scripts[i].name, name) == 0)
			s = &scripts[i];
	if (!s && !all) {
		fprintf(stderr, "modbus_peer: no script '%s'\n", name);
		return usage();
	}
	c.ctx = modbus_new_tcp(ip, port);
	if (!c.ctx) {
		fprintf(stderr, "modbus_peer: client %s:%d: %s\n", ip, port,
			modbus_strerror(errno));
		return 1;
	}
	modbus_set_slave(c.ctx, PEER_UNIT);
	modbus_set_response_timeout(c.ctx, PEER_CLIENT_TIMEOUT_SEC, 0);
	if (modbus_connect(c.ctx) < 0) {
		fprintf(stderr, "modbus_peer: connect to %s:%d: %s\n", ip, port,
			modbus_strerror(errno));
		modbus_free(c.ctx);
		return 1;
	}
	if (all)
		for (int i = 0; scripts[i].name; i++)
			scripts[i].run(&c);
	else
		s->run(&c);
	modbus_close(c.ctx);
	modbus_free(c.ctx);
	printf("done %d requests, %d unanswered\n", c.n, c.unanswered);
	return c.unanswered ? 3 : 0;
}

/* "--name N" among argv[from..]: 0, or -1 on anything else */
static int options(int argc, char **argv, int from, const char *const *names,
		   long *vals, int nnames)
{
	for (int i = from; i < argc; i += 2) {
		int k;
		for (k = 0; k < nnames; k++)
			if (strcmp(argv[i], names[k]) == 0)
				break;
		if (k == nnames || i + 1 >= argc)
			return -1;
		char *end;
		vals[k] = strtol(argv[i + 1], &end, 10);
		if (end == argv[i + 1] || *end || vals[k] < 1)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int port;

	if (argc < 4)
		return usage();
	port = parse_port(argv[3]);
	if (port < 0) {
		fprintf(stderr, "modbus_peer: bad port '%s'\n", argv[3]);
		return usage();
	}
	if (strcmp(argv[1], "server") == 0) {
		static const char *const names[] = { "--count", "--map" };
		long v[2] = { 0, PEER_MAP_SIZE };
		if (options(argc, argv, 4, names, v, 2) < 0 || v[1] > PEER_MAP_MAX)
			return usage();
		return run_server(argv[2], port, v[0], (int)v[1]);
	}
	if (strcmp(argv[1], "client") == 0 && argc >= 5) {
		static const char *const names[] = { "--rate", "--seconds" };
		long v[2] = { PEER_FLOOD_RATE, PEER_FLOOD_SECONDS };
		if (options(argc, argv, 5, names, v, 2) < 0)
			return usage();
		return run_client(argv[2], port, argv[4], v[0], v[1]);
	}
	return usage();
}
