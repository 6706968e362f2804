/* libFuzzer target: the zone file loader, lookup and policy on any input */
#include <stdint.h>
#include <stdlib.h>

#include "../../zones/zones.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct zone_model *zm = zone_model_parse((const char *)data, size, "fuzz.yaml",
						 err, sizeof(err));
	if (!zm)
		return 0;
	/* every zone against every other, and a spread of addresses */
	size_t n = zone_model_count(zm);
	for (size_t i = 0; i < n && i < 16; i++)
		for (size_t j = 0; j < n && j < 16; j++)
			for (int c = 0; c < MM_OP__N; c++)
				(void)policy_check(zm, zone_model_get(zm, i), zone_model_get(zm, j),
						   "modbus", (enum mm_op_class)c);
	for (uint32_t a = 0; a < 64; a++) {
		const char *host;
		(void)zone_lookup(zm, a * 0x04030201u, &host);
	}
	zone_model_free(zm);
	return 0;
}
