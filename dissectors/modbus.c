/*
 * modbus.c - Modbus/TCP: MBAP framing, every public function code, pairing
 * of requests with responses, operation classes, asset facts, events.
 *
 * References (section numbers in comments):
 *   [AP]  MODBUS Application Protocol Specification V1.1b3
 *   [TCP] MODBUS Messaging on TCP/IP Implementation Guide V1.0b
 *   UMAS (function code 90) has no public specification: its function
 *   codes are the ones published by security research on Schneider
 *   Electric Modicon PLCs (see umas_fc_names[]), and are kept `other`
 *   when unknown.
 *
 * Layout of a Modbus/TCP ADU ([TCP] 3.1.3, [AP] 4.1):
 *   transaction id (2) | protocol id (2) = 0 | length (2) | unit id (1) | PDU
 * where `length` counts the unit id and the PDU, and the PDU (function
 * code + data) is at most 253 bytes: an ADU is at most 260 bytes.
 *
 * Every read of wire bytes goes through the bounded reader (rd.h).  Parse
 * never stops at the first problem when it can go on: it reports each kind
 * of problem once per PDU and logs what it could decode.
 */
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/fmt.h"
#include "dissector.h"

/* ------------------------------------------------------------------ */
/* Constants                                                           */
/* ------------------------------------------------------------------ */

#define MODBUS_PORT 502            /* IANA, [TCP] 3.1.2 */
#define MBAP_LEN_MIN 2             /* unit id + function code */
#define MBAP_LEN_MAX 254           /* unit id + 253-byte PDU, [AP] 4.1 */
/*
 * Framing tolerates one byte more: Schneider's engineering tool sends a
 * UMAS "repeat" of unit id + fc + 253 data bytes (it counts the 253 bytes
 * without the function code) and real Modicon PLCs echo it.  Losing sync on
 * traffic a PLC accepts would hide what follows; parse still reports it as
 * modbus.invalid_length.
 */
#define MBAP_LEN_FRAME_MAX 255
#define MODBUS_MAX_ADU (6 + MBAP_LEN_FRAME_MAX) /* 261; 260 in [AP] 4.1 */
#define MODBUS_EXCEPTION_BIT 0x80  /* fc | 0x80 in an exception, [AP] 7 */

/* Public function codes, [AP] 5.1 and 6.x */
#define MODBUS_FC_READ_COILS 1                 /* 6.1 */
#define MODBUS_FC_READ_DISCRETE_INPUTS 2       /* 6.2 */
#define MODBUS_FC_READ_HOLDING_REGISTERS 3     /* 6.3 */
#define MODBUS_FC_READ_INPUT_REGISTERS 4       /* 6.4 */
#define MODBUS_FC_WRITE_SINGLE_COIL 5          /* 6.5 */
#define MODBUS_FC_WRITE_SINGLE_REGISTER 6      /* 6.6 */
#define MODBUS_FC_READ_EXCEPTION_STATUS 7      /* 6.7 (serial line only) */
#define MODBUS_FC_DIAGNOSTICS 8                /* 6.8 (serial line only) */
#define MODBUS_FC_GET_COMM_EVENT_COUNTER 11    /* 6.9 */
#define MODBUS_FC_GET_COMM_EVENT_LOG 12        /* 6.10 */
#define MODBUS_FC_WRITE_MULTIPLE_COILS 15      /* 6.11 */
#define MODBUS_FC_WRITE_MULTIPLE_REGISTERS 16  /* 6.12 */
#define MODBUS_FC_REPORT_SERVER_ID 17          /* 6.13 */
#define MODBUS_FC_READ_FILE_RECORD 20          /* 6.14 */
#define MODBUS_FC_WRITE_FILE_RECORD 21         /* 6.15 */
#define MODBUS_FC_MASK_WRITE_REGISTER 22       /* 6.16 */
#define MODBUS_FC_READ_WRITE_REGISTERS 23      /* 6.17 */
#define MODBUS_FC_READ_FIFO_QUEUE 24           /* 6.18 */
#define MODBUS_FC_ENCAPSULATED_INTERFACE 43    /* 6.19 (MEI) */
#define MODBUS_FC_UMAS 90 /* reserved in [AP] Annex A; Schneider UMAS */

/* Quantity limits of the request fields, [AP] 6.x */
#define MODBUS_MAX_READ_BITS 2000      /* FC 1, 2: 1..0x7D0 (6.1, 6.2) */
#define MODBUS_MAX_READ_REGS 125       /* FC 3, 4: 1..0x7D (6.3, 6.4) */
#define MODBUS_MAX_WRITE_BITS 1968     /* FC 15: 1..0x7B0 (6.11) */
#define MODBUS_MAX_WRITE_REGS 123      /* FC 16: 1..0x7B (6.12) */
#define MODBUS_MAX_RW_READ_REGS 125    /* FC 23 read: 1..0x7D (6.17) */
#define MODBUS_MAX_RW_WRITE_REGS 121   /* FC 23 write: 1..0x79 (6.17) */
#define MODBUS_MAX_FIFO_COUNT 31       /* FC 24: FIFO count <= 31 (6.18) */
#define MODBUS_COIL_ON 0xFF00          /* FC 5 output value ON (6.5) */
#define MODBUS_COIL_OFF 0x0000         /* FC 5 output value OFF (6.5) */
#define MODBUS_FILE_REF_TYPE 6         /* FC 20, 21 reference type (6.14) */
#define MODBUS_FILE_MAX_RECORD 0x270F  /* FC 20, 21 record number (6.14) */
#define MODBUS_FILE_REQ_MIN 0x07       /* FC 20 byte count 0x07..0xF5 */
#define MODBUS_FILE_REQ_MAX 0xF5
#define MODBUS_FILE_WREQ_MIN 0x09      /* FC 21 data length 0x09..0xFB */
#define MODBUS_FILE_WREQ_MAX 0xFB
#define MODBUS_FILE_SUBREQ_LEN 7       /* ref type, file, record, length */

/* FC 8 sub-functions, [AP] 6.8.1 */
#define MODBUS_DIAG_RETURN_QUERY_DATA 0
#define MODBUS_DIAG_RESTART_COMM 1
#define MODBUS_DIAG_RETURN_DIAG_REGISTER 2
#define MODBUS_DIAG_CHANGE_ASCII_DELIMITER 3
#define MODBUS_DIAG_FORCE_LISTEN_ONLY 4
#define MODBUS_DIAG_CLEAR_COUNTERS 10
#define MODBUS_DIAG_BUS_MESSAGE_COUNT 11
#define MODBUS_DIAG_BUS_CHAR_OVERRUN_COUNT 18
#define MODBUS_DIAG_CLEAR_OVERRUN 20
#define MODBUS_DIAG_N 21

/* FC 43 MEI types, [AP] 6.19 */
#define MODBUS_MEI_CANOPEN 13          /* 6.20 CANopen General Reference */
#define MODBUS_MEI_READ_DEVICE_ID 14   /* 6.21 Read Device Identification */

/* Read Device ID codes, [AP] 6.21 */
#define MODBUS_DEVID_BASIC 1           /* stream access, basic objects */
#define MODBUS_DEVID_REGULAR 2         /* stream access, regular objects */
#define MODBUS_DEVID_EXTENDED 3        /* stream access, extended objects */
#define MODBUS_DEVID_SPECIFIC 4        /* one specific object */
#define MODBUS_DEVID_N 5
#define MODBUS_DEVOBJ_N 7              /* objects 0..6 have names */

/* Pairing table bounds (see struct modbus_state) */
#define MODBUS_MAX_OUTSTANDING 256
#define MODBUS_TABLE_BITS 9          /* at most 512 slots: load <= 1/2 */
#define MODBUS_TABLE_MIN_BITS 4      /* 16 slots in the flow state itself */
/* a request unanswered while this many later ones were sent is lost */
#define MODBUS_STALE_AGE MODBUS_MAX_OUTSTANDING

/* Transaction log: register/coil values written per PDU at most */
#define MODBUS_LOG_MAX_VALUES 125
#define MODBUS_LOG_MAX_ITEMS 64        /* file sub-requests, objects */

/* ------------------------------------------------------------------ */
/* Name tables                                                         */
/* ------------------------------------------------------------------ */

/* Function codes, [AP] 5.1 (public), Annex A (reserved) */
static const char *const modbus_fc_names[128] = {
	[MODBUS_FC_READ_COILS] = "read_coils",                        /* 6.1 */
	[MODBUS_FC_READ_DISCRETE_INPUTS] = "read_discrete_inputs",    /* 6.2 */
	[MODBUS_FC_READ_HOLDING_REGISTERS] = "read_holding_registers",/* 6.3 */
	[MODBUS_FC_READ_INPUT_REGISTERS] = "read_input_registers",    /* 6.4 */
	[MODBUS_FC_WRITE_SINGLE_COIL] = "write_single_coil",          /* 6.5 */
	[MODBUS_FC_WRITE_SINGLE_REGISTER] = "write_single_register",  /* 6.6 */
	[MODBUS_FC_READ_EXCEPTION_STATUS] = "read_exception_status",  /* 6.7 */
	[MODBUS_FC_DIAGNOSTICS] = "diagnostics",                      /* 6.8 */
	[MODBUS_FC_GET_COMM_EVENT_COUNTER] = "get_comm_event_counter",/* 6.9 */
	[MODBUS_FC_GET_COMM_EVENT_LOG] = "get_comm_event_log",        /* 6.10 */
	[MODBUS_FC_WRITE_MULTIPLE_COILS] = "write_multiple_coils",    /* 6.11 */
	[MODBUS_FC_WRITE_MULTIPLE_REGISTERS] = "write_multiple_registers", /* 6.12 */
	[MODBUS_FC_REPORT_SERVER_ID] = "report_server_id",            /* 6.13 */
	[MODBUS_FC_READ_FILE_RECORD] = "read_file_record",            /* 6.14 */
	[MODBUS_FC_WRITE_FILE_RECORD] = "write_file_record",          /* 6.15 */
	[MODBUS_FC_MASK_WRITE_REGISTER] = "mask_write_register",      /* 6.16 */
	[MODBUS_FC_READ_WRITE_REGISTERS] = "read_write_multiple_registers", /* 6.17 */
	[MODBUS_FC_READ_FIFO_QUEUE] = "read_fifo_queue",              /* 6.18 */
	[MODBUS_FC_ENCAPSULATED_INTERFACE] = "encapsulated_interface_transport", /* 6.19 */
	/* Annex A reserves 90 and 91; Schneider Electric carries UMAS in 90 */
	[MODBUS_FC_UMAS] = "umas",
};

/* Name of a code that has no row above: user-defined, reserved or unassigned */
static const char *modbus_fc_name(unsigned fc)
{
	if (fc < 128 && modbus_fc_names[fc])
		return modbus_fc_names[fc];
	/* [AP] 5: user-defined ranges 65..72 and 100..110 */
	if ((fc >= 65 && fc <= 72) || (fc >= 100 && fc <= 110))
		return "user_defined";
	/* [AP] Annex A: 9, 10, 13, 14, 41, 42, 91, 125, 126, 127 reserved */
	switch (fc) {
	case 9: case 10: case 13: case 14: case 41: case 42: case 91:
	case 125: case 126: case 127:
		return "reserved";
	}
	if (fc == 0 || fc > 127)
		return "invalid";
	return "unassigned";
}

/* Exception codes, [AP] 7 */
static const char *const modbus_exception_names[12] = {
	[1] = "illegal_function",          /* fc not supported by the server */
	[2] = "illegal_data_address",      /* address (+ quantity) not allowed */
	[3] = "illegal_data_value",        /* a value in the request not allowed */
	[4] = "server_device_failure",     /* unrecoverable error in the server */
	[5] = "acknowledge",               /* accepted, long processing */
	[6] = "server_device_busy",        /* busy with a long command */
	/* 7 is not in [AP] 7: PI-MBUS-300's negative acknowledge, still
	 * returned by legacy devices (libmodbus names it too) */
	[7] = "negative_acknowledge",
	[8] = "memory_parity_error",       /* FC 20/21: file memory check failed */
	[10] = "gateway_path_unavailable", /* gateway misconfigured or overloaded */
	[11] = "gateway_target_device_failed_to_respond", /* target absent */
};

/* FC 8 sub-functions, [AP] 6.8.1 (5..9, 19 reserved) */
static const char *const modbus_diag_names[MODBUS_DIAG_N] = {
	[0] = "return_query_data",                      /* echo (loopback) */
	[1] = "restart_communications_option",          /* restart serial port */
	[2] = "return_diagnostic_register",
	[3] = "change_ascii_input_delimiter",           /* ASCII LF replacement */
	[4] = "force_listen_only_mode",                 /* stops answering */
	[10] = "clear_counters_and_diagnostic_register",
	[11] = "return_bus_message_count",
	[12] = "return_bus_communication_error_count",
	[13] = "return_bus_exception_error_count",
	[14] = "return_server_message_count",
	[15] = "return_server_no_response_count",
	[16] = "return_server_nak_count",
	[17] = "return_server_busy_count",
	[18] = "return_bus_character_overrun_count",
	[20] = "clear_overrun_counter_and_flag",
};

/* Read Device ID codes, [AP] 6.21 */
static const char *const modbus_devid_names[MODBUS_DEVID_N] = {
	[MODBUS_DEVID_BASIC] = "basic",       /* objects 0..2, stream */
	[MODBUS_DEVID_REGULAR] = "regular",   /* objects 0..6 (+7..0x7F), stream */
	[MODBUS_DEVID_EXTENDED] = "extended", /* + private 0x80..0xFF, stream */
	[MODBUS_DEVID_SPECIFIC] = "specific", /* one object, individual access */
};

/* Device identification objects, [AP] 6.21 table: also asset fact keys */
static const char *const modbus_device_object_names[MODBUS_DEVOBJ_N] = {
	[0] = "vendor_name",           /* VendorName, basic, mandatory */
	[1] = "product_code",          /* ProductCode, basic, mandatory */
	[2] = "revision",              /* MajorMinorRevision, basic, mandatory */
	[3] = "vendor_url",            /* VendorUrl, regular */
	[4] = "product_name",          /* ProductName, regular */
	[5] = "model_name",            /* ModelName, regular */
	[6] = "user_application_name", /* UserApplicationName, regular */
};

/*
 * UMAS function codes (the byte after the session byte in FC 90).  No
 * public specification exists: codes and meanings as published by
 * security research on Modicon M340/M580 PLCs.  A response carries a
 * status in the same position: 0xFE ok, 0xFD error.
 */
#define UMAS_SIGNED 0x38     /* envelope: magic, 32-byte signature, inner */
#define UMAS_SIGNATURE_LEN 32
#define UMAS_STATUS_OK 0xFE
#define UMAS_STATUS_ERROR 0xFD

static const char *const umas_fc_names[256] = {
	[0x01] = "umas_init_comm",           /* open a UMAS session */
	[0x02] = "umas_read_id",             /* PLC identification */
	[0x03] = "umas_read_project_info",   /* project name, version */
	[0x04] = "umas_read_plc_info",       /* internal PLC information */
	[0x05] = "umas_read_loader_info",
	[0x06] = "umas_read_card_info",      /* memory card information */
	[0x07] = "umas_read_block_info",
	[0x0A] = "umas_repeat",              /* echo, used to synchronise */
	[0x10] = "umas_take_plc_reservation",   /* become the PLC's owner */
	[0x11] = "umas_release_plc_reservation",
	[0x12] = "umas_keep_alive",
	[0x20] = "umas_read_memory_block",
	[0x21] = "umas_write_memory_block",
	[0x22] = "umas_read_variables",      /* system bits/words, variables */
	[0x23] = "umas_write_variables",
	[0x24] = "umas_read_coils_registers",
	[0x25] = "umas_write_coils_registers",
	[0x26] = "umas_data_dictionary",
	[0x27] = "umas_data_dictionary_preload",
	[0x28] = "umas_read_physical_address",
	[0x29] = "umas_write_physical_address",
	[0x2A] = "umas_browse_events",
	/* program transfer; "download" = engineering PC to PLC */
	[0x30] = "umas_initialize_download",
	[0x31] = "umas_download_block",
	[0x32] = "umas_end_download",
	[0x33] = "umas_initialize_upload",   /* PLC to engineering PC */
	[0x34] = "umas_upload_block",
	[0x35] = "umas_end_upload",
	[0x36] = "umas_backup",
	[0x37] = "umas_preload_blocks",
	[UMAS_SIGNED] = "umas_signed",       /* carries an inner function */
	[0x39] = "umas_read_ethernet_master_data",
	[0x40] = "umas_start_plc",
	[0x41] = "umas_stop_plc",
	[0x42] = "umas_init_plc",
	[0x43] = "umas_swap",                /* swap program blocks */
	[0x50] = "umas_monitor_plc",         /* monitor variables, bits, words */
	[0x51] = "umas_get_auto_modif",
	[0x52] = "umas_get_forced_bits",
	[0x53] = "umas_get_selected_blocks",
	[0x58] = "umas_check_plc",           /* connection status */
	[0x60] = "umas_breakpoint_set",
	[0x61] = "umas_breakpoint_delete",
	[0x62] = "umas_step_over",
	[0x63] = "umas_step_in",
	[0x64] = "umas_step_out",
	[0x65] = "umas_get_call_stack",
	[0x66] = "umas_check_debug_allowed",
	[0x6C] = "umas_process_msg",
	[0x6D] = "umas_private",
	[0x6E] = "umas_reservation_nonces",
	[0x70] = "umas_read_io_object",
	[0x71] = "umas_write_io_object",
	[0x72] = "umas_read_rack",
	[0x73] = "umas_get_status_module",
	[0x74] = "umas_read_device_data",
	[UMAS_STATUS_ERROR] = "umas_response_error",
	[UMAS_STATUS_OK] = "umas_response_ok",
};

/* ------------------------------------------------------------------ */
/* Operation classes                                                   */
/* ------------------------------------------------------------------ */

/* Class of a request by function code (FC 8, 43, 90: by their sub-code) */
static enum mm_op_class modbus_fc_class(unsigned fc)
{
	switch (fc) {
	case MODBUS_FC_READ_COILS:
	case MODBUS_FC_READ_DISCRETE_INPUTS:
	case MODBUS_FC_READ_HOLDING_REGISTERS:
	case MODBUS_FC_READ_INPUT_REGISTERS:
	case MODBUS_FC_READ_EXCEPTION_STATUS: /* eight status outputs */
	case MODBUS_FC_READ_FILE_RECORD:
	case MODBUS_FC_READ_FIFO_QUEUE:
		return MM_OP_READ;
	case MODBUS_FC_WRITE_SINGLE_COIL:
	case MODBUS_FC_WRITE_SINGLE_REGISTER:
	case MODBUS_FC_WRITE_MULTIPLE_COILS:
	case MODBUS_FC_WRITE_MULTIPLE_REGISTERS:
	case MODBUS_FC_WRITE_FILE_RECORD:
	case MODBUS_FC_MASK_WRITE_REGISTER:
	case MODBUS_FC_READ_WRITE_REGISTERS: /* writes first, then reads */
		return MM_OP_WRITE;
	case MODBUS_FC_GET_COMM_EVENT_COUNTER: /* device communication state */
	case MODBUS_FC_GET_COMM_EVENT_LOG:
	case MODBUS_FC_REPORT_SERVER_ID:
		return MM_OP_DISCOVER;
	}
	return MM_OP_OTHER; /* user-defined, reserved, unassigned */
}

/*
 * FC 8: restart and listen-only change how the device communicates (a
 * device forced to listen-only stops answering everyone until restarted,
 * T0814/T0816-like), and so does a new ASCII delimiter on a serial
 * gateway: control.  Clearing counters destroys diagnostic evidence but
 * changes no process state: other.  The counter and register queries
 * reveal the device's state: discover.  The echo test reveals nothing
 * (other), and reserved sub-functions are kept other.
 */
static enum mm_op_class modbus_diag_class(unsigned sub)
{
	switch (sub) {
	case MODBUS_DIAG_RESTART_COMM:
	case MODBUS_DIAG_FORCE_LISTEN_ONLY:
	case MODBUS_DIAG_CHANGE_ASCII_DELIMITER:
		return MM_OP_CONTROL;
	case MODBUS_DIAG_RETURN_DIAG_REGISTER:
		return MM_OP_DISCOVER;
	case MODBUS_DIAG_CLEAR_COUNTERS:
	case MODBUS_DIAG_CLEAR_OVERRUN:
		return MM_OP_OTHER;
	}
	if (sub >= MODBUS_DIAG_BUS_MESSAGE_COUNT &&
	    sub <= MODBUS_DIAG_BUS_CHAR_OVERRUN_COUNT)
		return MM_OP_DISCOVER;
	return MM_OP_OTHER; /* 0 echo, reserved */
}

/*
 * UMAS: identification and dictionary queries discover; memory, variable
 * and I/O reads read; variable and coil/register writes write; anything
 * that replaces application code or raw memory (write memory block,
 * physical writes, the download/upload sequence, backup, preload, block
 * swap) program; run state and debugger stepping control.  Session
 * housekeeping (init, reservation, keep-alive, check, nonces) and unknown
 * codes: other.
 */
static enum mm_op_class umas_fc_class(unsigned ufc)
{
	switch (ufc) {
	case 0x02: case 0x03: case 0x04: case 0x05: case 0x06: case 0x07:
	case 0x26: case 0x27: case 0x72: case 0x73: case 0x74:
		return MM_OP_DISCOVER;
	case 0x20: case 0x22: case 0x24: case 0x28: case 0x2A: case 0x39:
	case 0x50: case 0x51: case 0x52: case 0x53: case 0x65: case 0x70:
		return MM_OP_READ;
	case 0x23: case 0x25: case 0x71:
		return MM_OP_WRITE;
	case 0x21: case 0x29: case 0x30: case 0x31: case 0x32: case 0x33:
	case 0x34: case 0x35: case 0x36: case 0x37: case 0x43:
		return MM_OP_PROGRAM;
	case 0x40: case 0x41: case 0x42: case 0x60: case 0x61: case 0x62:
	case 0x63: case 0x64:
		return MM_OP_CONTROL;
	}
	return MM_OP_OTHER;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

enum {
	MB_EV_INVALID_PROTOCOL_ID,
	MB_EV_INVALID_LENGTH,
	MB_EV_INVALID_FUNCTION_CODE,
	MB_EV_INVALID_VALUE,
	MB_EV_UNSOLICITED_RESPONSE,
	MB_EV_FUNCTION_MISMATCH,
	MB_EV_FLOODED,
	MB_EV_EXCEPTION_RESPONSE,
	MB_EV_UNANSWERED_REQUESTS,
	MB_EV__N
};

#define CAT_DECODE "Generic Protocol Command Decode"
#define CAT_BAD "Potentially Bad Traffic"
#define CAT_DOS "Attempted Denial of Service"
#define CAT_MISC "Misc activity"

static const struct mm_event_def modbus_events[MB_EV__N] = {
	[MB_EV_INVALID_PROTOCOL_ID] = { "modbus.invalid_protocol_id", 2,
		CAT_DECODE, "MBAP protocol id is not 0: not Modbus, or the "
		"stream lost sync (could be packet loss)" },
	[MB_EV_INVALID_LENGTH] = { "modbus.invalid_length", 2, CAT_DECODE,
		"a length or byte count disagrees with the PDU: truncated or "
		"crafted packet, or a buggy device" },
	[MB_EV_INVALID_FUNCTION_CODE] = { "modbus.invalid_function_code", 2,
		CAT_DECODE, "function code 0 or a request code above 127: "
		"fuzzing or a broken client" },
	[MB_EV_INVALID_VALUE] = { "modbus.invalid_value", 3, CAT_DECODE,
		"a field holds a value the spec forbids (quantity 0, coil "
		"value, reference type): probing or a buggy client" },
	[MB_EV_UNSOLICITED_RESPONSE] = { "modbus.unsolicited_response", 3,
		CAT_BAD, "response with no outstanding request: could be "
		"packet loss, or an injected response" },
	[MB_EV_FUNCTION_MISMATCH] = { "modbus.function_mismatch", 2, CAT_BAD,
		"response function code differs from its request's: "
		"injected response or a confused gateway" },
	[MB_EV_FLOODED] = { "modbus.flooded", 2, CAT_DOS,
		"more than 256 requests outstanding: request flood, or a "
		"server that stopped answering" },
	[MB_EV_EXCEPTION_RESPONSE] = { "modbus.exception_response", 4,
		CAT_MISC, "server refused a request: common on real plants; "
		"many in a row can mean a scan" },
	[MB_EV_UNANSWERED_REQUESTS] = { "modbus.unanswered_requests", 4,
		CAT_MISC, "requests never answered when the flow ended or "
		"the request was superseded: server down, or packet loss" },
};

/* ------------------------------------------------------------------ */
/* Per-flow state: outstanding requests                                */
/* ------------------------------------------------------------------ */

/* What a request leaves behind for its response. */
struct modbus_req {
	uint32_t seq;      /* request number on the flow: its age */
	uint16_t tid;
	uint16_t address;  /* first address (FC 23: of the read) */
	uint16_t quantity; /* items asked for (FC 23: read quantity) */
	uint16_t sub;      /* FC 8 sub-function, FC 43 MEI, FC 90 UMAS fc */
	uint8_t unit;
	uint8_t fc;
	uint8_t used;
	uint8_t quiet;     /* no answer expected (FC 8 force listen only) */
	uint8_t reused;    /* earlier requests with this (tid, unit), open */
};

/*
 * Outstanding requests keyed by (transaction id, unit), open addressing
 * with linear probing.  The table starts with 16 slots inside the flow
 * state and doubles (up to 512) only when a flow keeps more than half of
 * them open: a client keeps a few requests in flight, and a 512-slot
 * table in every flow was 10 of the 18.6 KiB a concurrent TCP stream
 * cost (bench/streams.sh).  No allocation per PDU: a table grows at most
 * five times in a flow's life, and a failed growth leaves the request
 * untracked, counted like one during a flood.
 *
 * Bounded at MODBUS_MAX_OUTSTANDING because the table is filled by the
 * client and emptied by the server: a client that floods, or a server
 * that stops answering, must not grow the sensor's memory.  Real clients
 * keep a handful of requests in flight ([TCP] 4.2 suggests a small
 * NumberMaxOfServerTransaction); 256 is far beyond that.
 *
 * A request whose answer was lost (a capture gap, a server that skips
 * some) would otherwise stay for the life of a connection that lasts
 * months.  So when the table is full, requests that stayed unanswered
 * while MODBUS_STALE_AGE later requests were sent are evicted first: the
 * table is then only full of requests that are all younger than that,
 * i.e. the last 256 requests all went unanswered: a request flood or a
 * server that stopped answering.  Only then is `modbus.flooded` raised,
 * once, and new requests are not tracked until the table drains below the
 * bound; the event is re-armed when answers have drained it to half
 * (hysteresis: a flow hovering at the bound raises no event per request).
 *
 * Requests left out of the table during a flood (untracked, or evicted
 * while flooded) may still be answered, late: they are counted in
 * `untracked`, and a response that matches nothing while that count is
 * positive is taken as such a late answer (not unsolicited) and uses one
 * up.  The count is capped at the bound, so that after a flood at most
 * 256 stray responses go unreported.  Requests evicted outside a flood are
 * taken as lost (`unanswered`): no late answer excuses a stray response
 * then, so a lossy but long-lived flow keeps detecting injected ones.
 *
 * A client may reuse a transaction id while a request with it is still
 * open ([TCP] 3.1.3 wants it unique, but some clients always send 0, and
 * some pipeline several requests with one id).  The entry then describes
 * the newest request and counts the earlier ones in `reused`; a response
 * that does not fit the newest (another echoed address, a byte count for
 * another quantity) is taken as the answer to an earlier one, and one that
 * fits answers the newest, the earlier ones being taken as lost.  So a
 * client that always sends 0 and lost one answer recovers at its next
 * answer, and a pipelining one has every answer paired.
 */
struct modbus_state {
	struct modbus_req *slot; /* small, or a grown table of its own */
	uint32_t bits;        /* the table has 1 << bits slots */
	unsigned n;           /* used slots */
	uint32_t seq;         /* requests seen */
	uint32_t untracked;   /* left out during a flood: late answers excused */
	uint32_t unanswered;  /* superseded, or evicted as lost */
	bool seen_request;    /* a response before any request is mid-stream */
	bool flooded;         /* flooded event raised, not yet re-armed */
	struct modbus_req small[1u << MODBUS_TABLE_MIN_BITS];
};

#define TAB_SIZE(s) (1u << (s)->bits)
#define TAB_MASK(s) (TAB_SIZE(s) - 1)

static uint32_t tab_hash(const struct modbus_state *s, uint16_t tid,
			 uint8_t unit)
{
	uint32_t k = ((uint32_t)unit << 16) | tid;
	return (k * 2654435761u) >> (32 - s->bits); /* Fibonacci */
}

static int tab_find(const struct modbus_state *s, uint16_t tid, uint8_t unit)
{
	uint32_t i = tab_hash(s, tid, unit);

	/* load <= 1/2: an empty slot always ends the probe */
	while (s->slot[i].used) {
		if (s->slot[i].tid == tid && s->slot[i].unit == unit)
			return (int)i;
		i = (i + 1) & TAB_MASK(s);
	}
	return -1;
}

/* twice the slots, every entry at its new place; false: no memory */
static bool tab_grow(struct modbus_state *s)
{
	struct modbus_req *old = s->slot, *t;
	uint32_t n_old = TAB_SIZE(s);

	t = calloc((size_t)n_old * 2, sizeof(*t));
	if (!t)
		return false;
	s->slot = t;
	s->bits++;
	for (uint32_t i = 0; i < n_old; i++) {
		if (!old[i].used)
			continue;
		uint32_t j = tab_hash(s, old[i].tid, old[i].unit);
		while (t[j].used)
			j = (j + 1) & TAB_MASK(s);
		t[j] = old[i];
	}
	if (old != s->small)
		free(old);
	return true;
}

/* backward-shift deletion: no tombstones, probes stay short */
static void tab_remove(struct modbus_state *s, uint32_t i)
{
	uint32_t j = i;

	s->slot[i].used = 0;
	s->n--;
	for (;;) {
		j = (j + 1) & TAB_MASK(s);
		if (!s->slot[j].used)
			break;
		uint32_t k = tab_hash(s, s->slot[j].tid, s->slot[j].unit);
		/* j may move to the hole i unless its home k lies in (i, j] */
		bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
		if (stays)
			continue;
		s->slot[i] = s->slot[j];
		s->slot[j].used = 0;
		i = j;
	}
}

/* stop waiting for a request: its answer may still come, or it is lost */
static void give_up(struct modbus_state *s, bool may_answer)
{
	if (may_answer && s->untracked < MODBUS_MAX_OUTSTANDING)
		s->untracked++;
	else if (s->unanswered < UINT32_MAX)
		s->unanswered++;
}

static void tab_evict_stale(struct modbus_state *s)
{
	for (uint32_t i = 0; i < TAB_SIZE(s);) {
		if (s->slot[i].used &&
		    s->seq - s->slot[i].seq > MODBUS_STALE_AGE) {
			if (!s->slot[i].quiet)
				for (unsigned k = 0; k <= s->slot[i].reused; k++)
					give_up(s, s->flooded);
			tab_remove(s, i);
			continue; /* a later entry may have moved into i */
		}
		i++;
	}
}

/* ------------------------------------------------------------------ */
/* Parsing one PDU                                                     */
/* ------------------------------------------------------------------ */

struct pdu {
	struct mm_ctx *c;
	struct modbus_state *st;  /* NULL: no pairing */
	struct mm_rec *rec;       /* NULL: the log is off, build nothing */
	struct rd r;              /* PDU data after the function code */
	uint16_t tid;
	uint8_t unit;
	uint8_t fc;               /* without the exception bit */
	bool request;
	bool len_bad;             /* invalid_length raised for this PDU */
	bool val_bad;             /* invalid_value raised for this PDU */
	bool track;               /* the request expects a response */
	const struct modbus_req *req; /* response: its request, when paired */
	struct modbus_req info;   /* request: what its response will need */
	struct mm_op op;          /* request: the classified operation */
};

static void pdu_event(struct pdu *p, int id, const char *fmt, va_list ap)
{
	char detail[200];

	vsnprintf(detail, sizeof(detail), fmt, ap);
	mm_emit_event(p->c, &modbus_events[id], "%s", detail);
}

__attribute__((format(printf, 3, 4)))
static void ev(struct pdu *p, int id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pdu_event(p, id, fmt, ap);
	va_end(ap);
}

/* invalid_length, once per PDU: the first disagreement explains the rest */
__attribute__((format(printf, 2, 3)))
static void bad_len(struct pdu *p, const char *fmt, ...)
{
	va_list ap;

	if (p->len_bad)
		return;
	p->len_bad = true;
	va_start(ap, fmt);
	pdu_event(p, MB_EV_INVALID_LENGTH, fmt, ap);
	va_end(ap);
}

/* invalid_value, once per PDU */
__attribute__((format(printf, 2, 3)))
static void bad_val(struct pdu *p, const char *fmt, ...)
{
	va_list ap;

	if (p->val_bad)
		return;
	p->val_bad = true;
	va_start(ap, fmt);
	pdu_event(p, MB_EV_INVALID_VALUE, fmt, ap);
	va_end(ap);
}

static const char *pdu_kind(const struct pdu *p)
{
	return p->request ? "request" : "response";
}

/* the end of every decoder: the PDU must have been exactly consumed */
static void finish(struct pdu *p)
{
	if (p->r.err)
		bad_len(p, "fc %u %s truncated", p->fc, pdu_kind(p));
	else if (rd_left(&p->r) > 0)
		bad_len(p, "fc %u %s has %zu bytes past its layout", p->fc,
			pdu_kind(p), rd_left(&p->r));
}

/*
 * mm_op.space for Modbus: the data model's table, numbered as its classic
 * reference prefix (0xxxx coils, 1xxxx discrete inputs, 3xxxx input
 * registers, 4xxxx holding registers); -1: the function addresses no table.
 */
static int table_code(unsigned fc)
{
	switch (fc) {
	case MODBUS_FC_READ_COILS:
	case MODBUS_FC_WRITE_SINGLE_COIL:
	case MODBUS_FC_WRITE_MULTIPLE_COILS:
		return 0;
	case MODBUS_FC_READ_DISCRETE_INPUTS:
		return 1;
	case MODBUS_FC_READ_INPUT_REGISTERS:
		return 3;
	case MODBUS_FC_READ_HOLDING_REGISTERS:
	case MODBUS_FC_WRITE_SINGLE_REGISTER:
	case MODBUS_FC_WRITE_MULTIPLE_REGISTERS:
	case MODBUS_FC_MASK_WRITE_REGISTER:
	case MODBUS_FC_READ_WRITE_REGISTERS:
		return 4;
	}
	return -1;
}

/* "unit U " + the rest: the op's target */
__attribute__((format(printf, 2, 3)))
/* every request's target text: "unit N " now, the rest deferred
 * (mm_op_target_defer) - formatting it on every request cost more than
 * parsing the PDU, and only an alert reads it.  %s arguments are string
 * constants (space_name, diag_name, devid_name). */
static void target(struct pdu *p, const char *fmt, ...)
{
	va_list ap;
	char *t = p->op.target;
	size_t n = 5;
	unsigned u = p->unit;

	/* "unit N ": every request, written directly (a unit is 0-255) */
	memcpy(t, "unit ", 5);
	if (u >= 100)
		t[n++] = (char)('0' + u / 100);
	if (u >= 10)
		t[n++] = (char)('0' + u / 10 % 10);
	t[n++] = (char)('0' + u % 10);
	t[n++] = ' ';
	t[n] = '\0';

	mm_op_target_reset(&p->op); /* a second call starts the text anew */
	va_start(ap, fmt);
	mm_op_target_vdefer(&p->op, fmt, ap);
	va_end(ap);
	/* the structured target: the table and range a table function
	 * touches (decoders set p->info before calling here; FC 23: its
	 * read range); the unit is set for every request (parse_request) */
	int space = table_code(p->fc);
	if (p->request && space >= 0) {
		p->op.space = (uint32_t)space;
		p->op.addr = p->info.address;
		p->op.count = p->info.quantity;
	}
}

/*
 * Slice the next n bytes, or all that remain when fewer: true when all n
 * were there.  Unlike rd_sub it never sets the parent's error, so the
 * decoder can log what it has and report the shortfall itself.
 */
static bool take(struct rd *r, size_t n, struct rd *out)
{
	size_t left = rd_left(r);
	bool full = !r->err && n <= left;

	rd_sub(r, full ? n : left, out);
	return full;
}

/* --- log helpers: each is a no-op when the log is off --- */

static void log_u(struct pdu *p, const char *k, unsigned long long v)
{
	if (p->rec)
		rec_uint(p->rec, k, v);
}

static void log_s(struct pdu *p, const char *k, const char *v)
{
	if (p->rec)
		rec_str(p->rec, k, v);
}

static void log_hex(struct pdu *p, const char *k, const struct rd *v)
{
	if (p->rec)
		rec_hex(p->rec, k, rd_ptr(v), rd_left(v));
}

/* "values": big-endian registers, bounded */
static void log_regs(struct pdu *p, const char *k, struct rd v)
{
	size_t n = rd_left(&v) / 2;

	if (!p->rec)
		return;
	rec_be16_array(p->rec, k, rd_ptr(&v),
		       n < MODBUS_LOG_MAX_VALUES ? n : MODBUS_LOG_MAX_VALUES);
	if (n > MODBUS_LOG_MAX_VALUES)
		rec_bool(p->rec, "values_truncated", true);
}

/* "values": coils/inputs, LSB of the first byte first ([AP] 6.1), bounded */
static void log_bits(struct pdu *p, const char *k, struct rd v, size_t nbits)
{
	size_t have = rd_left(&v) * 8;
	uint8_t byte = 0;

	if (!p->rec)
		return;
	if (nbits > have)
		nbits = have;
	rec_arr_begin(p->rec, k);
	for (size_t i = 0; i < nbits && i < MODBUS_LOG_MAX_VALUES; i++) {
		if (i % 8 == 0)
			byte = rd_u8(&v);
		rec_uint(p->rec, NULL, (byte >> (i % 8)) & 1);
	}
	rec_arr_end(p->rec);
	if (nbits > MODBUS_LOG_MAX_VALUES)
		rec_bool(p->rec, "values_truncated", true);
}

/* --- field checks --- */

static void check_qty(struct pdu *p, const char *what, unsigned q, unsigned max)
{
	if (q == 0 || q > max)
		bad_val(p, "fc %u %s %u out of 1..%u", p->fc, what, q, max);
}

static void check_range(struct pdu *p, unsigned addr, unsigned q)
{
	if (addr + q > 65536u)
		bad_val(p, "fc %u address %u + quantity %u past 65535", p->fc,
			addr, q);
}

static const char *space_name(unsigned fc)
{
	switch (fc) {
	case MODBUS_FC_READ_COILS:
	case MODBUS_FC_WRITE_SINGLE_COIL:
	case MODBUS_FC_WRITE_MULTIPLE_COILS:
		return "coil";
	case MODBUS_FC_READ_DISCRETE_INPUTS:
		return "discrete";
	case MODBUS_FC_READ_INPUT_REGISTERS:
		return "input";
	}
	return "holding";
}

static bool fc_is_bits(unsigned fc)
{
	return fc == MODBUS_FC_READ_COILS || fc == MODBUS_FC_READ_DISCRETE_INPUTS;
}

/* ---------------- FC 1-4: reads (6.1-6.4) ---------------- */

static void req_read(struct pdu *p)
{
	uint16_t addr = rd_be16(&p->r);
	uint16_t qty = rd_be16(&p->r);

	if (p->r.err) {
		finish(p);
		return;
	}
	check_qty(p, "quantity", qty,
		  fc_is_bits(p->fc) ? MODBUS_MAX_READ_BITS : MODBUS_MAX_READ_REGS);
	check_range(p, addr, qty);
	log_u(p, "address", addr);
	log_u(p, "quantity", qty);
	p->info.address = addr;
	p->info.quantity = qty;
	target(p, "%s %u x%u", space_name(p->fc), addr, qty);
	finish(p);
}

/* FC 1-4 and 23: byte count + data */
static void rsp_read(struct pdu *p)
{
	bool bits = fc_is_bits(p->fc);
	uint8_t bc = rd_u8(&p->r);
	struct rd v;

	if (p->r.err) {
		finish(p);
		return;
	}
	bool full = take(&p->r, bc, &v);
	log_u(p, "byte_count", bc);
	if (!full) {
		bad_len(p, "fc %u byte count %u, %zu data bytes follow", p->fc,
			bc, rd_left(&v));
	} else if (p->req) {
		unsigned q = p->req->quantity;
		unsigned want = bits ? (q + 7) / 8 : 2 * q;
		if (bc != want)
			bad_len(p, "fc %u byte count %u for quantity %u "
				"(expected %u)", p->fc, bc, q, want);
	} else if (!bits && bc % 2) {
		bad_len(p, "fc %u odd byte count %u for registers", p->fc, bc);
	}
	if (p->req) {
		log_u(p, "address", p->req->address);
		log_u(p, "quantity", p->req->quantity);
	}
	if (p->rec) {
		if (bits)
			log_bits(p, "values", v,
				 p->req ? p->req->quantity : rd_left(&v) * 8);
		else
			log_regs(p, "values", v);
	}
	finish(p);
}

/* ---------------- FC 5, 6: single writes (6.5, 6.6) ---------------- */

static void single_write(struct pdu *p)
{
	uint16_t addr = rd_be16(&p->r);
	uint16_t val = rd_be16(&p->r);

	if (p->r.err) {
		finish(p);
		return;
	}
	if (p->fc == MODBUS_FC_WRITE_SINGLE_COIL && val != MODBUS_COIL_ON &&
	    val != MODBUS_COIL_OFF)
		bad_val(p, "fc 5 coil value 0x%04x is neither 0x0000 nor 0xFF00",
			val);
	log_u(p, "address", addr);
	log_u(p, "value", val);
	if (p->request) {
		p->info.address = addr;
		p->info.quantity = 1;
		target(p, "%s %u", space_name(p->fc), addr);
	}
	finish(p);
}

/* ---------------- FC 7: read exception status (6.7) ---------------- */

static void fc_exception_status(struct pdu *p)
{
	if (p->request) {
		target(p, "exception status");
	} else {
		uint8_t v = rd_u8(&p->r);
		if (!p->r.err)
			log_u(p, "value", v); /* eight exception status outputs */
	}
	finish(p);
}

/* ---------------- FC 8: diagnostics (6.8) ---------------- */

static const char *diag_name(unsigned sub)
{
	if (sub < MODBUS_DIAG_N && modbus_diag_names[sub])
		return modbus_diag_names[sub];
	return "reserved";
}

static void fc_diagnostics(struct pdu *p)
{
	uint16_t sub = rd_be16(&p->r);
	struct rd d;

	if (p->r.err) {
		finish(p);
		return;
	}
	take(&p->r, rd_left(&p->r), &d);
	bool known = sub < MODBUS_DIAG_N && modbus_diag_names[sub];
	log_u(p, "sub_function", sub);
	log_s(p, "sub_function_name", diag_name(sub));
	if (rd_left(&d) == 2) {
		struct rd v = d;
		uint16_t val = rd_be16(&v);
		log_u(p, "value", val);
		/* 6.8.1: 0xFF00 also clears the comm event log */
		if (p->request && sub == MODBUS_DIAG_RESTART_COMM &&
		    val != 0x0000 && val != 0xFF00)
			bad_val(p, "fc 8 restart option 0x%04x is neither "
				"0x0000 nor 0xFF00", val);
	} else if (rd_left(&d) > 0) {
		log_hex(p, "data", &d);
	}
	/* every defined sub-function but the echo carries one 16-bit word */
	if (known && sub != MODBUS_DIAG_RETURN_QUERY_DATA && rd_left(&d) != 2)
		bad_len(p, "fc 8 sub-function %u carries %zu data bytes, "
			"expected 2", sub, rd_left(&d));
	else if (sub == MODBUS_DIAG_RETURN_QUERY_DATA && rd_left(&d) % 2)
		bad_len(p, "fc 8 echo data of odd length %zu", rd_left(&d));
	if (p->request) {
		p->info.sub = sub;
		p->op.cls = modbus_diag_class(sub);
		/* 6.8.1: force listen only mode is never answered by the
		 * device, but a gateway may answer it with an exception:
		 * track it, without waiting for it */
		p->info.quiet = sub == MODBUS_DIAG_FORCE_LISTEN_ONLY;
		target(p, "diagnostics %s", diag_name(sub));
	}
	finish(p);
}

/* ---------------- FC 11, 12: comm event counter/log (6.9, 6.10) --------- */

static void fc_comm_event_counter(struct pdu *p)
{
	if (p->request) {
		target(p, "comm event counter");
	} else {
		uint16_t status = rd_be16(&p->r);
		uint16_t count = rd_be16(&p->r);
		if (!p->r.err) {
			/* 6.9: 0xFFFF while a program command is running, else 0 */
			if (status != 0x0000 && status != 0xFFFF)
				bad_val(p, "fc 11 status 0x%04x is neither "
					"0x0000 nor 0xFFFF", status);
			log_u(p, "status", status);
			log_u(p, "event_count", count);
		}
	}
	finish(p);
}

static void fc_comm_event_log(struct pdu *p)
{
	if (p->request) {
		target(p, "comm event log");
		finish(p);
		return;
	}
	uint8_t bc = rd_u8(&p->r);
	struct rd b;
	if (p->r.err) {
		finish(p);
		return;
	}
	bool full = take(&p->r, bc, &b);
	size_t avail = rd_left(&b);
	log_u(p, "byte_count", bc);
	/* 6.10: status, event count, message count, then events */
	uint16_t status = rd_be16(&b);
	uint16_t events = rd_be16(&b);
	uint16_t msgs = rd_be16(&b);
	if (!full)
		bad_len(p, "fc 12 byte count %u, %zu bytes follow", bc, avail);
	else if (b.err)
		bad_len(p, "fc 12 byte count %u below the 6 fixed bytes", bc);
	if (!b.err) {
		log_u(p, "status", status);
		log_u(p, "event_count", events);
		log_u(p, "message_count", msgs);
		log_hex(p, "events", &b);
	}
	finish(p);
}

/* ---------------- FC 15, 16: multiple writes (6.11, 6.12) ---------------- */

static void fc_write_multiple(struct pdu *p)
{
	bool coils = p->fc == MODBUS_FC_WRITE_MULTIPLE_COILS;
	uint16_t addr = rd_be16(&p->r);
	uint16_t qty = rd_be16(&p->r);

	if (p->r.err) {
		finish(p);
		return;
	}
	check_qty(p, "quantity", qty,
		  coils ? MODBUS_MAX_WRITE_BITS : MODBUS_MAX_WRITE_REGS);
	check_range(p, addr, qty);
	log_u(p, "address", addr);
	log_u(p, "quantity", qty);
	if (!p->request) { /* 6.11, 6.12: the response echoes address, qty */
		finish(p);
		return;
	}
	p->info.address = addr;
	p->info.quantity = qty;
	target(p, "%s %u x%u", space_name(p->fc), addr, qty);

	uint8_t bc = rd_u8(&p->r);
	struct rd v;
	if (p->r.err) {
		finish(p);
		return;
	}
	bool full = take(&p->r, bc, &v);
	unsigned want = coils ? (qty + 7u) / 8 : 2u * qty;
	log_u(p, "byte_count", bc);
	if (!full)
		bad_len(p, "fc %u byte count %u, %zu bytes follow", p->fc, bc,
			rd_left(&v));
	else if (bc != want)
		bad_len(p, "fc %u byte count %u for quantity %u (expected %u)",
			p->fc, bc, qty, want);
	if (p->rec) {
		size_t n = coils ? qty : rd_left(&v) / 2;
		if (coils && n > rd_left(&v) * 8)
			n = rd_left(&v) * 8;
		log_u(p, "values_count", n);
		if (coils)
			log_bits(p, "values", v, qty);
		else
			log_regs(p, "values", v);
	}
	finish(p);
}

/* ---------------- FC 17: report server id (6.13) ---------------- */

static void fc_report_server_id(struct pdu *p)
{
	if (p->request) {
		target(p, "server id");
		finish(p);
		return;
	}
	uint8_t bc = rd_u8(&p->r);
	struct rd b;
	if (p->r.err) {
		finish(p);
		return;
	}
	bool full = take(&p->r, bc, &b);
	log_u(p, "byte_count", bc);
	if (!full)
		bad_len(p, "fc 17 byte count %u, %zu bytes follow", bc,
			rd_left(&b));
	log_hex(p, "server_id_data", &b);
	/*
	 * 6.13 leaves the server id's length to the device and puts the run
	 * indicator (0x00 OFF, 0xFF ON) after it.  Devices (and libmodbus)
	 * overwhelmingly send a one-byte id: decode that layout, keep the
	 * whole payload above so nothing is lost when a device differs.
	 */
	struct rd id;
	take(&b, 1, &id);
	if (rd_left(&id) == 1) {
		char hex[3];
		uint8_t v = rd_peek(&id, 0);
		static const char digits[] = "0123456789abcdef";
		hex[0] = digits[v >> 4];
		hex[1] = digits[v & 15];
		hex[2] = 0;
		log_s(p, "server_id", hex);
		mm_asset_fact(p->c, true, "server_id", (const uint8_t *)hex, 2);
	}
	if (rd_left(&b) > 0) {
		uint8_t run = rd_u8(&b);
		const char *ri = run == 0xFF ? "on" : run == 0x00 ? "off" : NULL;
		if (ri) {
			log_s(p, "run_indicator", ri);
			mm_asset_fact(p->c, true, "run_indicator",
				      (const uint8_t *)ri, strlen(ri));
		} else {
			log_u(p, "run_indicator", run);
		}
		if (rd_left(&b) > 0 && p->rec)
			rec_strn(p->rec, "additional_data", rd_ptr(&b),
				 rd_left(&b));
	}
	finish(p);
}

/* ---------------- FC 20, 21: file records (6.14, 6.15) ---------------- */

static void file_record_ids(struct pdu *p, uint8_t ref, uint16_t file,
			    uint16_t recno, uint16_t len, unsigned nsub)
{
	if (ref != MODBUS_FILE_REF_TYPE)
		bad_val(p, "fc %u reference type %u, must be 6", p->fc, ref);
	if (recno > MODBUS_FILE_MAX_RECORD)
		bad_val(p, "fc %u record number %u above 9999", p->fc, recno);
	if (nsub == 0 && p->request) {
		p->info.address = recno;
		p->info.quantity = len;
		target(p, "file %u record %u x%u", file, recno, len);
	}
}

static void fc_read_file_record(struct pdu *p)
{
	uint8_t bc = rd_u8(&p->r);
	struct rd b;
	unsigned nsub = 0;

	if (p->r.err) {
		finish(p);
		return;
	}
	bool full = take(&p->r, bc, &b);
	log_u(p, "byte_count", bc);
	if (!full)
		bad_len(p, "fc 20 byte count %u, %zu bytes follow", bc,
			rd_left(&b));
	if (p->request) {
		if (bc < MODBUS_FILE_REQ_MIN || bc > MODBUS_FILE_REQ_MAX ||
		    bc % MODBUS_FILE_SUBREQ_LEN)
			bad_len(p, "fc 20 byte count %u not a multiple of 7 in "
				"7..245", bc);
		if (p->rec)
			rec_arr_begin(p->rec, "sub_requests");
		while (rd_left(&b) >= MODBUS_FILE_SUBREQ_LEN) {
			uint8_t ref = rd_u8(&b);
			uint16_t file = rd_be16(&b);
			uint16_t recno = rd_be16(&b);
			uint16_t len = rd_be16(&b);
			file_record_ids(p, ref, file, recno, len, nsub);
			if (p->rec && nsub < MODBUS_LOG_MAX_ITEMS) {
				rec_obj_begin(p->rec, NULL);
				rec_uint(p->rec, "reference_type", ref);
				rec_uint(p->rec, "file_number", file);
				rec_uint(p->rec, "record_number", recno);
				rec_uint(p->rec, "record_length", len);
				rec_obj_end(p->rec);
			}
			nsub++;
		}
		if (p->rec)
			rec_arr_end(p->rec);
		if (nsub > 1)
			mm_op_target_defer(&p->op, " +%u more", nsub - 1);
		finish(p);
		return;
	}
	/* response: sub-responses of file length, reference type, data */
	if (p->rec)
		rec_arr_begin(p->rec, "sub_responses");
	while (rd_left(&b) > 0) {
		uint8_t flen = rd_u8(&b);
		struct rd sr;
		if (!take(&b, flen, &sr))
			bad_len(p, "fc 20 file response length %u, %zu bytes "
				"follow", flen, rd_left(&sr));
		uint8_t ref = rd_u8(&sr);
		if (sr.err) {
			bad_len(p, "fc 20 empty file sub-response");
			break;
		}
		if (ref != MODBUS_FILE_REF_TYPE)
			bad_val(p, "fc 20 reference type %u, must be 6", ref);
		if (rd_left(&sr) % 2)
			bad_len(p, "fc 20 odd record data length %zu",
				rd_left(&sr));
		if (p->rec && nsub < MODBUS_LOG_MAX_ITEMS) {
			rec_obj_begin(p->rec, NULL);
			rec_uint(p->rec, "length", flen);
			rec_uint(p->rec, "reference_type", ref);
			log_regs(p, "values", sr);
			rec_obj_end(p->rec);
		}
		nsub++;
	}
	if (p->rec)
		rec_arr_end(p->rec);
	finish(p);
}

/* request and response share the layout (the response is an echo) */
static void fc_write_file_record(struct pdu *p)
{
	uint8_t len = rd_u8(&p->r);
	struct rd b;
	unsigned nsub = 0;

	if (p->r.err) {
		finish(p);
		return;
	}
	bool full = take(&p->r, len, &b);
	log_u(p, "byte_count", len);
	if (!full)
		bad_len(p, "fc 21 data length %u, %zu bytes follow", len,
			rd_left(&b));
	else if (len < MODBUS_FILE_WREQ_MIN || len > MODBUS_FILE_WREQ_MAX)
		bad_len(p, "fc 21 data length %u out of 9..251", len);
	if (p->rec)
		rec_arr_begin(p->rec, "sub_requests");
	while (rd_left(&b) > 0) {
		uint8_t ref = rd_u8(&b);
		uint16_t file = rd_be16(&b);
		uint16_t recno = rd_be16(&b);
		uint16_t rlen = rd_be16(&b);
		struct rd data;
		if (b.err) {
			bad_len(p, "fc 21 sub-request header truncated");
			break;
		}
		if (!take(&b, 2u * rlen, &data))
			bad_len(p, "fc 21 record length %u, %zu bytes follow",
				rlen, rd_left(&data));
		file_record_ids(p, ref, file, recno, rlen, nsub);
		if (p->rec && nsub < MODBUS_LOG_MAX_ITEMS) {
			rec_obj_begin(p->rec, NULL);
			rec_uint(p->rec, "reference_type", ref);
			rec_uint(p->rec, "file_number", file);
			rec_uint(p->rec, "record_number", recno);
			rec_uint(p->rec, "record_length", rlen);
			log_regs(p, "values", data);
			rec_obj_end(p->rec);
		}
		nsub++;
	}
	if (p->rec)
		rec_arr_end(p->rec);
	if (p->request && nsub > 1)
		mm_op_target_defer(&p->op, " +%u more", nsub - 1);
	finish(p);
}

/* ---------------- FC 22: mask write register (6.16) ---------------- */

static void fc_mask_write(struct pdu *p)
{
	uint16_t addr = rd_be16(&p->r);
	uint16_t and_mask = rd_be16(&p->r);
	uint16_t or_mask = rd_be16(&p->r);

	if (!p->r.err) {
		log_u(p, "address", addr);
		log_u(p, "and_mask", and_mask);
		log_u(p, "or_mask", or_mask);
		if (p->request) {
			p->info.address = addr;
			p->info.quantity = 1;
			target(p, "holding %u", addr);
		}
	}
	finish(p);
}

/* ---------------- FC 23: read/write multiple registers (6.17) ----------- */

static void req_read_write(struct pdu *p)
{
	uint16_t raddr = rd_be16(&p->r);
	uint16_t rq = rd_be16(&p->r);
	uint16_t waddr = rd_be16(&p->r);
	uint16_t wq = rd_be16(&p->r);
	uint8_t bc = rd_u8(&p->r);
	struct rd v;

	if (p->r.err) {
		finish(p);
		return;
	}
	check_qty(p, "read quantity", rq, MODBUS_MAX_RW_READ_REGS);
	check_qty(p, "write quantity", wq, MODBUS_MAX_RW_WRITE_REGS);
	check_range(p, raddr, rq);
	check_range(p, waddr, wq);
	bool full = take(&p->r, bc, &v);
	if (!full)
		bad_len(p, "fc 23 byte count %u, %zu bytes follow", bc,
			rd_left(&v));
	else if (bc != 2u * wq)
		bad_len(p, "fc 23 byte count %u for write quantity %u "
			"(expected %u)", bc, wq, 2u * wq);
	log_u(p, "read_address", raddr);
	log_u(p, "read_quantity", rq);
	log_u(p, "write_address", waddr);
	log_u(p, "write_quantity", wq);
	log_u(p, "byte_count", bc);
	log_u(p, "values_count", rd_left(&v) / 2);
	log_regs(p, "values", v);
	p->info.address = raddr;
	p->info.quantity = rq;
	target(p, "holding %u x%u read %u x%u", waddr, wq, raddr, rq);
	finish(p);
}

/* ---------------- FC 24: read FIFO queue (6.18) ---------------- */

static void fc_read_fifo(struct pdu *p)
{
	if (p->request) {
		uint16_t addr = rd_be16(&p->r);
		if (!p->r.err) {
			log_u(p, "address", addr);
			p->info.address = addr;
			target(p, "fifo %u", addr);
		}
		finish(p);
		return;
	}
	uint16_t bc = rd_be16(&p->r);
	struct rd b;
	if (p->r.err) {
		finish(p);
		return;
	}
	bool full = take(&p->r, bc, &b);
	size_t avail = rd_left(&b);
	uint16_t count = rd_be16(&b);
	log_u(p, "byte_count", bc);
	if (!full)
		bad_len(p, "fc 24 byte count %u, %zu bytes follow", bc, avail);
	else if (b.err || bc != 2u + 2u * count)
		bad_len(p, "fc 24 byte count %u for FIFO count %u (expected %u)",
			bc, count, 2u + 2u * count);
	if (!b.err) {
		if (count > MODBUS_MAX_FIFO_COUNT)
			bad_val(p, "fc 24 FIFO count %u above 31", count);
		log_u(p, "fifo_count", count);
		if (p->req)
			log_u(p, "address", p->req->address);
		log_regs(p, "values", b);
	}
	finish(p);
}

/* ---------------- FC 43: encapsulated interface (6.19-6.21) ------------- */

static const char *devid_name(unsigned code)
{
	if (code < MODBUS_DEVID_N && modbus_devid_names[code])
		return modbus_devid_names[code];
	return "invalid";
}

static const char *mei_name(unsigned mei)
{
	if (mei == MODBUS_MEI_CANOPEN)
		return "canopen_general_reference";
	if (mei == MODBUS_MEI_READ_DEVICE_ID)
		return "read_device_identification";
	return "reserved"; /* Annex A: 0..12 and 15..255 */
}

static void devid_objects(struct pdu *p, unsigned nobj)
{
	char key[16];
	unsigned i;

	if (p->rec)
		rec_obj_begin(p->rec, "objects");
	for (i = 0; i < nobj; i++) {
		uint8_t id = rd_u8(&p->r);
		uint8_t len = rd_u8(&p->r);
		struct rd val;
		if (p->r.err)
			break;
		if (!take(&p->r, len, &val))
			bad_len(p, "fc 43/14 object %u length %u, %zu bytes "
				"follow", id, len, rd_left(&val));
		const char *name = id < MODBUS_DEVOBJ_N ?
			modbus_device_object_names[id] : NULL;
		if (name)
			mm_asset_fact(p->c, true, name, rd_ptr(&val),
				      rd_left(&val));
		if (p->rec && i < MODBUS_LOG_MAX_ITEMS) {
			if (!name) {
				snprintf(key, sizeof(key), "object_%u", id);
				name = key;
			}
			rec_strn(p->rec, name, rd_ptr(&val), rd_left(&val));
		}
	}
	if (p->rec)
		rec_obj_end(p->rec);
	if (p->r.err)
		bad_len(p, "fc 43/14 announces %u objects, %u present", nobj, i);
}

static void fc_mei(struct pdu *p)
{
	uint8_t mei = rd_u8(&p->r);

	if (p->r.err) {
		finish(p);
		return;
	}
	log_u(p, "mei_type", mei);
	log_s(p, "mei_name", mei_name(mei));
	if (p->request) {
		p->info.sub = mei;
		p->op.function_name = mei_name(mei);
	}
	if (mei != MODBUS_MEI_READ_DEVICE_ID) {
		/* 6.20: CANopen general reference, kept raw; others reserved */
		struct rd d;
		take(&p->r, rd_left(&p->r), &d);
		log_hex(p, "data", &d);
		if (p->request) {
			p->op.cls = MM_OP_OTHER;
			if (mei == MODBUS_MEI_CANOPEN)
				target(p, "canopen");
			else
				target(p, "mei %u", mei);
		}
		finish(p);
		return;
	}
	uint8_t code = rd_u8(&p->r);
	if (p->request) {
		uint8_t obj = rd_u8(&p->r);
		if (!p->r.err) {
			if (code < MODBUS_DEVID_BASIC || code > MODBUS_DEVID_SPECIFIC)
				bad_val(p, "fc 43/14 read device id code %u "
					"out of 1..4", code);
			log_u(p, "read_device_id_code", code);
			log_s(p, "read_device_id_name", devid_name(code));
			log_u(p, "object_id", obj);
			p->info.quantity = code;
			if (code == MODBUS_DEVID_SPECIFIC)
				target(p, "device id specific object %u", obj);
			else
				target(p, "device id %s", devid_name(code));
		}
		p->op.cls = MM_OP_DISCOVER;
		finish(p);
		return;
	}
	/* 6.21 response */
	uint8_t conf = rd_u8(&p->r);
	uint8_t more = rd_u8(&p->r);
	uint8_t next = rd_u8(&p->r);
	uint8_t nobj = rd_u8(&p->r);
	if (p->r.err) {
		finish(p);
		return;
	}
	if (code < MODBUS_DEVID_BASIC || code > MODBUS_DEVID_SPECIFIC)
		bad_val(p, "fc 43/14 read device id code %u out of 1..4", code);
	/* conformity level: 0x01..0x03, | 0x80 with individual access */
	if ((conf & 0x7F) < 1 || (conf & 0x7F) > 3)
		bad_val(p, "fc 43/14 conformity level 0x%02x", conf);
	if (more != 0x00 && more != 0xFF)
		bad_val(p, "fc 43/14 more follows 0x%02x is neither 0x00 "
			"nor 0xFF", more);
	log_u(p, "read_device_id_code", code);
	log_s(p, "read_device_id_name", devid_name(code));
	log_u(p, "conformity_level", conf);
	if (p->rec)
		rec_bool(p->rec, "more_follows", more == 0xFF);
	log_u(p, "next_object_id", next);
	log_u(p, "number_of_objects", nobj);
	devid_objects(p, nobj);
	finish(p);
}

/* ---------------- FC 90: Schneider UMAS ---------------- */

static const char *umas_name(unsigned ufc)
{
	return umas_fc_names[ufc & 0xFF] ? umas_fc_names[ufc & 0xFF]
					 : "umas_unknown";
}

static void fc_umas(struct pdu *p)
{
	uint8_t session = rd_u8(&p->r);
	uint8_t code = rd_u8(&p->r);
	struct rd d;

	if (p->r.err) {
		finish(p);
		return;
	}
	log_u(p, "umas_session", session);
	if (!p->request) {
		/* the request's function is remembered; the byte is a status */
		if (p->req) {
			log_u(p, "umas_function", p->req->sub);
			log_s(p, "umas_function_name", umas_name(p->req->sub));
		}
		log_u(p, "umas_status", code);
		log_s(p, "umas_status_name",
		      code == UMAS_STATUS_OK ? "ok" :
		      code == UMAS_STATUS_ERROR ? "error" : "unknown");
		take(&p->r, rd_left(&p->r), &d);
		log_hex(p, "data", &d);
		return;
	}
	unsigned ufc = code;
	/*
	 * A signed request wraps the real one: magic byte, 32-byte
	 * signature, then 0x5A, session, inner function.  Classify by the
	 * inner function, or a signature would hide a STOP.
	 */
	if (code == UMAS_SIGNED &&
	    rd_left(&p->r) >= 1 + UMAS_SIGNATURE_LEN + 3 &&
	    rd_peek(&p->r, 1 + UMAS_SIGNATURE_LEN) == MODBUS_FC_UMAS) {
		ufc = rd_peek(&p->r, 1 + UMAS_SIGNATURE_LEN + 2);
		if (p->rec)
			rec_bool(p->rec, "umas_signed", true);
	}
	take(&p->r, rd_left(&p->r), &d);
	log_u(p, "umas_function", ufc);
	log_s(p, "umas_function_name", umas_name(ufc));
	log_hex(p, "data", &d);
	p->info.sub = (uint16_t)ufc;
	p->op.cls = umas_fc_class(ufc);
	p->op.function_name = umas_name(ufc);
	target(p, "umas 0x%02x", ufc);
}

/* ---------------- anything else: kept raw ---------------- */

static void fc_raw(struct pdu *p)
{
	struct rd d;

	take(&p->r, rd_left(&p->r), &d);
	log_hex(p, "data", &d);
	if (p->request)
		target(p, "fc %u", p->fc);
}

/* ---------------- exception responses ([AP] 7) ---------------- */

static const char *exception_name(unsigned code)
{
	if (code < 12 && modbus_exception_names[code])
		return modbus_exception_names[code];
	return "unknown";
}

static void rsp_exception(struct pdu *p)
{
	uint8_t code = rd_u8(&p->r);

	if (!p->r.err) {
		const char *name = exception_name(code);
		log_u(p, "exception", code);
		log_s(p, "exception_name", name);
		if (!(code < 12 && modbus_exception_names[code]))
			bad_val(p, "fc %u exception code %u undefined", p->fc,
				code);
		ev(p, MB_EV_EXCEPTION_RESPONSE, "fc %u (%s) exception %u (%s) "
		   "unit %u tid %u", p->fc, modbus_fc_name(p->fc), code, name,
		   p->unit, p->tid);
	}
	finish(p);
}

/* ---------------- dispatch ---------------- */

static void decode(struct pdu *p)
{
	switch (p->fc) {
	case MODBUS_FC_READ_COILS:
	case MODBUS_FC_READ_DISCRETE_INPUTS:
	case MODBUS_FC_READ_HOLDING_REGISTERS:
	case MODBUS_FC_READ_INPUT_REGISTERS:
		if (p->request)
			req_read(p);
		else
			rsp_read(p);
		break;
	case MODBUS_FC_WRITE_SINGLE_COIL:
	case MODBUS_FC_WRITE_SINGLE_REGISTER:
		single_write(p);
		break;
	case MODBUS_FC_READ_EXCEPTION_STATUS:
		fc_exception_status(p);
		break;
	case MODBUS_FC_DIAGNOSTICS:
		fc_diagnostics(p);
		break;
	case MODBUS_FC_GET_COMM_EVENT_COUNTER:
		fc_comm_event_counter(p);
		break;
	case MODBUS_FC_GET_COMM_EVENT_LOG:
		fc_comm_event_log(p);
		break;
	case MODBUS_FC_WRITE_MULTIPLE_COILS:
	case MODBUS_FC_WRITE_MULTIPLE_REGISTERS:
		fc_write_multiple(p);
		break;
	case MODBUS_FC_REPORT_SERVER_ID:
		fc_report_server_id(p);
		break;
	case MODBUS_FC_READ_FILE_RECORD:
		fc_read_file_record(p);
		break;
	case MODBUS_FC_WRITE_FILE_RECORD:
		fc_write_file_record(p);
		break;
	case MODBUS_FC_MASK_WRITE_REGISTER:
		fc_mask_write(p);
		break;
	case MODBUS_FC_READ_WRITE_REGISTERS:
		if (p->request)
			req_read_write(p);
		else
			rsp_read(p);
		break;
	case MODBUS_FC_READ_FIFO_QUEUE:
		fc_read_fifo(p);
		break;
	case MODBUS_FC_ENCAPSULATED_INTERFACE:
		fc_mei(p);
		break;
	case MODBUS_FC_UMAS:
		fc_umas(p);
		break;
	default:
		fc_raw(p);
		break;
	}
}

/* ---------------- requests and responses ---------------- */

static void track_request(struct pdu *p)
{
	struct modbus_state *s = p->st;
	int i;

	s->seq++;
	p->info.seq = s->seq;
	p->info.tid = p->tid;
	p->info.unit = p->unit;
	p->info.fc = p->fc;
	p->info.used = 1;
	i = tab_find(s, p->tid, p->unit);
	if (i >= 0) {
		/* same (tid, unit) still open: see `reused` above */
		unsigned r = s->slot[i].reused + !s->slot[i].quiet;
		p->info.reused = r > 255 ? 255 : (uint8_t)r;
		s->slot[i] = p->info;
		return;
	}
	if (s->n >= MODBUS_MAX_OUTSTANDING)
		tab_evict_stale(s);
	if (s->n >= MODBUS_MAX_OUTSTANDING) {
		give_up(s, true);
		if (!s->flooded) {
			s->flooded = true;
			ev(p, MB_EV_FLOODED, "the last %u requests are all "
			   "unanswered; new requests are not tracked until "
			   "some are answered", s->n);
		}
		return;
	}
	/* keep the load at most a half: an empty slot ends every probe */
	if ((s->n + 1) * 2 > TAB_SIZE(s) &&
	    (s->bits >= MODBUS_TABLE_BITS || !tab_grow(s))) {
		give_up(s, true); /* no memory to track it: counted */
		return;
	}
	uint32_t j = tab_hash(s, p->tid, p->unit);
	while (s->slot[j].used)
		j = (j + 1) & TAB_MASK(s);
	s->slot[j] = p->info;
	s->n++;
}

static void parse_request(struct pdu *p, uint8_t fc)
{
	p->fc = fc;
	p->op.function = fc;
	p->op.function_name = modbus_fc_name(fc);
	p->op.cls = modbus_fc_class(fc);
	p->op.has_ref = true;  /* every request names its unit */
	p->op.unit = p->unit;
	p->track = true;
	log_u(p, "fc", fc);
	log_s(p, "function", modbus_fc_name(fc));
	if (p->st)
		p->st->seen_request = true;
	if (fc == 0 || fc > 127) {
		/* [AP] 5: 1..127 are function codes, 128..255 mark exceptions */
		ev(p, MB_EV_INVALID_FUNCTION_CODE, "request with function code "
		   "%u, unit %u tid %u", fc, p->unit, p->tid);
		p->op.cls = MM_OP_OTHER;
		p->track = false;
		fc_raw(p);
	} else {
		decode(p);
	}
	if (mm_op_target_empty(&p->op))
		snprintf(p->op.target, sizeof(p->op.target), "unit %u", p->unit);
	log_s(p, "op", mm_op_class_names[p->op.cls]);
	mm_emit_op(p->c, &p->op);
	if (p->st && p->track)
		track_request(p);
}

/*
 * Does a response fit the request it would be paired with?  Only what the
 * response echoes or counts is compared; anything else fits.
 */
static bool rsp_fits(const struct modbus_req *q, uint8_t code, struct rd r)
{
	unsigned fc = code & 0x7F;

	if (q->fc != fc)
		return false;
	if (code & MODBUS_EXCEPTION_BIT)
		return true;
	switch (fc) {
	case MODBUS_FC_WRITE_SINGLE_COIL:
	case MODBUS_FC_WRITE_SINGLE_REGISTER:
	case MODBUS_FC_MASK_WRITE_REGISTER:
		return rd_be16(&r) == q->address || r.err;
	case MODBUS_FC_WRITE_MULTIPLE_COILS:
	case MODBUS_FC_WRITE_MULTIPLE_REGISTERS: {
		uint16_t a = rd_be16(&r), n = rd_be16(&r);
		return r.err || (a == q->address && n == q->quantity);
	}
	case MODBUS_FC_READ_COILS:
	case MODBUS_FC_READ_DISCRETE_INPUTS: {
		uint8_t bc = rd_u8(&r);
		return r.err || bc == (q->quantity + 7u) / 8;
	}
	case MODBUS_FC_READ_HOLDING_REGISTERS:
	case MODBUS_FC_READ_INPUT_REGISTERS:
	case MODBUS_FC_READ_WRITE_REGISTERS: {
		uint8_t bc = rd_u8(&r);
		return r.err || bc == 2u * q->quantity;
	}
	}
	return true;
}

static void parse_response(struct pdu *p, uint8_t code)
{
	struct modbus_state *s = p->st;
	struct modbus_req req;
	bool exc = code & MODBUS_EXCEPTION_BIT;
	bool matched = false, earlier = false;

	memset(&req, 0, sizeof(req));
	p->fc = code & 0x7F;
	log_u(p, "fc", p->fc);
	log_s(p, "function", modbus_fc_name(p->fc));
	if (s) {
		int i = tab_find(s, p->tid, p->unit);
		if (i >= 0 && s->slot[i].reused > 0 &&
		    !rsp_fits(&s->slot[i], code, p->r)) {
			/* answers an earlier request with this tid */
			s->slot[i].reused--;
			earlier = true;
		} else if (i >= 0) {
			req = s->slot[i];
			tab_remove(s, (uint32_t)i);
			for (unsigned k = 0; k < req.reused; k++)
				give_up(s, false); /* earlier ones: lost */
			matched = true;
			/* drained by answers: flooded may be raised again */
			if (s->flooded && s->n <= MODBUS_MAX_OUTSTANDING / 2)
				s->flooded = false;
		}
	}
	if (earlier) {
		/* its request's details were overwritten: decode it alone */
		if (p->rec)
			rec_bool(p->rec, "tid_reused", true);
	} else 	if (matched && req.fc != p->fc) {
		ev(p, MB_EV_FUNCTION_MISMATCH, "response fc %u to request fc %u "
		   "(unit %u tid %u)", p->fc, req.fc, p->unit, p->tid);
		if (p->rec)
			rec_uint(p->rec, "request_fc", req.fc);
	} else if (matched) {
		p->req = &req;
	} else {
		if (p->rec)
			rec_bool(p->rec, "unmatched", true);
		if (s && s->untracked > 0) {
			s->untracked--; /* late answer to an untracked request */
		} else if (s && s->seen_request) {
			ev(p, MB_EV_UNSOLICITED_RESPONSE, "fc %u response with "
			   "no request (unit %u tid %u)", p->fc, p->unit,
			   p->tid);
		}
		/* no request seen yet: the capture began mid-stream */
	}
	if (p->fc == 0) {
		ev(p, MB_EV_INVALID_FUNCTION_CODE, "response with function "
		   "code 0x%02x, unit %u tid %u", code, p->unit, p->tid);
		fc_raw(p);
	} else if (exc) {
		rsp_exception(p);
	} else {
		decode(p);
	}
}

static void modbus_parse(struct mm_ctx *c, void *st, const uint8_t *buf,
			 size_t n)
{
	struct rd r = rd_make(buf, n);
	struct pdu p;
	uint16_t tid = rd_be16(&r);
	uint16_t pid = rd_be16(&r);
	uint16_t len = rd_be16(&r);
	uint8_t unit = rd_u8(&r);
	uint8_t fc = rd_u8(&r);

	memset(&p, 0, sizeof(p));
	p.c = c;
	p.st = st;
	p.tid = tid;
	p.unit = unit;
	p.request = mm_ctx_dir(c) == MM_DIR_TO_SERVER;

	/* pdu_len only frames: the header is re-validated here */
	if (n >= 4 && pid != 0) {
		ev(&p, MB_EV_INVALID_PROTOCOL_ID, "MBAP protocol id %u, not 0 "
		   "(tid %u)", pid, tid);
		return;
	}
	if (r.err) {
		bad_len(&p, "%zu bytes, shorter than MBAP header + fc", n);
		return;
	}
	if (len < MBAP_LEN_MIN || len > MBAP_LEN_FRAME_MAX) {
		bad_len(&p, "MBAP length %u out of 2..254", len);
		return;
	}
	if (len > MBAP_LEN_MAX) /* framed (see MBAP_LEN_FRAME_MAX), parsed */
		bad_len(&p, "MBAP length %u: PDU longer than 253 bytes", len);
	/* the PDU data is what the MBAP length covers, within the buffer */
	size_t pdu = (size_t)len - 2;
	if (6u + len != n) {
		bad_len(&p, "MBAP length %u but %zu bytes after the header",
			len, n - 6);
		if (pdu > rd_left(&r))
			pdu = rd_left(&r);
	}
	rd_sub(&r, pdu, &p.r);

	p.rec = mm_txlog_begin(c);
	if (p.rec) {
		rec_uint(p.rec, "tid", tid);
		rec_uint(p.rec, "unit", unit);
	}
	if (p.request)
		parse_request(&p, fc);
	else
		parse_response(&p, fc);
	if (p.rec)
		mm_txlog_end(c, p.rec);
}

/* ------------------------------------------------------------------ */
/* Framing and detection                                               */
/* ------------------------------------------------------------------ */

static long modbus_pdu_len(const uint8_t *p, size_t n)
{
	struct rd r = rd_make(p, n);

	if (n < 6)
		return 0;
	rd_skip(&r, 2); /* transaction id */
	uint16_t pid = rd_be16(&r);
	uint16_t len = rd_be16(&r);
	if (pid != 0 || len < MBAP_LEN_MIN || len > MBAP_LEN_FRAME_MAX)
		return -1;
	return 6 + (long)len;
}

/*
 * MBAP length bounds of the known codes, for the probe: [0] request min,
 * [1] request max, [2] response min, [3] response max.  0 = unknown.
 * L: the framing bound (the byte counts are checked apart).
 */
#define L MBAP_LEN_FRAME_MAX
static const uint8_t modbus_fc_mbap_len[128][4] = {
	[1] = { 6, 6, 4, L }, [2] = { 6, 6, 4, L },
	[3] = { 6, 6, 5, L }, [4] = { 6, 6, 5, L },
	[5] = { 6, 6, 6, 6 }, [6] = { 6, 6, 6, 6 },
	[7] = { 2, 2, 3, 3 }, [8] = { 4, L, 4, L },
	[11] = { 2, 2, 6, 6 }, [12] = { 2, 2, 9, L },
	[15] = { 8, L, 6, 6 }, [16] = { 9, L, 6, 6 },
	[17] = { 2, 2, 3, L }, [20] = { 10, L, 3, L },
	[21] = { 10, L, 10, L }, [22] = { 8, 8, 8, 8 },
	[23] = { 13, L, 5, L }, [24] = { 4, 4, 6, L },
	[43] = { 3, L, 3, L },
	[90] = { 4, L, 4, L }, /* UMAS: session + function at least */
};
#undef L

static bool fc_user_defined(unsigned fc)
{
	return (fc >= 65 && fc <= 72) || (fc >= 100 && fc <= 110);
}

/* the byte-count field of a layout must agree with the MBAP length */
static bool probe_counts(const uint8_t *p, size_t n, unsigned fc, bool req,
			 unsigned len)
{
	struct rd r = rd_make(p, n);
	rd_skip(&r, 8);
	switch (fc) {
	case 1: case 2: case 3: case 4: case 12: case 17:
		if (req)
			return true;
		/* fall through */
	case 20: case 21:
		return n < 9 || len == 3u + rd_peek(&r, 0);
	case 23:
		if (req)
			return n < 17 || len == 11u + rd_peek(&r, 8);
		return n < 9 || len == 3u + rd_peek(&r, 0);
	case 15: case 16:
		if (!req)
			return true;
		return n < 13 || len == 7u + rd_peek(&r, 4);
	case 24:
		if (req)
			return true;
		return n < 10 || len == 4u + rd_be16(&r);
	case 43:
		if (n < 9)
			return true;
		if (rd_peek(&r, 0) == MODBUS_MEI_READ_DEVICE_ID)
			return !req || len == 5;
		return rd_peek(&r, 0) == MODBUS_MEI_CANOPEN;
	}
	return true;
}

/*
 * Cheap numbered checks on the bytes at p.  Each check runs as soon as
 * its bytes are there, so random data is refused early; MORE only when
 * everything seen so far fits.
 */
static enum mm_probe modbus_probe(const uint8_t *p, size_t n, enum mm_dir dir)
{
	bool req = dir == MM_DIR_TO_SERVER;
	unsigned len, fc;

	/* 2) protocol id 0 ([TCP] 3.1.3) */
	if (n >= 4 && (p[2] != 0 || p[3] != 0))
		return MM_PROBE_NO;
	/* 3) MBAP length: unit id + PDU of 1..253 bytes (+1 tolerated) */
	if (n >= 6) {
		len = ((unsigned)p[4] << 8) | p[5];
		if (len < MBAP_LEN_MIN || len > MBAP_LEN_FRAME_MAX)
			return MM_PROBE_NO;
	}
	/* 1) the function code is the 8th byte */
	if (n < 8)
		return MM_PROBE_MORE;
	len = ((unsigned)p[4] << 8) | p[5];
	fc = p[7];
	/* 4) function code plausible for the direction */
	if (!req && (fc & MODBUS_EXCEPTION_BIT)) {
		unsigned base = fc & 0x7F;
		if (base == 0 || (!modbus_fc_mbap_len[base][0] &&
				  !fc_user_defined(base)))
			return MM_PROBE_NO;
		if (len != 3) /* unit, fc, exception code */
			return MM_PROBE_NO;
		if (n >= 9 && (p[8] < 1 || p[8] > 11))
			return MM_PROBE_NO;
		return MM_PROBE_YES;
	}
	if (fc == 0 || fc > 127)
		return MM_PROBE_NO;
	if (fc_user_defined(fc))
		return MM_PROBE_YES;
	/* only public codes (and UMAS): random bytes rarely hit one */
	if (!modbus_fc_mbap_len[fc][0])
		return MM_PROBE_NO;
	/* 5) the MBAP length fits the function's layout */
	const uint8_t *b = modbus_fc_mbap_len[fc];
	if (len < b[req ? 0 : 2] || len > b[req ? 1 : 3])
		return MM_PROBE_NO;
	/* 6) the byte count inside the PDU agrees with the MBAP length */
	if (!probe_counts(p, n, fc, req, len))
		return MM_PROBE_NO;
	return MM_PROBE_YES;
}

/* ------------------------------------------------------------------ */
/* State, flow end                                                     */
/* ------------------------------------------------------------------ */

/*
 * Flow states are kept for reuse, a few (when each held a 10 KiB table,
 * calloc's clearing and flow end's clearing were 5 % of the sensor's
 * instructions on the bench capture).  A state is reused with its small
 * table, every slot unused and its counters zero; a grown table goes
 * back to the allocator.  Only the packet thread makes and frees flow
 * states.
 */
#define MODBUS_STATE_POOL 64
static struct modbus_state *state_pool[MODBUS_STATE_POOL];
static unsigned state_pooled;

/* counters to zero, the small table, its slots unused */
static void state_reset(struct modbus_state *s)
{
	if (s->slot != s->small)
		free(s->slot);
	memset(s, 0, sizeof(*s));
	s->slot = s->small;
	s->bits = MODBUS_TABLE_MIN_BITS;
}

static void *modbus_state_new(void)
{
	struct modbus_state *s;

	if (state_pooled > 0)
		return state_pool[--state_pooled];
	s = malloc(sizeof(*s));
	if (s) {
		s->slot = s->small;
		state_reset(s);
	}
	return s;
}

static void modbus_state_free(void *st)
{
	struct modbus_state *s = st;

	if (!s)
		return;
	if (state_pooled < MODBUS_STATE_POOL) {
		state_reset(s);
		state_pool[state_pooled++] = s;
		return;
	}
	if (s->slot != s->small)
		free(s->slot);
	free(s);
}

/*
 * The flow ends: requests still outstanding were never answered.  They
 * are reported as one `modbus.unanswered_requests` event with the count
 * (together with requests superseded by a reuse of their transaction id,
 * and untracked or evicted ones whose answer never came), because a
 * server that stops answering is worth seeing, and one event per flow
 * keeps it cheap.  Requests that expect no answer (force listen only) are
 * not counted.  Then the table is emptied (it holds no allocations).
 */
static void modbus_flow_end(struct mm_ctx *c, void *st)
{
	struct modbus_state *s = st;
	struct pdu p;

	if (!s)
		return;
	memset(&p, 0, sizeof(p));
	p.c = c;
	const struct modbus_req *first = NULL;
	uint32_t oldest = 0, open = 0;
	for (uint32_t i = 0; s->n > 0 && i < TAB_SIZE(s); i++) {
		const struct modbus_req *q = &s->slot[i];
		if (!q->used || q->quiet)
			continue;
		open += 1u + q->reused;
		if (!first || s->seq - q->seq > oldest) {
			first = q;
			oldest = s->seq - q->seq;
		}
	}
	unsigned long total = (unsigned long)open + s->unanswered + s->untracked;
	if (first)
		ev(&p, MB_EV_UNANSWERED_REQUESTS, "%lu requests never answered "
		   "(%u outstanding at flow end, oldest fc %u unit %u tid %u)",
		   total, open, first->fc, first->unit, first->tid);
	else if (total > 0)
		ev(&p, MB_EV_UNANSWERED_REQUESTS, "%lu requests never answered",
		   total);
	state_reset(s);
}

const struct mm_dissector mm_modbus_dissector = {
	.name = "modbus",
	.transport = IPPROTO_TCP,
	.ports = { MODBUS_PORT, 0 },
	.max_pdu = MODBUS_MAX_ADU,
	.probe = modbus_probe,
	.pdu_len = modbus_pdu_len,
	.state_new = modbus_state_new,
	.state_free = modbus_state_free,
	.parse = modbus_parse,
	.flow_end = modbus_flow_end,
	.events = modbus_events,
	.n_events = MB_EV__N,
};
