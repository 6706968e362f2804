/* libFuzzer target: the TPKT/COTP/S7comm/S7comm-plus dissector (see
 * fuzz_harness.h).  Seeds: tests/fuzz/corpus/s7comm, the TCP/102 streams
 * of ../shared/pcaps (request bytes, 0xFF 0xFE 0xFD, response bytes). */
#include "fuzz_harness.h"

extern const struct mm_dissector mm_s7comm_dissector;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_one(&mm_s7comm_dissector, data, size);
}
