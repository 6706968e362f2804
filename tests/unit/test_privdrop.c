/*
 * test_privdrop.c - the sensor's privilege drop and system call filter
 * (daemon/privdrop.c), each in a child process, since neither can be
 * undone: a call outside the filter kills the process with SIGSYS, the
 * calls the sensor makes still work, log mode lets a call through, and
 * (as root) the drop leaves no root id and no capability.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../daemon/sensor.h"

struct mm_sensor mm;

/* run fn in a child; its wait status */
static int in_child(int (*fn)(void))
{
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int filter_then_execve(void)
{
	char err[256];
	char *argv[] = { "/bin/true", NULL };

	if (priv_seccomp(false, err, sizeof(err)) < 0)
		return 10;
	execve("/bin/true", argv, NULL);
	return 11; /* not reached when the filter works */
}

static void forbidden_call_kills(void **state)
{
	int st = in_child(filter_then_execve);

	(void)state;
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

static int filter_then_getpgrp(void)
{
	char err[256];

	if (priv_seccomp(false, err, sizeof(err)) < 0)
		return 10;
	(void)syscall(SYS_getpgrp); /* harmless, but not on the list */
	return 0;
}

static void unlisted_harmless_call_kills_too(void **state)
{
	int st = in_child(filter_then_getpgrp);

	(void)state;
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

static int filter_then_raw_socket(void)
{
	char err[256];

	if (priv_seccomp(false, err, sizeof(err)) < 0)
		return 10;
	/* a packet socket: what an intruder would send packets with */
	(void)syscall(SYS_socket, 17 /* AF_PACKET */, 3 /* SOCK_RAW */, 0);
	return 0;
}

static void packet_socket_kills(void **state)
{
	int st = in_child(filter_then_raw_socket);

	(void)state;
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

static int filter_then_sensor_calls(void)
{
	char err[256], path[] = "/tmp/mm-privdrop-XXXXXX";
	struct timespec ts;
	int fd;
	void *p;

	fd = mkstemp(path); /* before the filter */
	if (fd < 0)
		return 9;
	close(fd);
	if (priv_seccomp(false, err, sizeof(err)) < 0)
		return 10;
	/* what the logs, the store and the packet loop do */
	fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0 || write(fd, "x\n", 2) != 2 || fsync(fd) < 0 || close(fd) < 0)
		return 11;
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return 12;
	p = malloc(1 << 22); /* mmap */
	if (!p)
		return 13;
	memset(p, 1, 1 << 22);
	free(p);
	if (unlink(path) < 0)
		return 14;
	fflush(NULL);
	return 0;
}

static void sensor_calls_allowed(void **state)
{
	int st = in_child(filter_then_sensor_calls);

	(void)state;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int log_mode_then_getpgrp(void)
{
	char err[256];

	if (priv_seccomp(true, err, sizeof(err)) < 0)
		return 10;
	return syscall(SYS_getpgrp) > 0 ? 0 : 11;
}

static void log_mode_lets_calls_through(void **state)
{
	int st = in_child(log_mode_then_getpgrp);

	(void)state;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* the value of a "Name:\t..." line of /proc/self/status */
static int status_field(const char *name, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t n = strlen(name);

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, name, n) && line[n] == ':') {
			snprintf(out, len, "%s", line + n + 1 + strspn(line + n + 1, " \t"));
			out[strcspn(out, "\n")] = 0;
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return -1;
}

static int drop_to_nobody(void)
{
	char err[256], v[128];

	memset(&mm, 0, sizeof(mm));
	mm.cfg.run_user = "nobody";
	mm.cfg.no_seccomp = true;
	mm.cfg.quiet = true;
	if (priv_init(err, sizeof(err)) < 0 || priv_drop(err, sizeof(err)) < 0 ||
	    priv_filter(err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 10;
	}
	if (getuid() == 0 || geteuid() == 0 || getgid() == 0 || getegid() == 0)
		return 11;
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
		return 12;
	if (status_field("CapEff", v, sizeof(v)) < 0 || strcmp(v, "0000000000000000"))
		return 13;
	if (status_field("CapPrm", v, sizeof(v)) < 0 || strcmp(v, "0000000000000000"))
		return 14;
	if (status_field("Groups", v, sizeof(v)) < 0 || strstr(v, "0 ") == v)
		return 15;
	/* and the filter on top, as the sensor does */
	if (priv_seccomp(false, err, sizeof(err)) < 0)
		return 16;
	if (status_field("Seccomp", v, sizeof(v)) < 0 || strcmp(v, "2"))
		return 17;
	if (status_field("NoNewPrivs", v, sizeof(v)) < 0 || strcmp(v, "1"))
		return 18;
	return 0;
}

static void root_drops_to_nobody(void **state)
{
	int st;

	(void)state;
	if (geteuid() != 0)
		skip();
	st = in_child(drop_to_nobody);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int unknown_user_refused(void)
{
	char err[256];

	memset(&mm, 0, sizeof(mm));
	mm.cfg.run_user = "no-such-user-mimamori-test";
	if (priv_init(err, sizeof(err)) == 0)
		return 10;
	return strstr(err, "no such user") ? 0 : 11;
}

static void unknown_user(void **state)
{
	int st;

	(void)state;
	if (geteuid() != 0)
		skip();
	st = in_child(unknown_user_refused);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(forbidden_call_kills),
		cmocka_unit_test(unlisted_harmless_call_kills_too),
		cmocka_unit_test(packet_socket_kills),
		cmocka_unit_test(sensor_calls_allowed),
		cmocka_unit_test(log_mode_lets_calls_through),
		cmocka_unit_test(root_drops_to_nobody),
		cmocka_unit_test(unknown_user),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
