/*
 * privdrop.c - least privilege for the sensor, in OpenBSD's order: open
 * what needs privilege (the capture, the store's database and sockets,
 * the logs), then optionally chroot, then setgroups, setresgid and
 * setresuid (each checked), then prove that root cannot be had back and
 * that no capability is left, then a seccomp filter that allows only the
 * system calls the packet loop, the logs, ZeroMQ and SQLite make.
 *
 * What the dropped process still writes:
 *   - the capture ring, the database and eve.json: already open;
 *   - the other transaction logs and stats.jsonl, opened later by name:
 *     the process works in the log folder (its current directory, reached
 *     as root before the drop), so no folder above it needs to let the
 *     unprivileged user through; a log folder we created ourselves, and
 *     the root-owned logs in it, are handed to the user;
 *   - the zone file on SIGHUP: read through a descriptor of its folder
 *     (reload.c), which works inside a chroot too.
 *
 * Seccomp's default action is to kill the process (SCMP_ACT_KILL_PROCESS),
 * not an errno: the allowed set was found by running the whole test suite,
 * the demo and live captures with the filter in log mode, so a call
 * outside it is either an attack or a bug in this list.  Either way a
 * sensor that stops at once, with the system call in the kernel log
 * (audit: "type=1326 ... syscall=N") and systemd restarting it, is better
 * than one that carries on half-working (logs silently failing) or lets
 * an intruder probe which calls answer.  --seccomp-log allows and logs
 * instead, to find a missing call; --no-seccomp turns the filter off.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <pwd.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sensor.h"

#define DEFAULT_USER "mimamori"
#define FALLBACK_USER "nobody"

static struct {
	bool drop;              /* started as root, dropping to uid/gid */
	uid_t uid;
	gid_t gid;
	char user[64];
	bool log_dir_existed;   /* before setup: hand it over only if not */
	char chroot_real[PATH_MAX];
} pv;

static int errf(char *err, size_t errlen, const char *what, const char *arg)
{
	snprintf(err, errlen, "%s%s%s: %s", what, arg ? " " : "", arg ? arg : "",
		 strerror(errno));
	return -1;
}

int priv_init(char *err, size_t errlen)
{
	const struct mm_cfg *c = &mm.cfg;
	struct passwd *pw;
	struct stat sb;

	pv.log_dir_existed = c->log_dir && stat(c->log_dir, &sb) == 0;
	if (geteuid() != 0) {
		if (c->run_user || c->run_group || c->chroot_dir) {
			snprintf(err, errlen, "--user, --group and --chroot need "
				 "root (running as uid %u)", (unsigned)geteuid());
			return -1;
		}
		return 0;
	}
	if (c->run_user) {
		pw = getpwnam(c->run_user);
		if (!pw) {
			snprintf(err, errlen, "--user %s: no such user", c->run_user);
			return -1;
		}
	} else {
		pw = getpwnam(DEFAULT_USER);
		if (!pw)
			pw = getpwnam(FALLBACK_USER);
		if (!pw) {
			snprintf(err, errlen, "neither user '" DEFAULT_USER "' nor '"
				 FALLBACK_USER "' exists: give --user NAME");
			return -1;
		}
	}
	snprintf(pv.user, sizeof(pv.user), "%s", pw->pw_name);
	pv.uid = pw->pw_uid;
	pv.gid = pw->pw_gid;
	if (c->run_group) {
		struct group *gr = getgrnam(c->run_group);
		if (!gr) {
			snprintf(err, errlen, "--group %s: no such group",
				 c->run_group);
			return -1;
		}
		pv.gid = gr->gr_gid;
	}
	if (pv.uid == 0 && !c->run_user) {
		snprintf(err, errlen, "the default user %s is uid 0", pv.user);
		return -1;
	}
	/* --user root: stay root on purpose (still chroot and seccomp) */
	pv.drop = pv.uid != 0;
	if (c->chroot_dir) {
		if (!realpath(c->chroot_dir, pv.chroot_real))
			return errf(err, errlen, "--chroot", c->chroot_dir);
		if (stat(pv.chroot_real, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
			snprintf(err, errlen, "--chroot %s: not a directory",
				 c->chroot_dir);
			return -1;
		}
	}
	return 0;
}

/*
 * The log folder, as root: a folder this run created (or one already
 * owned by the user) becomes the user's, with the root-owned logs in it.
 * A folder that existed and belongs to someone else is left alone: after
 * the drop it must be writable, or we stop with a message.
 */
static int hand_over_logs(const char *dir, char *err, size_t errlen)
{
	struct stat sb;
	int dfd;

	if (stat(dir, &sb) < 0)
		return errf(err, errlen, "--log-dir", dir);
	if (pv.log_dir_existed && sb.st_uid != pv.uid)
		return 0;
	if (sb.st_uid != pv.uid && chown(dir, pv.uid, pv.gid) < 0)
		return errf(err, errlen, "chown", dir);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errf(err, errlen, "open", dir);
	for (int i = -2; i < 0 || mm_dissectors[i]; i++) {
		char name[64];
		struct stat fs;

		if (i < 0)
			snprintf(name, sizeof(name), "%s",
				 i == -2 ? "eve.json" : "stats.jsonl");
		else
			snprintf(name, sizeof(name), "%s.jsonl",
				 mm_dissectors[i]->name);
		if (fstatat(dfd, name, &fs, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(fs.st_mode) || fs.st_uid != 0)
			continue;
		if (fchownat(dfd, name, pv.uid, pv.gid, AT_SYMLINK_NOFOLLOW) < 0) {
			close(dfd);
			return errf(err, errlen, "chown", name);
		}
	}
	close(dfd);
	return 0;
}

/* where the log folder is once inside the chroot: "/" + the rest */
static int path_in_chroot(const char *dir, char *out, size_t outlen,
			  char *err, size_t errlen)
{
	char real[PATH_MAX];
	size_t n = strlen(pv.chroot_real);

	if (!realpath(dir, real))
		return errf(err, errlen, "--log-dir", dir);
	if (!strcmp(pv.chroot_real, "/")) {
		snprintf(out, outlen, "%s", real);
		return 0;
	}
	if (strncmp(real, pv.chroot_real, n) != 0 ||
	    (real[n] != '/' && real[n] != 0)) {
		snprintf(err, errlen, "--log-dir %s is outside --chroot %s: "
			 "the sensor could not write its logs there",
			 dir, mm.cfg.chroot_dir);
		return -1;
	}
	snprintf(out, outlen, "%s", real[n] ? real + n : "/");
	return 0;
}

/* no effective, permitted or inheritable capability in this thread */
static int caps_empty(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	for (int i = 0; i < 2; i++)
		if (d[i].effective || d[i].permitted || d[i].inheritable)
			return 0;
	return 1;
}

int priv_caps_drop(char *err, size_t errlen)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (geteuid() == 0 || caps_empty() != 0)
		return 0; /* root: drop_ids() clears them; or none to drop */
	memset(d, 0, sizeof(d));
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capset, &h, d) < 0)
		return errf(err, errlen, "capset", NULL);
	if (caps_empty() != 1) {
		snprintf(err, errlen, "capabilities are left after capset");
		return -1;
	}
	return 0;
}

static int drop_ids(char *err, size_t errlen)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	/* glibc applies each of these to every thread of the process (the
	 * store's, the link's and ZeroMQ's threads already run) */
	if (setgroups(1, &pv.gid) < 0)
		return errf(err, errlen, "setgroups", NULL);
	if (setresgid(pv.gid, pv.gid, pv.gid) < 0)
		return errf(err, errlen, "setresgid", NULL);
	/* ambient capabilities would survive the change of user */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (setresuid(pv.uid, pv.uid, pv.uid) < 0)
		return errf(err, errlen, "setresuid", NULL);
	/* the kernel cleared the permitted and effective sets; an inheritable
	 * set some container runtimes leave goes too */
	if (caps_empty() == 0) {
		struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct d[2];
		memset(d, 0, sizeof(d));
		(void)syscall(SYS_capset, &h, d);
	}
	/* trust, but verify: every id changed, and none can be had back */
	if (getresuid(&r, &e, &s) < 0 || r != pv.uid || e != pv.uid ||
	    s != pv.uid || getresgid(&rg, &eg, &sg) < 0 || rg != pv.gid ||
	    eg != pv.gid || sg != pv.gid) {
		snprintf(err, errlen, "user and group ids did not all change");
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 ||
	    setegid(0) == 0) {
		snprintf(err, errlen, "root could be regained after the drop");
		return -1;
	}
	if (caps_empty() != 1) {
		snprintf(err, errlen, "capabilities are left after the drop");
		return -1;
	}
	return 0;
}

/* ---------------- seccomp ---------------- */

/*
 * What the sensor does after the drop, and the calls it makes (x86-64
 * names; libseccomp resolves them per architecture and skips a name an
 * architecture does not have):
 *   packet loop   poll/ppoll on the TPACKET ring, getsockopt (kernel
 *                 drop counters), read (offline captures)
 *   memory        mmap, munmap, mprotect, mremap, madvise, brk, mlock, munlock
 *   logs          openat, write, writev, lseek, fstat, close, fsync
 *   threads       futex, the store's, the link's and ZeroMQ's threads
 *   ZeroMQ        epoll, eventfd, poll, sendto/recvfrom/sendmsg/recvmsg,
 *                 socket/connect for a remote store's reconnects (only
 *                 AF_INET, AF_INET6 and AF_UNIX), getsockopt/setsockopt
 *   SQLite        pread64/pwrite64, fcntl (locks), fdatasync, ftruncate,
 *                 unlink (the WAL at close), access, getpid
 *   signals       rt_sigaction, rt_sigprocmask, rt_sigreturn, tgkill
 * Absent on purpose: execve, fork/clone, ptrace, bind/listen/accept, raw
 * and packet sockets, mount, chroot, setuid and friends, kernel modules,
 * bpf, keyctl, and everything else.
 */
static const char *const allowed_calls[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "close",
	"fstat", "newfstatat", "stat", "lstat", "statx", "lseek", "openat",
	"open", "fcntl", "fsync", "fdatasync", "ftruncate", "unlink",
	"unlinkat", "access", "faccessat", "faccessat2", "readlink",
	"readlinkat", "getcwd", "mkdir", "mkdirat", "flock", "fallocate",
	"mmap", "munmap", "mprotect", "mremap", "madvise", "brk",
	/* libsodium locks CurveZMQ key memory when the link (re)connects */
	"mlock", "munlock",
	"futex", "set_robust_list", "rseq", "sched_yield", "sched_getaffinity",
	"poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_create",
	"epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd2",
	"eventfd", "pipe2", "sendto", "recvfrom", "sendmsg", "recvmsg",
	"sendmmsg", "recvmmsg", "connect", "shutdown", "getsockopt",
	"setsockopt", "getsockname", "getpeername",
	"clock_gettime", "clock_getres", "gettimeofday", "time",
	"nanosleep", "clock_nanosleep", "getrandom",
	"getpid", "gettid", "getuid", "geteuid", "getgid", "getegid",
	"getresuid", "getresgid", "uname", "sysinfo", "getrusage",
	"prlimit64", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
	"sigaltstack", "tgkill", "tkill", "restart_syscall",
	"exit", "exit_group",
#if defined(__SANITIZE_ADDRESS__) || defined(MM_SANITIZED)
	/* AddressSanitizer's leak check at exit stops the world with a
	 * ptrace tracer it clones, which lists /proc/self/task (getdents);
	 * only in sanitised test builds (found with --seccomp-log) */
	"clone", "clone3", "ptrace", "wait4", "waitid", "prctl",
	"process_vm_readv", "kill", "getppid", "sched_getaffinity",
	"sigaltstack", "personality", "getdents", "getdents64",
#endif
};

#define N_ALLOWED (sizeof(allowed_calls) / sizeof(allowed_calls[0]))

int priv_seccomp(bool log_only, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int rc;

	ctx = seccomp_init(log_only ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	/* every thread of the process, not only this one */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < N_ALLOWED; i++) {
		int nr = seccomp_syscall_resolve_name(allowed_calls[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0 && rc != -EEXIST)
			goto fail;
	}
	/* sockets: a remote store's reconnects, nothing raw */
	static const int domains[] = { AF_INET, AF_INET6, AF_UNIX };
	for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)domains[i]));
		if (rc < 0)
			goto fail;
	}
	/* ioctl: FIONREAD and FIONBIO (ZeroMQ's sockets), TCGETS (stdio asks
	 * whether stdout is a terminal when it is a character device, e.g.
	 * /dev/null, before --stats-json prints) */
	static const unsigned long ioctls[] = { FIONREAD, FIONBIO, TCGETS };
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)ioctls[i]));
		if (rc < 0)
			goto fail;
	}
	rc = seccomp_load(ctx); /* sets no_new_privs first */
	if (rc < 0)
		goto fail;
	seccomp_release(ctx);
	return 0;
fail:
	seccomp_release(ctx);
	snprintf(err, errlen, "seccomp: %s", strerror(-rc));
	return -1;
}

/* ---------------- the whole drop ---------------- */

int priv_drop(char *err, size_t errlen)
{
	const struct mm_cfg *c = &mm.cfg;
	char logs_in_root[PATH_MAX] = "";
	const char *logs = c->log_dir;
	bool move_logs = c->log_dir && (pv.drop || c->chroot_dir);

	if (move_logs) {
		if (pv.drop && hand_over_logs(c->log_dir, err, errlen) < 0)
			return -1;
		if (c->chroot_dir &&
		    path_in_chroot(c->log_dir, logs_in_root, sizeof(logs_in_root),
				   err, errlen) < 0)
			return -1;
		if (!c->chroot_dir && chdir(c->log_dir) < 0)
			return errf(err, errlen, "chdir", c->log_dir);
	}
	if (c->chroot_dir) {
		if (chroot(pv.chroot_real) < 0)
			return errf(err, errlen, "chroot", pv.chroot_real);
		if (chdir(logs_in_root[0] ? logs_in_root : "/") < 0)
			return errf(err, errlen, "chdir in the chroot",
				    logs_in_root[0] ? logs_in_root : "/");
	}
	if (pv.drop && drop_ids(err, errlen) < 0)
		return -1;
	if (move_logs) {
		/* the logs are now reached from the current directory */
		txlog_close();
		mm.cfg.log_dir = ".";
		if (txlog_open_dir(".", err, errlen) < 0 ||
		    access(".", W_OK | X_OK) < 0) {
			snprintf(err, errlen, "--log-dir %s is not writable by "
				 "user %s: chown it to that user, or give a "
				 "folder mimamorid may create itself", logs,
				 pv.drop ? pv.user : "root");
			return -1;
		}
	}
#if defined(__SANITIZE_ADDRESS__) || defined(MM_SANITIZED)
	/* the leak checker's ptrace tracer needs a dumpable process */
	if (pv.drop)
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	return 0;
}

int priv_filter(char *err, size_t errlen)
{
	const struct mm_cfg *c = &mm.cfg;

	if (!c->no_seccomp && priv_seccomp(c->seccomp_log, err, errlen) < 0)
		return -1;
	if (!c->quiet && (pv.drop || c->chroot_dir || !c->no_seccomp))
		fprintf(stderr, "mimamorid: running as %s (uid %u, gid %u)%s%s%s\n",
			pv.drop ? pv.user : "root", (unsigned)getuid(),
			(unsigned)getgid(), c->chroot_dir ? ", chroot " : "",
			c->chroot_dir ? c->chroot_dir : "",
			c->no_seccomp ? ", no seccomp filter"
				      : c->seccomp_log ? ", seccomp filter logging"
						       : ", seccomp filter on");
	return 0;
}
