/*
 * baseline.c - the learned-baseline capture family (pcaps/baseline/):
 *
 *   baseline-plant  twenty minutes of a normal plant morning on the
 *                   etc/zones.yaml address plan, 08:00:00 to 08:20:00;
 *                   from T = 08:15:00 (BL_T_S) five injected changes
 *
 * The capture is cut at T (editcap -B/-A): the sensor learns on the first
 * part (mimamorid --learn) and detects on the rest, which must raise
 * exactly the alerts pcaps/baseline/README.md lists
 * (tests/integration/test_baseline.sh).  So that the cut falls between
 * exchanges, every periodic request of the plant happens in the window
 * +0.1 s .. +0.85 s of its second (answers and delayed ACKs included);
 * around every whole second the wire is quiet.
 *
 * The normal morning (all through the capture):
 *   SCADA-01 10.3.0.10    Modbus FC 3 holding 0..19 and FC 1 coils 0..15 of
 *                         PLC-L1-01 every second; FC 4 input 0..11 of PM-01
 *                         every 5 s; S7 read var DB1 bytes 0..15 of
 *                         PLC-L2-01 every 2 s; BACnet ReadProperty
 *                         present-value of AI1, AI2 and AV3 of BAC-HVAC-01
 *                         every 10 s
 *   HISTORIAN-01 10.3.0.20  FC 4 input 0..11 of PM-01 every 30 s
 *   HMI-L1-01 10.10.1.20  FC 3 holding 0..9 of PLC-L1-01 every second, and
 *                         its one set point, FC 6 holding 100, every 10 s
 *                         (at most one write in any second: a learned peak
 *                         of 1 write/s)
 * The changes after T (seconds after 08:00:00):
 *   960   HISTORIAN-01 opens a connection to PLC-L1-01 and reads holding
 *         0..19 ten times (a new talker: it never spoke Modbus to the PLC)
 *   990   SCADA-01 writes holding 50 (FC 6) on its polling connection (a
 *         new function for a pair that only read)
 *   1020  HMI-L1-01 writes holding 120 (FC 6): outside the learned range
 *         (holding 100, one register): a new target
 *   1050  a laptop 10.10.1.77 (MAC 10:c5:95:0a:01:4d, Lenovo's OUI) on
 *         line 1's switch reads holding 0..19 of PLC-L1-01 five times
 *   1080-1099  HMI-L1-01 writes its set point (holding 100) 15 times a
 *         second for 20 s: 15 > 10 x the learned peak of 1 and > 5/s, the
 *         learned-rate write_flood; far below the sensor's fixed
 *         modbus.write_flood (100 writes/s to one target for 5 s running)
 * (The example of 8 writes/s cannot pass 10 x a learned peak: the
 * peak is counted in whole writes per second of packet time, so a learned
 * writer's peak is at least 1.)
 */
#include <string.h>

#include "bacnet.h"
#include "gen.h"
#include "modbus.h"
#include "s7.h"

#define BL_LEN_S 1200 /* 08:00:00 .. 08:20:00 */
#define BL_T_S 900    /* T: 08:15:00, learn before, detect from */

#define SCADA PG_IP(10, 3, 0, 10)     /* seisan_kanri, SCADA-01 */
#define HISTORIAN PG_IP(10, 3, 0, 20) /* seisan_kanri, HISTORIAN-01 */
#define PLC1 PG_IP(10, 10, 1, 10)     /* seigyo_line1, PLC-L1-01 (Modbus) */
#define HMI1 PG_IP(10, 10, 1, 20)     /* seigyo_line1, HMI-L1-01 */
#define LAPTOP PG_IP(10, 10, 1, 77)   /* seigyo_line1, not a named host */
#define PLC2 PG_IP(10, 10, 2, 10)     /* seigyo_line2, PLC-L2-01 (S7) */
#define HVAC PG_IP(10, 30, 0, 10)     /* setsubi, BAC-HVAC-01 */
#define PM PG_IP(10, 30, 0, 20)       /* setsubi, PM-01 power meter */

#define SETPOINT 100 /* HMI-L1-01's set point register */

/* µs of second k plus ms */
static uint64_t at(unsigned k, unsigned ms)
{
	return PG_SEC(k) + PG_MS(ms);
}

static void plant_hosts(void)
{
	static const uint8_t schneider[3] = { 0x00, 0x80, 0xF4 };
	static const uint8_t siemens[3] = { 0x00, 0x1B, 0x1B };
	static const uint8_t ccontrols[3] = { 0x00, 0x50, 0xDB };
	static const uint8_t lenovo[3] = { 0x10, 0xC5, 0x95 };

	host_add_oui(schneider, PLC1, 32);
	host_add_oui(siemens, PLC2, 32);
	host_add_oui(ccontrols, HVAC, 32);
	host_add_oui(lenovo, LAPTOP, 32);
	host_windows(SCADA);
	host_windows(HISTORIAN);
	host_windows(HMI1);
	host_windows(LAPTOP);
	host_embedded(PLC1, 8192);
	host_embedded(PLC2, 8192);
	host_embedded(HVAC, 4096);
	host_embedded(PM, 2048);
}

/* FC 6: one holding register */
static uint64_t write_reg(struct mbs *s, uint64_t t, unsigned addr,
			  unsigned v)
{
	uint8_t b[5];

	return mbs_xact(s, t, b, mbq_rw(b, MB_FC_WRITE_SINGLE_REGISTER, addr,
				       v));
}

/* SCADA-01 -> PLC-L1-01, one connection all morning; the FC 6 at 990 s */
static void scada_plc1(struct rng *r, struct mbdev *plc1)
{
	struct mbs s;

	mbs_init(&s, r, plc1, SCADA, PLC1, 1);
	mbs_open(&s, PG_MS(150));
	for (unsigned k = 1; k < BL_LEN_S; k++) {
		uint64_t t = at(k, 100) + rng_range(r, 0, 3000);
		mbs_read(&s, t, MB_FC_READ_HOLDING_REGISTERS, 0, 20);
		mbs_read(&s, t + PG_MS(50), MB_FC_READ_COILS, 0, 16);
		if (k == 990)
			write_reg(&s, t + PG_MS(120), 50, 1);
	}
	mbs_ack(&s, UINT64_MAX);
}

/* a client reading input registers 0..11 of PM-01 every `every` s */
static void meter_poll(struct rng *r, struct mbdev *pm, uint32_t cli,
		       unsigned every, unsigned ms)
{
	struct mbs s;

	mbs_init(&s, r, pm, cli, PM, 1);
	s.srv_min = 5000;
	s.srv_max = 15000;
	mbs_open(&s, PG_MS(ms - 50));
	for (unsigned k = every; k < BL_LEN_S; k += every)
		mbs_read(&s, at(k, ms) + rng_range(r, 0, 3000),
			 MB_FC_READ_INPUT_REGISTERS, 0, 12);
	mbs_ack(&s, UINT64_MAX);
}

/*
 * HMI-L1-01 -> PLC-L1-01: reads every second at +400 ms, its set point
 * every 10 s at +450 ms; at 1020 s holding 120; from 1080 s to 1099 s the
 * set point 15 times a second (at +20 ms + j x 66 ms, j = 0..14, the
 * read at +400 ms in between)
 */
static void hmi_plc1(struct rng *r, struct mbdev *plc1)
{
	struct mbs s;
	unsigned sp = 725; /* 72.5 */

	mbs_init(&s, r, plc1, HMI1, PLC1, 0x0100);
	mbs_open(&s, PG_MS(250));
	for (unsigned k = 1; k < BL_LEN_S; k++) {
		bool burst = k >= 1080 && k < 1100;
		unsigned j = 0;

		for (; burst && j < 15 && 20 + j * 66 < 400; j++)
			write_reg(&s, at(k, 20 + j * 66), SETPOINT,
				  800 + (k + j) % 50);
		mbs_read(&s, at(k, 400) + rng_range(r, 0, 3000),
			 MB_FC_READ_HOLDING_REGISTERS, 0, 10);
		for (; burst && j < 15; j++)
			write_reg(&s, at(k, 20 + j * 66), SETPOINT,
				  800 + (k + j) % 50);
		if (!burst && k % 10 == 5) {
			sp = 720 + rng_below(r, 11);
			write_reg(&s, at(k, 450) + rng_range(r, 0, 3000),
				  SETPOINT, sp);
		}
		if (k == 1020)
			write_reg(&s, at(k, 500), 120, 30);
	}
	mbs_ack(&s, UINT64_MAX);
}

/* a client that connects at second `from`, reads holding 0..19 `n` times
 * every `every` s, and leaves */
static void visitor(struct rng *r, struct mbdev *plc1, uint32_t cli,
		    unsigned from, unsigned n, unsigned every)
{
	struct mbs s;
	uint64_t t = 0;

	mbs_init(&s, r, plc1, cli, PLC1, 1);
	mbs_open(&s, at(from, 120));
	for (unsigned i = 0; i < n; i++)
		t = mbs_read(&s, at(from + 1 + i * every, 150) +
				 rng_range(r, 0, 3000),
			     MB_FC_READ_HOLDING_REGISTERS, 0, 20);
	mbs_close(&s, t + PG_MS(300));
}

/* SCADA-01 -> PLC-L2-01: S7 read var DB1 bytes 0..15 every 2 s */
static void scada_plc2(struct rng *r)
{
	static const uint8_t par[] = { 0x04, 0x01, 0x12, 0x0A, 0x10, 0x02,
				       0x00, 0x10, 0x00, 0x01, 0x84, 0x00,
				       0x00, 0x00 };
	static const uint8_t apar[] = { 0x04, 0x01 };
	struct tcpc c;
	uint16_t ref = 0x0200;
	uint8_t b[128], dat[4 + 16] = { 0xFF, 0x04, 0x00, 0x80 };

	s7_connect(&c, r, SCADA, PLC2, ref++, PG_MS(300));
	for (unsigned k = 2; k < BL_LEN_S; k += 2) {
		uint64_t t = at(k, 600) + rng_range(r, 0, 3000);
		for (unsigned i = 0; i < 16; i++)
			dat[4 + i] = (uint8_t)rng_range(r, 0x10, 0x30);
		s7_send(&c, C2S, b, s7_pdu(b, 1, ref, par, sizeof par, NULL, 0),
			t);
		t += rng_range(r, 1000, 4000);
		s7_send(&c, S2C, b, s7_pdu(b, 3, ref, apar, sizeof apar, dat,
					   sizeof dat), t);
		ref++;
		/* SCADA-01 (Windows) acknowledges 200 ms later */
		g_out.cur_cls = CLS_S7;
		tcp_seg(&c, C2S, TH_ACK, NULL, 0, t + host_get(SCADA)->ack_delay);
	}
}

/* BACnet object identifier: type (10 bits), instance (22 bits) */
#define OID(type, inst) (((uint32_t)(type) << 22) | (uint32_t)(inst))

/* SCADA-01 -> BAC-HVAC-01: present-value of AI1, AI2, AV3 every 10 s */
static void scada_hvac(struct rng *r)
{
	static const uint32_t obj[3] = { OID(0, 1), OID(0, 2), OID(2, 3) };
	uint8_t invoke = 1, b[64];

	for (unsigned k = 7; k < BL_LEN_S; k += 10)
		for (unsigned i = 0; i < 3; i++) {
			uint64_t t = at(k, 700 + 30 * i);
			union {
				float f;
				uint32_t u;
			} v = { .f = 20.0f + (float)rng_below(r, 40) / 10.0f };
			g_out.cur_cls = CLS_BACNET;
			udp_send(SCADA, 47808, HVAC, 47808, b,
				 bacnet_msg(b, false, invoke, obj[i], 0), t);
			udp_send(HVAC, 47808, SCADA, 47808, b,
				 bacnet_msg(b, true, invoke, obj[i], v.u),
				 t + rng_range(r, 2000, 9000));
			invoke++;
		}
}

static int run_plant(int argc, char **argv, uint64_t seed)
{
	struct rng r;
	struct mbdev plc1, pm;

	(void)argc;
	(void)argv;
	rng_seed(&r, seed);
	plant_hosts();
	mbdev_init(&plc1, seed ^ 1, 64, 64, 200, 100);
	mbdev_init(&pm, seed ^ 4, 0, 0, 20, 40);

	scada_plc1(&r, &plc1);
	meter_poll(&r, &pm, SCADA, 5, 300);
	meter_poll(&r, &pm, HISTORIAN, 30, 330);
	hmi_plc1(&r, &plc1);
	scada_plc2(&r);
	scada_hvac(&r);
	/* the changes after T */
	visitor(&r, &plc1, HISTORIAN, 960, 10, 1);
	visitor(&r, &plc1, LAPTOP, 1050, 5, 2);
	return 0;
}

const struct gen_scenario gen_baseline_scenarios[] = {
	{ "baseline-plant", "", "learned baseline: 20 min of a plant morning, "
	  "five changes after 08:15:00", run_plant, false },
	{ NULL, NULL, NULL, NULL, false },
};
