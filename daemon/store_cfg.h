/*
 * store_cfg.h - the sensor's settings for its link to the store and for
 * its embedded store that struct mm_cfg (sensor.h) does not hold: set by
 * the settings file (config.c: the link: and store: sections) and the
 * command line (main.c), read by main.c when it makes the link and the
 * embedded store.
 */
#ifndef MM_STORE_CFG_H
#define MM_STORE_CFG_H

struct mm_store_cfg {
	const char *spool_dir;    /* keep unacknowledged records on disk */
	double spool_mb;          /* their bytes at most (0: the link's 256) */
	const char *curve_secret; /* this sensor's CurveZMQ secret key file */
	const char *store_public; /* the store's public key file */
	double retain_days;       /* embedded store: keep rows this long */
	double retain_mb;         /* embedded store: used size bound */
};

extern struct mm_store_cfg mm_store_cfg;

void mm_store_cfg_defaults(struct mm_store_cfg *c);

#endif /* MM_STORE_CFG_H */
