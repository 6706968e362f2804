/*
 * scenario_peer.c - the Modbus/TCP devices and clients of the exercise
 * scenarios (pcaps/scenarios/), built on libmodbus so that the recorded
 * captures carry what a real Modbus stack puts on the wire.
 *
 *   scenario_peer server IP
 *       A PLC or meter: serves Modbus/TCP on IP:502 to any number of
 *       clients at once (libmodbus' select() pattern: one context, the
 *       socket of whichever client spoke set before each request), until
 *       killed.  Prints "ready" once listening.
 *
 *   scenario_peer client FROM TO SCRIPT [--for SEC] [--every MS]
 *                                       [--count N] [--gap-us US]
 *       Connect from address FROM (the client's zone is its address:
 *       a loopback plan gives every host of the model factory its own
 *       127.x address) to TO:502 and run SCRIPT, one line per request on
 *       stdout ("req N fc=F what: result"):
 *         poll      SCADA polling: fc 3 (10 holding registers from 0) and
 *                   fc 4 (8 input registers from 0) every --every ms
 *                   (default 1000) for --for seconds (default 10)
 *         meter     a power meter read: fc 4, 12 registers, every --every
 *         hmi       an operator panel: fc 3 of the set points (100..115)
 *                   every --every ms for --for seconds, and a set-point
 *                   write (fc 6) at one third and two thirds of the time
 *         setpoint  a SCADA station that reads, then writes one set point
 *                   (fc 6, register 110) and a recipe (fc 16, 112..115),
 *                   then reads again
 *         fc-sweep  every function code 1..127 once, unit 1 (see
 *                   sweep_pdu); a probe left unanswered is what the
 *                   scanner learns from, not a failure (libmodbus' server
 *                   never answers fc 7)
 *         unit-sweep  fc 17 (report server id) to unit ids 1..247
 *         flood     --count (default 2000) fc 6 writes to register 110,
 *                   --gap-us (default 2000) apart
 *
 * Why our own socket: libmodbus connects from whatever source address the
 * kernel picks (127.0.0.1 on loopback).  The scenarios need the SCADA, the
 * HMI and the office PC at their own addresses, so the client creates,
 * binds and connects the socket itself, with the options libmodbus sets
 * (TCP_NODELAY, IPTOS_LOWDELAY), and hands it to libmodbus with
 * modbus_set_socket(): everything on the wire after the handshake is
 * libmodbus'.
 *
 * Exit status: 0 when every request got an answer (a response or an
 * exception), 1 when the connection failed, 2 on a usage error, 3 when a
 * request got no answer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <modbus/modbus.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SP_PORT 502
#define SP_UNIT 1
#define SP_MAP 200            /* coils, inputs, holding, input registers */
#define SP_SETPOINT 110       /* the set point the HMI and attackers write */
#define SP_TIMEOUT_SEC 2
#define SP_MAX_CLIENTS 64

static int usage(void)
{
	fprintf(stderr,
		"usage: scenario_peer server IP\n"
		"       scenario_peer client FROM TO "
		"(poll|meter|hmi|setpoint|fc-sweep|unit-sweep|flood)\n"
		"                     [--for SEC] [--every MS] [--count N] "
		"[--gap-us US]\n");
	return 2;
}

/* ------------------------------------------------------------------ */
/* Server                                                              */
/* ------------------------------------------------------------------ */

/*
 * Values a reader of the capture recognises: holding registers 0..99 are
 * process values around 20.0 (tenths), 100..119 the set points (a
 * temperature of 72.5 as 725 and its neighbours), input registers the
 * measured values (0x2000 + address), coils 1 0 0, inputs 1 0.
 */
static void fill_map(modbus_mapping_t *m)
{
	for (int i = 0; i < SP_MAP; i++) {
		m->tab_bits[i] = (i % 3 == 0);
		m->tab_input_bits[i] = (i % 2 == 0);
		m->tab_registers[i] = (uint16_t)(i >= 100 && i < 120 ?
						 700 + 5 * (i - 100) : 200 + i);
		m->tab_input_registers[i] = (uint16_t)(0x2000 + i);
	}
}

static int run_server(const char *ip)
{
	uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
	int clients[SP_MAX_CLIENTS];
	int n_clients = 0, listen_fd;
	modbus_mapping_t *map;
	modbus_t *ctx;

	ctx = modbus_new_tcp(ip, SP_PORT);
	map = modbus_mapping_new(SP_MAP, SP_MAP, SP_MAP, SP_MAP);
	if (!ctx || !map) {
		fprintf(stderr, "scenario_peer: server %s: %s\n", ip,
			modbus_strerror(errno));
		return 1;
	}
	/* how long the server waits for the rest of a request it cannot
	 * frame before flushing (libmodbus' default 0.5 s stalls a sweep) */
	modbus_set_response_timeout(ctx, 0, 50000);
	fill_map(map);
	listen_fd = modbus_tcp_listen(ctx, SP_MAX_CLIENTS);
	if (listen_fd < 0) {
		fprintf(stderr, "scenario_peer: listen on %s:%d: %s\n", ip,
			SP_PORT, modbus_strerror(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		fd_set rd;
		int maxfd = listen_fd;

		FD_ZERO(&rd);
		FD_SET(listen_fd, &rd);
		for (int i = 0; i < n_clients; i++) {
			FD_SET(clients[i], &rd);
			if (clients[i] > maxfd)
				maxfd = clients[i];
		}
		if (select(maxfd + 1, &rd, NULL, NULL, NULL) < 0) {
			if (errno == EINTR)
				continue;
			perror("scenario_peer: select");
			return 1;
		}
		if (FD_ISSET(listen_fd, &rd)) {
			int fd = accept(listen_fd, NULL, NULL);
			if (fd >= 0 && n_clients < SP_MAX_CLIENTS)
				clients[n_clients++] = fd;
			else if (fd >= 0)
				close(fd);
		}
		for (int i = 0; i < n_clients; i++) {
			int rc;

			if (!FD_ISSET(clients[i], &rd))
				continue;
			modbus_set_socket(ctx, clients[i]);
			rc = modbus_receive(ctx, query);
			if (rc > 0) {
				modbus_reply(ctx, query, rc, map);
			} else if (rc < 0) {
				/* closed by the client, or a request that
				 * cannot be framed: drop the connection */
				close(clients[i]);
				clients[i--] = clients[--n_clients];
			}
		}
	}
}

/* ------------------------------------------------------------------ */
/* Client                                                              */
/* ------------------------------------------------------------------ */

struct client {
	modbus_t *ctx;
	const char *from, *to;
	int n, unanswered;
	double secs, every_ms;
	long count, gap_us;
};

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* rc >= 0 a response; errno past MODBUS_ENOBASE an exception; else none */
static void result(struct client *c, int fc, const char *what, int rc)
{
	int e = errno;

	c->n++;
	printf("req %d fc=%d %s: ", c->n, fc, what);
	if (rc >= 0) {
		printf("ok\n");
	} else if (e > MODBUS_ENOBASE && e <= MODBUS_ENOBASE + 11) {
		printf("exception %d\n", e - MODBUS_ENOBASE);
	} else {
		printf("no answer (%s)\n", modbus_strerror(e));
		c->unanswered++;
	}
}

/* a request libmodbus has no call for: the PDU after the unit id */
static void raw(struct client *c, int unit, const uint8_t *pdu, int len)
{
	uint8_t req[MODBUS_TCP_MAX_ADU_LENGTH], rsp[MODBUS_TCP_MAX_ADU_LENGTH];
	int hl = modbus_get_header_length(c->ctx), rc;

	req[0] = (uint8_t)unit;
	memcpy(req + 1, pdu, (size_t)len);
	c->n++;
	printf("req %d fc=%d raw %d bytes: ", c->n, pdu[0], len);
	rc = modbus_send_raw_request(c->ctx, req, len + 1);
	if (rc >= 0)
		rc = modbus_receive_confirmation(c->ctx, rsp);
	if (rc < 0) {
		printf("no answer (%s)\n", modbus_strerror(errno));
		c->unanswered++;
	} else if (rc > hl + 1 && (rsp[hl] & 0x80)) {
		printf("exception %d\n", rsp[hl + 1]);
	} else {
		printf("ok\n");
	}
}

static void read_hr(struct client *c, int addr, int n)
{
	uint16_t r[125];
	result(c, 3, "read_holding_registers",
	       modbus_read_registers(c->ctx, addr, n, r));
}

static void read_ir(struct client *c, int addr, int n)
{
	uint16_t r[125];
	result(c, 4, "read_input_registers",
	       modbus_read_input_registers(c->ctx, addr, n, r));
}

static void write_reg(struct client *c, int addr, int v)
{
	result(c, 6, "write_single_register",
	       modbus_write_register(c->ctx, addr, (uint16_t)v));
}

/* call fn every --every ms for --for seconds, on the clock, not drifting */
static void every(struct client *c, void (*fn)(struct client *c, int k))
{
	double t0 = now_s(), step = c->every_ms / 1000.0;
	int steps = (int)(c->secs / step);

	for (int k = 0; k < steps; k++) {
		double due = t0 + k * step, left = due - now_s();
		if (left > 0)
			sleep_us((long)(left * 1e6));
		fn(c, k);
	}
}

static void poll_once(struct client *c, int k)
{
	(void)k;
	read_hr(c, 0, 10);
	read_ir(c, 0, 8);
}

static void meter_once(struct client *c, int k)
{
	(void)k;
	read_ir(c, 0, 12);
}

static void hmi_once(struct client *c, int k)
{
	int steps = (int)(c->secs * 1000.0 / c->every_ms);

	read_hr(c, 100, 16);
	/* the operator changes the set point twice: 72.5 -> 74.0 -> 73.0 */
	if (k == steps / 3)
		write_reg(c, SP_SETPOINT, 740);
	if (k == 2 * steps / 3)
		write_reg(c, SP_SETPOINT, 730);
}

static void script_poll(struct client *c)
{
	every(c, poll_once);
}

static void script_meter(struct client *c)
{
	every(c, meter_once);
}

static void script_hmi(struct client *c)
{
	every(c, hmi_once);
}

static void script_setpoint(struct client *c)
{
	static const uint16_t recipe[4] = { 1, 250, 180, 42 };

	read_hr(c, 0, 10);
	read_hr(c, 100, 16);
	sleep_us(400000);
	write_reg(c, SP_SETPOINT, 950); /* 95.0: far above the recipe */
	sleep_us(200000);
	result(c, 16, "write_multiple_registers",
	       modbus_write_registers(c->ctx, 112, 4, recipe));
	sleep_us(400000);
	read_hr(c, 100, 16);
}

/*
 * The sweep's request for each function code: what a scanner tuned to
 * the target sends, well-formed for every code the Modbus specification
 * defines (so that a reader of the capture, and tshark, sees the probes
 * as they are), and for every other code the function code alone.
 *   fc 1-6    address 0, quantity/value 1 (fc 5 with value 1 is refused,
 *             exception 3; fc 6 writes 1 into register 0: a sweep is not
 *             harmless)
 *   fc 15/16/23  quantity 1 and byte count 0 (refused, exception 3)
 *   fc 22     the identity mask (and 0xffff, or 0): changes nothing
 *   fc 8 (echo), 20/21 (file record 1), 24 (FIFO 0), 43/14 (device id)
 * libmodbus (3.1) does not frame a request by its MBAP length: it knows
 * the layouts of fc 1-6, 15, 16, 22 and 23 and reads nothing after the
 * function code of any other, so the body of fc 8, 20, 21, 24 or 43 would
 * be taken for the next request's header.  *reconnect says so: the
 * scanner then opens a new connection for the next probe.
 */
static int sweep_pdu(uint8_t *b, int fc, bool *reconnect)
{
	static const uint8_t echo[] = { 0x00, 0x00, 0x12, 0x34 };
	static const uint8_t file_rd[] = { 7, 6, 0, 1, 0, 0, 0, 1 };
	static const uint8_t file_wr[] = { 9, 6, 0, 1, 0, 0, 0, 1, 0, 0 };
	static const uint8_t fifo[] = { 0, 0 };
	static const uint8_t devid[] = { 0x0E, 0x01, 0x00 };
	const uint8_t *body = NULL;
	int n = 1, len = 0;

	b[0] = (uint8_t)fc;
	*reconnect = false;
	switch (fc) {
	case 1: case 2: case 3: case 4: case 5: case 6:
		b[n++] = 0; b[n++] = 0; b[n++] = 0; b[n++] = 1;
		return n;
	case 15: case 16:
		b[n++] = 0; b[n++] = 0; b[n++] = 0; b[n++] = 1; b[n++] = 0;
		return n;
	case 22:
		b[n++] = 0; b[n++] = 0; b[n++] = 0xFF; b[n++] = 0xFF;
		b[n++] = 0; b[n++] = 0;
		return n;
	case 23:
		b[n++] = 0; b[n++] = 0; b[n++] = 0; b[n++] = 1;
		b[n++] = 0; b[n++] = 0; b[n++] = 0; b[n++] = 1; b[n++] = 0;
		return n;
	case 8: body = echo; len = sizeof(echo); break;
	case 20: body = file_rd; len = sizeof(file_rd); break;
	case 21: body = file_wr; len = sizeof(file_wr); break;
	case 24: body = fifo; len = sizeof(fifo); break;
	case 43: body = devid; len = sizeof(devid); break;
	default:
		return n;
	}
	memcpy(b + 1, body, (size_t)len);
	*reconnect = true;
	return 1 + len;
}

static int connect_from(const char *from, const char *to);

static void script_fc_sweep(struct client *c)
{
	uint8_t pdu[16];
	bool reconnect;

	/* a scanner does not wait long for an answer */
	modbus_set_response_timeout(c->ctx, 0, 500000);
	for (int fc = 1; fc <= 127; fc++) {
		raw(c, SP_UNIT, pdu, sweep_pdu(pdu, fc, &reconnect));
		if (reconnect && fc < 127) {
			int fd;
			modbus_close(c->ctx);
			fd = connect_from(c->from, c->to);
			if (fd < 0)
				return;
			modbus_set_socket(c->ctx, fd);
		}
	}
	c->unanswered = 0;
}

static void script_unit_sweep(struct client *c)
{
	uint8_t id[MODBUS_TCP_MAX_ADU_LENGTH];

	for (int u = 1; u <= 247; u++) {
		modbus_set_slave(c->ctx, u);
		result(c, 17, "report_server_id",
		       modbus_report_slave_id(c->ctx, (int)sizeof(id), id));
	}
}

static void script_flood(struct client *c)
{
	for (long i = 0; i < c->count; i++) {
		/* 0 and 999 in turn: the loop cannot settle on either */
		write_reg(c, SP_SETPOINT, (i & 1) ? 0 : 999);
		if (c->gap_us)
			sleep_us(c->gap_us);
	}
}

static const struct script {
	const char *name;
	void (*run)(struct client *c);
} scripts[] = {
	{ "poll", script_poll },
	{ "meter", script_meter },
	{ "hmi", script_hmi },
	{ "setpoint", script_setpoint },
	{ "fc-sweep", script_fc_sweep },
	{ "unit-sweep", script_unit_sweep },
	{ "flood", script_flood },
	{ NULL, NULL },
};

/* a TCP connection from `from` to to:502, set up as libmodbus would */
static int connect_from(const char *from, const char *to)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sockaddr_in dst = { .sin_family = AF_INET,
				   .sin_port = htons(SP_PORT) };
	int one = 1, tos = IPTOS_LOWDELAY;
	int fd;

	if (inet_pton(AF_INET, from, &src.sin_addr) != 1 ||
	    inet_pton(AF_INET, to, &dst.sin_addr) != 1) {
		fprintf(stderr, "scenario_peer: bad address %s or %s\n", from, to);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		fprintf(stderr, "scenario_peer: %s -> %s:%d: %s\n", from, to,
			SP_PORT, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int parse_opt(const char *s, double min, double max, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int run_client(int argc, char **argv)
{
	const char *from = argv[2], *to = argv[3], *name = argv[4];
	struct client c = { .from = from, .to = to, .secs = 10,
			    .every_ms = 1000, .count = 2000, .gap_us = 2000 };
	const struct script *s = NULL;
	int fd;

	for (int i = 5; i < argc; i += 2) {
		double v;
		if (i + 1 >= argc || parse_opt(argv[i + 1], 0, 1e7, &v) < 0)
			return usage();
		if (!strcmp(argv[i], "--for"))
			c.secs = v;
		else if (!strcmp(argv[i], "--every") && v >= 1)
			c.every_ms = v;
		else if (!strcmp(argv[i], "--count"))
			c.count = (long)v;
		else if (!strcmp(argv[i], "--gap-us"))
			c.gap_us = (long)v;
		else
			return usage();
	}
	for (int i = 0; scripts[i].name; i++)
		if (!strcmp(scripts[i].name, name))
			s = &scripts[i];
	if (!s)
		return usage();
	c.ctx = modbus_new_tcp(to, SP_PORT);
	if (!c.ctx)
		return 1;
	fd = connect_from(from, to);
	if (fd < 0) {
		modbus_free(c.ctx);
		return 1;
	}
	modbus_set_socket(c.ctx, fd);
	modbus_set_slave(c.ctx, SP_UNIT);
	modbus_set_response_timeout(c.ctx, SP_TIMEOUT_SEC, 0);
	s->run(&c);
	modbus_close(c.ctx);
	modbus_free(c.ctx);
	printf("done %d requests, %d unanswered\n", c.n, c.unanswered);
	return c.unanswered ? 3 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "server"))
		return run_server(argv[2]);
	if (argc >= 5 && !strcmp(argv[1], "client"))
		return run_client(argc, argv);
	return usage();
}
