/*
 * detect_cfg.c - the behaviour detectors' settings (detect.c): their
 * defaults, each with the reason for its value, and the `detect:` keys
 * of the settings file (config.c walks this table).  Apart from detect.c
 * so that the settings file can be read without the sensor's state.
 */
#include <stddef.h>
#include <string.h>

#include "sensor.h"

struct detect_cfg detect_cfg;

void detect_cfg_defaults(struct detect_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->enabled = true;
	/* five minutes without the trigger ends an episode: long enough
	 * that a scanner pausing between passes stays one alert */
	c->quiet_period = 300;
	/*
	 * modbus.scan.  Clients use a handful of function codes (the shared
	 * polling captures: 1 to 4 per client and server); the public
	 * specification defines 19, so 20 distinct codes in a minute is
	 * more than any client that knows its device.  Refusals are the
	 * sharper sign: a client that knows its device is not refused "illegal
	 * function" for 5 different codes (the shared captures: at most 1,
	 * except the function-code scan in arkime/modbus.pcap).  Gateways
	 * poll many units, but an RS-485 segment carries 32 unit loads:
	 * 40 distinct units in a minute is beyond one segment.
	 */
	c->modbus_scan_window = 60;
	c->modbus_scan_functions = 20;
	c->modbus_scan_refused = 5;
	c->modbus_scan_units = 40;
	/*
	 * modbus.register_sweep: 10 requests, each starting where the one
	 * before ended, covering 2000 addresses (a device's whole map is
	 * typically a few thousand).  Polling lists read a few blocks and
	 * start over; they never walk that far.
	 */
	c->sweep_span = 2000;
	c->sweep_requests = 10;
	c->sweep_gap = 0;
	c->sweep_idle = 60;
	/*
	 * s7comm.recon: 10 distinct SZL ids/indexes, block lists or block
	 * infos in a minute from outside hozen.  HMIs and SCADA read one or
	 * two SZLs (CPU state) over and over; engineering tools going online
	 * read dozens, and belong in the engineering zone.
	 */
	c->s7_recon_window = 60;
	c->s7_recon_items = 10;
	/*
	 * *.write_flood: 100 writes to one target in each of 5 consecutive
	 * seconds.  A process loop writes a set point a few times a second
	 * at most; the busiest writer in the shared captures, a coil
	 * test loop (modbusBig.pcap), peaks at 54 in one second.
	 */
	c->write_flood_rate = 100;
	c->write_flood_seconds = 5;
	/* errors from one server to one client: the shared captures peak at
	 * 5 in 10 s; a scan draws dozens */
	c->error_storm_window = 10;
	c->error_storm_count = 20;
	/* the BACnet dissector's own threshold (bacnet.c): 20 in 10 s */
	c->who_is_window = 10;
	c->who_is_count = 20;
	/*
	 * net.port_scan: 64 distinct (host, port) pairs of one zone in a
	 * minute from one host.  Connections in a plant are few and long;
	 * a SCADA server restarting reconnects to each PLC once, on one
	 * port.
	 */
	c->port_scan_window = 60;
	c->port_scan_pairs = 64;
}

#define OFF(f) offsetof(struct detect_cfg, f)
static const struct detect_setting settings[] = {
	{ "enabled", OFF(enabled), 'b', 0, 1 },
	{ "quiet_period", OFF(quiet_period), 'd', 1, 7 * 86400 },
	{ "modbus_scan_window", OFF(modbus_scan_window), 'd', 1, 86400 },
	{ "modbus_scan_functions", OFF(modbus_scan_functions), 'i', 0, 128 },
	{ "modbus_scan_refused", OFF(modbus_scan_refused), 'i', 0, 128 },
	{ "modbus_scan_units", OFF(modbus_scan_units), 'i', 0, 256 },
	{ "register_sweep_span", OFF(sweep_span), 'i', 0, 65536 },
	{ "register_sweep_requests", OFF(sweep_requests), 'i', 1, 65536 },
	{ "register_sweep_gap", OFF(sweep_gap), 'i', 0, 65535 },
	{ "register_sweep_idle", OFF(sweep_idle), 'd', 1, 86400 },
	{ "s7_recon_window", OFF(s7_recon_window), 'd', 1, 86400 },
	{ "s7_recon_items", OFF(s7_recon_items), 'i', 0, 128 },
	{ "write_flood_rate", OFF(write_flood_rate), 'i', 0, 1000000 },
	{ "write_flood_seconds", OFF(write_flood_seconds), 'i', 1, 3600 },
	{ "error_storm_window", OFF(error_storm_window), 'd', 1, 86400 },
	{ "error_storm_count", OFF(error_storm_count), 'i', 0, 1000000 },
	{ "who_is_window", OFF(who_is_window), 'd', 1, 86400 },
	{ "who_is_count", OFF(who_is_count), 'i', 0, 1000000 },
	{ "port_scan_window", OFF(port_scan_window), 'd', 1, 86400 },
	{ "port_scan_pairs", OFF(port_scan_pairs), 'i', 0, 512 },
	{ NULL, 0, 0, 0, 0 },
};
#undef OFF

const struct detect_setting *detect_setting_find(const char *key)
{
	for (const struct detect_setting *s = settings; s->key; s++)
		if (!strcmp(s->key, key))
			return s;
	return NULL;
}

void detect_setting_apply(struct detect_cfg *c, const struct detect_setting *s,
			  double v)
{
	char *p = (char *)c + s->offset;

	if (v < s->min)
		v = s->min;
	if (v > s->max)
		v = s->max;
	if (s->type == 'b') {
		bool b = v != 0;
		memcpy(p, &b, sizeof(b));
	} else if (s->type == 'i') {
		int i = (int)v;
		memcpy(p, &i, sizeof(i));
	} else {
		memcpy(p, &v, sizeof(v));
	}
}

