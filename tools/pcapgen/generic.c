/*
 * generic.c - scenarios without an industrial protocol: the flow-level
 * conduits (SMB, RDP, ICMP between zones of the default plant).
 *
 * lateral: what ransomware does after landing in 情報系 (enterprise IT),
 * on the address plan of etc/zones.yaml:
 *   10.1.5.23 (joho)  -> 10.10.1.10:445 PLC-L1-01 (seigyo_line1)  SMB, 2 connections
 *   10.1.5.23 (joho)  -> 10.4.0.10:3389 EWS-01 (hozen)            RDP, 1 connection
 *   10.1.5.23 (joho)  -> 10.10.1.10 ICMP echo x3 (one minute)     ping sweep
 *   10.99.0.5 (remote)-> 10.4.0.10:3389 EWS-01 (hozen)            RDP: the remote
 *        conduit allows only read/discover of an industrial protocol
 *   10.4.0.10 (hozen) -> 10.10.1.10:445                           allowed (any)
 *   10.1.5.23 (joho)  -> 10.1.0.53:53 DNS                         same zone
 * Expected with etc/zones.yaml: zone.no_conduit x2 rows (SMB counted per
 * connection, RDP), zone.no_conduit for ICMP, zone.op_not_allowed for the
 * remote RDP; nothing for the engineering SMB or the DNS.
 */
#include <string.h>

#include "background.h"
#include "gen.h"
#include "modbus.h"

/* a TCP session: handshake, `rounds` request/answer exchanges, close */
static uint64_t session(struct rng *r, uint32_t cli, uint32_t srv,
			uint16_t port, uint64_t t, int rounds)
{
	struct tcpc c;
	uint8_t b[600];

	tcp_init(&c, r, cli, host_port(cli), srv, port);
	g_out.cur_cls = CLS_OTHER;
	g_out.flows++;
	t = tcp_open(&c, t, r);
	for (int i = 0; i < rounds; i++) {
		size_t n = rng_range(r, 60, 500);
		for (size_t k = 0; k < n; k++)
			b[k] = (uint8_t)rng_next(r);
		t += rng_range(r, 1000, 50000);
		tcp_seg(&c, C2S, TH_PSH | TH_ACK, b, n, t);
		t += rng_range(r, 500, 5000);
		tcp_seg(&c, S2C, TH_PSH | TH_ACK, b, n / 2 + 1, t);
	}
	return tcp_close(&c, C2S, t + rng_range(r, 10000, 90000), r);
}

/* ICMP echo request and reply (RFC 792), identifier and sequence given */
static void ping(uint32_t src, uint32_t dst, uint16_t id, uint16_t seq,
		 uint64_t t)
{
	uint8_t m[40];

	memset(m, 0, sizeof(m));
	m[0] = 8; /* echo request */
	put16(m + 4, id);
	put16(m + 6, seq);
	for (int i = 8; i < 40; i++)
		m[i] = (uint8_t)('a' + i % 23);
	put16(m + 2, csum_fold(csum_add(0, m, sizeof(m))));
	g_out.cur_cls = CLS_OTHER;
	out_emit(src, dst, 1, m, sizeof(m), t);
	m[0] = 0; /* echo reply */
	put16(m + 2, 0);
	put16(m + 2, csum_fold(csum_add(0, m, sizeof(m))));
	out_emit(dst, src, 1, m, sizeof(m), t + 800);
}

static int run_lateral(int argc, char **argv, uint64_t seed)
{
	const uint32_t office = PG_IP(10, 1, 5, 23), plc = PG_IP(10, 10, 1, 10);
	const uint32_t ews = PG_IP(10, 4, 0, 10), vendor = PG_IP(10, 99, 0, 5);
	struct rng r;
	uint64_t t = PG_SEC(1);

	(void)argc;
	(void)argv;
	rng_seed(&r, seed);
	host_windows(office);
	host_windows(ews);
	dns_lookup(&r, office, PG_IP(10, 1, 0, 53), "fileserver.example.local",
		   PG_IP(10, 1, 0, 80), t);
	t += PG_SEC(2);
	out_flush(t);
	t = session(&r, office, plc, 445, t, 3);
	t += PG_SEC(5);
	out_flush(t);
	t = session(&r, office, plc, 445, t, 2);
	t += PG_SEC(5);
	out_flush(t);
	t = session(&r, office, ews, 3389, t, 4);
	for (int i = 0; i < 3; i++) {
		t += PG_SEC(20);
		out_flush(t);
		ping(office, plc, 0x4d4d, (uint16_t)(i + 1), t);
	}
	t += PG_SEC(5);
	out_flush(t);
	t = session(&r, vendor, ews, 3389, t, 2);
	t += PG_SEC(5);
	out_flush(t);
	session(&r, ews, plc, 445, t, 2);
	return 0;
}

/*
 * identity: the engineering station reads PLC-L1-01's device
 * identification (FC 43/14) twice, and between the reads the PLC's stated
 * firmware revision changed (an unannounced update or a swapped device):
 * asset.identity_changed once, for 10.10.1.10.
 */
static int run_identity(int argc, char **argv, uint64_t seed)
{
	const uint32_t ews = PG_IP(10, 4, 0, 10), plc = PG_IP(10, 10, 1, 10);
	struct mbdev dev;
	struct mbs s;
	struct rng r;
	uint8_t q[16];
	uint64_t t = PG_SEC(1);

	(void)argc;
	(void)argv;
	rng_seed(&r, seed);
	mbdev_init(&dev, seed, 16, 16, 32, 32);
	dev.vendor = "Schneider Electric";
	dev.product = "BMX P34 2020";
	dev.revision = "v3.40";
	for (int round = 0; round < 2; round++) {
		out_flush(t);
		mbs_init(&s, &r, &dev, ews, plc, (uint16_t)(100 * (round + 1)));
		t = mbs_open(&s, t);
		t = mbs_xact(&s, t + PG_MS(20), q, mbq_devid(q));
		t = mbs_read(&s, t + PG_MS(50), MB_FC_READ_HOLDING_REGISTERS, 0, 4);
		t = mbs_close(&s, t + PG_MS(30));
		t += PG_SEC(60);
		dev.revision = "v3.50"; /* what the second read finds */
	}
	return 0;
}

const struct gen_scenario gen_generic_scenarios[] = {
	{ "identity", "", "a PLC's stated firmware changes between two reads",
	  run_identity, false },
	{ "lateral", "", "SMB, RDP and ping from enterprise IT into the plant",
	  run_lateral, false },
	{ NULL, NULL, NULL, NULL, false },
};
