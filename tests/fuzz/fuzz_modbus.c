/* libFuzzer target: the Modbus/TCP dissector (see fuzz_harness.h) */
#include "fuzz_harness.h"

extern const struct mm_dissector mm_modbus_dissector;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_one(&mm_modbus_dissector, data, size);
}
