/*
 * fuzz_pipeline.c - libFuzzer target for the whole sensor path: the input
 * is a capture file (pcap or pcapng, any link type), read by libpcap and
 * run through everything mimamorid -r does to it: link layers (VLAN/QinQ,
 * cooked, raw, loopback), IPv4 checksum repair, libnids (defragmentation,
 * reassembly), mid-stream pickup and gap filling, every dissector, zones
 * and conduits, alerts and transaction log records (built and written to
 * /dev/null), asset facts.  The store link is absent (alerts stop at the
 * link's door: mm.link is NULL, as the daemon allows).
 *
 * Each input starts from empty tables: the flow tables, hosts, conduits
 * and libnids are set up and torn down around it (nids_exit frees every
 * stream), so a leak in any of them shows as a leak here.
 *
 * Seeds: tests/fuzz/corpus/pipeline (short slices of pcaps/ and of the
 * shared captures; see its README).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>

#include "../../daemon/logw.h"
#include "../../daemon/sensor.h"

struct mm_sensor mm;

/* zones over the addresses the seeds use, with conduits, so policy runs */
static const char zones_yaml[] =
	"site: fuzz\n"
	"zones:\n"
	"  - { id: line1, archetype: seigyo, strength: high, networks: [10.10.1.0/24, 192.168.0.0/16],\n"
	"      hosts: [{ name: PLC-1, ip: 10.10.1.10 }] }\n"
	"  - { id: scada, archetype: seisan_kanri, strength: medium, networks: [10.3.0.0/16, 127.0.0.0/8] }\n"
	"  - { id: eng, archetype: hozen, strength: medium, networks: [10.4.0.0/16] }\n"
	"  - { id: it, archetype: joho, strength: minimum, networks: [10.1.0.0/16, 172.16.0.0/12] }\n"
	"conduits:\n"
	"  - { from: scada, to: line1, allow: [{ protocol: modbus, ops: [read, discover] },\n"
	"                                      { protocol: any, ops: [read] }] }\n"
	"  - { from: eng, to: line1, allow: [{ protocol: any, ops: [read, write, program, control, discover] }] }\n";

/* the leak libnids makes on every nids_init/nids_exit (tests/lsan.supp) */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:test_malloc\n";
}

static int memfd = -1;
static int saved_stderr = -1, devnull = -1;
static char capture_path[64];

static void setup_once(void)
{
	char err[512], dir[] = "/tmp/mm-fuzz-pipeline-XXXXXX";

	mm_cfg_defaults(&mm.cfg);
	mm.cfg.quiet = true;
	mm.cfg.sensor = "fuzz";
	/* small tables: eviction paths run too */
	mm.cfg.max_streams = 256;
	mm.cfg.udp_flows_max = 64;
	mm.cfg.hosts_max = 64;
	mm.zones = zone_model_parse(zones_yaml, sizeof(zones_yaml) - 1, "fuzz",
				    err, sizeof(err));
	mm.rec_log = rec_new();
	mm.rec_alert = rec_new();
	mm.rec_misc = rec_new();
	if (!mm.zones || !mm.rec_log || !mm.rec_alert || !mm.rec_misc) {
		fprintf(stderr, "fuzz_pipeline: setup: %s\n", err);
		abort();
	}
	for (int i = 0; mm_dissectors[i]; i++)
		mm.n_dissectors = i + 1;
	/* the capture "file": the input bytes in memory */
	memfd = memfd_create("mm-fuzz-capture", MFD_CLOEXEC);
	if (memfd < 0)
		abort();
	snprintf(capture_path, sizeof(capture_path), "/proc/self/fd/%d", memfd);
	mm.cfg.pcap_file = capture_path;
	/* every transaction log on, written to /dev/null */
	if (!mkdtemp(dir) || txlog_open_dir(dir, err, sizeof(err)) < 0)
		abort();
	logw_close(mm.eve);
	mm.eve = logw_open("/dev/null");
	for (int i = 0; i < mm.n_dissectors; i++)
		mm.logs[i] = logw_open("/dev/null");
	{
		char eve[sizeof(dir) + 16];
		snprintf(eve, sizeof(eve), "%s/eve.json", dir);
		unlink(eve);
		rmdir(dir);
	}
	/* the sensor's messages about broken captures would flood the
	 * fuzzer's output: stderr is /dev/null while an input runs, and the
	 * sanitizers report to the real one */
	saved_stderr = dup(2);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	__sanitizer_set_report_fd((void *)(intptr_t)saved_stderr);
}

static void count_flow(struct mm_flow *f, void *arg)
{
	(void)f;
	(void)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];

	if (memfd < 0)
		setup_once();
	if (ftruncate(memfd, 0) < 0 ||
	    (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
		return 0;
	memset(&mm.st, 0, sizeof(mm.st));
	mm.frame = 0;
	mm_stop_requested = 0;
	if (hosts_init(mm.cfg.hosts_max) < 0 ||
	    udp_table_init(mm.cfg.udp_flows_max) < 0 ||
	    tcp_table_init(mm.cfg.max_streams) < 0 ||
	    conduit_init(mm.cfg.hosts_max) < 0 || reasm_init(err, sizeof(err)) < 0)
		abort();
	dup2(devnull, 2);
	if (capture_open(err, sizeof(err)) == 0)
		(void)capture_run(err, sizeof(err));
	reasm_finish(); /* fills holes, flushes every stream, ends UDP flows */
	dup2(saved_stderr, 2);
	/*
	 * Every flow ended with its stream: one still in the tables now
	 * would never be freed (LeakSanitizer sees it only at exit, over a
	 * whole run, without the input that made it).
	 */
	if (flow_foreach(count_flow, NULL) != 0) {
		fprintf(stderr, "fuzz_pipeline: a flow outlived nids_exit()\n");
		abort();
	}
	conduit_free();
	hosts_free();
	tcp_table_free();
	return 0;
}
