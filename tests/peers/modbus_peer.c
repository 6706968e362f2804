/*
 * modbus_peer.c - a real Modbus/TCP peer built on libmodbus, so that tests
 * and sample captures carry what a real implementation puts on the wire
 * (its transaction ids, its segmenting, its answers to what it does not
 * support) rather than bytes we crafted ourselves.
 *
 *   modbus_peer server IP PORT [--count N]
 *       Serve Modbus/TCP on IP:PORT until killed, or until N requests
 *       were answered.  Prints "ready" on stdout once listening, then one
 *       line per request served.
 *
 *   modbus_peer client IP PORT SCRIPT
 *       Connect and run a named script of requests, one line per request
 *       on stdout:  "req N fc=F name detail: result".  Scripts:
 *         reads     FC 1, 2, 3, 4, three rounds
 *         writes    FC 5, 6, 15, 16, 22, 23
 *         control   FC 8 sub-function 1 (restart communications option),
 *                   FC 8 sub-function 0 (return query data, an echo)
 *         identify  FC 17 (report server id), FC 43/14 (read device id)
 *         bad       FC 3 read past the end of the server's map
 *         all       every script above, in that order, on one connection
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

static int usage(void)
{
	fprintf(stderr,
		"usage: modbus_peer server IP PORT [--count N]\n"
		"       modbus_peer client IP PORT "
		"(reads|writes|control|identify|bad|all)\n");
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
static void fill_map(modbus_mapping_t *m)
{
	for (int i = 0; i < PEER_MAP_SIZE; i++) {
		m->tab_bits[i] = (i % 3 == 0);         /* coils: 1 0 0 1 0 0 */
		m->tab_input_bits[i] = (i % 2 == 0);   /* inputs: 1 0 1 0 */
		m->tab_registers[i] = (uint16_t)(0x1000 + i);       /* holding */
		m->tab_input_registers[i] = (uint16_t)(0x2000 + i); /* input */
	}
}

static int run_server(const char *ip, int port, long count)
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
	map = modbus_mapping_new(PEER_MAP_SIZE, PEER_MAP_SIZE, PEER_MAP_SIZE,
				 PEER_MAP_SIZE);
	if (!map) {
		fprintf(stderr, "modbus_peer: mapping: %s\n",
			modbus_strerror(errno));
		modbus_free(ctx);
		return 1;
	}
	fill_map(map);
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
			if (modbus_reply(ctx, query, n, map) < 0) {
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

static const struct script {
	const char *name;
	void (*run)(struct client *c);
} scripts[] = {
	{ "reads", script_reads },
	{ "writes", script_writes },
	{ "control", script_control },
	{ "identify", script_identify },
	{ "bad", script_bad },
	{ NULL, NULL },
};

static int run_client(const char *ip, int port, const char *name)
{
	const struct script *s = NULL;
	struct client c = { 0 };
	bool all = strcmp(name, "all") == 0;

	for (int i = 0; scripts[i].name && !all; i++)
		if (strcmp(scripts[i].name, name) == 0)
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
		long count = 0;
		if (argc == 6 && strcmp(argv[4], "--count") == 0) {
			char *end;
			count = strtol(argv[5], &end, 10);
			if (end == argv[5] || *end || count < 1)
				return usage();
		} else if (argc != 4) {
			return usage();
		}
		return run_server(argv[2], port, count);
	}
	if (strcmp(argv[1], "client") == 0 && argc == 5)
		return run_client(argv[2], port, argv[4]);
	return usage();
}
