/*
 * reload.c - SIGHUP: read the zone file again and put it in force without
 * losing a flow.
 *
 * The new model is loaded beside the old one.  A broken file is rejected
 * with its file and line on stderr and the old model stays in force.  A
 * good one: every live flow's ends (zone and host name, both pointers
 * into the model) are looked up in the new model, then the model is
 * swapped and the old one freed, and the flow-level conduit verdicts
 * (conduit.c), judged by the old zones, are forgotten.  This runs in the capture thread between
 * two packets, so no dissector or alert holds a zone pointer meanwhile.
 *
 * The file is read through a descriptor of its folder opened at start, so
 * a reload works after the privilege drop and inside a chroot (the
 * unprivileged user needs only to read the file and search its folder),
 * and an editor that replaces the file by renaming is fine.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../store/store.h"
#include "sensor.h"

#define ZONES_FILE_MAX (1 << 20)

static int zones_dirfd = -1;
static char zones_base[256];

int reload_init(char *err, size_t errlen)
{
	const char *path = mm.cfg.zones_path;
	const char *slash = strrchr(path, '/');
	char dir[4096];

	if (slash) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		if (!dir[0])
			snprintf(dir, sizeof(dir), "/");
		snprintf(zones_base, sizeof(zones_base), "%s", slash + 1);
	} else {
		snprintf(dir, sizeof(dir), ".");
		snprintf(zones_base, sizeof(zones_base), "%s", path);
	}
	zones_dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (zones_dirfd < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

void reload_free(void)
{
	if (zones_dirfd >= 0)
		close(zones_dirfd);
	zones_dirfd = -1;
}

/* the zone file's bytes (malloc'ed, NUL-terminated), or NULL with errno */
static char *read_zones(size_t *len)
{
	int fd = openat(zones_dirfd, zones_base, O_RDONLY | O_CLOEXEC);
	char *buf;
	size_t n = 0;

	if (fd < 0)
		return NULL;
	buf = malloc(ZONES_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	while (n < ZONES_FILE_MAX) {
		ssize_t r = read(fd, buf + n, ZONES_FILE_MAX - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			close(fd);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	*len = n;
	return buf;
}

static void rezone(struct mm_flow *f, void *arg)
{
	const struct zone_model *zm = arg;

	f->cli_host = f->srv_host = NULL;
	f->cli_zone = zone_lookup(zm, f->cli_ip, &f->cli_host);
	f->srv_zone = zone_lookup(zm, f->srv_ip, &f->srv_host);
}

/* tell the store which zones are now in force (its per-sensor copy) */
static void send_hello(const char *yaml, size_t len)
{
	struct mm_rec *r = mm.rec_misc;
	const char *json;
	size_t n;

	if (!mm.link)
		return;
	rec_begin(r);
	rec_str(r, "sensor", mm.cfg.sensor);
	rec_str(r, "site", zone_model_site(mm.zones));
	rec_str(r, "version", MM_VERSION);
	rec_str(r, "zones_file", mm.cfg.zones_path);
	rec_strn(r, "zones_yaml", (const uint8_t *)yaml, len);
	rec_str(r, "reason", "reload");
	json = rec_finish(r, &n);
	mm_link_send(mm.link, "hello", json, n);
}

int reload_zones(void)
{
	char err[1024] = "";
	struct zone_model *nz, *old;
	size_t len = 0, flows;
	char *yaml;

	if (zones_dirfd < 0) {
		mm.st.zone_reload_errors++;
		return -1;
	}
	yaml = read_zones(&len);
	if (!yaml) {
		fprintf(stderr, "mimamorid: reload: %s: %s; the zones in force "
			"stay\n", mm.cfg.zones_path, strerror(errno));
		mm.st.zone_reload_errors++;
		return -1;
	}
	nz = zone_model_parse(yaml, len, mm.cfg.zones_path, err, sizeof(err));
	if (!nz) {
		fprintf(stderr, "mimamorid: reload rejected: %s; the zones in "
			"force stay\n", err);
		mm.st.zone_reload_errors++;
		free(yaml);
		return -1;
	}
	flows = flow_foreach(rezone, nz);
	old = mm.zones;
	mm.zones = nz;
	zone_model_free(old);
	/* flow-level verdicts were judged by the old zones: judge anew */
	conduit_reset();
	mm.st.zone_reloads++;
	send_hello(yaml, len);
	free(yaml);
	if (!mm.cfg.quiet)
		fprintf(stderr, "mimamorid: zones reloaded from %s: %zu zones, "
			"%zu live flows placed again\n", mm.cfg.zones_path,
			zone_model_count(nz), flows);
	return 0;
}

/*
 * SIGHUP: the zone file read again, and the transaction logs reopened for
 * logrotate; a rejected zone file does not keep the logs from reopening.
 */
void reload_on_hup(void)
{
	reload_zones();
	txlog_reopen();
}
