/*
 * store_cfg.c - the sensor's store settings (store_cfg.h).
 */
#include <string.h>

#include "store_cfg.h"

struct mm_store_cfg mm_store_cfg;

void mm_store_cfg_defaults(struct mm_store_cfg *c)
{
	memset(c, 0, sizeof(*c));
}
