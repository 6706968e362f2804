/*
 * keys.c - CurveZMQ key files and the store's allow-list of sensor keys.
 *
 * A key file is text: comment lines starting with '#', then one line with
 * the key in Z85 (40 characters, ZeroMQ RFC 32).  NAME.key holds a secret
 * key (mode 0600, refused when group or others may read it, as ssh does),
 * NAME.pub the public key that goes to the other side.  The public key of
 * a secret is derived with zmq_curve_public, so one secret file is all a
 * store or a sensor needs of its own.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define KEYFILE_MAX 4096
#define ALLOW_NAME_MAX 128

struct allow_entry {
	uint8_t key[32];
	char name[ALLOW_NAME_MAX + 1];
};

struct mm_allow {
	struct allow_entry *e;
	size_t n, cap;
};

/* a name for files and logs: letters, digits, '-', '_', '.', not ".." */
static bool name_ok(const char *s)
{
	if (!*s || strlen(s) > ALLOW_NAME_MAX || s[0] == '.')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return false;
	return true;
}

static bool z85_key_ok(const char *z)
{
	uint8_t bin[32];

	return strlen(z) == MM_KEY_Z85_LEN && zmq_z85_decode(bin, z) != NULL;
}

/* write `text` to a new file of `mode`; never replaces one */
static int write_new(const char *path, const char *text, mode_t mode,
		     char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		      mode);
	size_t len = strlen(text);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
			 errno == EEXIST ? " (keys are never overwritten: "
					   "remove it first)"
					 : "");
		return -1;
	}
	/* the mode asked for, whatever the umask made of it */
	if (fchmod(fd, mode) != 0 || write(fd, text, len) != (ssize_t)len ||
	    fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

int mm_keygen(const char *dir, const char *name, char *err, size_t errlen)
{
	char pub[MM_KEY_Z85_LEN + 1], sec[MM_KEY_Z85_LEN + 1];
	char kpath[4096], ppath[4096], text[512];
	struct stat sb;

	if (!name_ok(name)) {
		snprintf(err, errlen,
			 "key name \"%s\": use letters, digits, '-', '_' and "
			 "'.' (not first)",
			 name);
		return -1;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", dir);
		return -1;
	}
	if (zmq_curve_keypair(pub, sec) != 0) {
		snprintf(err, errlen,
			 "zmq_curve_keypair: %s (libzmq built without CURVE?)",
			 zmq_strerror(errno));
		return -1;
	}
	snprintf(kpath, sizeof(kpath), "%s/%s.key", dir, name);
	snprintf(ppath, sizeof(ppath), "%s/%s.pub", dir, name);
	snprintf(text, sizeof(text),
		 "# mimamori CurveZMQ secret key \"%s\": keep it here, mode "
		 "0600,\n# never copy it elsewhere.  Its public key is %s.pub.\n"
		 "%s\n",
		 name, name, sec);
	if (write_new(kpath, text, 0600, err, errlen))
		return -1;
	snprintf(text, sizeof(text),
		 "# mimamori CurveZMQ public key \"%s\": give it to the other "
		 "side\n# (a store's allow-list, or a sensor's --store-public).\n"
		 "%s\n",
		 name, pub);
	if (write_new(ppath, text, 0644, err, errlen)) {
		unlink(kpath);
		return -1;
	}
	/* a secret is not left lying around in memory longer than needed */
	memset(sec, 0, sizeof(sec));
	memset(text, 0, sizeof(text));
	return 0;
}

/* the first line that is not blank or a comment; its length or -1 */
static int key_line(const char *text, char *out, size_t len)
{
	const char *p = text;

	while (*p) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' ||
				 p[n - 1] == '\t'))
			n--;
		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		if (n > 0 && *p != '#') {
			if (n >= len)
				return -1;
			memcpy(out, p, n);
			out[n] = '\0';
			return (int)n;
		}
		if (!e)
			break;
		p = e + 1;
	}
	return -1;
}

static char *read_small(const char *path, char *err, size_t errlen,
			struct stat *sb)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	ssize_t n;

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	buf = malloc(KEYFILE_MAX + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n = read(fd, buf, KEYFILE_MAX);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

int mm_key_load(const char *path, bool secret, char *z85, char *err,
		size_t errlen)
{
	struct stat sb;
	char *text, line[128];

	if (!path) {
		snprintf(err, errlen, "no key file given");
		return -1;
	}
	text = read_small(path, err, errlen, &sb);
	if (!text)
		return -1;
	if (secret && (sb.st_mode & 077)) {
		snprintf(err, errlen,
			 "%s: a secret key readable by others is refused "
			 "(chmod 600 %s)",
			 path, path);
		free(text);
		return -1;
	}
	/* a public key file may hold "KEY name" too: the key is the word */
	if (key_line(text, line, sizeof(line)) < 0) {
		snprintf(err, errlen, "%s: no key in the file", path);
		free(text);
		return -1;
	}
	free(text);
	line[strcspn(line, " \t")] = '\0';
	if (!z85_key_ok(line)) {
		snprintf(err, errlen,
			 "%s: not a CurveZMQ key (40 characters of Z85 "
			 "expected; make one with 'mimamori keygen')",
			 path);
		return -1;
	}
	memcpy(z85, line, MM_KEY_Z85_LEN + 1);
	memset(line, 0, sizeof(line));
	return 0;
}

static int allow_add(struct mm_allow *a, const char *z85, const char *name)
{
	struct allow_entry *e;

	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 16;
		e = realloc(a->e, nc * sizeof(*e));
		if (!e)
			return -1;
		a->e = e;
		a->cap = nc;
	}
	e = &a->e[a->n];
	if (!zmq_z85_decode(e->key, z85))
		return -1;
	snprintf(e->name, sizeof(e->name), "%s", name);
	a->n++;
	return 0;
}

static int allow_dir(struct mm_allow *a, const char *path, char *err,
		     size_t errlen)
{
	DIR *dir = opendir(path);
	struct dirent *de;
	char file[4096], z85[MM_KEY_Z85_LEN + 1], name[ALLOW_NAME_MAX + 1];

	if (!dir) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(dir))) {
		size_t n = strlen(de->d_name);
		if (n <= 4 || strcmp(de->d_name + n - 4, ".pub") ||
		    n - 4 > ALLOW_NAME_MAX)
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		if (mm_key_load(file, false, z85, err, errlen) ||
		    (memcpy(name, de->d_name, n - 4), name[n - 4] = '\0',
		     allow_add(a, z85, name))) {
			closedir(dir);
			return -1;
		}
	}
	closedir(dir);
	return 0;
}

static int allow_file(struct mm_allow *a, const char *path, char *err,
		      size_t errlen)
{
	struct stat sb;
	char *text = read_small(path, err, errlen, &sb), *line, *save = NULL;
	int lineno = 0;

	if (!text)
		return -1;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char key[128] = "", name[ALLOW_NAME_MAX + 1] = "";
		lineno++;
		line[strcspn(line, "\r")] = '\0';
		line += strspn(line, " \t");
		if (!*line || *line == '#')
			continue;
		if (sscanf(line, "%127s %128s", key, name) < 1 ||
		    !z85_key_ok(key)) {
			snprintf(err, errlen,
				 "%s:%d: not a CurveZMQ public key (\"KEY "
				 "[NAME]\" per line)",
				 path, lineno);
			free(text);
			return -1;
		}
		if (!name[0])
			snprintf(name, sizeof(name), "%.8s", key);
		if (allow_add(a, key, name)) {
			snprintf(err, errlen, "out of memory");
			free(text);
			return -1;
		}
	}
	free(text);
	return 0;
}

struct mm_allow *mm_allow_load(const char *path, char *err, size_t errlen)
{
	struct mm_allow *a;
	struct stat sb;
	int rc;

	if (!path || stat(path, &sb) != 0) {
		snprintf(err, errlen, "%s: %s", path ? path : "allow-list",
			 path ? strerror(errno) : "none given");
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rc = S_ISDIR(sb.st_mode) ? allow_dir(a, path, err, errlen)
				 : allow_file(a, path, err, errlen);
	if (rc == 0 && a->n == 0) {
		snprintf(err, errlen,
			 "%s: no sensor public key in it (%s): no sensor could "
			 "connect",
			 path,
			 S_ISDIR(sb.st_mode) ? "no *.pub file" : "no key line");
		rc = -1;
	}
	if (rc) {
		mm_allow_free(a);
		return NULL;
	}
	return a;
}

const char *mm_allow_find(const struct mm_allow *a, const uint8_t key[32])
{
	for (size_t i = 0; a && i < a->n; i++)
		if (!memcmp(a->e[i].key, key, 32))
			return a->e[i].name;
	return NULL;
}

size_t mm_allow_count(const struct mm_allow *a)
{
	return a ? a->n : 0;
}

void mm_allow_free(struct mm_allow *a)
{
	if (!a)
		return;
	free(a->e);
	free(a);
}
