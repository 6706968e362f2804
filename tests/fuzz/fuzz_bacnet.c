/*
 * libFuzzer target: the BACnet/IP dissector (see fuzz_harness.h).  A UDP
 * dissector has no pdu_len: each chunk is parsed whole as one datagram,
 * so an input is a datagram (byte 0 = its direction), or several
 * separated by the FF FE FD marker, alternating direction, which drives
 * pairing, segment reassembly and the Who-Is rate across datagrams (the
 * harness advances the clock one second per chunk).
 *
 * Seed corpus (tests/fuzz/corpus/bacnet): one datagram per file, the
 * UDP/47808 payloads of the ../shared/pcaps captures with BACnet (unique
 * payloads, byte 0 = 0 for requests and 1 for answers), plus the unit
 * test's regression inputs.  Regenerate:
 *   for f in $(awk -F'\t' 'NR>1 && $9>0 {print $1}' ../shared/pcaps/INVENTORY.tsv); do
 *     tshark -r ../shared/pcaps/$f -Y bvlc -T fields -e bacapp.type -e udp.payload
 *   done | (one file per unique payload, direction byte first)
 */
#include "fuzz_harness.h"

extern const struct mm_dissector mm_bacnet_dissector;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_one(&mm_bacnet_dissector, data, size);
}
