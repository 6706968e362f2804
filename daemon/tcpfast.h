/*
 * tcpfast.h - the in-order fast path around libnids (tcpfast.c)
 */
#ifndef MM_TCPFAST_H
#define MM_TCPFAST_H

#include <nids.h>
#include <stdbool.h>
#include <stdint.h>

/* one TCP segment, as reasm_packet() has already decoded it */
struct tcpfast_seg {
	const uint8_t *tcp;  /* the TCP header, thl bytes */
	size_t thl;
	const uint8_t *data; /* its payload, datalen bytes */
	uint32_t datalen;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;     /* unscaled, as sent */
};

/*
 * Hand an in-order segment of an established stream libnids knows
 * straight to the stream, as libnids would: true when it was taken (then
 * libnids must not see the packet), false when libnids must process it.
 * The stream may have been freed when it returns true (a listener let it
 * go): do not touch a afterwards.
 */
bool tcpfast_segment(struct tcp_stream *a, bool from_client,
		     const struct tcpfast_seg *s);

#endif
