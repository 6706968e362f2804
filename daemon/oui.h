/*
 * oui.h - MAC address vendor lookup from the IEEE registries (Debian's
 * ieee-data package).  See oui.c.
 */
#ifndef MM_OUI_H
#define MM_OUI_H

#include <stddef.h>
#include <stdint.h>

#define OUI_DEFAULT_DIR "/usr/share/ieee-data"

struct oui_table;

/* the registries in dir (oui.txt, mam.txt, oui36.txt, iab.txt), read at
 * the first lookup; NULL when dir has none */
struct oui_table *oui_load(const char *dir);
void oui_free(struct oui_table *t);
/* entries loaded, all registries together */
size_t oui_count(struct oui_table *t);
/* the registered organisation for mac (longest prefix), or NULL */
const char *oui_vendor(struct oui_table *t, const uint8_t mac[6]);

#endif
