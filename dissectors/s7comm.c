/*
 * s7comm.c - Siemens S7 communication over ISO-on-TCP: TPKT framing, COTP
 * (connect, data with reassembly of fragmented PDUs, disconnect), S7comm
 * (jobs, acknowledgements, userdata) in depth, and S7comm-plus recognised
 * and classified as far as public knowledge allows.
 *
 * References (cited in comments):
 *   [RFC1006] ISO Transport Service on top of TCP (TPKT), section 6
 *   [X224]    ITU-T X.224 / ISO 8073 transport protocol (COTP), 13.x
 *   [S7]      S7comm has no public specification.  Layouts and codes are
 *             the ones documented by the open-source S7 implementations
 *             and analysers (Wireshark's S7 dissector by Thomas Wiens,
 *             Snap7's documentation, libnodave) and G. Miru's protocol
 *             write-up "The Siemens S7 Communication".  Where they are
 *             uncertain we say so and log raw bytes rather than guess.
 *   [SFC]     Siemens, System Software for S7-300/400 System and Standard
 *             Functions: the system status list (SZL/SSL) records used
 *             here (W#16#xy11, W#16#xy1C, W#16#xy24).
 *   [S7P]     S7comm-plus: no public specification either; header and
 *             function codes as published by the Wireshark S7comm-plus
 *             plugin and the S7CommPlusDriver project.  Only what is
 *             certain is decoded: integrity digests are logged as present,
 *             never verified, and TLS-protected payloads as encrypted.
 *
 * Layers of one TPKT ([RFC1006] 6, [X224] 13):
 *   TPKT: version 3 | reserved 0 | length (2, counts these 4 bytes)
 *   COTP: length indicator (LI, bytes after itself) | PDU type | ...
 *         DT (class 0): LI = 2 | 0xF0 | EOT bit + TPDU number | payload
 *   S7comm: 0x32 | ROSCTR | redundancy id (2) | PDU reference (2) |
 *           parameter length (2) | data length (2) |
 *           [error class | error code, in Ack and Ack_Data] | param | data
 *   S7comm-plus: 0x72 | version | data length (2) | data | trailer
 *
 * Detection is never by port alone: TCP/102 also carries ISO-MMS (IEC
 * 61850) and other COTP users, so the flow is excluded (mm_flow_exclude)
 * when its first COTP data payload is neither 0x32 nor 0x72.
 *
 * Every read of wire bytes goes through the bounded reader (rd.h).
 */
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/fmt.h"
#include "dissector.h"

/* ------------------------------------------------------------------ */
/* Constants                                                           */
/* ------------------------------------------------------------------ */

#define S7_PORT 102                /* ISO-TSAP, IANA; [RFC1006] 6 */
#define TPKT_VERSION 3             /* [RFC1006] 6 */
#define TPKT_HDR 4
/* smallest TPKT: header + COTP DT (LI, type, EOT/number) */
#define TPKT_MIN (TPKT_HDR + 3)
/*
 * [RFC1006] allows 65535, but ISO-on-TCP peers negotiate a TPDU size of
 * at most 8192 ([X224] 13.3.4 b, code 0x0D) and S7 devices 1024 or less;
 * S7comm-plus fragments its PDUs at the TPKT level below that.  A longer
 * length is not a TPKT start: the framing bound.
 */
#define TPKT_MAX (TPKT_HDR + 8192 + 8)

/* COTP PDU types, the high nibble of the type byte, [X224] 13.1 table 8 */
#define COTP_CR 0xE0  /* connection request */
#define COTP_CC 0xD0  /* connection confirm */
#define COTP_DR 0x80  /* disconnect request */
#define COTP_DC 0xC0  /* disconnect confirm */
#define COTP_DT 0xF0  /* data */
#define COTP_ED 0x10  /* expedited data */
#define COTP_AK 0x60  /* data acknowledgement */
#define COTP_EA 0x20  /* expedited data acknowledgement */
#define COTP_RJ 0x50  /* reject */
#define COTP_ER 0x70  /* TPDU error */
#define COTP_EOT 0x80 /* DT: last data unit of a TSDU, [X224] 13.7.3 */
#define COTP_CR_LI_MIN 6 /* dst ref, src ref, class: [X224] 13.3.1 */
#define COTP_DT_LI 2     /* class 0 DT header, [X224] 13.7.1 */

/* COTP CR/CC parameter codes, [X224] 13.3.4 */
#define COTP_P_TPDU_SIZE 0xC0
#define COTP_P_SRC_TSAP 0xC1 /* calling transport selector */
#define COTP_P_DST_TSAP 0xC2 /* called transport selector */

/* Protocol identifiers of the COTP payload */
#define S7_PROTO_ID 0x32
#define S7P_PROTO_ID 0x72

/* S7comm header [S7] */
#define S7_HDR 10
#define S7_HDR_ACK 12 /* + error class + error code */

/* ROSCTR, the PDU type [S7] */
#define S7_JOB 1       /* request */
#define S7_ACK 2       /* acknowledgement without data */
#define S7_ACK_DATA 3  /* acknowledgement with data: the response */
#define S7_USERDATA 7  /* userdata: requests, responses, pushes */

/* Job / Ack_Data functions, first parameter byte [S7] */
#define S7_FC_CPU_SERVICES 0x00
#define S7_FC_READ_VAR 0x04
#define S7_FC_WRITE_VAR 0x05
#define S7_FC_REQUEST_DOWNLOAD 0x1A
#define S7_FC_DOWNLOAD_BLOCK 0x1B
#define S7_FC_DOWNLOAD_ENDED 0x1C
#define S7_FC_START_UPLOAD 0x1D
#define S7_FC_UPLOAD 0x1E
#define S7_FC_END_UPLOAD 0x1F
#define S7_FC_PI_SERVICE 0x28
#define S7_FC_PLC_STOP 0x29
#define S7_FC_SETUP_COMM 0xF0

/* Read/write var item: variable specification and syntax ids [S7] */
#define S7_VAR_SPEC 0x12
#define S7_SYNTAX_S7ANY 0x10
#define S7_S7ANY_LEN 10 /* address length after the spec byte */

/* Item return codes of Ack_Data read/write [S7] */
#define S7_RET_RESERVED 0x00
#define S7_RET_SUCCESS 0xFF

/* Data transport sizes whose length is in bits [S7] */
#define S7_TS_BIT 0x03
#define S7_TS_BYTE 0x04
#define S7_TS_INT 0x05

/* Userdata parameter [S7]: head 00 01 12, length, method, type|group, ... */
#define S7_UD_PARAM_MIN 8
#define S7_UD_PARAM_LONG 12       /* + data unit ref, last unit, error */
#define S7_UD_TYPE_PUSH 0x0
#define S7_UD_TYPE_REQ 0x4
#define S7_UD_TYPE_RES 0x8
#define S7_UD_TYPE_NC_PUSH 0x3
#define S7_UD_TYPE_NC_REQ 0x7
#define S7_UD_TYPE_NC_RES 0xB
#define S7_UD_LAST_NO 0x01        /* more data units follow */

/* Userdata function groups [S7] */
#define S7_UG_MODE 0x0     /* mode transition (pushed by the CPU) */
#define S7_UG_PROG 0x1     /* programmer commands (test functions) */
#define S7_UG_CYCLIC 0x2   /* cyclic data */
#define S7_UG_BLOCK 0x3    /* block functions */
#define S7_UG_CPU 0x4      /* CPU functions */
#define S7_UG_SECURITY 0x5 /* security: PLC password */
#define S7_UG_PBC 0x6      /* programmed block communication BSEND/BRECV */
#define S7_UG_TIME 0x7     /* time functions */
#define S7_UG_NC 0xF       /* NC programming (SINUMERIK) */

/* Block types in file names and PI parameters: "0A" = DB [S7] */
#define S7_BLK_OB 0x08
#define S7_BLK_DB 0x0A
#define S7_BLK_SDB 0x0B
#define S7_BLK_FC 0x0C
#define S7_BLK_SFC 0x0D
#define S7_BLK_FB 0x0E
#define S7_BLK_SFB 0x0F

/* SZL ids whose answers are decoded [SFC] */
#define SZL_MODULE_ID 0x11     /* W#16#xy11: module identification */
#define SZL_COMPONENT_ID 0x1C  /* W#16#xy1C: component identification */
#define SZL_MODE 0x24          /* W#16#xy24: operating mode transitions */
#define SZL_MODULE_REC 28      /* index, MLFB (20), BGTyp, Ausbg, Ausbe */
#define SZL_COMPONENT_REC 34   /* index + 32 bytes */
#define SZL_MODE_REC 20

/* S7comm-plus [S7P] */
#define S7P_HDR 4
#define S7P_TRAILER 4
#define S7P_V1 0x01
#define S7P_V2 0x02
#define S7P_V3 0x03            /* integrity digest before the data */
#define S7P_SYSTEM_EVENT 0xFE
#define S7P_KEEPALIVE 0xFF     /* 4 bytes: id, 0xFF, sequence, reserved */
#define S7P_DIGEST_LEN 32
#define S7P_OP_REQ 0x31
#define S7P_OP_RES 0x32
#define S7P_OP_NOTIFY 0x33
#define S7P_OP_RES2 0x02
#define S7P_FN_EXPLORE 0x04BB
#define S7P_FN_CREATE_OBJECT 0x04CA
#define S7P_FN_DELETE_OBJECT 0x04D4
#define S7P_FN_SET_VARIABLE 0x04F2
#define S7P_FN_GET_VARIABLE 0x04FC
#define S7P_FN_ADD_LINK 0x0506
#define S7P_FN_REMOVE_LINK 0x051A
#define S7P_FN_GET_LINK 0x0524
#define S7P_FN_SET_MULTI_VAR 0x0542
#define S7P_FN_GET_MULTI_VAR 0x054C
#define S7P_FN_BEGIN_SEQUENCE 0x0556
#define S7P_FN_END_SEQUENCE 0x0560
#define S7P_FN_INVOKE 0x056B
#define S7P_FN_SET_VAR_SUBSTREAMED 0x057C
#define S7P_FN_GET_VAR_SUBSTREAMED 0x0586
#define S7P_FN_GET_VARIABLES_ADDRESS 0x0590
#define S7P_FN_ABORT 0x059A
#define S7P_FN_ERROR 0x05A9
#define S7P_FN_INIT_SSL 0x05B3
/* the CPU execution unit object and its operating-state request [S7P] */
#define S7P_CPU_EXEC_UNIT 52
#define S7P_OPERATING_STATE_REQ 2167
#define S7P_STATE_STOP 1
#define S7P_STATE_RUN 3

/* Bounds of the per-flow state (see struct s7_state) */
#define S7_REASM_HARD_MAX 16384   /* a COTP-reassembled S7 PDU at most */
#define S7_REASM_SLACK 0          /* the S7 PDU size includes its header */
#define S7_UD_REASM_MAX 8192      /* userdata fragments of one answer */
#define S7_MAX_OUTSTANDING 64
#define S7_STALE_AGE 256
#define S7_LOG_MAX_ITEMS 32
#define S7_LOG_MAX_DATA 64        /* bytes of an item's value in the log */

/* ------------------------------------------------------------------ */
/* Name tables                                                         */
/* ------------------------------------------------------------------ */

struct s7_name {
	unsigned code;
	const char *name;
};

static const char *s7_lookup(const struct s7_name *t, unsigned code)
{
	for (; t->name; t++)
		if (t->code == code)
			return t->name;
	return NULL;
}

/* COTP PDU types, [X224] 13.1 */
static const struct s7_name cotp_type_names[] = {
	{ COTP_CR, "CR" }, { COTP_CC, "CC" }, { COTP_DR, "DR" },
	{ COTP_DC, "DC" }, { COTP_DT, "DT" }, { COTP_ED, "ED" },
	{ COTP_AK, "AK" }, { COTP_EA, "EA" }, { COTP_RJ, "RJ" },
	{ COTP_ER, "ER" }, { 0, NULL },
};

/* ROSCTR [S7] */
static const struct s7_name rosctr_names[] = {
	{ S7_JOB, "job" },            /* request */
	{ S7_ACK, "ack" },            /* acknowledgement, no data */
	{ S7_ACK_DATA, "ack_data" },  /* response */
	{ S7_USERDATA, "userdata" },  /* extended services */
	{ 0, NULL },
};

/* Job / Ack_Data functions [S7] */
static const struct s7_name s7_fc_names[] = {
	{ S7_FC_CPU_SERVICES, "cpu_services" },
	{ S7_FC_READ_VAR, "read_var" },
	{ S7_FC_WRITE_VAR, "write_var" },
	{ S7_FC_REQUEST_DOWNLOAD, "request_download" }, /* PC -> PLC starts */
	{ S7_FC_DOWNLOAD_BLOCK, "download_block" },
	{ S7_FC_DOWNLOAD_ENDED, "download_ended" },
	{ S7_FC_START_UPLOAD, "start_upload" },         /* PLC -> PC starts */
	{ S7_FC_UPLOAD, "upload" },
	{ S7_FC_END_UPLOAD, "end_upload" },
	{ S7_FC_PI_SERVICE, "pi_service" },             /* program invocation */
	{ S7_FC_PLC_STOP, "plc_stop" },
	{ S7_FC_SETUP_COMM, "setup_communication" },
	{ 0, NULL },
};

/* Header error classes of Ack / Ack_Data [S7] */
static const struct s7_name s7_error_class_names[] = {
	{ 0x00, "no_error" },
	{ 0x81, "application_relationship" },
	{ 0x82, "object_definition" },
	{ 0x83, "no_resources" },
	{ 0x84, "service_processing" },
	{ 0x85, "supplies" },
	{ 0x87, "access" },
	{ 0, NULL },
};

/*
 * Error codes (class << 8 | code, also in userdata and block control
 * parameters): the STEP 7 error numbers engineers meet most; others are
 * logged by number only.
 */
static const struct s7_name s7_error_names[] = {
	{ 0x0000, "no_error" },
	{ 0x0110, "invalid_block_number" },
	{ 0x0111, "invalid_request_length" },
	{ 0x0112, "invalid_parameter" },
	{ 0x0113, "invalid_block_type" },
	{ 0x0114, "block_not_found" },
	{ 0x0115, "block_exists" },
	{ 0x0116, "block_write_protected" },
	{ 0x0117, "block_too_large" },
	{ 0x0119, "wrong_password" },
	{ 0x011C, "protocol_error" },
	{ 0x011D, "too_many_blocks" },
	{ 0x0120, "end_of_block_list" },
	{ 0x0140, "out_of_memory" },
	{ 0x0141, "out_of_resources" },
	{ 0x8001, "not_possible_in_block_state" },
	{ 0x8003, "block_transfer_error" },
	{ 0x8100, "service_unknown" },
	{ 0x8104, "service_not_implemented" },
	{ 0x8204, "object_type_inconsistent" },
	{ 0x8205, "copied_block_exists" },
	{ 0x8301, "insufficient_memory" },
	{ 0x8302, "insufficient_resources" },
	{ 0x8304, "no_parallel_upload" },
	{ 0x8305, "function_not_available" },
	{ 0x8401, "invalid_service_sequence" },
	{ 0x8402, "not_possible_in_object_state" },
	{ 0x8404, "function_not_possible" },
	{ 0x8500, "wrong_frames" },
	{ 0x8503, "service_cancelled" },
	{ 0x8701, "object_address_error" },
	{ 0x8702, "service_not_supported" },
	{ 0x8703, "object_access_denied" },
	{ 0x8704, "object_damaged" },
	{ 0xD201, "syntax_error_block_name" },
	{ 0xD241, "protection_level_too_low" },
	{ 0xD602, "wrong_password" },
	{ 0xD604, "password_already_legitimated" },
	{ 0xD605, "password_already_cancelled" },
	{ 0xD607, "not_legitimated" },
	{ 0, NULL },
};

/* Item return codes [S7] */
static const struct s7_name s7_return_names[] = {
	{ 0x00, "reserved" },
	{ 0x01, "hardware_fault" },
	{ 0x03, "access_denied" },
	{ 0x05, "invalid_address" },
	{ 0x06, "data_type_not_supported" },
	{ 0x07, "data_type_inconsistent" },
	{ 0x0A, "object_does_not_exist" },
	{ 0xFF, "success" },
	{ 0, NULL },
};

/* Syntax ids of a variable specification [S7] */
static const struct s7_name s7_syntax_names[] = {
	{ 0x10, "S7ANY" },        /* area, DB, address: classic addressing */
	{ 0x13, "PBC_R_ID" },
	{ 0x15, "ALARM_LOCKFREE" },
	{ 0x16, "ALARM_IND" },
	{ 0x19, "ALARM_ACK" },
	{ 0x1A, "ALARM_QUERYREQ" },
	{ 0x1C, "NOTIFY_IND" },
	{ 0x82, "NCK" },          /* SINUMERIK NC variables */
	{ 0x83, "NCK_M" },
	{ 0x84, "NCK_I" },
	{ 0xA2, "DRIVEESANY" },   /* drive parameters */
	{ 0xB0, "DBREAD" },       /* S7-400 multiple DB areas */
	{ 0xB2, "1200SYM" },      /* S7-1200 symbolic (LID) access */
	{ 0, NULL },
};

/* Transport sizes of a request item [S7] */
static const struct s7_name s7_tsize_names[] = {
	{ 1, "BIT" }, { 2, "BYTE" }, { 3, "CHAR" }, { 4, "WORD" },
	{ 5, "INT" }, { 6, "DWORD" }, { 7, "DINT" }, { 8, "REAL" },
	{ 9, "DATE" }, { 10, "TOD" }, { 11, "TIME" }, { 12, "S5TIME" },
	{ 15, "DATE_AND_TIME" }, { 28, "COUNTER" }, { 29, "TIMER" },
	{ 30, "IEC_TIMER" }, { 31, "IEC_COUNTER" }, { 32, "HS_COUNTER" },
	{ 0, NULL },
};

/* Memory areas [S7]; short: the letter used in addresses */
struct s7_area {
	unsigned code;
	const char *name;
	const char *letter;
};

static const struct s7_area s7_areas[] = {
	{ 0x03, "s200_system_info", "SI" },
	{ 0x05, "s200_system_flags", "SM" },
	{ 0x06, "s200_analog_inputs", "AI" },
	{ 0x07, "s200_analog_outputs", "AQ" },
	{ 0x1C, "counters", "C" },         /* S7 counters */
	{ 0x1D, "timers", "T" },           /* S7 timers */
	{ 0x1E, "s200_iec_counters", "HC" },
	{ 0x1F, "s200_iec_timers", "HT" },
	{ 0x80, "peripheral", "P" },       /* direct I/O access */
	{ 0x81, "inputs", "I" },
	{ 0x82, "outputs", "Q" },
	{ 0x83, "flags", "M" },            /* flags = markers = Merker */
	{ 0x84, "data_blocks", "DB" },
	{ 0x85, "instance_data_blocks", "DI" },
	{ 0x86, "local_data", "L" },
	{ 0x87, "previous_local_data", "V" },
	{ 0, NULL, NULL },
};

static const struct s7_area *s7_area(unsigned code)
{
	for (const struct s7_area *a = s7_areas; a->name; a++)
		if (a->code == code)
			return a;
	return NULL;
}

/* Userdata types [S7] */
static const struct s7_name s7_ud_type_names[] = {
	{ S7_UD_TYPE_PUSH, "push" },
	{ S7_UD_TYPE_REQ, "request" },
	{ S7_UD_TYPE_RES, "response" },
	{ S7_UD_TYPE_NC_PUSH, "nc_push" },
	{ S7_UD_TYPE_NC_REQ, "nc_request" },
	{ S7_UD_TYPE_NC_RES, "nc_response" },
	{ 0, NULL },
};

/* Userdata function groups [S7] */
static const struct s7_name s7_ud_group_names[] = {
	{ S7_UG_MODE, "mode_transition" },
	{ S7_UG_PROG, "programmer_commands" },
	{ S7_UG_CYCLIC, "cyclic_data" },
	{ S7_UG_BLOCK, "block_functions" },
	{ S7_UG_CPU, "cpu_functions" },
	{ S7_UG_SECURITY, "security" },
	{ S7_UG_PBC, "pbc_bsend_brecv" },
	{ S7_UG_TIME, "time_functions" },
	{ S7_UG_NC, "nc_programming" },
	{ 0, NULL },
};

/*
 * Sub-functions per group [S7].  Group 1 carries the S7 "test and
 * installation" functions (block status, force, ...); group 0 carries the
 * new operating mode in the sub-function field.
 */
static const struct s7_name s7_ud_mode_names[] = {
	{ 0x00, "STOP" }, { 0x01, "WARM_RESTART" }, { 0x02, "RUN" },
	{ 0x03, "HOT_RESTART" }, { 0x04, "HOLD" }, { 0x06, "COLD_RESTART" },
	{ 0x09, "RUN_R" }, { 0x0B, "LINK_UP" }, { 0x0C, "UPDATE" },
	{ 0, NULL },
};

#define S7_PROG_MODIFY_VAR 0x08
#define S7_PROG_FORCE 0x09
#define S7_PROG_BREAKPOINT 0x0A
#define S7_PROG_EXIT_HOLD 0x0B
#define S7_PROG_MEMORY_RESET 0x0C

static const struct s7_name s7_ud_prog_names[] = {
	{ 0x01, "block_status" },
	{ 0x02, "variable_status" },
	{ 0x03, "output_istack" },
	{ 0x04, "output_bstack" },
	{ 0x05, "output_lstack" },
	{ 0x06, "time_measurement" },
	{ 0x07, "force_selection" },
	{ S7_PROG_MODIFY_VAR, "modify_variable" },
	{ S7_PROG_FORCE, "force" },
	{ S7_PROG_BREAKPOINT, "breakpoint" },
	{ S7_PROG_EXIT_HOLD, "exit_hold" },
	{ S7_PROG_MEMORY_RESET, "memory_reset" },
	{ 0x0D, "disable_job" },
	{ 0x0E, "enable_job" },
	{ 0x0F, "delete_job" },
	{ 0x10, "read_job_list" },
	{ 0x11, "read_job" },
	{ 0x12, "replace_job" },
	{ 0x13, "block_status_v2" },
	{ 0x16, "flash_led" },
	{ 0, NULL },
};

#define S7_CYC_MEMORY 0x01
#define S7_CYC_UNSUBSCRIBE 0x04

static const struct s7_name s7_ud_cyclic_names[] = {
	{ S7_CYC_MEMORY, "cyclic_transfer" },
	{ S7_CYC_UNSUBSCRIBE, "unsubscribe" },
	{ 0x05, "change_driven_transfer" },
	{ 0x07, "change_driven_transfer_modify" },
	{ 0x08, "rdrec" },
	{ 0, NULL },
};

#define S7_BLOCK_LIST 0x01
#define S7_BLOCK_LIST_TYPE 0x02
#define S7_BLOCK_INFO 0x03

static const struct s7_name s7_ud_block_names[] = {
	{ S7_BLOCK_LIST, "list_blocks" },
	{ S7_BLOCK_LIST_TYPE, "list_blocks_of_type" },
	{ S7_BLOCK_INFO, "get_block_info" },
	{ 0, NULL },
};

#define S7_CPU_READ_SZL 0x01
#define S7_CPU_MSG_SERVICE 0x02
#define S7_CPU_DIAG_MSG 0x03
#define S7_CPU_ALARM_ACK 0x0B

static const struct s7_name s7_ud_cpu_names[] = {
	{ S7_CPU_READ_SZL, "read_szl" },
	{ S7_CPU_MSG_SERVICE, "message_service" },  /* (un)subscribe alarms */
	{ S7_CPU_DIAG_MSG, "diagnostic_message" },  /* pushed by the CPU */
	{ 0x05, "alarm8_indication" },
	{ 0x06, "notify_indication" },
	{ 0x07, "alarm8_lock" },
	{ 0x08, "alarm8_unlock" },
	{ 0x09, "scan_indication" },
	{ S7_CPU_ALARM_ACK, "alarm_ack" },
	{ 0x0C, "alarm_ack_indication" },
	{ 0x0D, "alarm_lock_indication" },
	{ 0x0E, "alarm_unlock_indication" },
	{ 0x11, "alarm_sq_indication" },
	{ 0x12, "alarm_s_indication" },
	{ 0x13, "alarm_query" },
	{ 0x16, "notify8_indication" },
	{ 0, NULL },
};

#define S7_SEC_PASSWORD 0x01

static const struct s7_name s7_ud_security_names[] = {
	{ S7_SEC_PASSWORD, "plc_password" },
	{ 0x02, "clean_session" },
	{ 0, NULL },
};

#define S7_TIME_READ 0x01
#define S7_TIME_SET 0x02
#define S7_TIME_READ_FOLLOWING 0x03
#define S7_TIME_SET2 0x04

static const struct s7_name s7_ud_time_names[] = {
	{ S7_TIME_READ, "read_clock" },
	{ S7_TIME_SET, "set_clock" },
	{ S7_TIME_READ_FOLLOWING, "read_clock_following" },
	{ S7_TIME_SET2, "set_clock" },
	{ 0, NULL },
};

static const struct s7_name s7_ud_nc_names[] = {
	{ 0x01, "request_download" }, { 0x02, "download_block" },
	{ 0x03, "continue_download" }, { 0x04, "download_ended" },
	{ 0x06, "start_upload" }, { 0x07, "upload" },
	{ 0x08, "continue_upload" },
	{ 0, NULL },
};

static const char *ud_subfn_name(unsigned group, unsigned sub)
{
	const struct s7_name *t = NULL;

	switch (group) {
	case S7_UG_MODE: t = s7_ud_mode_names; break;
	case S7_UG_PROG: t = s7_ud_prog_names; break;
	case S7_UG_CYCLIC: t = s7_ud_cyclic_names; break;
	case S7_UG_BLOCK: t = s7_ud_block_names; break;
	case S7_UG_CPU: t = s7_ud_cpu_names; break;
	case S7_UG_SECURITY: t = s7_ud_security_names; break;
	case S7_UG_TIME: t = s7_ud_time_names; break;
	case S7_UG_NC: t = s7_ud_nc_names; break;
	}
	const char *s = t ? s7_lookup(t, sub) : NULL;
	return s ? s : "unknown";
}

/* Block types: the second character of "0A" in file names [S7] */
static const struct s7_name s7_block_names[] = {
	{ S7_BLK_OB, "OB" },   /* organisation block */
	{ 0x09, "CMOD" },
	{ S7_BLK_DB, "DB" },   /* data block */
	{ S7_BLK_SDB, "SDB" }, /* system data block (hardware config) */
	{ S7_BLK_FC, "FC" },   /* function */
	{ S7_BLK_SFC, "SFC" }, /* system function */
	{ S7_BLK_FB, "FB" },   /* function block */
	{ S7_BLK_SFB, "SFB" }, /* system function block */
	{ 0, NULL },
};

/* Destination file system in block file names [S7] */
static const struct s7_name s7_filesys_names[] = {
	{ 'P', "passive" },         /* copied, not yet linked */
	{ 'A', "active" },          /* embedded, active */
	{ 'B', "active_and_passive" },
	{ 0, NULL },
};

/* PI services [S7]: the ones S7-300/400 engineering tools use */
enum pi_kind { PI_UNKNOWN, PI_INSERT, PI_DELETE, PI_PROGRAM, PI_COPY_ROM,
	       PI_COMPRESS, PI_LOGIN, PI_LOGOUT, PI_NC };

struct s7_pi {
	const char *service;
	enum pi_kind kind;
	const char *name;
};

static const struct s7_pi s7_pi_services[] = {
	{ "_INSE", PI_INSERT, "activate_block" },   /* link passive blocks */
	{ "_DELE", PI_DELETE, "delete_block" },     /* remove blocks */
	{ "P_PROGRAM", PI_PROGRAM, "start_program" }, /* warm/cold start */
	{ "_MODU", PI_COPY_ROM, "copy_ram_to_rom" },  /* with "EP" */
	{ "_GARB", PI_COMPRESS, "compress_memory" },
	{ "_N_LOGIN_", PI_LOGIN, "nc_login" },      /* SINUMERIK */
	{ "_N_LOGOUT", PI_LOGOUT, "nc_logout" },
	{ NULL, PI_UNKNOWN, NULL },
};

/* CPU operating modes in SZL W#16#xy24 (bits 0-3 of bzu-id) [SFC] */
static const struct s7_name szl_mode_names[] = {
	{ 0x1, "STOP" },            /* stop (update) */
	{ 0x2, "STOP" },            /* stop (memory reset) */
	{ 0x3, "STOP" },            /* stop (self initialisation) */
	{ 0x4, "STOP" },            /* stop (internal) */
	{ 0x5, "STARTUP" },         /* complete restart */
	{ 0x6, "STARTUP" },         /* cold restart */
	{ 0x7, "STARTUP" },         /* restart */
	{ 0x8, "RUN" },
	{ 0x9, "RUN" },             /* redundant */
	{ 0xA, "HOLD" },
	{ 0xD, "DEFECT" },
	{ 0, NULL },
};

/* S7comm-plus opcodes and functions [S7P] */
static const struct s7_name s7p_opcode_names[] = {
	{ S7P_OP_REQ, "request" },
	{ S7P_OP_RES, "response" },
	{ S7P_OP_NOTIFY, "notification" },
	{ S7P_OP_RES2, "response2" },
	{ 0, NULL },
};

static const struct s7_name s7p_fn_names[] = {
	{ S7P_FN_EXPLORE, "explore" },
	{ S7P_FN_CREATE_OBJECT, "create_object" },
	{ S7P_FN_DELETE_OBJECT, "delete_object" },
	{ S7P_FN_SET_VARIABLE, "set_variable" },
	{ S7P_FN_GET_VARIABLE, "get_variable" },
	{ S7P_FN_ADD_LINK, "add_link" },
	{ S7P_FN_REMOVE_LINK, "remove_link" },
	{ S7P_FN_GET_LINK, "get_link" },
	{ S7P_FN_SET_MULTI_VAR, "set_multi_variables" },
	{ S7P_FN_GET_MULTI_VAR, "get_multi_variables" },
	{ S7P_FN_BEGIN_SEQUENCE, "begin_sequence" },
	{ S7P_FN_END_SEQUENCE, "end_sequence" },
	{ S7P_FN_INVOKE, "invoke" },
	{ S7P_FN_SET_VAR_SUBSTREAMED, "set_var_substreamed" },
	{ S7P_FN_GET_VAR_SUBSTREAMED, "get_var_substreamed" },
	{ S7P_FN_GET_VARIABLES_ADDRESS, "get_variables_address" },
	{ S7P_FN_ABORT, "abort" },
	{ S7P_FN_ERROR, "error" },
	{ S7P_FN_INIT_SSL, "init_ssl" },
	{ 0, NULL },
};

static const char *name_or(const struct s7_name *t, unsigned code,
			   const char *dflt)
{
	const char *s = s7_lookup(t, code);
	return s ? s : dflt;
}

/* ------------------------------------------------------------------ */
/* Operation classes                                                   */
/* ------------------------------------------------------------------ */

/*
 * | request                                   | class    | event          |
 * |-------------------------------------------|----------|----------------|
 * | read var                                  | read     |                |
 * | write var                                 | write    |                |
 * | setup communication (session negotiation) | (no op)  |                |
 * | cpu services                              | other    |                |
 * | request download                          | program  | block_download |
 * | download block, download ended (jobs the  | (no op)  |                |
 * |   PLC sends to pull the block; sent by the| program  |                |
 * |   client instead: program)                |          |                |
 * | start upload, upload, end upload          | program  | block_upload   |
 * | PI _INSE (activate downloaded blocks)     | program  | block_insert   |
 * | PI _DELE (delete blocks)                  | program  | block_delete   |
 * | PI P_PROGRAM (warm or cold start)         | control  | plc_start      |
 * | PI _MODU (copy RAM to ROM)                | control  | copy_ram_to_rom|
 * | PI _GARB (compress memory)                | control  | compress_memory|
 * | PI, any other service                     | control  |                |
 * | PLC STOP (0x29)                           | control  | plc_stop       |
 * | userdata programmer: block/var status,    | read     |                |
 * |   stacks, time measurement, job lists     |          |                |
 * | userdata programmer: modify var, force    | write    |                |
 * | userdata programmer: breakpoint, exit HOLD| control  |                |
 * | userdata programmer: memory reset         | program  | memory_reset   |
 * | userdata programmer: jobs, flash LED      | other    |                |
 * | userdata cyclic data subscription         | read     |                |
 * | userdata block list / list of type / info | discover |                |
 * | userdata read SZL                         | discover |                |
 * | userdata messages, alarm query            | read     |                |
 * | userdata alarm acknowledge                | write    |                |
 * | userdata PLC password                     | other    | password_attempt|
 * | userdata read clock                       | read     |                |
 * | userdata set clock                        | control  | set_clock      |
 * | userdata NC download / upload             | program  |                |
 * | S7comm-plus explore                       | discover |                |
 * | S7comm-plus get (multi) variables, link   | read     |                |
 * | S7comm-plus set (multi) variables         | write    |                |
 * |   ... on the CPU's operating-state request| control  | plc_stop/start |
 * | S7comm-plus create/delete object (not the | program  |                |
 * |   connection's own session), sequences    |          |                |
 * | S7comm-plus invoke                        | control  |                |
 * | S7comm-plus session setup/teardown        | (no op)  |                |
 * | S7comm-plus anything else                 | other    |                |
 *
 * Session negotiation (Setup Communication, the S7comm-plus session's
 * own CreateObject/DeleteObject) is logged but is no operation: every
 * connection starts with it, and a read-only conduit must not flag it.
 * Set clock is `control`: it changes the device's own state (time stamps,
 * time-of-day interrupts), not process data.  Copy RAM to ROM makes the
 * running program the one the CPU restarts with: an operating-state
 * change in DESIGN.md's table, so `control`; the blocks themselves are
 * changed by downloads and _INSE/_DELE (`program`).
 */
static enum mm_op_class prog_class(unsigned sub)
{
	switch (sub) {
	case 0x01: case 0x02: case 0x03: case 0x04: case 0x05: case 0x06:
	case 0x07: case 0x10: case 0x11: case 0x13:
		return MM_OP_READ;
	case S7_PROG_MODIFY_VAR:
	case S7_PROG_FORCE:
		return MM_OP_WRITE;
	case S7_PROG_BREAKPOINT:
	case S7_PROG_EXIT_HOLD:
		return MM_OP_CONTROL;
	case S7_PROG_MEMORY_RESET:
		return MM_OP_PROGRAM;
	}
	return MM_OP_OTHER;
}

static enum mm_op_class ud_class(unsigned group, unsigned sub)
{
	switch (group) {
	case S7_UG_PROG:
		return prog_class(sub);
	case S7_UG_CYCLIC:
		return sub == S7_CYC_UNSUBSCRIBE ? MM_OP_OTHER : MM_OP_READ;
	case S7_UG_BLOCK:
		return MM_OP_DISCOVER;
	case S7_UG_CPU:
		if (sub == S7_CPU_READ_SZL)
			return MM_OP_DISCOVER;
		if (sub == S7_CPU_ALARM_ACK)
			return MM_OP_WRITE;
		return MM_OP_READ;
	case S7_UG_TIME:
		return (sub == S7_TIME_SET || sub == S7_TIME_SET2) ?
			MM_OP_CONTROL : MM_OP_READ;
	case S7_UG_NC:
		return MM_OP_PROGRAM;
	}
	return MM_OP_OTHER; /* security, PBC, mode */
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

enum {
	S7_EV_PLC_STOP,
	S7_EV_PLC_START,
	S7_EV_BLOCK_DOWNLOAD,
	S7_EV_BLOCK_UPLOAD,
	S7_EV_BLOCK_DELETE,
	S7_EV_BLOCK_INSERT,
	S7_EV_COPY_RAM_TO_ROM,
	S7_EV_COMPRESS_MEMORY,
	S7_EV_MEMORY_RESET,
	S7_EV_SET_CLOCK,
	S7_EV_PASSWORD_ATTEMPT,
	S7_EV_CPU_MODE_CHANGE,
	S7_EV_INVALID_HEADER,
	S7_EV_INVALID_LENGTH,
	S7_EV_UNKNOWN_FUNCTION,
	S7_EV_ERROR_RESPONSE,
	S7_EV_UNSOLICITED_RESPONSE,
	S7_EV_FLOODED,
	S7_EV_REASSEMBLY_OVERFLOW,
	S7_EV_UNANSWERED_REQUESTS,
	S7_EV__N
};

#define CAT_DECODE "Generic Protocol Command Decode"
#define CAT_BAD "Potentially Bad Traffic"
#define CAT_DOS "Attempted Denial of Service"
#define CAT_MISC "Misc activity"
#define CAT_STATE "Operating State Change"
#define CAT_PROGRAM "Program Change"
#define CAT_CRED "Attempted User Privilege Gain"

static const struct mm_event_def s7_events[S7_EV__N] = {
	[S7_EV_PLC_STOP] = { "s7comm.plc_stop", 1, CAT_STATE,
		"a PLC is told to stop (PLC STOP, or S7comm-plus operating "
		"state STOP): the process it drives stops" },
	[S7_EV_PLC_START] = { "s7comm.plc_start", 2, CAT_STATE,
		"a PLC is told to start (PI P_PROGRAM warm/cold start, or "
		"S7comm-plus operating state RUN)" },
	[S7_EV_BLOCK_DOWNLOAD] = { "s7comm.block_download", 1, CAT_PROGRAM,
		"a program or data block is being written into the PLC "
		"(request download): logic change" },
	[S7_EV_BLOCK_UPLOAD] = { "s7comm.block_upload", 2, CAT_PROGRAM,
		"a block is being read out of the PLC (start upload): "
		"program theft or an engineer comparing online/offline" },
	[S7_EV_BLOCK_DELETE] = { "s7comm.block_delete", 1, CAT_PROGRAM,
		"blocks are deleted from the PLC (PI _DELE)" },
	[S7_EV_BLOCK_INSERT] = { "s7comm.block_insert", 1, CAT_PROGRAM,
		"downloaded blocks are activated in the running program "
		"(PI _INSE)" },
	[S7_EV_COPY_RAM_TO_ROM] = { "s7comm.copy_ram_to_rom", 2, CAT_PROGRAM,
		"the running program becomes the one the CPU restarts with "
		"(PI _MODU)" },
	[S7_EV_COMPRESS_MEMORY] = { "s7comm.compress_memory", 3, CAT_STATE,
		"the PLC's work memory is compressed (PI _GARB)" },
	[S7_EV_MEMORY_RESET] = { "s7comm.memory_reset", 1, CAT_PROGRAM,
		"memory reset requested (programmer command): erases the "
		"user program" },
	[S7_EV_SET_CLOCK] = { "s7comm.set_clock", 2, CAT_STATE,
		"the PLC's clock is set: time stamps and time-of-day "
		"interrupts change" },
	[S7_EV_PASSWORD_ATTEMPT] = { "s7comm.password_attempt", 2, CAT_CRED,
		"a PLC password is sent (weakly obfuscated on the wire): "
		"legitimation, or guessing when repeated" },
	[S7_EV_CPU_MODE_CHANGE] = { "s7comm.cpu_mode_change", 2, CAT_STATE,
		"the CPU reports a different operating mode than before "
		"(RUN, STOP, STARTUP...)" },
	[S7_EV_INVALID_HEADER] = { "s7comm.invalid_header", 2, CAT_DECODE,
		"a TPKT, COTP or S7 header field holds a value the protocol "
		"does not allow: not S7, lost sync, or crafted" },
	[S7_EV_INVALID_LENGTH] = { "s7comm.invalid_length", 2, CAT_DECODE,
		"a length field disagrees with the bytes present: truncated "
		"or crafted packet, or a buggy device" },
	[S7_EV_UNKNOWN_FUNCTION] = { "s7comm.unknown_function", 3,
		CAT_DECODE, "a job names a function code no S7 device is "
		"known to use: fuzzing or an undocumented service" },
	[S7_EV_ERROR_RESPONSE] = { "s7comm.error_response", 4, CAT_MISC,
		"the PLC refused a request (error class/code): common; many "
		"in a row can mean a scan or password guessing" },
	[S7_EV_UNSOLICITED_RESPONSE] = { "s7comm.unsolicited_response", 3,
		CAT_BAD, "an acknowledgement whose PDU reference matches no "
		"outstanding request: packet loss, or an injected answer" },
	[S7_EV_FLOODED] = { "s7comm.flooded", 2, CAT_DOS,
		"more than 64 requests outstanding: request flood, or a PLC "
		"that stopped answering" },
	[S7_EV_REASSEMBLY_OVERFLOW] = { "s7comm.reassembly_overflow", 2,
		CAT_BAD, "COTP data fragments add up to more than the "
		"negotiated PDU size: crafted traffic or lost sync" },
	[S7_EV_UNANSWERED_REQUESTS] = { "s7comm.unanswered_requests", 4,
		CAT_MISC, "requests never answered when the flow ended: PLC "
		"down, or packet loss" },
};

/* ------------------------------------------------------------------ */
/* Per-flow state                                                      */
/* ------------------------------------------------------------------ */

/* What a request leaves for its acknowledgement. */
struct s7_req {
	uint32_t seq;        /* request number on the flow: its age */
	uint16_t pdu_ref;
	uint8_t used;
	uint8_t rosctr;      /* job or userdata */
	uint8_t fc;          /* job function / userdata group */
	uint8_t sub;         /* userdata sub-function */
	uint8_t items;       /* read/write var item count */
	uint16_t szl_id;
};

/*
 * COTP reassembly of one direction: DT units without EOT are gathered
 * until the one with EOT ([X224] 13.7.3).  The buffer is bounded by the
 * S7 PDU size the two ends negotiated in Setup Communication (an S7 PDU,
 * header included, is never longer), and by S7_REASM_HARD_MAX when no
 * negotiation was seen (mid-stream pickup): a peer that sends fragments
 * forever cannot grow the sensor's memory.  Past the bound the PDU is
 * dropped up to its EOT, counted and reported.
 */
struct s7_frag {
	uint8_t *buf;
	uint32_t len;
	uint32_t cap;
	bool active;      /* fragments gathered, EOT not yet seen */
	bool overflow;    /* this PDU passed the bound: dropping to EOT */
	uint32_t units;   /* DT units in the PDU so far */
};

/*
 * Userdata answers longer than one PDU come in data units sharing a
 * reference, all but the last flagged "more follow" [S7].  The data parts
 * are gathered (bounded) so that an SZL answer is decoded whole, and the
 * SZL id of the first unit is reported with the last one.
 */
struct s7_ud_frag {
	uint8_t *buf;
	uint32_t len;
	bool active;
	uint8_t dur;      /* data unit reference */
	uint8_t group, sub;
	bool has_szl;
	uint16_t szl_id, szl_index;
};

/*
 * Outstanding requests, keyed by PDU reference: a small fixed table with
 * linear search.  The S7 client may have at most "max AmQ calling"
 * requests in flight (Setup Communication; devices grant 1..8), so 64 is
 * far beyond any honest client.  A request unanswered while 256 later
 * ones were sent is taken as lost and evicted when room is needed; when
 * the table is still full, all 64 are younger than that: a flood or a PLC
 * that stopped answering, reported once as s7comm.flooded (re-armed when
 * answers drain it to half).  Requests left out during a flood may still
 * be answered: `untracked` excuses that many stray answers (capped).
 */
struct s7_conn {
	bool have;
	bool reported;                  /* logged with the first S7 record */
	uint8_t cls;
	uint8_t src_len, dst_len;
	uint16_t tpdu_size;
	uint8_t src_tsap[16], dst_tsap[16];
};

/*
 * (struct s7_state)  COTP connect/disconnect PDUs get no record of their
 * own while the flow may still turn out not to be S7 (ISO-MMS shares
 * them): the connection's TSAPs and TPDU size are kept and logged with
 * the first S7 record.
 */
struct s7_state {
	struct s7_conn conn;
	struct s7_frag frag[2];         /* per direction */
	struct s7_ud_frag ud;           /* userdata answer being gathered */
	struct s7_req req[S7_MAX_OUTSTANDING];
	unsigned n;
	uint32_t seq;
	uint32_t untracked;
	uint32_t unanswered;
	uint32_t overflows;             /* reassembly overflows, counted */
	uint16_t pdu_size;              /* negotiated; 0 = not seen */
	uint16_t pdu_size_proposed;     /* by the client's setup job */
	uint8_t proto;                  /* 0 unknown, 0x32 or 0x72 */
	int8_t cpu_mode;                /* -1 unknown; SZL mode nibble */
	bool seen_request;
	bool flooded;
	bool excluded;
	bool s7p_frag[2];               /* S7comm-plus fragment pending */
	bool s7p_session_created;
};

static void *s7_state_new(void)
{
	struct s7_state *s = calloc(1, sizeof(*s));
	if (s)
		s->cpu_mode = -1;
	return s;
}

static void s7_state_free(void *st)
{
	struct s7_state *s = st;
	if (!s)
		return;
	free(s->frag[0].buf);
	free(s->frag[1].buf);
	free(s->ud.buf);
	free(s);
}

/* ------------------------------------------------------------------ */
/* Parsing context                                                     */
/* ------------------------------------------------------------------ */

struct pdu {
	struct mm_ctx *c;
	struct s7_state *st;       /* NULL: stateless */
	struct mm_rec *rec;        /* NULL: the log is off */
	enum mm_dir dir;
	bool len_bad;              /* invalid_length raised for this PDU */
	bool hdr_bad;              /* invalid_header raised for this PDU */
	/* S7 header */
	uint8_t rosctr;
	uint16_t pdu_ref;
	struct rd param, data;
	/* the request's classification */
	bool is_request;
	bool emit;
	struct mm_op op;
	struct s7_req info;        /* request: what its answer will need */
	const struct s7_req *req;  /* answer: its request, when paired */
	bool expect_answer;
	bool no_op;                /* a request that is not an operation */
};

static void pdu_event(struct pdu *p, int id, const char *fmt, va_list ap)
{
	char detail[200];

	vsnprintf(detail, sizeof(detail), fmt, ap);
	mm_emit_event(p->c, &s7_events[id], "%s", detail);
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
	pdu_event(p, S7_EV_INVALID_LENGTH, fmt, ap);
	va_end(ap);
}

/* invalid_header, once per PDU */
__attribute__((format(printf, 2, 3)))
static void bad_hdr(struct pdu *p, const char *fmt, ...)
{
	va_list ap;

	if (p->hdr_bad)
		return;
	p->hdr_bad = true;
	va_start(ap, fmt);
	pdu_event(p, S7_EV_INVALID_HEADER, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3)))
static void target(struct pdu *p, const char *fmt, ...)
{
	va_list ap;

	/* mm_vfmt: every request's target, where snprintf would cost more
	 * than the parsing (common/fmt.h); it replaces any deferred text */
	mm_op_target_reset(&p->op);
	va_start(ap, fmt);
	mm_vfmt(p->op.target, sizeof(p->op.target), fmt, ap);
	va_end(ap);
}

/* append to the target, when there is room */
__attribute__((format(printf, 2, 3)))
static void target_add(struct pdu *p, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(mm_op_target(&p->op));

	if (n + 1 >= sizeof(p->op.target))
		return;
	va_start(ap, fmt);
	mm_vfmt(p->op.target + n, sizeof(p->op.target) - n, fmt, ap);
	va_end(ap);
}

/* request: classify it; the event, if any, rides on the op's alert */
static void classify(struct pdu *p, enum mm_op_class cls, unsigned fn,
		     const char *name, int event)
{
	p->emit = true;
	p->op.cls = cls;
	p->op.function = fn;
	p->op.function_name = name;
	p->op.event = event >= 0 ? &s7_events[event] : NULL;
}

/* --- log helpers: no-ops when the log is off --- */

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

static void log_b(struct pdu *p, const char *k, bool v)
{
	if (p->rec)
		rec_bool(p->rec, k, v);
}

static void log_x(struct pdu *p, const char *k, unsigned v)
{
	char b[8];

	if (!p->rec)
		return;
	snprintf(b, sizeof(b), "0x%04x", v & 0xFFFF);
	rec_str(p->rec, k, b);
}

static void log_hex(struct pdu *p, const char *k, const uint8_t *b, size_t n)
{
	if (p->rec)
		rec_hex(p->rec, k, b, n);
}

/* a bounded hex dump of what is left in r (r is not consumed) */
static void log_rest(struct pdu *p, const char *k, const struct rd *r)
{
	size_t n = rd_left(r);

	if (!p->rec || n == 0)
		return;
	rec_hex(p->rec, k, rd_ptr(r), n > S7_LOG_MAX_DATA ? S7_LOG_MAX_DATA : n);
	if (n > S7_LOG_MAX_DATA)
		rec_bool(p->rec, "data_truncated", true);
}

/* ASCII field without trailing spaces and NULs */
static size_t trim_len(const uint8_t *s, size_t n)
{
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == 0))
		n--;
	return n;
}

static void log_text(struct pdu *p, const char *k, const uint8_t *s, size_t n)
{
	if (p->rec)
		rec_strn(p->rec, k, s, trim_len(s, n));
}

static void fact(struct pdu *p, const char *key, const uint8_t *v, size_t n)
{
	n = trim_len(v, n);
	if (n == 0)
		return;
	/* facts come from the PLC's answers: the server end of the flow */
	mm_asset_fact(p->c, p->dir == MM_DIR_TO_CLIENT, key, v, n);
}

static void fact_str(struct pdu *p, const char *key, const char *v)
{
	fact(p, key, (const uint8_t *)v, strlen(v));
}

/* ------------------------------------------------------------------ */
/* Pairing                                                             */
/* ------------------------------------------------------------------ */

static int req_find(const struct s7_state *s, uint16_t ref, uint8_t rosctr)
{
	for (int i = 0; i < S7_MAX_OUTSTANDING; i++)
		if (s->req[i].used && s->req[i].pdu_ref == ref &&
		    s->req[i].rosctr == rosctr)
			return i;
	return -1;
}

static void give_up(struct s7_state *s, bool may_answer)
{
	if (may_answer && s->untracked < S7_MAX_OUTSTANDING)
		s->untracked++;
	else if (s->unanswered < UINT32_MAX)
		s->unanswered++;
}

static void req_remove(struct s7_state *s, int i)
{
	s->req[i].used = 0;
	s->n--;
	if (s->flooded && s->n <= S7_MAX_OUTSTANDING / 2)
		s->flooded = false;
}

static void track_request(struct pdu *p)
{
	struct s7_state *s = p->st;
	int i;

	if (!s)
		return;
	s->seq++;
	p->info.seq = s->seq;
	p->info.pdu_ref = p->pdu_ref;
	p->info.rosctr = p->rosctr;
	p->info.used = 1;
	i = req_find(s, p->pdu_ref, p->rosctr);
	if (i >= 0) {
		/* the same reference while one is open: the older is lost */
		give_up(s, false);
		s->req[i] = p->info;
		return;
	}
	if (s->n >= S7_MAX_OUTSTANDING) {
		for (i = 0; i < S7_MAX_OUTSTANDING; i++) {
			if (s->req[i].used &&
			    s->seq - s->req[i].seq > S7_STALE_AGE) {
				give_up(s, s->flooded);
				req_remove(s, i);
			}
		}
	}
	if (s->n >= S7_MAX_OUTSTANDING) {
		give_up(s, true);
		if (!s->flooded) {
			s->flooded = true;
			ev(p, S7_EV_FLOODED, "the last %u requests are all "
			   "unanswered; new requests are not tracked until "
			   "some are answered", s->n);
		}
		return;
	}
	for (i = 0; i < S7_MAX_OUTSTANDING; i++) {
		if (!s->req[i].used) {
			s->req[i] = p->info;
			s->n++;
			return;
		}
	}
}

/*
 * An answer: find its request by PDU reference.  `rosctr` is the request's
 * ROSCTR (job for ack/ack_data, userdata for userdata responses).  When
 * nothing matches and `excusable` is false, it is unsolicited, unless the
 * capture began mid-stream (no request seen yet) or a flood left requests
 * untracked.
 */
static struct s7_req pair(struct pdu *p, uint8_t rosctr, bool excusable,
			  const char *what)
{
	struct s7_state *s = p->st;
	struct s7_req r;
	int i;

	memset(&r, 0, sizeof(r));
	if (!s)
		return r;
	i = req_find(s, p->pdu_ref, rosctr);
	if (i >= 0) {
		r = s->req[i];
		req_remove(s, i);
		return r;
	}
	log_b(p, "unmatched", true);
	if (excusable)
		return r;
	if (s->untracked > 0) {
		s->untracked--;
	} else if (s->seen_request) {
		ev(p, S7_EV_UNSOLICITED_RESPONSE, "%s with PDU reference %u "
		   "answers no outstanding request", what, p->pdu_ref);
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* Job / Ack_Data functions                                            */
/* ------------------------------------------------------------------ */

static const char *fc_name(unsigned fc)
{
	return name_or(s7_fc_names, fc, "unknown");
}

/* Setup communication [S7]: reserved, max AmQ calling, called, PDU size */
static void fc_setup(struct pdu *p)
{
	struct rd *r = &p->param;
	rd_skip(r, 1);
	uint16_t calling = rd_be16(r), called = rd_be16(r), size = rd_be16(r);

	if (r->err) {
		bad_len(p, "setup communication parameter shorter than 8 bytes");
		return;
	}
	log_u(p, "max_amq_calling", calling);
	log_u(p, "max_amq_called", called);
	log_u(p, "pdu_size", size);
	if (p->rosctr == S7_JOB) {
		/* session negotiation, not an operation: no op (else every
		 * SCADA connection would break a read-only conduit) */
		p->no_op = true;
		if (p->st)
			p->st->pdu_size_proposed = size;
	} else if (p->st && size > 0) {
		/* the server's answer is what both ends use */
		p->st->pdu_size = size;
	}
}

/* one S7ANY item address as "DB1.2.0" / "M10.0" / "C5": its format and
 * arguments (a[0..3]), for mm_afmt or a deferred target */
static const char *addr_fmt(unsigned area, unsigned db, uint32_t addr,
			    union mm_fmt_arg a[4])
{
	const struct s7_area *ar = s7_area(area);

	a[0].s = ar ? ar->letter : "?";
	if (area == 0x1C || area == 0x1D) { /* counters, timers: a number */
		a[1].u = addr;
		return "%s%u";
	}
	if (area == 0x84 || area == 0x85) {
		a[1].u = db;
		a[2].u = addr >> 3;
		a[3].u = addr & 7;
		return "%s%u.%u.%u";
	}
	a[1].u = addr >> 3;
	a[2].u = addr & 7;
	return "%s%u.%u";
}

static void fmt_addr(char *b, size_t n, unsigned area, unsigned db,
		     uint32_t addr)
{
	union mm_fmt_arg a[4] = { { 0 } };
	const char *f = addr_fmt(area, db, addr, a);

	/* mm_afmt: every item of every request when the log is on */
	mm_afmt(b, n, f, a, 4);
}

/*
 * Read/write var request items [S7]: each is 0x12, the length of what
 * follows, a syntax id, then (S7ANY) transport size, count, DB number,
 * area and a 24-bit address (byte << 3 | bit).  Other syntax ids are kept
 * raw.
 */
static unsigned var_items(struct pdu *p, unsigned count)
{
	struct rd *r = &p->param;
	unsigned done = 0;
	/* the first item, for the target (formatted only when read:
	 * mm_op_target_defer, dissector.h) */
	const char *syn_first = NULL, *ts_first = NULL, *addr_f = NULL;
	union mm_fmt_arg addr_a[4] = { { 0 } };
	unsigned len_first = 0;

	if (p->rec)
		rec_arr_begin(p->rec, "item");
	for (unsigned i = 0; i < count; i++) {
		uint8_t spec = rd_u8(r);
		uint8_t alen = rd_u8(r);
		struct rd a;

		if (r->err)
			break;
		if (spec != S7_VAR_SPEC)
			bad_hdr(p, "item %u variable specification 0x%02x, "
				"not 0x12", i + 1, spec);
		if (!rd_sub(r, alen, &a))
			break;
		uint8_t syntax = rd_u8(&a);
		if (p->rec && i < S7_LOG_MAX_ITEMS) {
			rec_obj_begin(p->rec, NULL);
			rec_str(p->rec, "syntax",
				name_or(s7_syntax_names, syntax, "unknown"));
		}
		if (syntax == S7_SYNTAX_S7ANY && alen == S7_S7ANY_LEN) {
			uint8_t ts = rd_u8(&a);
			uint16_t len = rd_be16(&a);
			uint16_t db = rd_be16(&a);
			uint8_t area = rd_u8(&a);
			uint32_t addr = rd_be24(&a);
			const struct s7_area *ar = s7_area(area);
			char buf[48];

			if (p->rec && i < S7_LOG_MAX_ITEMS)
				fmt_addr(buf, sizeof(buf), area, db, addr);
			if (i == 0) {
				addr_f = addr_fmt(area, db, addr, addr_a);
				ts_first = name_or(s7_tsize_names, ts, "?");
				len_first = len;
				/* the structured target (baselines, detectors):
				 * the first item's data block, area, byte (or
				 * counter/timer number) and length in its
				 * transport size's units */
				p->op.has_ref = true;
				p->op.unit = area == 0x84 || area == 0x85 ? db : 0;
				p->op.space = area;
				p->op.addr = area == 0x1C || area == 0x1D ? addr
									: addr >> 3;
				p->op.count = len;
			}
			if (p->rec && i < S7_LOG_MAX_ITEMS) {
				rec_str(p->rec, "transport_size",
					name_or(s7_tsize_names, ts, "unknown"));
				rec_uint(p->rec, "length", len);
				rec_str(p->rec, "area", ar ? ar->name : "unknown");
				rec_uint(p->rec, "area_code", area);
				if (area == 0x84 || area == 0x85)
					rec_uint(p->rec, "db", db);
				if (area == 0x1C || area == 0x1D) {
					rec_uint(p->rec, "number", addr);
				} else {
					rec_uint(p->rec, "byte", addr >> 3);
					rec_uint(p->rec, "bit", addr & 7);
				}
				rec_str(p->rec, "address", buf);
			}
		} else {
			if (i == 0)
				syn_first = name_or(s7_syntax_names, syntax, "?");
			if (p->rec && i < S7_LOG_MAX_ITEMS)
				rec_hex(p->rec, "spec", rd_ptr(&a), rd_left(&a));
		}
		if (p->rec && i < S7_LOG_MAX_ITEMS)
			rec_obj_end(p->rec);
		done++;
	}
	if (p->rec)
		rec_arr_end(p->rec);
	if (done < count)
		bad_len(p, "%u items announced, %u fit in the parameter",
			count, done);
	if (addr_f || syn_first) {
		/* "DB1.2.0 BYTE x4 +1" / "DBREAD item": what target() wrote
		 * at once before, now left for mm_op_target */
		mm_op_target_reset(&p->op);
		p->op.target[0] = '\0';
		if (addr_f) {
			mm_op_target_defer(&p->op, addr_f, addr_a[0].s,
					   addr_a[1].u, addr_a[2].u, addr_a[3].u);
			if (count > 1)
				mm_op_target_defer(&p->op, " %s x%u +%u",
						   ts_first, len_first,
						   count - 1);
			else
				mm_op_target_defer(&p->op, " %s x%u", ts_first,
						   len_first);
		} else if (count > 1) {
			mm_op_target_defer(&p->op, "%s item +%u", syn_first,
					   count - 1);
		} else {
			mm_op_target_defer(&p->op, "%s item", syn_first);
		}
	}
	return done;
}

/* data length in bytes of a data item of transport size ts [S7] */
static size_t data_bytes(uint8_t ts, uint16_t len)
{
	if (ts == S7_TS_BIT || ts == S7_TS_BYTE || ts == S7_TS_INT)
		return (len + 7u) / 8u; /* given in bits */
	return len;
}

/*
 * Data items of a write var job or a read var answer: return code,
 * transport size, length, data, and a fill byte after odd-length data
 * except after the last item [S7].
 */
static void data_items(struct pdu *p, unsigned count, bool answer)
{
	struct rd *r = &p->data;
	unsigned done = 0, ok = 0;

	if (p->rec)
		rec_arr_begin(p->rec, answer ? "results" : "values");
	for (unsigned i = 0; i < count; i++) {
		uint8_t ret = rd_u8(r);
		if (r->err)
			break;
		if (answer && ret != S7_RET_SUCCESS && ret != S7_RET_RESERVED) {
			/* an error code only: no size, no data */
			if (p->rec && i < S7_LOG_MAX_ITEMS) {
				rec_obj_begin(p->rec, NULL);
				rec_uint(p->rec, "return_code", ret);
				rec_str(p->rec, "return",
					name_or(s7_return_names, ret, "unknown"));
				rec_obj_end(p->rec);
			}
			done++;
			continue;
		}
		uint8_t ts = rd_u8(r);
		uint16_t len = rd_be16(r);
		size_t n = data_bytes(ts, len);
		struct rd d;
		if (r->err || !rd_sub(r, n, &d))
			break;
		if (n % 2 && i + 1 < count)
			rd_skip(r, 1); /* fill byte */
		if (p->rec && i < S7_LOG_MAX_ITEMS) {
			rec_obj_begin(p->rec, NULL);
			if (answer) {
				rec_uint(p->rec, "return_code", ret);
				rec_str(p->rec, "return",
					name_or(s7_return_names, ret, "unknown"));
			}
			rec_uint(p->rec, "transport_size", ts);
			rec_uint(p->rec, "bytes", n);
			log_rest(p, "data", &d);
			rec_obj_end(p->rec);
		}
		ok += ret == S7_RET_SUCCESS;
		done++;
	}
	if (p->rec)
		rec_arr_end(p->rec);
	if (done < count)
		bad_len(p, "%u data items expected, %u fit in the data part",
			count, done);
	else if (rd_left(r) > 0 && !r->err)
		bad_len(p, "%zu bytes past the last data item", rd_left(r));
	if (answer && done == count && ok < count)
		ev(p, S7_EV_ERROR_RESPONSE, "%u of %u items failed (PDU "
		   "reference %u)", count - ok, count, p->pdu_ref);
}

static void fc_read_write(struct pdu *p, uint8_t fc)
{
	struct rd *r = &p->param;
	uint8_t count = rd_u8(r);

	if (r->err) {
		bad_len(p, "%s without an item count", fc_name(fc));
		return;
	}
	log_u(p, "items", count);
	if (p->rosctr == S7_JOB) {
		classify(p, fc == S7_FC_READ_VAR ? MM_OP_READ : MM_OP_WRITE, fc,
			 fc_name(fc), -1);
		p->info.items = count;
		var_items(p, count);
		if (fc == S7_FC_WRITE_VAR)
			data_items(p, count, false);
		return;
	}
	/* ack_data */
	if (p->req && p->req->fc == fc && p->req->items != count)
		bad_len(p, "%u items answered, %u requested", count,
			p->req->items);
	if (fc == S7_FC_READ_VAR) {
		data_items(p, count, true);
		return;
	}
	/* write var answer: one return code per item */
	unsigned ok = 0, n = 0;
	if (p->rec)
		rec_arr_begin(p->rec, "results");
	for (; n < count; n++) {
		uint8_t ret = rd_u8(&p->data);
		if (p->data.err)
			break;
		ok += ret == S7_RET_SUCCESS;
		if (p->rec && n < S7_LOG_MAX_ITEMS) {
			rec_obj_begin(p->rec, NULL);
			rec_uint(p->rec, "return_code", ret);
			rec_str(p->rec, "return",
				name_or(s7_return_names, ret, "unknown"));
			rec_obj_end(p->rec);
		}
	}
	if (p->rec)
		rec_arr_end(p->rec);
	if (n < count)
		bad_len(p, "%u return codes expected, %u present", count, n);
	else if (ok < count)
		ev(p, S7_EV_ERROR_RESPONSE, "write var: %u of %u items "
		   "failed (PDU reference %u)", count - ok, count, p->pdu_ref);
}

/* two ASCII characters of a block type ("0A") -> its code, -1 if not hex */
static int blk_code(const uint8_t *s)
{
	int v = 0;
	for (int i = 0; i < 2; i++) {
		int c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* five ASCII digits -> number, -1 if not digits */
static long blk_number(const uint8_t *s)
{
	long v = 0;
	for (int i = 0; i < 5; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * A block as 8 ASCII bytes: type (2), number (5), destination file system
 * (1), e.g. "0A00001P" = DB1, passive [S7].  Logs it (inside the current
 * object or as top-level fields) and returns "DB1" in out.
 */
static bool block_name(struct pdu *p, const uint8_t *s, char *out, size_t n)
{
	int t = blk_code(s);
	long num = blk_number(s + 2);
	const char *tn = t >= 0 ? s7_lookup(s7_block_names, (unsigned)t) : NULL;

	if (!tn || num < 0) {
		snprintf(out, n, "block");
		if (p->rec)
			rec_strn(p->rec, "block", s, 8);
		return false;
	}
	snprintf(out, n, "%s%ld", tn, num);
	log_s(p, "block_type", tn);
	log_u(p, "block_number", (unsigned long long)num);
	log_s(p, "filesystem", name_or(s7_filesys_names, s[7], "unknown"));
	return true;
}

/*
 * File name of a block transfer [S7]: length, then "_" (complete module)
 * or "$" (header for upload), type, number, file system: "_0A00001P".
 */
static bool block_filename(struct pdu *p, struct rd *r, char *out, size_t n)
{
	uint8_t len = rd_u8(r);
	uint8_t name[256];

	if (r->err || !rd_copy(r, name, len)) {
		bad_len(p, "block file name cut short");
		snprintf(out, n, "block");
		return false;
	}
	if (p->rec)
		rec_strn(p->rec, "filename", name, len);
	if (len == 9 && (name[0] == '_' || name[0] == '$'))
		return block_name(p, name + 1, out, n);
	snprintf(out, n, "file");
	return false;
}

/*
 * Block transfer functions [S7].  Job parameters: function, status, 2
 * unknown bytes, 4 bytes (upload id or unused), file name; request
 * download adds the load memory and MC7 code lengths as 6 ASCII digits
 * each.  The answers carry a status and, for blocks, a length-prefixed
 * piece of the block in the data part.
 */
static void fc_block(struct pdu *p, uint8_t fc)
{
	struct rd *r = &p->param;
	char blk[32] = "block";

	uint8_t status = rd_u8(r);
	if (r->err)
		return; /* an answer may carry only the function */
	log_u(p, "status", status);
	if (status & 0x01)
		log_b(p, "more", true);
	if (status & 0x02)
		log_b(p, "error", true);
	if (p->rosctr == S7_ACK_DATA) {
		if (fc == S7_FC_START_UPLOAD) {
			rd_skip(r, 2);
			uint32_t id = rd_be32(r);
			if (!r->err)
				log_u(p, "upload_id", id);
			uint8_t l = rd_u8(r);
			if (!r->err && rd_need(r, l))
				log_text(p, "block_length", rd_ptr(r), l);
		} else if ((fc == S7_FC_DOWNLOAD_BLOCK || fc == S7_FC_UPLOAD) &&
			   rd_left(&p->data) >= 4) {
			uint16_t len = rd_be16(&p->data);
			rd_skip(&p->data, 2);
			log_u(p, "data_length", len);
			if (len > rd_left(&p->data))
				bad_len(p, "block data length %u, %zu bytes "
					"present", len, rd_left(&p->data));
		}
		return;
	}
	/* job */
	if (fc == S7_FC_DOWNLOAD_ENDED || fc == S7_FC_END_UPLOAD) {
		uint16_t err = rd_be16(r);
		if (!r->err && err) {
			log_x(p, "abort_code", err);
			log_s(p, "abort", name_or(s7_error_names, err, "unknown"));
		}
	} else {
		rd_skip(r, 2);
	}
	uint32_t id = rd_be32(r);
	if (fc == S7_FC_UPLOAD || fc == S7_FC_END_UPLOAD) {
		if (!r->err)
			log_u(p, "upload_id", id);
		snprintf(blk, sizeof(blk), "upload id %u", id);
	} else if (!r->err) {
		block_filename(p, r, blk, sizeof(blk));
	}
	if (fc == S7_FC_REQUEST_DOWNLOAD && rd_left(r) >= 14) {
		uint8_t l2 = rd_u8(r);
		rd_skip(r, 1);
		if (p->rec && l2 >= 13) {
			rec_strn(p->rec, "load_memory_length", rd_ptr(r), 6);
			rec_strn(p->rec, "mc7_code_length", rd_ptr(r) + 6, 6);
		}
		rd_skip(r, 12);
	}
	if (r->err)
		bad_len(p, "%s parameter cut short", fc_name(fc));
	int event = -1;
	if (fc == S7_FC_REQUEST_DOWNLOAD)
		event = S7_EV_BLOCK_DOWNLOAD;
	else if (fc == S7_FC_START_UPLOAD)
		event = S7_EV_BLOCK_UPLOAD;
	if ((fc == S7_FC_DOWNLOAD_BLOCK || fc == S7_FC_DOWNLOAD_ENDED) &&
	    p->dir == MM_DIR_TO_CLIENT) {
		/*
		 * In a download the PLC pulls the block: after the station's
		 * request download (the operation, already reported), the
		 * PLC sends these jobs and the station answers with the
		 * block.  Judged as the PLC's own request they would read as
		 * PLC -> station traffic: logged and paired, no op.
		 */
		p->no_op = true;
		log_b(p, "pulled_by_plc", true);
		return;
	}
	classify(p, MM_OP_PROGRAM, fc, fc_name(fc), event);
	target(p, "%s", blk);
}

static const struct s7_pi *pi_lookup(const uint8_t *s, size_t n)
{
	for (const struct s7_pi *e = s7_pi_services; e->service; e++)
		if (strlen(e->service) == n && memcmp(e->service, s, n) == 0)
			return e;
	return NULL;
}

/*
 * PI service [S7]: function, 7 bytes (00 00 00 00 00 00 FD), parameter
 * block length (2), parameter block, service name length, service name.
 * _INSE/_DELE: block count, a reserved byte, then 8-byte block names.
 * P_PROGRAM: empty = warm start (restart), "C " = cold start.
 */
static void fc_pi(struct pdu *p)
{
	struct rd *r = &p->param;
	uint8_t name[256];
	struct rd pb;

	if (p->rosctr == S7_ACK_DATA)
		return; /* the answer carries the function only */
	rd_skip(r, 7);
	uint16_t plen = rd_be16(r);
	bool have_pb = rd_sub(r, plen, &pb);
	uint8_t nlen = rd_u8(r);
	if (r->err || !rd_copy(r, name, nlen)) {
		bad_len(p, "PI service parameter cut short");
		classify(p, MM_OP_CONTROL, S7_FC_PI_SERVICE, "pi_service", -1);
		target(p, "PI service");
		return;
	}
	if (p->rec)
		rec_strn(p->rec, "pi_service", name, nlen);
	const struct s7_pi *pi = pi_lookup(name, nlen);
	char svc[64];
	snprintf(svc, sizeof(svc), "%.*s", (int)(nlen > 40 ? 40 : nlen),
		 (const char *)name);
	for (char *c = svc; *c; c++)
		if (*c < 0x20 || *c > 0x7E)
			*c = '?';
	target(p, "%s", svc);
	enum pi_kind kind = pi ? pi->kind : PI_UNKNOWN;
	const char *fname = pi ? pi->name : "pi_service";
	int event = -1;
	enum mm_op_class cls = MM_OP_CONTROL;

	switch (kind) {
	case PI_INSERT:
	case PI_DELETE: {
		uint8_t count = rd_u8(&pb);
		rd_skip(&pb, 1);
		if (pb.err) {
			bad_len(p, "%s without a block list", svc);
			break;
		}
		log_u(p, "blocks", count);
		if (p->rec)
			rec_arr_begin(p->rec, "block_list");
		for (unsigned i = 0; i < count; i++) {
			uint8_t b[8];
			char bn[32];
			if (!rd_copy(&pb, b, 8)) {
				bad_len(p, "%s: %u blocks announced, %u present",
					svc, count, i);
				break;
			}
			if (p->rec && i < S7_LOG_MAX_ITEMS) {
				rec_obj_begin(p->rec, NULL);
				block_name(p, b, bn, sizeof(bn));
				rec_obj_end(p->rec);
			} else {
				struct mm_rec *save = p->rec;
				p->rec = NULL;
				block_name(p, b, bn, sizeof(bn));
				p->rec = save;
			}
			target_add(p, "%s%s", i ? "," : " ", bn);
		}
		if (p->rec)
			rec_arr_end(p->rec);
		cls = MM_OP_PROGRAM;
		event = kind == PI_INSERT ? S7_EV_BLOCK_INSERT :
			S7_EV_BLOCK_DELETE;
		break;
	}
	case PI_PROGRAM: {
		/* the argument tells a cold start ("C ") from a warm one */
		const char *start = "warm_restart";
		if (have_pb && rd_left(&pb) > 0) {
			log_text(p, "pi_argument", rd_ptr(&pb), rd_left(&pb));
			if (rd_peek(&pb, 0) == 'C')
				start = "cold_restart";
		}
		log_s(p, "start", start);
		target_add(p, " %s", start);
		event = S7_EV_PLC_START;
		break;
	}
	case PI_COPY_ROM:
		if (have_pb && rd_left(&pb) > 0)
			log_text(p, "pi_argument", rd_ptr(&pb), rd_left(&pb));
		event = S7_EV_COPY_RAM_TO_ROM;
		break;
	case PI_COMPRESS:
		event = S7_EV_COMPRESS_MEMORY;
		break;
	case PI_LOGIN:
	case PI_LOGOUT:
		/* carries an NC password: never logged */
		cls = MM_OP_OTHER;
		if (kind == PI_LOGIN)
			event = S7_EV_PASSWORD_ATTEMPT;
		break;
	default:
		if (have_pb && rd_left(&pb) > 0)
			log_rest(p, "pi_parameters", &pb);
		break;
	}
	log_s(p, "pi_name", fname);
	classify(p, cls, S7_FC_PI_SERVICE, fname, event);
}

/* PLC STOP [S7]: function, 5 unknown bytes, name length, "P_PROGRAM" */
static void fc_plc_stop(struct pdu *p)
{
	struct rd *r = &p->param;
	uint8_t name[256];

	if (p->rosctr == S7_ACK_DATA)
		return;
	rd_skip(r, 5);
	uint8_t nlen = rd_u8(r);
	if (r->err || !rd_copy(r, name, nlen))
		bad_len(p, "PLC stop parameter cut short");
	else if (p->rec)
		rec_strn(p->rec, "pi_service", name, nlen);
	classify(p, MM_OP_CONTROL, S7_FC_PLC_STOP, "plc_stop", S7_EV_PLC_STOP);
	target(p, "PLC STOP");
}

/* the function of a job or ack_data, first byte of its parameter */
static void s7_function(struct pdu *p)
{
	uint8_t fc = rd_u8(&p->param);

	if (p->param.err)
		return; /* no parameter: nothing to decode */
	log_u(p, "fc", fc);
	log_s(p, "function", fc_name(fc));
	if (p->rosctr == S7_JOB)
		p->info.fc = fc;
	switch (fc) {
	case S7_FC_SETUP_COMM:
		fc_setup(p);
		break;
	case S7_FC_READ_VAR:
	case S7_FC_WRITE_VAR:
		fc_read_write(p, fc);
		break;
	case S7_FC_REQUEST_DOWNLOAD:
	case S7_FC_DOWNLOAD_BLOCK:
	case S7_FC_DOWNLOAD_ENDED:
	case S7_FC_START_UPLOAD:
	case S7_FC_UPLOAD:
	case S7_FC_END_UPLOAD:
		fc_block(p, fc);
		break;
	case S7_FC_PI_SERVICE:
		fc_pi(p);
		break;
	case S7_FC_PLC_STOP:
		fc_plc_stop(p);
		break;
	case S7_FC_CPU_SERVICES:
		if (p->rosctr == S7_JOB) {
			classify(p, MM_OP_OTHER, fc, "cpu_services", -1);
			target(p, "cpu services");
		}
		log_rest(p, "parameter", &p->param);
		break;
	default:
		if (p->rosctr == S7_JOB) {
			ev(p, S7_EV_UNKNOWN_FUNCTION, "job function 0x%02x, "
			   "PDU reference %u", fc, p->pdu_ref);
			classify(p, MM_OP_OTHER, fc, "unknown", -1);
			target(p, "function 0x%02x", fc);
		}
		log_rest(p, "parameter", &p->param);
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Userdata                                                            */
/* ------------------------------------------------------------------ */

/* BCD byte -> value, -1 when a nibble is not a digit */
static int bcd(uint8_t b)
{
	if ((b >> 4) > 9 || (b & 15) > 9)
		return -1;
	return (b >> 4) * 10 + (b & 15);
}

/*
 * S7 clock in userdata time functions [S7]: a reserved byte, then BCD
 * year (century, year), month, day, hour, minute, second, milliseconds
 * (3 digits) and weekday (1 digit).  Formats "2024-05-01 12:00:00.000".
 */
static bool s7_clock(struct rd r, char *out, size_t n)
{
	uint8_t b[10];
	int v[8];

	if (!rd_copy(&r, b, sizeof(b)))
		return false;
	for (int i = 0; i < 8; i++)
		if ((v[i] = bcd(b[i + 1])) < 0)
			return false;
	int ms = v[7] * 10 + (bcd(b[9] & 0xF0) >= 0 ? (b[9] >> 4) : 0);
	snprintf(out, n, "%02d%02d-%02d-%02d %02d:%02d:%02d.%03d", v[0], v[1],
		 v[2], v[3], v[4], v[5], v[6], ms);
	return true;
}

/*
 * SZL answers [SFC]: after id and index, the record length and count,
 * then the records.  Module identification (xy11) gives the order number
 * (index 1) and firmware ("V" major, minor, patch in index 7);
 * component identification (xy1C) names, serial numbers and the vendor;
 * xy24 the operating mode.  These become asset facts of the PLC.
 */
static void szl_records(struct pdu *p, uint16_t id, struct rd r)
{
	uint16_t rlen = rd_be16(&r), rcount = rd_be16(&r);

	if (r.err)
		return;
	log_u(p, "szl_record_length", rlen);
	log_u(p, "szl_records", rcount);
	unsigned part = id & 0xFF;
	for (unsigned i = 0; i < rcount && rlen > 0; i++) {
		struct rd rec;
		if (!rd_sub(&r, rlen, &rec))
			break; /* a partial list cut by the PDU size */
		const uint8_t *b = rd_ptr(&rec);
		if (part == SZL_MODULE_ID && rlen == SZL_MODULE_REC) {
			uint16_t idx = (uint16_t)(b[0] << 8 | b[1]);
			if (idx == 1) {
				fact(p, "order_number", b + 2, 20);
				log_text(p, "order_number", b + 2, 20);
			} else if (idx == 7 && b[24] == 'V') {
				char fw[24];
				snprintf(fw, sizeof(fw), "V%u.%u.%u", b[25],
					 b[26], b[27]);
				fact_str(p, "firmware", fw);
				log_s(p, "firmware", fw);
			}
		} else if (part == SZL_COMPONENT_ID &&
			   rlen == SZL_COMPONENT_REC) {
			uint16_t idx = (uint16_t)(b[0] << 8 | b[1]);
			const char *key = NULL;
			size_t n = 24;
			switch (idx) {
			case 1: key = "plc_name"; break;
			case 2: key = "module_name"; break;
			case 3: key = "plant_id"; n = 32; break;
			case 5: key = "serial_number"; break;
			case 7: key = "module_type"; n = 32; break;
			case 11: key = "location"; n = 32; break;
			case 9: {
				/* manufacturer id: PROFIBUS/PROFINET vendor
				 * number, 42 (0x002A) is Siemens */
				uint16_t vid = (uint16_t)(b[2] << 8 | b[3]);
				char v[16];
				snprintf(v, sizeof(v), "0x%04x", vid);
				fact_str(p, "vendor_id", v);
				log_s(p, "vendor_id", v);
				if (vid == 0x002A)
					fact_str(p, "vendor", "Siemens");
				break;
			}
			}
			if (key) {
				fact(p, key, b + 2, n);
				log_text(p, key, b + 2, n);
			}
		} else if (part == SZL_MODE && rlen == SZL_MODE_REC && i == 0) {
			unsigned mode = b[3] & 0x0F;
			const char *m = name_or(szl_mode_names, mode, "UNKNOWN");
			log_s(p, "cpu_mode", m);
			fact_str(p, "cpu_mode", m);
			if (p->st) {
				if (p->st->cpu_mode >= 0 &&
				    strcmp(name_or(szl_mode_names,
					   (unsigned)p->st->cpu_mode, "UNKNOWN"), m))
					ev(p, S7_EV_CPU_MODE_CHANGE, "CPU mode %s "
					   "(was %s)", m, name_or(szl_mode_names,
					   (unsigned)p->st->cpu_mode, "UNKNOWN"));
				p->st->cpu_mode = (int8_t)mode;
			}
		}
	}
}

/*
 * The mode-transition push: the sub-function is the CPU's new mode [S7].
 * Mapped to the SZL mode nibble (STOP 4, startups 5-7, RUN 8, HOLD 10)
 * so that both sources compare.
 */
static void ud_mode(struct pdu *p, uint8_t sub)
{
	static const int8_t to_szl[16] = { 4, 7, 8, 7, 10, -1, 6, -1, -1, 9,
					   -1, -1, -1, -1, -1, -1 };
	int8_t mode = sub < 16 ? to_szl[sub] : -1;

	log_s(p, "cpu_mode_transition", name_or(s7_ud_mode_names, sub,
						"unknown"));
	if (mode < 0)
		return;
	const char *now = name_or(szl_mode_names, (unsigned)mode, "UNKNOWN");
	log_s(p, "cpu_mode", now);
	fact_str(p, "cpu_mode", now);
	if (!p->st)
		return;
	if (p->st->cpu_mode >= 0) {
		const char *was = name_or(szl_mode_names,
					  (unsigned)p->st->cpu_mode, "UNKNOWN");
		if (strcmp(was, now))
			ev(p, S7_EV_CPU_MODE_CHANGE, "CPU mode %s (was %s)",
			   now, was);
	}
	p->st->cpu_mode = mode;
}

/*
 * The data part of one complete userdata PDU (or the gathered data units
 * of one answer): decode what the group/sub-function defines.
 */
static void ud_data(struct pdu *p, uint8_t type, uint8_t group, uint8_t sub,
		    uint8_t ret, struct rd d, bool first_unit, bool whole)
{
	bool req = type == S7_UD_TYPE_REQ || type == S7_UD_TYPE_NC_REQ;
	bool res = type == S7_UD_TYPE_RES || type == S7_UD_TYPE_NC_RES;

	if (group == S7_UG_CPU && sub == S7_CPU_READ_SZL) {
		if (req && ret == S7_RET_SUCCESS) {
			uint16_t id = rd_be16(&d), idx = rd_be16(&d);
			if (d.err) {
				bad_len(p, "read SZL request without id/index");
				return;
			}
			log_x(p, "szl_id", id);
			log_x(p, "szl_index", idx);
			p->info.szl_id = id;
			target(p, "SZL 0x%04x index 0x%04x", id, idx);
		} else if (res && ret == S7_RET_SUCCESS && first_unit && whole) {
			uint16_t id = rd_be16(&d), idx = rd_be16(&d);
			if (d.err)
				return;
			log_x(p, "szl_id", id);
			log_x(p, "szl_index", idx);
			szl_records(p, id, d);
		}
		return;
	}
	if (group == S7_UG_BLOCK && req && ret == S7_RET_SUCCESS) {
		/* list of type: "0" + type char; block info: type, number */
		if (sub == S7_BLOCK_LIST_TYPE && rd_left(&d) >= 2) {
			int t = blk_code(rd_ptr(&d));
			const char *tn = t >= 0 ?
				s7_lookup(s7_block_names, (unsigned)t) : NULL;
			if (tn) {
				log_s(p, "block_type", tn);
				target(p, "list %s blocks", tn);
			}
		} else if (sub == S7_BLOCK_INFO && rd_left(&d) >= 8) {
			char bn[32];
			if (block_name(p, rd_ptr(&d), bn, sizeof(bn)))
				target(p, "info %s", bn);
		}
		return;
	}
	if (group == S7_UG_TIME) {
		char clk[40];
		bool set = sub == S7_TIME_SET || sub == S7_TIME_SET2;
		if (((set && req) || (!set && res)) && ret == S7_RET_SUCCESS &&
		    s7_clock(d, clk, sizeof(clk))) {
			log_s(p, "clock", clk);
			if (set)
				target(p, "set clock %s", clk);
		}
		return;
	}
	if (group == S7_UG_SECURITY && sub == S7_SEC_PASSWORD && req) {
		/* the password is obfuscated, not encrypted: never logged */
		log_u(p, "password_length", rd_left(&d));
		return;
	}
	log_rest(p, "data", &d);
}

/* gather a userdata answer's data units; true when d is now complete */
static bool ud_gather(struct pdu *p, uint8_t dur, uint8_t last, uint8_t group,
		      uint8_t sub, struct rd *d, bool *first_unit)
{
	struct s7_state *s = p->st;
	struct s7_ud_frag *u;

	*first_unit = true;
	if (!s)
		return last != S7_UD_LAST_NO;
	u = &s->ud;
	if (u->active && (u->dur != dur || u->group != group || u->sub != sub))
		u->active = false; /* another answer: the old one is lost */
	if (!u->active && last != S7_UD_LAST_NO)
		return true; /* a single unit */
	if (!u->active) {
		u->active = true;
		u->dur = dur;
		u->group = group;
		u->sub = sub;
		u->len = 0;
		u->has_szl = false;
		/* the first unit holds the SZL header */
		if (group == S7_UG_CPU && sub == S7_CPU_READ_SZL &&
		    rd_left(d) >= 4) {
			struct rd h = *d;
			u->szl_id = rd_be16(&h);
			u->szl_index = rd_be16(&h);
			u->has_szl = true;
		}
	} else {
		*first_unit = false;
	}
	size_t n = rd_left(d);
	if (n > S7_UD_REASM_MAX - u->len)
		n = S7_UD_REASM_MAX - u->len; /* keep what fits */
	if (n > 0 && !u->buf)
		u->buf = malloc(S7_UD_REASM_MAX);
	if (n > 0 && u->buf) {
		memcpy(u->buf + u->len, rd_ptr(d), n);
		u->len += (uint32_t)n;
	}
	if (last == S7_UD_LAST_NO)
		return false;
	u->active = false;
	*d = rd_make(u->buf ? u->buf : rd_ptr(d), u->buf ? u->len : 0);
	return true;
}

/*
 * Userdata [S7].  Parameter: head 00 01 12, length (4 or 8), method (0x11
 * request, 0x12 response), type (high nibble) and function group (low),
 * sub-function, sequence number; the 8-byte form adds a data unit
 * reference, "last data unit" and an error code.  Data: return code,
 * transport size, length, then the group's data.
 */
static void s7_userdata(struct pdu *p)
{
	struct rd *r = &p->param;
	uint8_t h0 = rd_u8(r), h1 = rd_u8(r), h2 = rd_u8(r);
	uint8_t plen = rd_u8(r);
	uint8_t method = rd_u8(r);
	uint8_t tg = rd_u8(r);
	uint8_t sub = rd_u8(r);
	uint8_t seqn = rd_u8(r);
	uint8_t dur = 0, last = 0;
	uint16_t err = 0;
	uint8_t type = tg >> 4, group = tg & 0x0F;

	if (r->err) {
		bad_len(p, "userdata parameter shorter than 8 bytes");
		return;
	}
	if (h0 != 0x00 || h1 != 0x01 || h2 != 0x12)
		bad_hdr(p, "userdata parameter head %02x%02x%02x, not 000112",
			h0, h1, h2);
	if (plen >= 8) {
		dur = rd_u8(r);
		last = rd_u8(r);
		err = rd_be16(r);
		if (r->err)
			bad_len(p, "userdata parameter length %u, %zu bytes",
				plen, rd_left(r));
	}
	log_u(p, "ud_method", method);
	log_s(p, "ud_type", name_or(s7_ud_type_names, type, "unknown"));
	log_u(p, "ud_group", group);
	log_s(p, "ud_group_name", name_or(s7_ud_group_names, group, "unknown"));
	log_u(p, "ud_subfn", sub);
	log_s(p, "ud_subfn_name", ud_subfn_name(group, sub));
	log_u(p, "ud_seq", seqn);
	if (plen >= 8) {
		log_u(p, "ud_data_unit", dur);
		log_b(p, "ud_last_unit", last != S7_UD_LAST_NO);
		if (err) {
			log_x(p, "ud_error_code", err);
			log_s(p, "ud_error", name_or(s7_error_names, err, "unknown"));
		}
	}

	/* data part header */
	struct rd *d = &p->data;
	uint8_t ret = rd_u8(d), ts = rd_u8(d);
	uint16_t dlen = rd_be16(d);
	struct rd body = rd_make(rd_ptr(d), 0);
	bool have_data = !d->err;
	if (have_data) {
		log_u(p, "return_code", ret);
		log_s(p, "return", name_or(s7_return_names, ret, "unknown"));
		log_u(p, "transport_size", ts);
		if (dlen > rd_left(d)) {
			bad_len(p, "userdata data length %u, %zu bytes present",
				dlen, rd_left(d));
			dlen = (uint16_t)rd_left(d);
		}
		rd_sub(d, dlen, &body);
	}

	bool req = type == S7_UD_TYPE_REQ || type == S7_UD_TYPE_NC_REQ;
	bool res = type == S7_UD_TYPE_RES || type == S7_UD_TYPE_NC_RES;
	const char *sname = ud_subfn_name(group, sub);

	if (req) {
		/* follow-up requests for more data units carry no data */
		bool followup = plen >= 8 && ret != S7_RET_SUCCESS;
		int event = -1;
		enum mm_op_class cls = ud_class(group, sub);
		if (group == S7_UG_SECURITY && sub == S7_SEC_PASSWORD)
			event = S7_EV_PASSWORD_ATTEMPT;
		else if (group == S7_UG_TIME &&
			 (sub == S7_TIME_SET || sub == S7_TIME_SET2))
			event = S7_EV_SET_CLOCK;
		else if (group == S7_UG_PROG && sub == S7_PROG_MEMORY_RESET)
			event = S7_EV_MEMORY_RESET;
		if (followup)
			event = -1; /* the same operation, continued */
		classify(p, cls, (unsigned)group << 8 | sub, sname, event);
		target(p, "%s %s", name_or(s7_ud_group_names, group, "group"),
		       sname);
		p->info.fc = group;
		p->info.sub = sub;
		p->expect_answer = true;
		if (have_data)
			ud_data(p, type, group, sub, ret, body, true, true);
		return;
	}
	if (group == S7_UG_MODE && type == S7_UD_TYPE_PUSH) {
		ud_mode(p, sub);
		return;
	}
	if (res) {
		/* cyclic and alarm answers keep coming for one subscription */
		bool excusable = group == S7_UG_CYCLIC ||
			(group == S7_UG_CPU && sub != S7_CPU_READ_SZL);
		struct s7_req q = pair(p, S7_USERDATA, excusable, "userdata "
				       "response");
		if (q.used)
			log_b(p, "paired", true);
		if (err)
			ev(p, S7_EV_ERROR_RESPONSE, "userdata %s: error 0x%04x "
			   "(%s)", sname, err, name_or(s7_error_names, err,
			   "unknown"));
		if (!have_data)
			return;
		bool first_unit;
		bool whole = ud_gather(p, dur, last, group, sub, &body,
				       &first_unit);
		if (!whole)
			return; /* tshark too reports the SZL id at the end */
		if (!first_unit && p->st && p->st->ud.has_szl) {
			/* the last of several units: the header was in the
			 * first, and body is now the gathered whole */
			log_b(p, "reassembled", true);
			first_unit = true;
		}
		ud_data(p, type, group, sub, ret, body, first_unit, whole);
		return;
	}
	/* pushes: alarms, diagnostic messages, cyclic data */
	if (have_data)
		log_rest(p, "data", &body);
}

/* ------------------------------------------------------------------ */
/* One S7comm PDU                                                      */
/* ------------------------------------------------------------------ */

static void s7_pdu(struct pdu *p, struct rd r)
{
	size_t total = rd_left(&r);
	uint8_t id = rd_u8(&r);
	uint8_t rosctr = rd_u8(&r);
	uint16_t redid = rd_be16(&r);
	uint16_t ref = rd_be16(&r);
	uint16_t plen = rd_be16(&r);
	uint16_t dlen = rd_be16(&r);
	uint8_t ecls = 0, ecode = 0;
	bool ack = rosctr == S7_ACK || rosctr == S7_ACK_DATA;

	(void)id;
	if (ack) {
		ecls = rd_u8(&r);
		ecode = rd_u8(&r);
	}
	if (r.err) {
		bad_len(p, "S7 header cut short: %zu bytes", total);
		return;
	}
	p->rosctr = rosctr;
	p->pdu_ref = ref;
	log_u(p, "rosctr", rosctr);
	log_s(p, "rosctr_name", name_or(rosctr_names, rosctr, "unknown"));
	log_u(p, "pdu_ref", ref);
	if (redid)
		log_u(p, "redundancy_id", redid);
	if (!s7_lookup(rosctr_names, rosctr)) {
		bad_hdr(p, "ROSCTR %u is none of job, ack, ack_data, userdata",
			rosctr);
		return;
	}
	size_t hdr = ack ? S7_HDR_ACK : S7_HDR;
	if (hdr + plen + dlen != total)
		bad_len(p, "S7 header + parameter %u + data %u = %zu, PDU has "
			"%zu bytes", plen, dlen, hdr + plen + dlen, total);
	if (p->st && p->st->pdu_size && total > p->st->pdu_size)
		bad_len(p, "S7 PDU of %zu bytes exceeds the negotiated %u",
			total, p->st->pdu_size);
	size_t pl = plen < rd_left(&r) ? plen : rd_left(&r);
	rd_sub(&r, pl, &p->param);
	size_t dl = dlen < rd_left(&r) ? dlen : rd_left(&r);
	rd_sub(&r, dl, &p->data);

	if (ack) {
		uint16_t e = (uint16_t)(ecls << 8 | ecode);
		log_u(p, "error_class", ecls);
		log_u(p, "error_code", ecode);
		if (e) {
			log_s(p, "error_class_name",
			      name_or(s7_error_class_names, ecls, "unknown"));
			log_s(p, "error", name_or(s7_error_names, e, "unknown"));
		}
		struct s7_req q = pair(p, S7_JOB, false, rosctr == S7_ACK ?
				       "ack" : "ack_data");
		if (q.used) {
			p->req = &q;
			log_u(p, "request_fc", q.fc);
			log_s(p, "request_function", fc_name(q.fc));
		}
		if (e)
			ev(p, S7_EV_ERROR_RESPONSE, "%s error class 0x%02x code "
			   "0x%02x (%s) to %s, PDU reference %u",
			   rosctr == S7_ACK ? "ack" : "ack_data", ecls, ecode,
			   name_or(s7_error_names, e, "unknown"),
			   q.used ? fc_name(q.fc) : "?", ref);
		if (rosctr == S7_ACK_DATA)
			s7_function(p);
		p->req = NULL;
		return;
	}
	if (rosctr == S7_JOB) {
		p->is_request = true;
		p->expect_answer = true;
		if (p->st)
			p->st->seen_request = true;
		s7_function(p);
		if (!p->emit && !p->no_op) {
			classify(p, MM_OP_OTHER, 0, "job", -1);
			target(p, "job without parameter");
		}
		return;
	}
	/* userdata */
	s7_userdata(p);
	if (p->emit) {
		p->is_request = true;
		if (p->st)
			p->st->seen_request = true;
	}
}

/* ------------------------------------------------------------------ */
/* S7comm-plus                                                         */
/* ------------------------------------------------------------------ */

/* unsigned VLQ [S7P]: 7 bits per byte, high bit = more, at most 5 bytes */
static uint32_t vlq_u32(struct rd *r)
{
	uint32_t v = 0;

	for (int i = 0; i < 5; i++) {
		uint8_t b = rd_u8(r);
		if (r->err)
			return 0;
		v = (v << 7) | (b & 0x7F);
		if (!(b & 0x80))
			return v;
	}
	r->err = true;
	return 0;
}

/* signed VLQ: bit 6 of the first byte is the sign */
static int32_t vlq_s32(struct rd *r)
{
	uint32_t v = 0;

	for (int i = 0; i < 5; i++) {
		uint8_t b = rd_u8(r);
		if (r->err)
			return 0;
		if (i == 0 && (b & 0x40))
			v = 0xFFFFFFFFu;
		v = (v << 7) | (b & 0x7F);
		if (!(b & 0x80))
			return (int32_t)v;
	}
	r->err = true;
	return 0;
}

/*
 * One value [S7P]: flags, data type, then the value; true with the value
 * as an integer for the scalar integer types, false otherwise.
 */
static bool s7p_int_value(struct rd *r, long long *out)
{
	uint8_t flags = rd_u8(r), type = rd_u8(r);

	if (r->err || flags != 0)
		return false; /* arrays and the like: not decoded */
	switch (type) {
	case 0x01: case 0x02: case 0x06: case 0x0A: /* bool usint sint byte */
		*out = rd_u8(r);
		break;
	case 0x03: case 0x07: case 0x0B: /* uint int word */
		*out = rd_be16(r);
		break;
	case 0x04: /* udint */
		*out = vlq_u32(r);
		break;
	case 0x08: /* dint */
		*out = vlq_s32(r);
		break;
	default:
		return false;
	}
	return !r->err;
}

/*
 * Set(Multi)Variable(s) request [S7P]: object id (4), for
 * SetMultiVariables an item count, then the address count and addresses
 * (VLQ attribute ids), then the values.  Returns the attribute written on
 * the CPU execution unit's operating-state request, or -1.
 */
static long long s7p_set_state(struct pdu *p, struct rd r, bool multi,
			       uint32_t *object)
{
	uint32_t obj = rd_be32(&r);
	uint32_t items = multi ? vlq_u32(&r) : 1;
	uint32_t naddr = vlq_u32(&r);
	int state_at = -1;

	*object = obj;
	if (r.err || naddr > 64)
		return -1;
	for (uint32_t i = 0; i < naddr; i++) {
		uint32_t a = vlq_u32(&r);
		if (r.err)
			return -1;
		if (obj == S7P_CPU_EXEC_UNIT && a == S7P_OPERATING_STATE_REQ &&
		    state_at < 0)
			state_at = (int)i;
	}
	log_u(p, "object_id", obj);
	log_u(p, "addresses", naddr);
	if (state_at < 0)
		return -1;
	for (uint32_t i = 0; i < items && i < 64; i++) {
		long long v;
		if (multi)
			(void)vlq_u32(&r); /* item number */
		if (!s7p_int_value(&r, &v))
			return -2; /* written, value not decodable */
		if (i == (uint32_t)state_at)
			return v;
	}
	return -2;
}

static void s7p_pdu(struct pdu *p, struct rd r)
{
	size_t total = rd_left(&r);
	uint8_t id = rd_u8(&r), ver = rd_u8(&r);
	struct s7_state *s = p->st;
	int d = p->dir;

	(void)id;
	log_s(p, "proto", "s7comm-plus");
	log_u(p, "version", ver);
	if (ver == S7P_KEEPALIVE) {
		uint8_t kseq = rd_u8(&r);
		if (!r.err)
			log_u(p, "keepalive_seq", kseq);
		log_s(p, "opcode_name", "keepalive");
		return;
	}
	uint16_t dlen = rd_be16(&r);
	if (r.err) {
		bad_len(p, "S7comm-plus header cut short: %zu bytes", total);
		return;
	}
	log_u(p, "data_length", dlen);
	if (ver != S7P_V1 && ver != S7P_V2 && ver != S7P_V3 &&
	    ver != S7P_SYSTEM_EVENT) {
		/* its layout is unknown: report, do not guess */
		bad_hdr(p, "S7comm-plus version 0x%02x unknown", ver);
		return;
	}
	if (S7P_HDR + (size_t)dlen > total) {
		bad_len(p, "S7comm-plus data length %u, %zu bytes follow the "
			"header", dlen, total - S7P_HDR);
		return;
	}
	/* a trailer (0x72, version, 0000) closes a PDU; without one this is
	 * a fragment continued in the next TPKT [S7P] */
	bool trailer = total >= S7P_HDR + (size_t)dlen + S7P_TRAILER;
	if (trailer) {
		struct rd t = r;
		rd_skip(&t, dlen);
		uint8_t tid = rd_u8(&t), tver = rd_u8(&t);
		if (tid != S7P_PROTO_ID || tver != ver)
			bad_hdr(p, "S7comm-plus trailer %02x %02x after %u data "
				"bytes, not 72 %02x", tid, tver, dlen, ver);
		else if (total != S7P_HDR + (size_t)dlen + S7P_TRAILER)
			bad_len(p, "S7comm-plus data length %u, %zu bytes "
				"between header and trailer", dlen,
				total - S7P_HDR - S7P_TRAILER);
	}
	bool continued = s && s->s7p_frag[d];
	if (s)
		s->s7p_frag[d] = !trailer;
	if (!trailer)
		log_s(p, "fragment", continued ? "inner" : "first");
	else if (continued)
		log_s(p, "fragment", "last");
	struct rd body;
	rd_sub(&r, dlen, &body);
	if (ver == S7P_V3) {
		/* integrity: digest length (32) and the digest, before the
		 * data; keyed by the session: logged, never verified */
		uint8_t dl = rd_u8(&body);
		if (!body.err && dl == S7P_DIGEST_LEN &&
		    rd_skip(&body, S7P_DIGEST_LEN)) {
			log_s(p, "integrity", "digest_not_verified");
		} else {
			log_s(p, "integrity", "undecodable");
			return;
		}
	} else if (ver == S7P_V2) {
		log_s(p, "integrity", "trailing_digest_not_verified");
	}
	if (continued)
		return; /* the opcode is in the first fragment */
	uint8_t op = rd_u8(&body);
	if (body.err)
		return;
	log_u(p, "opcode", op);
	log_s(p, "opcode_name", name_or(s7p_opcode_names, op, "unknown"));
	if (op == S7P_OP_NOTIFY) {
		uint32_t sub = rd_be32(&body);
		if (!body.err)
			log_u(p, "subscription_id", sub);
		return;
	}
	rd_skip(&body, 2);
	uint16_t fn = rd_be16(&body);
	rd_skip(&body, 2);
	uint16_t seqn = rd_be16(&body);
	if (body.err) {
		bad_len(p, "S7comm-plus data header cut short");
		return;
	}
	const char *fname = name_or(s7p_fn_names, fn, "unknown");
	log_u(p, "function", fn);
	log_s(p, "function_name", fname);
	log_u(p, "seq", seqn);
	if (op != S7P_OP_REQ)
		return;
	uint32_t session = rd_be32(&body);
	rd_skip(&body, 1); /* transport flags */
	if (body.err)
		return;
	log_u(p, "session_id", session);
	p->is_request = true;
	if (s)
		s->seen_request = true;

	enum mm_op_class cls = MM_OP_OTHER;
	int event = -1;
	target(p, "%s", fname);
	switch (fn) {
	case S7P_FN_EXPLORE:
		cls = MM_OP_DISCOVER;
		break;
	case S7P_FN_GET_VARIABLE:
	case S7P_FN_GET_MULTI_VAR:
	case S7P_FN_GET_LINK:
	case S7P_FN_GET_VAR_SUBSTREAMED:
	case S7P_FN_GET_VARIABLES_ADDRESS:
		cls = MM_OP_READ;
		break;
	case S7P_FN_SET_VARIABLE:
	case S7P_FN_SET_MULTI_VAR: {
		uint32_t obj = 0;
		long long v = s7p_set_state(p, body, fn == S7P_FN_SET_MULTI_VAR,
					    &obj);
		cls = MM_OP_WRITE;
		target(p, "%s object %u", fname, obj);
		if (v != -1) {
			/* the CPU execution unit's operating-state request:
			 * 1 STOP, 3 RUN in public client implementations */
			cls = MM_OP_CONTROL;
			if (v == S7P_STATE_STOP)
				event = S7_EV_PLC_STOP;
			else if (v == S7P_STATE_RUN)
				event = S7_EV_PLC_START;
			if (v >= 0)
				log_u(p, "operating_state_request",
				      (unsigned long long)v);
			target(p, "CPU operating state %s", v == S7P_STATE_STOP ?
			       "STOP" : v == S7P_STATE_RUN ? "RUN" : "request");
		}
		break;
	}
	case S7P_FN_SET_VAR_SUBSTREAMED:
		cls = MM_OP_WRITE;
		break;
	case S7P_FN_CREATE_OBJECT:
		/* the first object a connection creates is its session */
		if (s && !s->s7p_session_created) {
			s->s7p_session_created = true;
			log_b(p, "session_setup", true);
			return; /* session housekeeping: no op */
		} else {
			cls = MM_OP_PROGRAM;
		}
		break;
	case S7P_FN_DELETE_OBJECT: {
		uint32_t obj = rd_be32(&body);
		if (!body.err)
			log_u(p, "object_id", obj);
		/* deleting the connection's own session ends it */
		if (!body.err && obj == session) {
			log_b(p, "session_teardown", true);
			return; /* session housekeeping: no op */
		}
		cls = MM_OP_PROGRAM;
		break;
	}
	case S7P_FN_BEGIN_SEQUENCE:
	case S7P_FN_END_SEQUENCE:
		cls = MM_OP_PROGRAM;
		break;
	case S7P_FN_INVOKE:
		cls = MM_OP_CONTROL;
		break;
	}
	classify(p, cls, fn, fname, event);
}

/* ------------------------------------------------------------------ */
/* COTP and TPKT                                                       */
/* ------------------------------------------------------------------ */

/* the connection's COTP parameters, as CR and CC stated them */
static void log_conn(struct pdu *p, const struct s7_conn *k)
{
	log_u(p, "cotp_class", k->cls);
	if (k->tpdu_size)
		log_u(p, "tpdu_size", k->tpdu_size);
	if (k->src_len)
		log_hex(p, "src_tsap", k->src_tsap, k->src_len);
	if (k->dst_len) {
		log_hex(p, "dst_tsap", k->dst_tsap, k->dst_len);
		/* S7: connection type (1 PG, 2 OP, 3 S7 basic), then
		 * rack * 32 + slot */
		if (k->dst_len == 2) {
			log_u(p, "connection_type", k->dst_tsap[0]);
			log_u(p, "rack", k->dst_tsap[1] >> 5);
			log_u(p, "slot", k->dst_tsap[1] & 31);
		}
	}
}

/* a COTP payload that is a whole S7comm or S7comm-plus PDU */
static void cotp_payload(struct pdu *p, const uint8_t *b, size_t n)
{
	struct s7_state *s = p->st;
	uint8_t id = n ? b[0] : 0;

	if (s && s->proto == 0)
		s->proto = id; /* s7_parse excluded anything else */
	if (s && s->conn.have && !s->conn.reported) {
		s->conn.reported = true;
		log_conn(p, &s->conn);
	}
	if (id == S7_PROTO_ID) {
		s7_pdu(p, rd_make(b, n));
	} else if (id == S7P_PROTO_ID) {
		s7p_pdu(p, rd_make(b, n));
	} else if (n >= 3 && b[0] >= 0x14 && b[0] <= 0x17 && b[1] == 0x03) {
		/* a TLS record: S7comm-plus after InitSSL */
		log_s(p, "proto", "s7comm-plus");
		log_b(p, "encrypted", true);
	} else {
		bad_hdr(p, "COTP data payload starts with 0x%02x: neither "
			"S7comm (0x32) nor S7comm-plus (0x72)", id);
	}
}

/* the bound of one reassembled S7 PDU (see struct s7_frag) */
static uint32_t reasm_bound(const struct s7_state *s)
{
	uint32_t b = S7_REASM_HARD_MAX;
	uint16_t sz = s->pdu_size ? s->pdu_size : s->pdu_size_proposed;

	if (sz > 0 && (uint32_t)sz + S7_REASM_SLACK < b)
		b = sz + S7_REASM_SLACK;
	return b;
}

/*
 * COTP DT [X224] 13.7: gather fragments.  True when a whole payload is
 * ready in *b, *n (the DT's own bytes, or the reassembly buffer).
 */
static bool cotp_dt(struct pdu *p, struct rd r, uint8_t li,
		    const uint8_t **b, size_t *n, uint32_t *units)
{
	struct s7_state *s = p->st;
	uint8_t nr = rd_u8(&r);
	bool eot = nr & COTP_EOT;

	*units = 1;
	if (r.err)
		return false;
	if (li > COTP_DT_LI)
		rd_skip(&r, li - COTP_DT_LI); /* variable part: unused */
	*b = rd_ptr(&r);
	*n = rd_left(&r);
	if (!s)
		return eot;
	struct s7_frag *f = &s->frag[p->dir];
	if (eot && !f->active)
		return true;
	if (s->proto == 0 && !f->active && *n > 0 && (*b)[0] != S7_PROTO_ID &&
	    (*b)[0] != S7P_PROTO_ID)
		return true; /* the first payload decides: see cotp_payload */
	/* a fragment: append within the bound */
	uint32_t bound = reasm_bound(s);
	if (!f->overflow && *n > bound - f->len) {
		f->overflow = true;
		s->overflows++;
		if (s->overflows == 1)
			ev(p, S7_EV_REASSEMBLY_OVERFLOW, "COTP fragments add "
			   "up to more than %u bytes; the PDU is dropped "
			   "(further overflows are counted)", bound);
	}
	if (!f->overflow && f->cap < bound) {
		uint8_t *nb = realloc(f->buf, bound);
		if (nb) {
			f->buf = nb;
			f->cap = bound;
		}
	}
	if (!f->overflow && f->cap >= f->len + *n) {
		memcpy(f->buf + f->len, *b, *n);
		f->len += (uint32_t)*n;
	} else {
		f->overflow = true;
	}
	f->active = true;
	f->units++;
	if (!eot)
		return false;
	/* the last unit: the PDU is whole, or was dropped */
	bool dropped = f->overflow;
	*units = f->units;
	*b = f->buf;
	*n = f->len;
	f->active = false;
	f->overflow = false;
	f->len = 0;
	f->units = 0;
	return !dropped;
}

/*
 * CR/CC [X224] 13.3-13.4: references, class, and the TSAP and TPDU size
 * parameters, kept in k.  The CC's TPDU size is the one both ends use.
 */
static void cotp_connect(struct pdu *p, struct rd r, uint8_t type,
			 struct s7_conn *k)
{
	uint16_t dref = rd_be16(&r), sref = rd_be16(&r);
	uint8_t cls = rd_u8(&r);

	if (r.err) {
		bad_len(p, "COTP %s shorter than its fixed part",
			type == COTP_CR ? "CR" : "CC");
		return;
	}
	k->have = true;
	k->cls = cls >> 4;
	log_u(p, "cotp_dst_ref", dref);
	log_u(p, "cotp_src_ref", sref);
	while (rd_left(&r) >= 2) {
		uint8_t code = rd_u8(&r), len = rd_u8(&r);
		struct rd v;
		if (!rd_sub(&r, len, &v)) {
			bad_len(p, "COTP parameter 0x%02x length %u past the "
				"header", code, len);
			break;
		}
		if (code == COTP_P_TPDU_SIZE && len == 1) {
			uint8_t e = rd_u8(&v);
			if (e >= 7 && e <= 13)
				k->tpdu_size = (uint16_t)(1u << e);
		} else if (code == COTP_P_SRC_TSAP && len <= sizeof(k->src_tsap)) {
			k->src_len = len;
			rd_copy(&v, k->src_tsap, len);
		} else if (code == COTP_P_DST_TSAP && len <= sizeof(k->dst_tsap)) {
			k->dst_len = len;
			rd_copy(&v, k->dst_tsap, len);
		}
	}
}

static void s7_parse(struct mm_ctx *c, void *st, const uint8_t *buf, size_t n)
{
	struct rd r = rd_make(buf, n);
	struct pdu p;
	uint8_t ver = rd_u8(&r), res = rd_u8(&r);
	uint16_t len = rd_be16(&r);
	uint8_t li = rd_u8(&r), type = rd_u8(&r);

	memset(&p, 0, sizeof(p));
	p.c = c;
	p.st = st;
	p.dir = mm_ctx_dir(c);
	if (p.st && p.st->excluded)
		return;
	/* pdu_len only frames: the headers are re-validated here */
	if (n >= 1 && ver != TPKT_VERSION) {
		bad_hdr(&p, "TPKT version %u, not 3", ver);
		return;
	}
	if (n >= 2 && res != 0) {
		bad_hdr(&p, "TPKT reserved byte %u, not 0", res);
		return;
	}
	if (n < TPKT_HDR + 2) {
		bad_len(&p, "%zu bytes, shorter than TPKT + COTP headers", n);
		return;
	}
	if (len != n) {
		bad_len(&p, "TPKT length %u but %zu bytes", len, n);
		if (len < n)
			r = rd_make(buf + TPKT_HDR + 2, len > TPKT_HDR + 2 ?
				    len - TPKT_HDR - 2 : 0);
	}
	if (li < 2 || li + 1u > n - TPKT_HDR) {
		bad_len(&p, "COTP length indicator %u does not fit %zu bytes",
			li, n - TPKT_HDR);
		return;
	}
	uint8_t kind = type & 0xF0;
	/* COTP data: one record per whole S7 PDU, none per fragment */
	if (kind == COTP_DT) {
		const uint8_t *b = NULL;
		size_t bn = 0;
		uint32_t units;
		if (!cotp_dt(&p, r, li, &b, &bn, &units))
			return;
		if (p.st && p.st->proto == 0 && (bn == 0 ||
		    (b[0] != S7_PROTO_ID && b[0] != S7P_PROTO_ID))) {
			/* ISO-MMS or another COTP user: not ours */
			p.st->excluded = true;
			mm_flow_exclude(c);
			return;
		}
		p.rec = mm_txlog_begin(c);
		if (units > 1)
			log_u(&p, "cotp_fragments", units);
		cotp_payload(&p, b, bn);
		goto done;
	}
	if (kind == COTP_CR || kind == COTP_CC) {
		struct s7_conn local;
		memset(&local, 0, sizeof(local));
		if (li < COTP_CR_LI_MIN) {
			bad_len(&p, "COTP %s length indicator %u, below 6",
				kind == COTP_CR ? "CR" : "CC", li);
			return;
		}
		if (p.st) {
			/* kept for the first S7 record (see s7_state) */
			cotp_connect(&p, r, kind, &p.st->conn);
			return;
		}
		p.rec = mm_txlog_begin(c);
		log_s(&p, "cotp", kind == COTP_CR ? "CR" : "CC");
		cotp_connect(&p, r, kind, &local);
		log_conn(&p, &local);
		goto done;
	}
	/* anything else before S7 was seen: no record either */
	if (!(p.st && p.st->proto == 0))
		p.rec = mm_txlog_begin(c);
	log_s(&p, "cotp", name_or(cotp_type_names, kind, "unknown"));
	switch (kind) {
	case COTP_DR:
	case COTP_DC: {
		uint16_t dref = rd_be16(&r), sref = rd_be16(&r);
		uint8_t reason = kind == COTP_DR ? rd_u8(&r) : 0;
		if (r.err) {
			bad_len(&p, "COTP disconnect cut short");
			break;
		}
		log_u(&p, "cotp_dst_ref", dref);
		log_u(&p, "cotp_src_ref", sref);
		if (kind == COTP_DR)
			log_u(&p, "cotp_reason", reason);
		break;
	}
	case COTP_ER: case COTP_ED: case COTP_AK: case COTP_EA: case COTP_RJ:
		break; /* not used by class 0 peers: logged, not decoded */
	default:
		bad_hdr(&p, "COTP PDU type 0x%02x unknown", type);
		break;
	}
done:
	if (p.emit) {
		log_s(&p, "op", mm_op_class_names[p.op.cls]);
		mm_emit_op(c, &p.op);
	}
	if (p.expect_answer)
		track_request(&p);
	if (p.rec)
		mm_txlog_end(c, p.rec);
}

/* ------------------------------------------------------------------ */
/* Framing and detection                                               */
/* ------------------------------------------------------------------ */

/* TPKT framing [RFC1006] 6: version 3, reserved 0, length */
static long s7_pdu_len(const uint8_t *p, size_t n)
{
	struct rd r = rd_make(p, n);

	if (n < TPKT_HDR)
		return 0;
	uint8_t ver = rd_u8(&r), res = rd_u8(&r);
	uint16_t len = rd_be16(&r);
	if (ver != TPKT_VERSION || res != 0 || len < TPKT_MIN || len > TPKT_MAX)
		return -1;
	return len;
}

/*
 * Cheap numbered checks; each runs as soon as its bytes are there, so
 * random data is refused early; MORE only when all seen so far fits.
 */
static enum mm_probe s7_probe(const uint8_t *p, size_t n, enum mm_dir dir)
{
	(void)dir;
	/* 1) TPKT version 3 */
	if (n >= 1 && p[0] != TPKT_VERSION)
		return MM_PROBE_NO;
	/* 2) TPKT reserved byte 0 */
	if (n >= 2 && p[1] != 0)
		return MM_PROBE_NO;
	if (n < TPKT_HDR + 2)
		return MM_PROBE_MORE;
	/* 3) TPKT length within the framing bounds */
	unsigned len = (unsigned)p[2] << 8 | p[3];
	if (len < TPKT_MIN || len > TPKT_MAX)
		return MM_PROBE_NO;
	/* 4) the COTP header fits in the TPKT */
	unsigned li = p[4], type = p[5] & 0xF0;
	if (li < COTP_DT_LI || TPKT_HDR + 1u + li > len)
		return MM_PROBE_NO;
	/* 5) a COTP type S7 peers use, with its header length */
	switch (type) {
	case COTP_CR: case COTP_CC: case COTP_DR: case COTP_DC:
		if (li < COTP_CR_LI_MIN)
			return MM_PROBE_NO;
		/* 6) CR/CC: class 0..4 in the high nibble of byte 6 */
		if ((type == COTP_CR || type == COTP_CC) && n >= 11 &&
		    (p[10] >> 4) > 4)
			return MM_PROBE_NO;
		return MM_PROBE_YES;
	case COTP_DT:
		if (li != COTP_DT_LI)
			return MM_PROBE_NO;
		break;
	default:
		return MM_PROBE_NO;
	}
	/* 7) DT: a whole S7 PDU must announce lengths that add up (a
	 * fragment, or another COTP user, is left to parse) */
	if (n < 8)
		return MM_PROBE_MORE;
	if (p[7] != S7_PROTO_ID || !(p[6] & COTP_EOT) || len < 7 + S7_HDR)
		return MM_PROBE_YES;
	if (n < 8 + S7_HDR - 1)
		return MM_PROBE_MORE;
	unsigned rosctr = p[8];
	if (rosctr != S7_JOB && rosctr != S7_ACK && rosctr != S7_ACK_DATA &&
	    rosctr != S7_USERDATA)
		return MM_PROBE_NO;
	unsigned hdr = (rosctr == S7_ACK || rosctr == S7_ACK_DATA) ?
		S7_HDR_ACK : S7_HDR;
	unsigned pl = (unsigned)p[13] << 8 | p[14];
	unsigned dl = (unsigned)p[15] << 8 | p[16];
	if (7 + hdr + pl + dl != len)
		return MM_PROBE_NO;
	return MM_PROBE_YES;
}

/*
 * The flow ends: requests still outstanding were never answered, and
 * reassembly overflows beyond the first (which was reported at once) are
 * reported as a count.  The state is then emptied.
 */
static void s7_flow_end(struct mm_ctx *c, void *st)
{
	struct s7_state *s = st;
	struct pdu p;

	if (!s)
		return;
	memset(&p, 0, sizeof(p));
	p.c = c;
	unsigned long total = (unsigned long)s->n + s->unanswered + s->untracked;
	if (total > 0 && s->n > 0) {
		const struct s7_req *old = NULL;
		for (int i = 0; i < S7_MAX_OUTSTANDING; i++)
			if (s->req[i].used &&
			    (!old || s->req[i].seq < old->seq))
				old = &s->req[i];
		ev(&p, S7_EV_UNANSWERED_REQUESTS, "%lu requests never answered "
		   "(%u outstanding at flow end, oldest PDU reference %u)",
		   total, s->n, old ? old->pdu_ref : 0);
	} else if (total > 0) {
		ev(&p, S7_EV_UNANSWERED_REQUESTS, "%lu requests never answered",
		   total);
	}
	if (s->overflows > 1)
		ev(&p, S7_EV_REASSEMBLY_OVERFLOW, "%u S7 PDUs dropped in all: "
		   "COTP fragments beyond the PDU size", s->overflows);
	free(s->frag[0].buf);
	free(s->frag[1].buf);
	free(s->ud.buf);
	memset(s, 0, sizeof(*s));
	s->cpu_mode = -1;
}

const struct mm_dissector mm_s7comm_dissector = {
	.name = "s7comm",
	.transport = IPPROTO_TCP,
	.ports = { S7_PORT, 0 },
	.max_pdu = TPKT_MAX,
	.probe = s7_probe,
	.pdu_len = s7_pdu_len,
	.state_new = s7_state_new,
	.state_free = s7_state_free,
	.parse = s7_parse,
	.flow_end = s7_flow_end,
	.events = s7_events,
	.n_events = S7_EV__N,
};
