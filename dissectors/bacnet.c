/*
 * bacnet.c - BACnet/IP: BVLC (Annex J), NPDU (clause 6) with routed
 * addresses and network-layer messages, all eight APDU types (clause 20)
 * with invoke ids, segmentation and pairing, every confirmed and
 * unconfirmed service named, and the parameters of the services that
 * matter for security decoded through one bounded tag reader.  Operation
 * classes, asset facts, events.
 *
 * References (section numbers in comments):
 *   [135]  ANSI/ASHRAE Standard 135-2020, BACnet
 *          J     BACnet/IP: BVLL (J.2), BBMD and foreign devices (J.4, J.5)
 *          6     network layer: NPDU (6.2), network messages (6.4)
 *          20.1  APDU encoding, 20.2 tag encoding of application data
 *          15-17 services (16.1 DeviceCommunicationControl, 16.4
 *                ReinitializeDevice, 15.5 ReadProperty, 16.10 Who-Is...)
 *          21    ASN.1 productions (error, reject and abort reasons)
 *   Vendor identifiers: the ASHRAE registry (bacnet.org/assigned-vendor-ids).
 *
 * Layout of one UDP datagram (one BACnet message):
 *   BVLC: type 0x81 | function | length (2, the whole datagram)
 *         [Forwarded-NPDU: original source IPv4 (4) + port (2)]
 *   NPDU: version 1 | control | [DNET DLEN DADR] [SNET SLEN SADR] [hop count]
 *         [network message type [vendor id]] | APDU or network message
 *   APDU: type/flags | ... | service choice | tagged service parameters
 *
 * Every read of wire bytes goes through the bounded reader (rd.h); the
 * tagged parameters through tag_read(), the one tag reader.  Parse never
 * stops at the first problem when it can go on: a bad layer is reported
 * once with its own event, and what was decoded is logged.
 */
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissector.h"
#include "../common/fmt.h"

/* ------------------------------------------------------------------ */
/* Constants                                                           */
/* ------------------------------------------------------------------ */

/*
 * [135] J.1: BACnet/IP uses UDP port 47808 (X'BAC0') unless configured
 * otherwise; several B/IP networks on one IP subnet use further ports
 * (J.1.1), conventionally X'BAC1'.. upwards.  ports[] holds 8: 47808 and
 * the next seven (0xBAC0..0xBAC7) cover the installations we know of.
 */
#define BACNET_PORT 47808

#define BVLC_TYPE_BIP 0x81  /* J.2: BVLL for BACnet/IP */
#define BVLC_HDR_LEN 4      /* type, function, length */
#define BVLC_MAX_LEN 0xFFFF /* the BVLC length field is 16 bits */

/* BVLC functions, [135] J.2.1 .. J.2.12, and Secure-BVLL (J.2.13) */
#define BVLC_RESULT 0x00
#define BVLC_WRITE_BDT 0x01
#define BVLC_READ_BDT 0x02
#define BVLC_READ_BDT_ACK 0x03
#define BVLC_FORWARDED_NPDU 0x04
#define BVLC_REGISTER_FD 0x05
#define BVLC_READ_FDT 0x06
#define BVLC_READ_FDT_ACK 0x07
#define BVLC_DELETE_FDT_ENTRY 0x08
#define BVLC_DISTRIBUTE_BROADCAST 0x09
#define BVLC_ORIGINAL_UNICAST 0x0A
#define BVLC_ORIGINAL_BROADCAST 0x0B
#define BVLC_SECURE_BVLL 0x0C
#define BVLC_FN_N 13

#define BVLC_BDT_ENTRY_LEN 10 /* J.2.2.1: IPv4 (4), port (2), mask (4) */
#define BVLC_FDT_ENTRY_LEN 10 /* J.2.8.1: IPv4+port (6), TTL (2), left (2) */
#define BVLC_BIP_ADDR_LEN 6   /* J.1.2: B/IP address = IPv4 + UDP port */

static const char *const bvlc_fn_names[BVLC_FN_N] = {
	[BVLC_RESULT] = "bvlc_result",
	[BVLC_WRITE_BDT] = "write_broadcast_distribution_table",
	[BVLC_READ_BDT] = "read_broadcast_distribution_table",
	[BVLC_READ_BDT_ACK] = "read_broadcast_distribution_table_ack",
	[BVLC_FORWARDED_NPDU] = "forwarded_npdu",
	[BVLC_REGISTER_FD] = "register_foreign_device",
	[BVLC_READ_FDT] = "read_foreign_device_table",
	[BVLC_READ_FDT_ACK] = "read_foreign_device_table_ack",
	[BVLC_DELETE_FDT_ENTRY] = "delete_foreign_device_table_entry",
	[BVLC_DISTRIBUTE_BROADCAST] = "distribute_broadcast_to_network",
	[BVLC_ORIGINAL_UNICAST] = "original_unicast_npdu",
	[BVLC_ORIGINAL_BROADCAST] = "original_broadcast_npdu",
	[BVLC_SECURE_BVLL] = "secure_bvll",
};

/* BVLC-Result codes, J.2.1.1: X'0000' success, then one NAK per request */
static const char *const bvlc_result_names[7] = {
	[0] = "successful_completion",                    /* X'0000' */
	[1] = "write_broadcast_distribution_table_nak",   /* X'0010' */
	[2] = "read_broadcast_distribution_table_nak",    /* X'0020' */
	[3] = "register_foreign_device_nak",              /* X'0030' */
	[4] = "read_foreign_device_table_nak",            /* X'0040' */
	[5] = "delete_foreign_device_table_entry_nak",    /* X'0050' */
	[6] = "distribute_broadcast_to_network_nak",      /* X'0060' */
};

/* NPDU, [135] 6.2 */
#define NPDU_VERSION 1              /* 6.2.1: protocol version 1 */
#define NPDU_NET_MSG 0x80           /* 6.2.2 bit 7: network layer message */
#define NPDU_RESERVED_6 0x40        /* bit 6: reserved, shall be 0 */
#define NPDU_DEST 0x20              /* bit 5: DNET, DLEN, DADR, hop count */
#define NPDU_RESERVED_4 0x10        /* bit 4: reserved, shall be 0 */
#define NPDU_SRC 0x08               /* bit 3: SNET, SLEN, SADR */
#define NPDU_EXPECT_REPLY 0x04      /* bit 2: data expecting reply */
#define NPDU_PRIORITY 0x03          /* bits 1-0: network priority */
#define NPDU_GLOBAL_NET 0xFFFF      /* 6.2.2: DNET X'FFFF' = all networks */
#define NPDU_PROPRIETARY_MSG 0x80   /* 6.2.4: 0x80..0xFF carry a vendor id */
#define NPDU_MAX_ADDR_LEN 18        /* longest MAC we log (B/IPv6: 18) */

static const char *const npdu_priority_names[4] = {
	"normal", "urgent", "critical_equipment", "life_safety", /* 6.2.2 */
};

/* Network layer message types, [135] 6.2.4 and 6.4 */
#define NL_WHO_IS_ROUTER 0x00
#define NL_I_AM_ROUTER 0x01
#define NL_I_COULD_BE_ROUTER 0x02
#define NL_REJECT_MESSAGE 0x03
#define NL_ROUTER_BUSY 0x04
#define NL_ROUTER_AVAILABLE 0x05
#define NL_INIT_ROUTING_TABLE 0x06
#define NL_INIT_ROUTING_TABLE_ACK 0x07
#define NL_ESTABLISH_CONNECTION 0x08
#define NL_DISCONNECT_CONNECTION 0x09
#define NL_CHALLENGE_REQUEST 0x0A   /* 0x0A..0x11: network security, 24 */
#define NL_SET_MASTER_KEY 0x11
#define NL_WHAT_IS_NETWORK_NUMBER 0x12
#define NL_NETWORK_NUMBER_IS 0x13
#define NL_MSG_N 0x14

static const char *const nl_msg_names[NL_MSG_N] = {
	[0x00] = "who_is_router_to_network",
	[0x01] = "i_am_router_to_network",
	[0x02] = "i_could_be_router_to_network",
	[0x03] = "reject_message_to_network",
	[0x04] = "router_busy_to_network",
	[0x05] = "router_available_to_network",
	[0x06] = "initialize_routing_table",
	[0x07] = "initialize_routing_table_ack",
	[0x08] = "establish_connection_to_network",
	[0x09] = "disconnect_connection_to_network",
	[0x0A] = "challenge_request",
	[0x0B] = "security_payload",
	[0x0C] = "security_response",
	[0x0D] = "request_key_update",
	[0x0E] = "update_key_set",
	[0x0F] = "update_distribution_key",
	[0x10] = "request_master_key",
	[0x11] = "set_master_key",
	[0x12] = "what_is_network_number",
	[0x13] = "network_number_is",
};

/* Reject-Message-To-Network reasons, 6.4.4 */
static const char *const nl_reject_names[7] = {
	"other", "not_directly_connected", "router_busy",
	"unknown_network_message", "message_too_long", "security_error",
	"addressing_error",
};

/* APDU types, [135] 20.1.1 (the high nibble of the first octet) */
#define APDU_CONFIRMED_REQ 0
#define APDU_UNCONFIRMED_REQ 1
#define APDU_SIMPLE_ACK 2
#define APDU_COMPLEX_ACK 3
#define APDU_SEGMENT_ACK 4
#define APDU_ERROR 5
#define APDU_REJECT 6
#define APDU_ABORT 7
#define APDU_TYPE_N 8

static const char *const apdu_type_names[APDU_TYPE_N] = {
	"confirmed_request", "unconfirmed_request", "simple_ack",
	"complex_ack", "segment_ack", "error", "reject", "abort",
};

#define APDU_SEG 0x08      /* 20.1.2.1/20.1.5.1: segmented message */
#define APDU_MOR 0x04      /* more follows */
#define APDU_SA 0x02       /* 20.1.2.3: segmented response accepted */
#define APDU_NAK 0x02      /* 20.1.6.2: negative segment ACK */
#define APDU_SRV 0x01      /* 20.1.6.3, 20.1.9.2: sent by the server */

/* 20.1.2.4 max-segments-accepted (bits 6-4), 0 = unspecified, 7 = > 64 */
static const unsigned apdu_max_segs[8] = { 0, 2, 4, 8, 16, 32, 64, 65 };
/* 20.1.2.5 max-APDU-length-accepted (bits 3-0), 6..15 reserved */
static const unsigned apdu_max_len[6] = { 50, 128, 206, 480, 1024, 1476 };

/* BACnetConfirmedServiceChoice, [135] 21 */
#define SVC_ACK_ALARM 0
#define SVC_CONFIRMED_COV_NOTIFICATION 1
#define SVC_CONFIRMED_EVENT_NOTIFICATION 2
#define SVC_SUBSCRIBE_COV 5
#define SVC_ATOMIC_READ_FILE 6
#define SVC_ATOMIC_WRITE_FILE 7
#define SVC_ADD_LIST_ELEMENT 8
#define SVC_REMOVE_LIST_ELEMENT 9
#define SVC_CREATE_OBJECT 10
#define SVC_DELETE_OBJECT 11
#define SVC_READ_PROPERTY 12
#define SVC_READ_PROPERTY_MULTIPLE 14
#define SVC_WRITE_PROPERTY 15
#define SVC_WRITE_PROPERTY_MULTIPLE 16
#define SVC_DEVICE_COMMUNICATION_CONTROL 17
#define SVC_CONFIRMED_PRIVATE_TRANSFER 18
#define SVC_REINITIALIZE_DEVICE 20
#define SVC_VT_CLOSE 22
#define SVC_READ_RANGE 26
#define SVC_SUBSCRIBE_COV_PROPERTY 28
#define SVC_CONFIRMED_COV_NOTIFICATION_MULTIPLE 31
#define SVC_CONFIRMED_AUDIT_NOTIFICATION 32
#define SVC_CONFIRMED_N 34

/* BACnetUnconfirmedServiceChoice, [135] 21 */
#define USVC_I_AM 0
#define USVC_I_HAVE 1
#define USVC_COV_NOTIFICATION 2
#define USVC_EVENT_NOTIFICATION 3
#define USVC_PRIVATE_TRANSFER 4
#define USVC_TIME_SYNCHRONIZATION 6
#define USVC_WHO_HAS 7
#define USVC_WHO_IS 8
#define USVC_UTC_TIME_SYNCHRONIZATION 9
#define USVC_WRITE_GROUP 10
#define USVC_COV_NOTIFICATION_MULTIPLE 11
#define USVC_AUDIT_NOTIFICATION 12
#define USVC_WHO_AM_I 13
#define USVC_YOU_ARE 14
#define USVC_UNCONFIRMED_N 15

/*
 * Services and their operation classes (DESIGN.md).  A "report" is a
 * message that answers or feeds an earlier request (I-Am and I-Have sent
 * to one host answer a Who-Is/Who-Has; notifications feed a subscription
 * or an event enrollment): it is logged with its class but not handed to
 * the policy, because its sender is not asking anything of the receiver.
 */
struct bacnet_svc {
	const char *name;
	enum mm_op_class cls;
	bool report;
};

static const struct bacnet_svc confirmed_svcs[SVC_CONFIRMED_N] = {
	[0] = { "acknowledge_alarm", MM_OP_OTHER, false },           /* 13.5 */
	[1] = { "confirmed_cov_notification", MM_OP_OTHER, true },   /* 13.14 */
	[2] = { "confirmed_event_notification", MM_OP_OTHER, true }, /* 13.8 */
	[3] = { "get_alarm_summary", MM_OP_READ, false },            /* 13.10 */
	[4] = { "get_enrollment_summary", MM_OP_READ, false },       /* 13.11 */
	[5] = { "subscribe_cov", MM_OP_READ, false },                /* 13.14 */
	[6] = { "atomic_read_file", MM_OP_READ, false },             /* 14.1 */
	[7] = { "atomic_write_file", MM_OP_PROGRAM, false },         /* 14.2 */
	[8] = { "add_list_element", MM_OP_WRITE, false },            /* 15.1 */
	[9] = { "remove_list_element", MM_OP_WRITE, false },         /* 15.2 */
	[10] = { "create_object", MM_OP_PROGRAM, false },            /* 15.3 */
	[11] = { "delete_object", MM_OP_PROGRAM, false },            /* 15.4 */
	[12] = { "read_property", MM_OP_READ, false },               /* 15.5 */
	[13] = { "read_property_conditional", MM_OP_READ, false },   /* removed */
	[14] = { "read_property_multiple", MM_OP_READ, false },      /* 15.7 */
	[15] = { "write_property", MM_OP_WRITE, false },             /* 15.9 */
	[16] = { "write_property_multiple", MM_OP_WRITE, false },    /* 15.10 */
	[17] = { "device_communication_control", MM_OP_CONTROL, false }, /* 16.1 */
	[18] = { "confirmed_private_transfer", MM_OP_OTHER, false }, /* 16.2 */
	[19] = { "confirmed_text_message", MM_OP_OTHER, false },     /* 16.5 */
	[20] = { "reinitialize_device", MM_OP_CONTROL, false },      /* 16.4 */
	[21] = { "vt_open", MM_OP_OTHER, false },                    /* 17.1 */
	[22] = { "vt_close", MM_OP_OTHER, false },                   /* 17.2 */
	[23] = { "vt_data", MM_OP_OTHER, false },                    /* 17.3 */
	[24] = { "authenticate", MM_OP_OTHER, false },               /* removed */
	[25] = { "request_key", MM_OP_OTHER, false },                /* removed */
	[26] = { "read_range", MM_OP_READ, false },                  /* 15.8 */
	[27] = { "life_safety_operation", MM_OP_WRITE, false },      /* 13.13 */
	[28] = { "subscribe_cov_property", MM_OP_READ, false },      /* 13.15 */
	[29] = { "get_event_information", MM_OP_READ, false },       /* 13.12 */
	[30] = { "subscribe_cov_property_multiple", MM_OP_READ, false }, /* 13.16 */
	[31] = { "confirmed_cov_notification_multiple", MM_OP_OTHER, true },
	[32] = { "confirmed_audit_notification", MM_OP_OTHER, true }, /* 13.20 */
	[33] = { "audit_log_query", MM_OP_READ, false },             /* 13.19 */
};

static const struct bacnet_svc unconfirmed_svcs[USVC_UNCONFIRMED_N] = {
	[0] = { "i_am", MM_OP_DISCOVER, true },                       /* 16.10 */
	[1] = { "i_have", MM_OP_DISCOVER, true },                     /* 16.9 */
	[2] = { "unconfirmed_cov_notification", MM_OP_OTHER, true },  /* 13.7 */
	[3] = { "unconfirmed_event_notification", MM_OP_OTHER, true }, /* 13.9 */
	[4] = { "unconfirmed_private_transfer", MM_OP_OTHER, false }, /* 16.3 */
	[5] = { "unconfirmed_text_message", MM_OP_OTHER, false },     /* 16.6 */
	[6] = { "time_synchronization", MM_OP_OTHER, false },         /* 16.7 */
	[7] = { "who_has", MM_OP_DISCOVER, false },                   /* 16.9 */
	[8] = { "who_is", MM_OP_DISCOVER, false },                    /* 16.10 */
	[9] = { "utc_time_synchronization", MM_OP_OTHER, false },     /* 16.8 */
	[10] = { "write_group", MM_OP_WRITE, false },                 /* 15.11 */
	[11] = { "unconfirmed_cov_notification_multiple", MM_OP_OTHER, true },
	[12] = { "unconfirmed_audit_notification", MM_OP_OTHER, true },
	[13] = { "who_am_i", MM_OP_DISCOVER, false },                 /* 16.11 */
	[14] = { "you_are", MM_OP_WRITE, false },                     /* 16.12 */
};

/* Application tag numbers, [135] 20.2.1.4 */
#define TAG_NULL 0
#define TAG_BOOLEAN 1
#define TAG_UNSIGNED 2
#define TAG_SIGNED 3
#define TAG_REAL 4
#define TAG_DOUBLE 5
#define TAG_OCTET_STRING 6
#define TAG_CHAR_STRING 7
#define TAG_BIT_STRING 8
#define TAG_ENUMERATED 9
#define TAG_DATE 10
#define TAG_TIME 11
#define TAG_OBJECT_ID 12

/* 20.2.1: the tag octet */
#define TAG_CLASS_CONTEXT 0x08 /* bit 3: context specific */
#define TAG_LVT_MASK 0x07      /* bits 2-0: length/value/type */
#define TAG_EXT_NUM 15         /* 20.2.1.2: tag number in the next octet */
#define TAG_LVT_EXT_LEN 5      /* 20.2.1.3.1: length in the next octet(s) */
#define TAG_LVT_OPEN 6         /* 20.2.1.3.2: opening tag */
#define TAG_LVT_CLOSE 7        /* closing tag */
#define TAG_LEN16 254          /* extended length: 2 more octets */
#define TAG_LEN32 255          /* extended length: 4 more octets */

/* constructed values may nest; real data stays a few levels deep, and a
 * bound keeps a crafted message from costing more than a linear walk */
#define TAG_MAX_DEPTH 32

/* BACnetObjectIdentifier, 20.2.14: type (10 bits) | instance (22 bits) */
#define OBJ_TYPE_SHIFT 22
#define OBJ_INSTANCE_MASK 0x3FFFFFu
#define OBJ_INSTANCE_ANY 4194303u /* 12.11.1: the wildcard device instance */
#define OBJ_DEVICE 8
#define OBJ_FILE 10

/* BACnetObjectType, [135] 21 (12.x for each object) */
#define OBJ_TYPE_N 65
static const char *const object_type_names[OBJ_TYPE_N] = {
	"analog-input", "analog-output", "analog-value", "binary-input",
	"binary-output", "binary-value", "calendar", "command", "device",
	"event-enrollment", "file", "group", "loop", "multi-state-input",
	"multi-state-output", "notification-class", "program", "schedule",
	"averaging", "multi-state-value", "trend-log", "life-safety-point",
	"life-safety-zone", "accumulator", "pulse-converter", "event-log",
	"global-group", "trend-log-multiple", "load-control",
	"structured-view", "access-door", "timer", "access-credential",
	"access-point", "access-rights", "access-user", "access-zone",
	"credential-data-input", "network-security", "bitstring-value",
	"characterstring-value", "datepattern-value", "date-value",
	"datetimepattern-value", "datetime-value", "integer-value",
	"large-analog-value", "octetstring-value", "positive-integer-value",
	"timepattern-value", "time-value", "notification-forwarder",
	"alert-enrollment", "channel", "lighting-output",
	"binary-lighting-output", "network-port", "elevator-group",
	"escalator", "lift", "staging", "audit-log", "audit-reporter",
	"color", "color-temperature",
};

/* BACnetPropertyIdentifier, [135] 21: the ones a monitor meets most */
#define PROP_ALL 8
#define PROP_APPLICATION_SOFTWARE_VERSION 12
#define PROP_FIRMWARE_REVISION 44
#define PROP_MODEL_NAME 70
#define PROP_OBJECT_NAME 77
#define PROP_PRESENT_VALUE 85
#define PROP_VENDOR_IDENTIFIER 120
#define PROP_VENDOR_NAME 121

struct code_name {
	unsigned code;
	const char *name;
};

static const struct code_name property_names[] = {
	{ 8, "all" }, { 11, "apdu-timeout" },
	{ 12, "application-software-version" }, { 17, "notification-class" },
	{ 22, "cov-increment" }, { 28, "description" },
	{ 30, "device-address-binding" }, { 36, "event-state" },
	{ 41, "file-access-method" }, { 42, "file-size" }, { 43, "file-type" },
	{ 44, "firmware-revision" }, { 45, "high-limit" },
	{ 56, "local-date" }, { 57, "local-time" }, { 58, "location" },
	{ 59, "low-limit" }, { 62, "max-apdu-length-accepted" },
	{ 65, "max-pres-value" }, { 69, "min-pres-value" },
	{ 70, "model-name" }, { 71, "modification-date" },
	{ 73, "number-of-apdu-retries" }, { 75, "object-identifier" },
	{ 76, "object-list" }, { 77, "object-name" }, { 79, "object-type" },
	{ 80, "optional" }, { 81, "out-of-service" }, { 85, "present-value" },
	{ 87, "priority-array" }, { 96, "protocol-object-types-supported" },
	{ 97, "protocol-services-supported" }, { 98, "protocol-version" },
	{ 103, "reliability" }, { 104, "relinquish-default" },
	{ 105, "required" }, { 107, "segmentation-supported" },
	{ 111, "status-flags" }, { 112, "system-status" }, { 117, "units" },
	{ 119, "utc-offset" }, { 120, "vendor-identifier" },
	{ 121, "vendor-name" }, { 123, "weekly-schedule" },
	{ 131, "log-buffer" }, { 139, "protocol-revision" },
	{ 152, "active-cov-subscriptions" }, { 155, "database-revision" },
	{ 167, "max-segments-accepted" }, { 196, "last-restart-reason" },
	{ 203, "time-of-device-restart" },
};

/* BACnetErrorClass, [135] 18 */
static const char *const error_class_names[8] = {
	"device", "object", "property", "resources", "security", "services",
	"vt", "communication",
};

/* BACnetErrorCode, [135] 18 and 21 (33 is a removed enumeration) */
#define ERROR_CODE_N 51
static const char *const error_code_names[ERROR_CODE_N] = {
	"other", "authentication-failed", "configuration-in-progress",
	"device-busy", "dynamic-creation-not-supported", "file-access-denied",
	"incompatible-security-levels", "inconsistent-parameters",
	"inconsistent-selection-criterion", "invalid-data-type",
	"invalid-file-access-method", "invalid-file-start-position",
	"invalid-operator-name", "invalid-parameter-data-type",
	"invalid-time-stamp", "key-generation-error",
	"missing-required-parameter", "no-objects-of-specified-type",
	"no-space-for-object", "no-space-to-add-list-element",
	"no-space-to-write-property", "no-vt-sessions-available",
	"property-is-not-a-list", "object-deletion-not-permitted",
	"object-identifier-already-exists", "operational-problem",
	"password-failure", "read-access-denied", "security-not-supported",
	"service-request-denied", "timeout", "unknown-object",
	"unknown-property", NULL, "unknown-vt-class", "unknown-vt-session",
	"unsupported-object-type", "value-out-of-range",
	"vt-session-already-closed", "vt-session-termination-failure",
	"write-access-denied", "character-set-not-supported",
	"invalid-array-index", "cov-subscription-failed", "not-cov-property",
	"optional-functionality-not-supported", "invalid-configuration-data",
	"datatype-not-supported", "duplicate-name", "duplicate-object-id",
	"property-is-not-an-array",
};

static const struct code_name error_code_more[] = {
	{ 82, "busy" }, { 83, "communication-disabled" }, { 84, "success" },
	{ 85, "access-denied" }, { 123, "abort-apdu-too-long" },
	{ 128, "file-full" }, { 131, "internal-error" },
	{ 133, "out-of-memory" }, { 134, "value-too-long" },
};

/* BACnetRejectReason, [135] 18.9 and 21 */
static const char *const reject_reason_names[10] = {
	"other", "buffer-overflow", "inconsistent-parameters",
	"invalid-parameter-data-type", "invalid-tag",
	"missing-required-parameter", "parameter-out-of-range",
	"too-many-arguments", "undefined-enumeration", "unrecognized-service",
};

/* BACnetAbortReason, [135] 18.10 and 21 */
static const char *const abort_reason_names[12] = {
	"other", "buffer-overflow", "invalid-apdu-in-this-state",
	"preempted-by-higher-priority-task", "segmentation-not-supported",
	"security-error", "insufficient-security", "window-size-out-of-range",
	"application-exceeded-reply-time", "out-of-resources", "tsm-timeout",
	"apdu-too-long",
};

/* ReinitializeDevice reinitializedStateOfDevice, 16.4.1.1.1 */
#define REINIT_STATE_N 8
static const char *const reinit_state_names[REINIT_STATE_N] = {
	"coldstart", "warmstart", "startbackup", "endbackup", "startrestore",
	"endrestore", "abortrestore", "activate-changes",
};

/* DeviceCommunicationControl enable-disable, 16.1.1.1.2 */
#define DCC_ENABLE 0
#define DCC_DISABLE 1
#define DCC_DISABLE_INITIATION 2
static const char *const dcc_names[3] = {
	"enable", "disable", "disable-initiation",
};

/* BACnetSegmentation, 21 (I-Am segmentationSupported) */
static const char *const segmentation_names[4] = {
	"segmented-both", "segmented-transmit", "segmented-receive",
	"no-segmentation",
};

/*
 * BACnet vendor identifiers (ASHRAE registry): the makers a Japanese
 * factory's building systems are most likely to come from, and the large
 * building-automation vendors.  An id not listed is logged as a number.
 * Sorted by id (binary search).
 */
static const struct code_name vendor_names[] = {
	{ 0, "ASHRAE" }, { 1, "NIST" }, { 2, "Trane" },
	{ 3, "McQuay International" }, { 4, "PolarSoft" },
	{ 5, "Johnson Controls" }, { 6, "American Auto-Matrix" },
	{ 7, "Siemens (Landis & Staefa)" }, { 8, "Delta Controls" },
	{ 9, "Siemens Building Technologies" },
	{ 10, "Tour Andover Controls" }, { 11, "TAC" },
	{ 14, "Cimetrics" }, { 16, "Carrier" }, { 17, "Honeywell" },
	{ 18, "Alerton / Honeywell" }, { 19, "TAC AB" },
	{ 24, "Automated Logic" }, { 28, "KMC Controls" },
	{ 31, "Tokimec" }, { 35, "Reliable Controls" }, { 36, "Tridium" },
	{ 39, "Kieback & Peter" }, { 42, "Lithonia Lighting" },
	{ 53, "Daikin Industries" }, { 72, "SECOM" },
	{ 75, "IEIEJ (Japan)" }, { 76, "Nohmi Bosai" }, { 77, "Carel" },
	{ 79, "Hochiki" }, { 80, "Sauter" },
	{ 81, "Matsushita Electric Works" },
	{ 82, "Mitsubishi Electric (Inazawa Works)" },
	{ 83, "Mitsubishi Heavy Industries" },
	{ 85, "Yamatake Building Systems (azbil)" },
	{ 87, "Aichi Tokei Denki" }, { 89, "Saia-Burgess Controls" },
	{ 90, "Hitachi" }, { 91, "Trend Control Systems" },
	{ 92, "Mitsubishi Electric Lighting" }, { 94, "Kyuki" },
	{ 98, "Toshiba" },
	{ 99, "Mitsubishi Electric (Air Conditioning & Refrigeration)" },
	{ 104, "NEC Engineering" }, { 106, "Meidensha" },
	{ 112, "Fujitsu" }, { 118, "Nittan" }, { 127, "ABB" },
	{ 129, "Toshiba Carrier" }, { 141, "Yaskawa Electric America" },
	{ 144, "Fujitsu General" }, { 146, "Sanyo Electric" },
	{ 155, "Kanden Engineering" }, { 160, "Rockwell Automation" },
	{ 168, "Fuji IT" }, { 171, "Cylon Controls" },
	{ 173, "Mitsubishi Electric Building Techno-Service" },
	{ 176, "Lutron Electronics" }, { 178, "LOYTEC Electronics" },
	{ 190, "Danfoss Drives" }, { 191, "Eaton" },
	{ 196, "Yokogawa Electric" }, { 200, "Kandenko" },
	{ 210, "NTT Facilities" }, { 212, "TSC21 Association of Japan" },
	{ 222, "WAGO" }, { 226, "Phoenix Contact" }, { 227, "Grundfos" },
	{ 234, "Digital Electronics" }, { 245, "Contemporary Controls" },
	{ 246, "Intesis" }, { 260, "BACnet Stack at SourceForge" },
	{ 264, "Regin" }, { 279, "M-System" }, { 302, "Hitachi Appliances" },
	{ 313, "Siemens Energy & Automation" }, { 335, "Schneider Electric" },
	{ 343, "BACnet Interoperability Testing Services" },
	{ 348, "Nichibei" }, { 364, "Distech Controls" },
	{ 395, "Automation Assist Japan" }, { 399, "Toshiba Lighting & Technology" },
	{ 415, "Beckhoff Automation" }, { 423, "BELIMO" },
	{ 432, "LG Electronics" },
	{ 434, "Mitsubishi Electric (Nagoya Works)" },
	{ 435, "Delta Electronics" }, { 450, "Hitachi" },
	{ 486, "HMS Industrial Networks" },
};

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *code_lookup(const struct code_name *t, size_t n,
			       unsigned code)
{
	size_t lo = 0, hi = n;

	while (lo < hi) { /* tables are sorted by code */
		size_t mid = lo + (hi - lo) / 2;
		if (t[mid].code == code)
			return t[mid].name;
		if (t[mid].code < code)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const char *vendor_name(unsigned id)
{
	return code_lookup(vendor_names, N_ELEM(vendor_names), id);
}

static const char *property_name(unsigned id)
{
	return code_lookup(property_names, N_ELEM(property_names), id);
}

static const char *object_type_name(unsigned t)
{
	return t < OBJ_TYPE_N ? object_type_names[t] : NULL;
}

static const char *error_code_name(unsigned c)
{
	if (c < ERROR_CODE_N)
		return error_code_names[c];
	return code_lookup(error_code_more, N_ELEM(error_code_more), c);
}

static const char *name_or_null(const char *const *t, size_t n, unsigned i)
{
	return i < n ? t[i] : NULL;
}
#define NAME(t, i) name_or_null((t), N_ELEM(t), (i))

static const struct bacnet_svc *svc_info(bool confirmed, unsigned s)
{
	if (confirmed)
		return s < SVC_CONFIRMED_N ? &confirmed_svcs[s] : NULL;
	return s < USVC_UNCONFIRMED_N ? &unconfirmed_svcs[s] : NULL;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

enum {
	BN_EV_INVALID_BVLC,
	BN_EV_BVLC_LENGTH_MISMATCH,
	BN_EV_INVALID_NPDU,
	BN_EV_INVALID_APDU,
	BN_EV_REINITIALIZE_DEVICE,
	BN_EV_DEVICE_COMMUNICATION_DISABLED,
	BN_EV_WRITE_PROPERTY,
	BN_EV_FILE_WRITE,
	BN_EV_OBJECT_CREATED,
	BN_EV_OBJECT_DELETED,
	BN_EV_TIME_SYNCHRONIZATION,
	BN_EV_ROUTING_TABLE_CHANGE,
	BN_EV_SERVICE_MISMATCH,
	BN_EV_ERROR_RESPONSE,
	BN_EV_REJECT,
	BN_EV_ABORT,
	BN_EV_WHO_IS_FLOOD,
	BN_EV__N
};

#define CAT_DECODE "Generic Protocol Command Decode"
#define CAT_BAD "Potentially Bad Traffic"
#define CAT_STATE "Operating State Change"
#define CAT_PROGRAM "Program Change"
#define CAT_CHANGE "Parameter Change"
#define CAT_RECON "Attempted Information Leak"
#define CAT_MISC "Misc activity"

/*
 * Severity 1 (highest) .. 4.  The events of control and program requests
 * (reinitialize_device, device_communication_disabled, file_write,
 * object_created/deleted) ride on the op.control/op.program alert, whose
 * severity the zone policy decides; their severity here says how bad the
 * fact is on its own.  write_property and time_synchronization are raised
 * as alerts of their own: a plant writes set points and synchronises
 * clocks all day, so they are informational (4) and the policy alerts
 * (zone.op_not_allowed...) carry the judgement of who may do it.
 */
static const struct mm_event_def bacnet_events[BN_EV__N] = {
	[BN_EV_INVALID_BVLC] = { "bacnet.invalid_bvlc", 2, CAT_DECODE,
		"BVLC header is not BACnet/IP (type 0x81, a known function, "
		"the function's layout): not BACnet, or a crafted datagram" },
	[BN_EV_BVLC_LENGTH_MISMATCH] = { "bacnet.bvlc_length_mismatch", 2,
		CAT_DECODE, "BVLC length disagrees with the UDP datagram: "
		"truncated, padded or crafted datagram" },
	[BN_EV_INVALID_NPDU] = { "bacnet.invalid_npdu", 2, CAT_DECODE,
		"NPDU version is not 1, reserved bits or addresses are wrong, "
		"or a network message is malformed: crafted packet or a "
		"broken router" },
	[BN_EV_INVALID_APDU] = { "bacnet.invalid_apdu", 3, CAT_DECODE,
		"APDU header or tagged service parameters break clause 20/21 "
		"(truncated, unknown service, bad tags): fuzzing, a scanner, "
		"or a device bug" },
	[BN_EV_REINITIALIZE_DEVICE] = { "bacnet.reinitialize_device", 2,
		CAT_STATE, "ReinitializeDevice: a controller is told to "
		"restart or to start/end a backup or restore" },
	[BN_EV_DEVICE_COMMUNICATION_DISABLED] = {
		"bacnet.device_communication_disabled", 1, CAT_STATE,
		"DeviceCommunicationControl disable: the controller stops "
		"answering (or initiating) for a time: silences a device" },
	[BN_EV_WRITE_PROPERTY] = { "bacnet.write_property", 4, CAT_CHANGE,
		"a property was written (set point, schedule, out-of-service): "
		"routine on a plant, kept for the record" },
	[BN_EV_FILE_WRITE] = { "bacnet.file_write", 2, CAT_PROGRAM,
		"AtomicWriteFile: a file in a controller is written "
		"(program, configuration or firmware image)" },
	[BN_EV_OBJECT_CREATED] = { "bacnet.object_created", 3, CAT_PROGRAM,
		"CreateObject: a controller's object database is changed" },
	[BN_EV_OBJECT_DELETED] = { "bacnet.object_deleted", 3, CAT_PROGRAM,
		"DeleteObject: an object is removed from a controller" },
	[BN_EV_TIME_SYNCHRONIZATION] = { "bacnet.time_synchronization", 4,
		CAT_CHANGE, "(UTC)TimeSynchronization: device clocks are set; "
		"routine from a BMS server, suspicious from anywhere else "
		"(schedules and trend logs follow the clock)" },
	[BN_EV_ROUTING_TABLE_CHANGE] = { "bacnet.routing_table_change", 2,
		CAT_BAD, "Initialize-Routing-Table with entries: a router's "
		"table is rewritten (misrouting, or cutting networks off)" },
	[BN_EV_SERVICE_MISMATCH] = { "bacnet.service_mismatch", 2, CAT_BAD,
		"an answer names another service than its request (same "
		"invoke id): injected answer or a confused router" },
	[BN_EV_ERROR_RESPONSE] = { "bacnet.error_response", 4, CAT_MISC,
		"a device refused a request (unknown object or property, "
		"access denied): common; many in a row can mean a scan" },
	[BN_EV_REJECT] = { "bacnet.reject", 3, CAT_BAD,
		"a device rejected a request as malformed or unsupported: "
		"a scanner, fuzzing, or an incompatible client" },
	[BN_EV_ABORT] = { "bacnet.abort", 4, CAT_MISC,
		"a transaction was aborted (segmentation unsupported, out of "
		"resources, timeout)" },
	[BN_EV_WHO_IS_FLOOD] = { "bacnet.who_is_flood", 3, CAT_RECON,
		"one host sends Who-Is/Who-Has at an unusual rate: device "
		"discovery sweep (reconnaissance) or a broadcast storm" },
};

/* ------------------------------------------------------------------ */
/* Per-flow state                                                      */
/* ------------------------------------------------------------------ */

/*
 * Outstanding confirmed requests, keyed by (requester's direction,
 * invoke id): in BACnet both ends of a flow may ask, and each requester
 * numbers its own transactions ([135] 5.4).  Bounded because requests
 * fill it and answers empty it: a client that floods, or a server that
 * stops answering, must not grow the sensor's memory.  A device has at
 * most 256 transactions open per peer (the invoke id is one octet), and
 * real clients keep a handful; 64 slots, scanned linearly (cheaper than
 * hashing at this size), and when full the oldest request is taken as
 * lost and replaced.
 */
#define BACNET_MAX_OUTSTANDING 64

struct bacnet_req {
	uint32_t seq;   /* request number on the flow: its age */
	uint8_t used;
	uint8_t dir;    /* direction the request travelled */
	uint8_t invoke;
	uint8_t service;
};

/*
 * Segmented messages ([135] 5.2, 20.1.2.6): a confirmed request or a
 * ComplexACK too long for one APDU travels as numbered segments, each
 * with the APDU header and service choice, the parameters cut across
 * them.  They are reassembled so that the parameters are decoded whole
 * (a segmented ReadPropertyMultiple answer about the device object gives
 * asset facts).  Bounded: at most BACNET_REASM_SLOTS messages in progress
 * per flow, each at most BACNET_REASM_MAX bytes (a device's whole
 * object-list fits; more is abandoned, logged, never misparsed), buffers
 * allocated only while a message is in progress.  Segments must come in
 * order (the sender waits for a SegmentACK per window): a repeated one is
 * a retransmission and skipped, a gap abandons the message.
 */
#define BACNET_REASM_SLOTS 2
#define BACNET_REASM_MAX 16384

struct bacnet_reasm {
	uint8_t *buf;
	size_t len;
	uint32_t age;    /* st->seq when started: the oldest is replaced */
	uint8_t used;
	uint8_t dir;     /* direction the segments travel */
	uint8_t invoke;
	uint8_t type;    /* APDU_CONFIRMED_REQ or APDU_COMPLEX_ACK */
	uint8_t service;
	uint8_t next;    /* sequence number expected next (mod 256) */
};

/*
 * who_is_flood: Who-Is and Who-Has from one sender, counted in a fixed
 * window.  A BACnet workstation sends a few at start-up and then one
 * every few minutes; the shared sample captures peak at 2 in 10 s from
 * one host.  Discovery sweeps (one Who-Is per instance range) and
 * broadcast storms send hundreds per second.  More than 20 in 10 s (2/s
 * sustained) is raised, once per window.  Senders are the flow's two ends
 * and, through a BBMD, the original sources of forwarded broadcasts:
 * a few slots, the least recently active replaced.
 */
#define BACNET_WHOIS_FLOOD 20       /* discovery requests per window */
#define BACNET_WHOIS_WINDOW 10.0    /* seconds */
#define BACNET_WHOIS_SENDERS 8

struct whois_sender {
	double start;   /* window start (packet time) */
	double last;
	uint32_t n;     /* requests in this window */
	uint32_t ip;    /* original source (network order), 0: a flow end */
	uint16_t port;
	uint8_t used;
	uint8_t dir;
	bool raised;    /* flood raised in this window */
};

struct bacnet_state {
	struct bacnet_req req[BACNET_MAX_OUTSTANDING];
	struct bacnet_reasm reasm[BACNET_REASM_SLOTS];
	struct whois_sender whois[BACNET_WHOIS_SENDERS];
	uint32_t seq;      /* confirmed requests and segment starts seen */
	uint32_t lost;     /* requests replaced while unanswered */
};

/* ------------------------------------------------------------------ */
/* The tag reader ([135] 20.2.1)                                       */
/* ------------------------------------------------------------------ */

enum tag_kind { TAG_PRIM, TAG_OPEN, TAG_CLOSE };
enum tag_status { TAG_OK = 0, TAG_EMPTY, TAG_SHORT, TAG_BAD };

struct tag {
	unsigned num;     /* tag number 0..254 */
	bool ctx;         /* context specific (else application) */
	uint8_t kind;     /* enum tag_kind */
	uint8_t lvt;      /* the L/V/T bits (application boolean: its value) */
	uint32_t len;     /* primitive: value length */
	struct rd val;    /* primitive: the value bytes */
	const char *why;  /* TAG_BAD: what is wrong */
};

/*
 * Read one tag and, for a primitive, its value.  TAG_EMPTY: nothing left;
 * TAG_SHORT: the tag or its value runs past the end; TAG_BAD: an encoding
 * the standard does not allow.  On anything but TAG_OK the reader's
 * position is unspecified: callers stop.
 */
static int tag_read(struct rd *r, struct tag *t)
{
	static const uint8_t none[1];
	uint8_t b;

	memset(t, 0, sizeof(*t));
	/* an empty value: never rd_make(NULL, 0), NULL + 0 is undefined */
	t->val = rd_make(none, 0);
	if (rd_left(r) == 0)
		return r->err ? TAG_SHORT : TAG_EMPTY;
	b = rd_u8(r);
	t->num = b >> 4;
	t->ctx = (b & TAG_CLASS_CONTEXT) != 0;
	t->lvt = b & TAG_LVT_MASK;
	if (t->num == TAG_EXT_NUM) {
		/* 20.2.1.2: tag numbers 15..254 in the next octet */
		if (rd_left(r) == 0)
			return TAG_SHORT;
		t->num = rd_u8(r);
		if (t->num == 255) {
			t->why = "extended tag number 255 is reserved";
			return TAG_BAD;
		}
	}
	if (t->ctx && t->lvt == TAG_LVT_OPEN) {
		t->kind = TAG_OPEN;
		return TAG_OK;
	}
	if (t->ctx && t->lvt == TAG_LVT_CLOSE) {
		t->kind = TAG_CLOSE;
		return TAG_OK;
	}
	if (!t->ctx) {
		if (t->num > TAG_OBJECT_ID) {
			/* 20.2.1.4: application tags 13..15 are reserved */
			t->why = "reserved application tag";
			return TAG_BAD;
		}
		if (t->num == TAG_BOOLEAN) {
			/* 20.2.3: the value is the L/V/T field, no contents */
			if (t->lvt > 1) {
				t->why = "application boolean other than 0 or 1";
				return TAG_BAD;
			}
			return TAG_OK;
		}
		if (t->lvt > TAG_LVT_EXT_LEN) {
			t->why = "application tag with opening/closing L/V/T";
			return TAG_BAD;
		}
	}
	if (t->lvt == TAG_LVT_EXT_LEN) {
		/* 20.2.1.3.1: 0..253 in one octet, 254: two, 255: four */
		uint8_t l = rd_u8(r);
		if (l == TAG_LEN16)
			t->len = rd_be16(r);
		else if (l == TAG_LEN32)
			t->len = rd_be32(r);
		else
			t->len = l;
		if (r->err)
			return TAG_SHORT;
	} else {
		t->len = t->lvt;
	}
	if (t->len > rd_left(r))
		return TAG_SHORT;
	rd_sub(r, t->len, &t->val);
	return TAG_OK;
}

/* the next tag without consuming it */
static int tag_peek(const struct rd *r, struct tag *t)
{
	struct rd copy = *r;
	return tag_read(&copy, t);
}

/* Unsigned / Enumerated contents: 1..8 octets, big-endian (20.2.4, 20.2.11) */
static bool tag_unsigned(const struct tag *t, uint64_t *v)
{
	struct rd r = t->val;

	*v = 0;
	if (t->kind != TAG_PRIM || t->len < 1 || t->len > 8)
		return false;
	for (uint32_t i = 0; i < t->len; i++)
		*v = (*v << 8) | rd_u8(&r);
	return true;
}

/* Signed Integer contents: 1..8 octets, two's complement (20.2.5) */
static bool tag_signed(const struct tag *t, int64_t *v)
{
	uint64_t u;

	if (!tag_unsigned(t, &u))
		return false;
	if (t->len < 8 && (u >> (8 * t->len - 1)) & 1)
		u |= ~(uint64_t)0 << (8 * t->len); /* sign-extend */
	*v = (int64_t)u;
	return true;
}

struct objid {
	unsigned type;      /* 10 bits */
	uint32_t instance;  /* 22 bits */
};

/* BACnetObjectIdentifier contents: exactly 4 octets (20.2.14) */
static bool tag_objid(const struct tag *t, struct objid *o)
{
	struct rd r = t->val;
	uint32_t v;

	if (t->kind != TAG_PRIM || t->len != 4)
		return false;
	v = rd_be32(&r);
	o->type = v >> OBJ_TYPE_SHIFT;
	o->instance = v & OBJ_INSTANCE_MASK;
	return true;
}

/*
 * After an opening tag `num`: walk to its closing tag, through nested
 * constructed values (at most TAG_MAX_DEPTH deep), and give the bytes in
 * between.  Every tag on the way is read by tag_read, so this also checks
 * the encoding of values we do not decode.
 */
static int tag_skip_constructed(struct rd *r, unsigned num, struct rd *inner,
				const char **why)
{
	unsigned stack[TAG_MAX_DEPTH];
	unsigned depth = 0;
	const uint8_t *start = rd_ptr(r);
	struct tag t;

	stack[depth++] = num;
	for (;;) {
		const uint8_t *at = rd_ptr(r);
		int s = tag_read(r, &t);
		if (s == TAG_EMPTY)
			return TAG_SHORT; /* no closing tag */
		if (s != TAG_OK) {
			*why = t.why;
			return s;
		}
		if (t.kind == TAG_OPEN) {
			if (depth == TAG_MAX_DEPTH) {
				*why = "constructed values nested too deep";
				return TAG_BAD;
			}
			stack[depth++] = t.num;
		} else if (t.kind == TAG_CLOSE) {
			if (t.num != stack[depth - 1]) {
				*why = "closing tag does not match its opening tag";
				return TAG_BAD;
			}
			if (--depth == 0) {
				*inner = rd_make(start, (size_t)(at - start));
				return TAG_OK;
			}
		}
	}
}

/* a whole sequence of tags, opening and closing balanced */
static int tag_walk(struct rd r, const char **why, struct objid *first_obj,
		    bool *have_obj)
{
	struct tag t;
	struct rd inner;

	for (;;) {
		int s = tag_read(&r, &t);
		if (s == TAG_EMPTY)
			return TAG_OK;
		if (s != TAG_OK) {
			*why = t.why;
			return s;
		}
		if (t.kind == TAG_CLOSE) {
			*why = "closing tag without an opening tag";
			return TAG_BAD;
		}
		if (t.kind == TAG_OPEN) {
			s = tag_skip_constructed(&r, t.num, &inner, why);
			if (s != TAG_OK)
				return s;
			continue;
		}
		if (!t.ctx && t.num == TAG_OBJECT_ID && !*have_obj)
			*have_obj = tag_objid(&t, first_obj);
	}
}

/* ------------------------------------------------------------------ */
/* One message                                                         */
/* ------------------------------------------------------------------ */

#define BACNET_LOG_MAX_ITEMS 32   /* RPM/WPM entries logged per message */
#define BACNET_LOG_MAX_ENTRIES 32 /* BDT/FDT entries, networks logged */

/* one object/property of a ReadPropertyMultiple/WritePropertyMultiple */
struct item {
	struct objid obj;
	uint32_t prop;
	uint32_t index;
	uint8_t has_prop, has_index, has_error, has_priority;
	uint8_t priority;
	uint32_t err_class, err_code;
};

struct msg {
	struct mm_ctx *c;
	struct bacnet_state *st;  /* NULL: no pairing, reassembly, rates */
	struct mm_rec *rec;       /* NULL: the log is off, build nothing */
	enum mm_dir dir;
	uint8_t bvlc_fn;
	bool forwarded;           /* relayed by a BBMD: origin is the sender */
	uint32_t orig_ip;         /* network order */
	uint16_t orig_port;
	bool broadcast;           /* sent to many: BVLC or NPDU says so */
	bool routed;              /* came through a BACnet router (SNET) */
	bool bvlc_bad, npdu_bad, apdu_bad;  /* each raised once */

	/* APDU header */
	uint8_t type;
	uint8_t flags;
	uint8_t invoke;
	uint8_t service;
	uint8_t seq;
	bool has_invoke, has_service, confirmed_svc;
	bool request;             /* confirmed or unconfirmed request */
	const struct bacnet_svc *svc;

	/* service parameters: decoding stops at the first problem */
	bool stop;
	const char *svc_name;     /* for details */
	struct objid obj;
	bool has_obj;
	uint32_t prop;
	bool has_prop;
	uint32_t index;
	bool has_index;
	unsigned n_items;         /* RPM/WPM entries decoded */
	struct item items[BACNET_LOG_MAX_ITEMS];
	int dcc_state;            /* -1: unknown */
	bool facts_ok;            /* the sender is the IP host (not routed) */

	struct mm_op op;
	bool op_pending;          /* a request whose op is emitted at the end */
};

static void msg_event(struct msg *m, int id, const char *fmt, va_list ap)
{
	char detail[200];

	vsnprintf(detail, sizeof(detail), fmt, ap);
	mm_emit_event(m->c, &bacnet_events[id], "%s", detail);
}

__attribute__((format(printf, 3, 4)))
static void ev(struct msg *m, int id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_event(m, id, fmt, ap);
	va_end(ap);
}

/* invalid_bvlc / invalid_npdu / invalid_apdu, each once per message: the
 * first problem of a layer explains the rest */
__attribute__((format(printf, 3, 4)))
static void bad(struct msg *m, int id, const char *fmt, ...)
{
	bool *once = id == BN_EV_INVALID_BVLC ? &m->bvlc_bad :
		     id == BN_EV_INVALID_NPDU ? &m->npdu_bad : &m->apdu_bad;
	va_list ap;

	if (*once)
		return;
	*once = true;
	va_start(ap, fmt);
	msg_event(m, id, fmt, ap);
	va_end(ap);
}

/* --- log helpers: each is a no-op when the log is off --- */

static void log_u(struct msg *m, const char *k, unsigned long long v)
{
	if (m->rec)
		rec_uint(m->rec, k, v);
}

static void log_i(struct msg *m, const char *k, long long v)
{
	if (m->rec)
		rec_int(m->rec, k, v);
}

static void log_s(struct msg *m, const char *k, const char *v)
{
	if (m->rec && v)
		rec_str(m->rec, k, v);
}

static void log_b(struct msg *m, const char *k, bool v)
{
	if (m->rec)
		rec_bool(m->rec, k, v);
}

static void log_ip(struct msg *m, const char *k, uint32_t ip_be)
{
	const uint8_t *b = (const uint8_t *)&ip_be;
	char s[16];

	snprintf(s, sizeof(s), "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	log_s(m, k, s);
}

/* "analog-value,3" or "type-300,3" */
static void objid_str(char *buf, size_t n, const struct objid *o)
{
	const char *t = object_type_name(o->type);

	/* mm_fmt: once per request on the packet path (common/fmt.h) */
	if (t)
		mm_fmt(buf, n, "%s,%u", t, o->instance);
	else
		mm_fmt(buf, n, "type-%u,%u", o->type, o->instance);
}

static void log_obj(struct msg *m, const struct objid *o)
{
	log_u(m, "object_type", o->type);
	log_s(m, "object_type_name", object_type_name(o->type));
	log_u(m, "object_instance", o->instance);
}

static void log_prop(struct msg *m, uint32_t prop)
{
	log_u(m, "property", prop);
	log_s(m, "property_name", property_name(prop));
}

/* where the next part of the op's target goes (after a space), and
 * how much room is left there; NULL when it is full */
static char *target_room(struct msg *m, size_t *left)
{
	size_t n = strlen(mm_op_target(&m->op));

	if (n + 1 >= sizeof(m->op.target))
		return NULL;
	if (n > 0)
		m->op.target[n++] = ' ';
	*left = sizeof(m->op.target) - n;
	return m->op.target + n;
}

/* the op's target; appended to with target_add */
__attribute__((format(printf, 2, 3)))
static void target_add(struct msg *m, const char *fmt, ...)
{
	size_t left;
	char *o = target_room(m, &left);
	va_list ap;

	if (!o)
		return;
	va_start(ap, fmt);
	vsnprintf(o, left, fmt, ap);
	va_end(ap);
}

/* target_add with only the conversions mm_fmt knows (%s, %u: see
 * common/fmt.h), for the targets every request builds */
__attribute__((format(printf, 2, 3)))
static void target_put(struct msg *m, const char *fmt, ...)
{
	size_t left;
	char *o = target_room(m, &left);
	va_list ap;

	if (!o)
		return;
	va_start(ap, fmt);
	mm_vfmt(o, left, fmt, ap);
	va_end(ap);
}

/* "analog-value,3 present-value[2]" */
static void target_objprop(struct msg *m, const struct objid *o,
			   bool has_prop, uint32_t prop, bool has_index,
			   uint32_t index)
{
	char ob[48];
	const char *pn;

	/* the first words of the target, as most requests have it: left
	 * for mm_op_target (dissector.h) - read only when an alert names
	 * it; the names are string constants */
	if (mm_op_target_empty(&m->op)) {
		const char *t = object_type_name(o->type);

		if (t)
			mm_op_target_defer(&m->op, "%s,%u", t, o->instance);
		else
			mm_op_target_defer(&m->op, "type-%u,%u", o->type,
					   o->instance);
		if (!has_prop)
			return;
		pn = property_name(prop);
		if (has_index && pn)
			mm_op_target_defer(&m->op, " %s[%u]", pn, index);
		else if (has_index)
			mm_op_target_defer(&m->op, " property-%u[%u]", prop,
					   index);
		else if (pn)
			mm_op_target_defer(&m->op, " %s", pn);
		else
			mm_op_target_defer(&m->op, " property-%u", prop);
		return;
	}
	objid_str(ob, sizeof(ob), o);
	if (!has_prop) {
		target_put(m, "%s", ob);
		return;
	}
	pn = property_name(prop);
	if (has_index && pn)
		target_put(m, "%s %s[%u]", ob, pn, index);
	else if (has_index)
		target_put(m, "%s property-%u[%u]", ob, prop, index);
	else if (pn)
		target_put(m, "%s %s", ob, pn);
	else
		target_put(m, "%s property-%u", ob, prop);
}

/* ------------------------------------------------------------------ */
/* Service parameters: getters over the tag reader                     */
/* ------------------------------------------------------------------ */

/* a parameter is missing, wrong or cut short: invalid_apdu, stop */
__attribute__((format(printf, 2, 3)))
static void param_bad(struct msg *m, const char *fmt, ...)
{
	char what[120];
	va_list ap;

	m->stop = true;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	bad(m, BN_EV_INVALID_APDU, "%s %s: %s", m->svc_name,
	    m->request ? "request" : "answer", what);
}

static void tag_fail(struct msg *m, int s, const struct tag *t,
		     const char *what)
{
	if (s == TAG_BAD)
		param_bad(m, "%s: %s", what, t->why ? t->why : "bad tag");
	else
		param_bad(m, "%s: truncated", what);
}

/*
 * Is the next tag the one wanted?  Takes it when it is.  Absent (another
 * tag, or the end): false, and an error unless optional.
 */
static bool want(struct msg *m, struct rd *r, bool ctx, unsigned num,
		 uint8_t kind, bool optional, struct tag *t, const char *what)
{
	int s;

	if (m->stop)
		return false;
	s = tag_peek(r, t);
	if (s == TAG_OK && t->ctx == ctx && t->num == num && t->kind == kind) {
		tag_read(r, t);
		return true;
	}
	if (s == TAG_SHORT || s == TAG_BAD) {
		tag_fail(m, s, t, what);
		return false;
	}
	if (!optional)
		param_bad(m, "%s (%s tag %u%s) missing", what,
			  ctx ? "context" : "application", num,
			  kind == TAG_OPEN ? " opening" :
			  kind == TAG_CLOSE ? " closing" : "");
	return false;
}

static bool ctx_uint(struct msg *m, struct rd *r, unsigned n, bool opt,
		     uint64_t *v, const char *what)
{
	struct tag t;

	if (!want(m, r, true, n, TAG_PRIM, opt, &t, what))
		return false;
	if (!tag_unsigned(&t, v)) {
		param_bad(m, "%s: %u-octet unsigned", what, t.len);
		return false;
	}
	return true;
}

static bool ctx_sint(struct msg *m, struct rd *r, unsigned n, bool opt,
		     int64_t *v, const char *what)
{
	struct tag t;

	if (!want(m, r, true, n, TAG_PRIM, opt, &t, what))
		return false;
	if (!tag_signed(&t, v)) {
		param_bad(m, "%s: %u-octet integer", what, t.len);
		return false;
	}
	return true;
}

static bool ctx_objid(struct msg *m, struct rd *r, unsigned n, bool opt,
		      struct objid *o, const char *what)
{
	struct tag t;

	if (!want(m, r, true, n, TAG_PRIM, opt, &t, what))
		return false;
	if (!tag_objid(&t, o)) {
		param_bad(m, "%s: object identifier of %u octets", what, t.len);
		return false;
	}
	return true;
}

/* a context-tagged primitive of any content (strings, booleans, REAL) */
static bool ctx_prim(struct msg *m, struct rd *r, unsigned n, bool opt,
		     struct tag *t, const char *what)
{
	return want(m, r, true, n, TAG_PRIM, opt, t, what);
}

static bool ctx_open(struct msg *m, struct rd *r, unsigned n, bool opt,
		     const char *what)
{
	struct tag t;
	return want(m, r, true, n, TAG_OPEN, opt, &t, what);
}

static bool ctx_close(struct msg *m, struct rd *r, unsigned n,
		      const char *what)
{
	struct tag t;
	return want(m, r, true, n, TAG_CLOSE, false, &t, what);
}

/* opening tag n .. closing tag n: the bytes in between, checked */
static bool ctx_constructed(struct msg *m, struct rd *r, unsigned n,
			    bool opt, struct rd *inner, const char *what)
{
	const char *why = NULL;
	int s;

	if (!ctx_open(m, r, n, opt, what))
		return false;
	s = tag_skip_constructed(r, n, inner, &why);
	if (s != TAG_OK) {
		param_bad(m, "%s: %s", what, s == TAG_BAD && why ? why :
			  "truncated");
		return false;
	}
	return true;
}

static bool is_ctx_close(const struct rd *r, unsigned n)
{
	struct tag t;
	return tag_peek(r, &t) == TAG_OK && t.ctx && t.kind == TAG_CLOSE &&
	       t.num == n;
}

static bool app_tag(struct msg *m, struct rd *r, unsigned apptag,
		    struct tag *t, const char *what)
{
	return want(m, r, false, apptag, TAG_PRIM, false, t, what);
}

static bool app_uint(struct msg *m, struct rd *r, unsigned apptag,
		     uint64_t *v, const char *what)
{
	struct tag t;

	if (!app_tag(m, r, apptag, &t, what))
		return false;
	if (!tag_unsigned(&t, v)) {
		param_bad(m, "%s: %u-octet value", what, t.len);
		return false;
	}
	return true;
}

static bool app_sint(struct msg *m, struct rd *r, int64_t *v, const char *what)
{
	struct tag t;

	if (!app_tag(m, r, TAG_SIGNED, &t, what))
		return false;
	if (!tag_signed(&t, v)) {
		param_bad(m, "%s: %u-octet integer", what, t.len);
		return false;
	}
	return true;
}

static bool app_objid(struct msg *m, struct rd *r, struct objid *o,
		      const char *what)
{
	struct tag t;

	if (!app_tag(m, r, TAG_OBJECT_ID, &t, what))
		return false;
	if (!tag_objid(&t, o)) {
		param_bad(m, "%s: object identifier of %u octets", what, t.len);
		return false;
	}
	return true;
}

/* the rest must be empty once the parameters are decoded */
static void params_end(struct msg *m, const struct rd *r)
{
	if (!m->stop && rd_left(r) > 0)
		param_bad(m, "%zu bytes past the parameters", rd_left(r));
}

/*
 * CharacterString contents (20.2.9): character set, then the string.
 * UCS-2 (4) is turned into UTF-8; other sets are passed as they are
 * (ANSI X3.4/UTF-8 is 0; the log escapes what is not printable).
 */
#define CHARSET_UTF8 0
#define CHARSET_UCS2 4
#define STR_MAX 128

static size_t charstring(const struct tag *t, char *out, size_t cap,
			 unsigned *charset)
{
	struct rd r = t->val;
	size_t n = 0;

	*charset = rd_u8(&r);
	if (r.err)
		return 0;
	if (*charset != CHARSET_UCS2) {
		while (rd_left(&r) > 0 && n < cap)
			out[n++] = (char)rd_u8(&r);
		return n;
	}
	while (rd_left(&r) >= 2) {
		unsigned cp = rd_be16(&r);
		if (cp < 0x80 && n + 1 <= cap) {
			out[n++] = (char)cp;
		} else if (cp < 0x800 && n + 2 <= cap) {
			out[n++] = (char)(0xC0 | (cp >> 6));
			out[n++] = (char)(0x80 | (cp & 0x3F));
		} else if (cp >= 0x800 && n + 3 <= cap) {
			out[n++] = (char)(0xE0 | (cp >> 12));
			out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			out[n++] = (char)(0x80 | (cp & 0x3F));
		} else {
			break;
		}
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Values, facts, items                                                */
/* ------------------------------------------------------------------ */

/* a fact the sender states about itself; only when the sender is the IP
 * host (not a device behind a router, not relayed by a BBMD: the daemon
 * keeps facts per IP address) */
static void fact(struct msg *m, const char *key, const char *v, size_t n)
{
	if (m->facts_ok)
		mm_asset_fact(m->c, m->dir == MM_DIR_TO_CLIENT, key,
			      (const uint8_t *)v, n);
}

static void fact_uint(struct msg *m, const char *key, unsigned long long v)
{
	char s[24];
	int n = snprintf(s, sizeof(s), "%llu", v);
	fact(m, key, s, (size_t)n);
}

/*
 * A property value ([3] of ReadProperty-ACK and WriteProperty, [4]/[2] of
 * the Multiple services) holding exactly one primitive application value
 * is logged as that value; anything else (lists, structures) is not.
 */
static void log_value(struct msg *m, const char *k, struct rd v)
{
	struct tag t;
	uint64_t u;
	int64_t i;

	if (!m->rec || tag_read(&v, &t) != TAG_OK || t.ctx ||
	    t.kind != TAG_PRIM || rd_left(&v) != 0)
		return;
	switch (t.num) {
	case TAG_NULL:
		rec_null(m->rec, k);
		break;
	case TAG_BOOLEAN:
		rec_bool(m->rec, k, t.lvt != 0);
		break;
	case TAG_UNSIGNED:
	case TAG_ENUMERATED:
		if (tag_unsigned(&t, &u))
			rec_uint(m->rec, k, u);
		break;
	case TAG_SIGNED:
		if (tag_signed(&t, &i))
			rec_int(m->rec, k, i);
		break;
	case TAG_REAL:
		if (t.len == 4) {
			uint32_t bits = rd_be32(&t.val);
			float f;
			memcpy(&f, &bits, sizeof(f));
			if (f == f && f - f == 0) /* finite: JSON has no NaN */
				rec_double(m->rec, k, f);
		}
		break;
	case TAG_CHAR_STRING: {
		char s[STR_MAX * 3];
		unsigned cs;
		size_t n = charstring(&t, s, sizeof(s), &cs);
		rec_strn(m->rec, k, (const uint8_t *)s, n);
		break;
	}
	case TAG_OBJECT_ID: {
		struct objid o;
		char s[48];
		if (tag_objid(&t, &o)) {
			objid_str(s, sizeof(s), &o);
			rec_str(m->rec, k, s);
		}
		break;
	}
	default:
		break;
	}
}

/*
 * The device object's identity properties, read by ReadProperty(-
 * Multiple): asset facts of the device that answers.  [135] 12.11.
 */
static void device_fact(struct msg *m, const struct objid *o, uint32_t prop,
			bool has_index, struct rd value)
{
	const char *key;
	struct tag t;
	uint64_t u;

	if (o->type != OBJ_DEVICE || has_index)
		return;
	switch (prop) {
	case PROP_MODEL_NAME: key = "model_name"; break;
	case PROP_FIRMWARE_REVISION: key = "firmware_revision"; break;
	case PROP_APPLICATION_SOFTWARE_VERSION:
		key = "application_software_version";
		break;
	case PROP_OBJECT_NAME: key = "object_name"; break;
	case PROP_VENDOR_NAME: key = "vendor_name"; break;
	case PROP_VENDOR_IDENTIFIER: key = "bacnet_vendor_id"; break;
	default: return;
	}
	if (tag_read(&value, &t) != TAG_OK || t.ctx || rd_left(&value) != 0)
		return;
	if (prop == PROP_VENDOR_IDENTIFIER) {
		if (t.num != TAG_UNSIGNED || !tag_unsigned(&t, &u))
			return;
		fact_uint(m, key, u);
		if (vendor_name((unsigned)u))
			fact(m, "bacnet_vendor", vendor_name((unsigned)u),
			     strlen(vendor_name((unsigned)u)));
	} else {
		char s[STR_MAX * 3];
		unsigned cs;
		size_t n;
		if (t.num != TAG_CHAR_STRING)
			return;
		n = charstring(&t, s, sizeof(s), &cs);
		fact(m, key, s, n);
	}
	if (o->instance != OBJ_INSTANCE_ANY)
		fact_uint(m, "bacnet_device_instance", o->instance);
}

static struct item *add_item(struct msg *m, const struct objid *o)
{
	struct item *it;

	if (!m->has_obj) { /* the first names the message */
		m->obj = *o;
		m->has_obj = true;
	}
	if (m->n_items >= BACNET_LOG_MAX_ITEMS) {
		m->n_items++;
		return NULL;
	}
	it = &m->items[m->n_items++];
	memset(it, 0, sizeof(*it));
	it->obj = *o;
	return it;
}

static void item_prop(struct msg *m, struct item *it, uint64_t prop,
		      bool has_index, uint64_t index)
{
	if (!m->has_prop) {
		m->prop = (uint32_t)prop;
		m->has_prop = true;
		m->has_index = has_index;
		m->index = (uint32_t)index;
	}
	if (it) {
		it->prop = (uint32_t)prop;
		it->has_prop = 1;
		it->has_index = has_index;
		it->index = (uint32_t)index;
	}
}

/* 20.2.12, 20.2.13: Date (year - 1900, month, day, weekday) and Time
 * (hour, minute, second, hundredths); X'FF' = unspecified */
static void log_datetime(struct msg *m, const struct tag *d,
			 const struct tag *t)
{
	struct rd a = d->val, b = t->val;
	uint8_t y = rd_u8(&a), mo = rd_u8(&a), dd = rd_u8(&a);
	uint8_t h = rd_u8(&b), mi = rd_u8(&b), s = rd_u8(&b), hs = rd_u8(&b);
	char buf[64];

	snprintf(buf, sizeof(buf), "%s%u-%02u-%02uT%02u:%02u:%02u.%02u",
		 y == 0xFF ? "*" : "", y == 0xFF ? 0u : 1900u + y, mo, dd, h,
		 mi, s, hs);
	log_s(m, "time", buf);
}

/* ------------------------------------------------------------------ */
/* Services                                                            */
/* ------------------------------------------------------------------ */

/* Who-Is, 16.10: [0] low and [1] high device instance, both or none */
static void svc_who_is(struct msg *m, struct rd *r)
{
	uint64_t lo = 0, hi = 0;
	bool l = ctx_uint(m, r, 0, true, &lo, "device instance low limit");
	bool h = ctx_uint(m, r, 1, true, &hi, "device instance high limit");

	if (m->stop)
		return;
	if (l != h) {
		param_bad(m, "only one of the instance range limits");
		return;
	}
	if (l) {
		log_u(m, "device_instance_low", lo);
		log_u(m, "device_instance_high", hi);
		if (lo > OBJ_INSTANCE_ANY || hi > OBJ_INSTANCE_ANY) {
			param_bad(m, "instance range %llu-%llu beyond 4194303",
				  (unsigned long long)lo, (unsigned long long)hi);
			return;
		}
		target_add(m, "device instances %llu-%llu",
			   (unsigned long long)lo, (unsigned long long)hi);
	} else {
		target_add(m, "all devices");
	}
	params_end(m, r);
}

/* I-Am, 16.10: application-tagged device id, max APDU length accepted,
 * segmentation supported, vendor id */
static void svc_i_am(struct msg *m, struct rd *r)
{
	struct objid dev;
	uint64_t max_apdu, seg, vendor;
	const char *vn;

	if (!app_objid(m, r, &dev, "I-Am device identifier"))
		return;
	m->obj = dev;
	m->has_obj = true;
	if (!app_uint(m, r, TAG_UNSIGNED, &max_apdu, "max APDU length") ||
	    !app_uint(m, r, TAG_ENUMERATED, &seg, "segmentation supported") ||
	    !app_uint(m, r, TAG_UNSIGNED, &vendor, "vendor identifier"))
		return;
	vn = vendor > 0xFFFF ? NULL : vendor_name((unsigned)vendor);
	log_u(m, "device_instance", dev.instance);
	log_u(m, "max_apdu", max_apdu);
	log_u(m, "segmentation", seg);
	log_s(m, "segmentation_name", NAME(segmentation_names, seg));
	log_u(m, "vendor_id", vendor);
	log_s(m, "vendor_name", vn);
	target_add(m, "device,%u vendor %llu%s%s%s", dev.instance,
		   (unsigned long long)vendor, vn ? " (" : "", vn ? vn : "",
		   vn ? ")" : "");
	if (dev.type != OBJ_DEVICE) {
		param_bad(m, "I-Am for a %s object, not a device",
			  object_type_name(dev.type) ? object_type_name(dev.type)
						     : "reserved");
		return;
	}
	if (vendor > 0xFFFF || seg >= N_ELEM(segmentation_names)) {
		param_bad(m, "vendor id %llu or segmentation %llu out of range",
			  (unsigned long long)vendor, (unsigned long long)seg);
		return;
	}
	fact_uint(m, "bacnet_device_instance", dev.instance);
	fact_uint(m, "bacnet_vendor_id", vendor);
	if (vn)
		fact(m, "bacnet_vendor", vn, strlen(vn));
	params_end(m, r);
}

/* Who-Has, 16.9: optional [0]/[1] instance range, then [2] object id
 * or [3] object name */
static void svc_who_has(struct msg *m, struct rd *r)
{
	uint64_t lo = 0, hi = 0;
	bool l = ctx_uint(m, r, 0, true, &lo, "device instance low limit");
	bool h = ctx_uint(m, r, 1, true, &hi, "device instance high limit");
	struct objid o;
	struct tag t;

	if (m->stop)
		return;
	if (l != h) {
		param_bad(m, "only one of the instance range limits");
		return;
	}
	if (l) {
		log_u(m, "device_instance_low", lo);
		log_u(m, "device_instance_high", hi);
	}
	if (ctx_objid(m, r, 2, true, &o, "object identifier")) {
		m->obj = o;
		m->has_obj = true;
		target_objprop(m, &o, false, 0, false, 0);
	} else if (ctx_prim(m, r, 3, false, &t, "object identifier or name")) {
		char s[STR_MAX * 3];
		unsigned cs;
		size_t n = charstring(&t, s, sizeof(s), &cs);
		if (m->rec)
			rec_strn(m->rec, "object_name", (const uint8_t *)s, n);
		target_add(m, "object named %.*s", (int)(n > 48 ? 48 : n), s);
	}
	params_end(m, r);
}

/* I-Have, 16.9: device id, object id, object name (application) */
static void svc_i_have(struct msg *m, struct rd *r)
{
	struct objid dev, o;
	struct tag t;
	char s[STR_MAX * 3];
	unsigned cs;
	size_t n;

	if (!app_objid(m, r, &dev, "device identifier") ||
	    !app_objid(m, r, &o, "object identifier"))
		return;
	m->obj = o;
	m->has_obj = true;
	log_u(m, "device_instance", dev.instance);
	target_objprop(m, &o, false, 0, false, 0);
	if (!app_tag(m, r, TAG_CHAR_STRING, &t, "object name"))
		return;
	n = charstring(&t, s, sizeof(s), &cs);
	if (m->rec)
		rec_strn(m->rec, "object_name", (const uint8_t *)s, n);
	params_end(m, r);
}

/* ReadProperty, 15.5: [0] object, [1] property, [2] array index */
static bool obj_prop_index(struct msg *m, struct rd *r)
{
	struct objid o;
	uint64_t prop, idx = 0;
	bool hi;

	if (!ctx_objid(m, r, 0, false, &o, "object identifier"))
		return false;
	m->obj = o;
	m->has_obj = true;
	if (!ctx_uint(m, r, 1, false, &prop, "property identifier"))
		return false;
	hi = ctx_uint(m, r, 2, true, &idx, "property array index");
	if (m->stop)
		return false;
	item_prop(m, NULL, prop, hi, idx);
	target_objprop(m, &o, true, m->prop, hi, m->index);
	return true;
}

static void svc_read_property(struct msg *m, struct rd *r)
{
	if (obj_prop_index(m, r))
		params_end(m, r);
}

/* ReadProperty-ACK, 15.5: the request's three, [3] property value */
static void svc_read_property_ack(struct msg *m, struct rd *r)
{
	struct rd v;

	if (!obj_prop_index(m, r))
		return;
	if (!ctx_constructed(m, r, 3, false, &v, "property value"))
		return;
	log_value(m, "value", v);
	device_fact(m, &m->obj, m->prop, m->has_index, v);
	params_end(m, r);
}

/* ReadPropertyMultiple, 15.7: ReadAccessSpecifications, each [0]
 * object and [1] a list of ([0] property, [1] array index) */
static void svc_rpm(struct msg *m, struct rd *r)
{
	unsigned specs = 0;

	while (!m->stop && rd_left(r) > 0) {
		struct objid o;
		unsigned props = 0;
		if (!ctx_objid(m, r, 0, false, &o, "object identifier") ||
		    !ctx_open(m, r, 1, false, "list of property references"))
			return;
		while (!m->stop && !is_ctx_close(r, 1)) {
			uint64_t prop, idx = 0;
			bool hi;
			if (!ctx_uint(m, r, 0, false, &prop, "property identifier"))
				return;
			hi = ctx_uint(m, r, 1, true, &idx, "property array index");
			item_prop(m, add_item(m, &o), prop, hi, idx);
			props++;
		}
		if (!ctx_close(m, r, 1, "list of property references"))
			return;
		if (props == 0) {
			param_bad(m, "empty list of property references");
			return;
		}
		specs++;
	}
	if (!m->stop && specs == 0)
		param_bad(m, "no read access specification");
}

/* ReadPropertyMultiple-ACK, 15.7: ReadAccessResults, each [0] object
 * and [1] a list of ([2] property, [3] index, [4] value or [5] error) */
static void svc_rpm_ack(struct msg *m, struct rd *r)
{
	while (!m->stop && rd_left(r) > 0) {
		struct objid o;
		if (!ctx_objid(m, r, 0, false, &o, "object identifier") ||
		    !ctx_open(m, r, 1, false, "list of results"))
			return;
		while (!m->stop && !is_ctx_close(r, 1)) {
			uint64_t prop, idx = 0, cls, code;
			struct item *it;
			struct rd v;
			bool hi;
			if (!ctx_uint(m, r, 2, false, &prop, "property identifier"))
				return;
			hi = ctx_uint(m, r, 3, true, &idx, "property array index");
			it = add_item(m, &o);
			item_prop(m, it, prop, hi, idx);
			if (ctx_constructed(m, r, 4, true, &v, "property value")) {
				device_fact(m, &o, (uint32_t)prop, hi, v);
				continue;
			}
			if (!ctx_open(m, r, 5, false, "property value or access error") ||
			    !app_uint(m, r, TAG_ENUMERATED, &cls, "error class") ||
			    !app_uint(m, r, TAG_ENUMERATED, &code, "error code") ||
			    !ctx_close(m, r, 5, "property access error"))
				return;
			if (it) {
				it->has_error = 1;
				it->err_class = (uint32_t)cls;
				it->err_code = (uint32_t)code;
			}
		}
		if (!ctx_close(m, r, 1, "list of results"))
			return;
	}
}

static bool check_priority(struct msg *m, uint64_t prio)
{
	/* 15.9: priority 1 (manual life safety) .. 16 */
	if (prio >= 1 && prio <= 16)
		return true;
	param_bad(m, "write priority %llu outside 1..16",
		  (unsigned long long)prio);
	return false;
}

/* WriteProperty, 15.9: [0] object, [1] property, [2] index,
 * [3] value, [4] priority */
static void svc_write_property(struct msg *m, struct rd *r)
{
	struct rd v;
	uint64_t prio;

	if (!obj_prop_index(m, r))
		return;
	if (!ctx_constructed(m, r, 3, false, &v, "property value"))
		return;
	log_value(m, "value", v);
	if (ctx_uint(m, r, 4, true, &prio, "priority")) {
		log_u(m, "priority", prio);
		if (!check_priority(m, prio))
			return;
		target_add(m, "priority %llu", (unsigned long long)prio);
	}
	params_end(m, r);
}

/* WritePropertyMultiple, 15.10: WriteAccessSpecifications, each [0]
 * object and [1] a list of ([0] property, [1] index, [2] value,
 * [3] priority) */
static void svc_wpm(struct msg *m, struct rd *r)
{
	unsigned specs = 0;

	while (!m->stop && rd_left(r) > 0) {
		struct objid o;
		unsigned props = 0;
		if (!ctx_objid(m, r, 0, false, &o, "object identifier") ||
		    !ctx_open(m, r, 1, false, "list of properties"))
			return;
		while (!m->stop && !is_ctx_close(r, 1)) {
			uint64_t prop, idx = 0, prio;
			struct item *it;
			struct rd v;
			bool hi;
			if (!ctx_uint(m, r, 0, false, &prop, "property identifier"))
				return;
			hi = ctx_uint(m, r, 1, true, &idx, "property array index");
			it = add_item(m, &o);
			item_prop(m, it, prop, hi, idx);
			if (!ctx_constructed(m, r, 2, false, &v, "property value"))
				return;
			if (ctx_uint(m, r, 3, true, &prio, "priority")) {
				if (!check_priority(m, prio))
					return;
				if (it) {
					it->has_priority = 1;
					it->priority = (uint8_t)prio;
				}
			}
			props++;
		}
		if (!ctx_close(m, r, 1, "list of properties"))
			return;
		if (props == 0) {
			param_bad(m, "empty list of properties");
			return;
		}
		specs++;
	}
	if (!m->stop && specs == 0)
		param_bad(m, "no write access specification");
}

/* SubscribeCOV, 13.14: [0] subscriber process id, [1] monitored
 * object, [2] issue confirmed notifications, [3] lifetime (both absent:
 * a cancellation) */
static void svc_subscribe_cov(struct msg *m, struct rd *r)
{
	uint64_t pid, life = 0;
	struct objid o;
	struct tag t;
	bool conf, lt;

	if (!ctx_uint(m, r, 0, false, &pid, "subscriber process identifier") ||
	    !ctx_objid(m, r, 1, false, &o, "monitored object identifier"))
		return;
	m->obj = o;
	m->has_obj = true;
	log_u(m, "subscriber_process_id", pid);
	target_objprop(m, &o, false, 0, false, 0);
	conf = ctx_prim(m, r, 2, true, &t, "issue confirmed notifications");
	if (conf) {
		if (t.len != 1) {
			param_bad(m, "boolean of %u octets", t.len);
			return;
		}
		log_b(m, "issue_confirmed", rd_peek(&t.val, 0) != 0);
	}
	lt = ctx_uint(m, r, 3, true, &life, "lifetime");
	if (lt)
		log_u(m, "lifetime", life);
	log_b(m, "cancellation", !conf && !lt);
	params_end(m, r);
}

/* SubscribeCOVProperty, 13.15: as SubscribeCOV, then [4] the
 * monitored property reference and [5] a COV increment */
static void svc_subscribe_cov_property(struct msg *m, struct rd *r)
{
	uint64_t pid, life, prop, idx = 0;
	struct objid o;
	struct tag t;
	struct rd ref;
	bool hi;

	if (!ctx_uint(m, r, 0, false, &pid, "subscriber process identifier") ||
	    !ctx_objid(m, r, 1, false, &o, "monitored object identifier"))
		return;
	m->obj = o;
	m->has_obj = true;
	log_u(m, "subscriber_process_id", pid);
	ctx_prim(m, r, 2, true, &t, "issue confirmed notifications");
	ctx_uint(m, r, 3, true, &life, "lifetime");
	if (!ctx_constructed(m, r, 4, false, &ref, "monitored property"))
		return;
	if (!ctx_uint(m, &ref, 0, false, &prop, "property identifier"))
		return;
	hi = ctx_uint(m, &ref, 1, true, &idx, "property array index");
	params_end(m, &ref);
	item_prop(m, NULL, prop, hi, idx);
	target_objprop(m, &o, true, m->prop, hi, m->index);
	ctx_prim(m, r, 5, true, &t, "COV increment");
	params_end(m, r);
}

/* ReinitializeDevice, 16.4: [0] state, [1] password */
static void svc_reinitialize(struct msg *m, struct rd *r)
{
	uint64_t state;
	struct tag t;
	bool pw;

	if (!ctx_uint(m, r, 0, false, &state, "reinitialized state of device"))
		return;
	pw = ctx_prim(m, r, 1, true, &t, "password");
	log_u(m, "reinit_state", state);
	log_s(m, "reinit_state_name", NAME(reinit_state_names, state));
	/* the password itself is never logged */
	log_b(m, "password_present", pw);
	if (state < REINIT_STATE_N)
		target_add(m, "%s", reinit_state_names[state]);
	else
		target_add(m, "state %llu", (unsigned long long)state);
	if (pw)
		target_add(m, "with password");
	if (!m->stop && state >= REINIT_STATE_N) {
		param_bad(m, "undefined state %llu", (unsigned long long)state);
		return;
	}
	params_end(m, r);
}

/* DeviceCommunicationControl, 16.1: [0] duration (minutes),
 * [1] enable/disable/disable-initiation, [2] password */
static void svc_dcc(struct msg *m, struct rd *r)
{
	uint64_t minutes = 0, state;
	struct tag t;
	bool dur, pw;

	dur = ctx_uint(m, r, 0, true, &minutes, "time duration");
	if (!ctx_uint(m, r, 1, false, &state, "enable-disable"))
		return;
	pw = ctx_prim(m, r, 2, true, &t, "password");
	if (dur)
		log_u(m, "duration_min", minutes);
	log_u(m, "dcc_state", state);
	log_s(m, "dcc_state_name", NAME(dcc_names, state));
	log_b(m, "password_present", pw);
	target_add(m, "%s", state < 3 ? dcc_names[state] : "undefined");
	if (dur)
		target_add(m, "for %llu min", (unsigned long long)minutes);
	else if (state != DCC_ENABLE)
		target_add(m, "indefinitely");
	if (pw)
		target_add(m, "with password");
	if (state <= DCC_DISABLE_INITIATION)
		m->dcc_state = (int)state;
	if (!m->stop && state > DCC_DISABLE_INITIATION) {
		param_bad(m, "undefined enable-disable %llu",
			  (unsigned long long)state);
		return;
	}
	params_end(m, r);
}

static void file_target(struct msg *m, struct rd *r)
{
	struct objid o;

	if (!app_objid(m, r, &o, "file identifier"))
		return;
	m->obj = o;
	m->has_obj = true;
	target_objprop(m, &o, false, 0, false, 0);
	if (o.type != OBJ_FILE)
		param_bad(m, "a %s object, not a file",
			  object_type_name(o.type) ? object_type_name(o.type)
						   : "reserved");
}

/* AtomicReadFile, 14.1: file, then [0] stream access (start,
 * octet count) or [1] record access (start record, record count) */
static void svc_read_file(struct msg *m, struct rd *r)
{
	int64_t start;
	uint64_t count;
	bool stream;

	file_target(m, r);
	stream = ctx_open(m, r, 0, true, "stream access");
	if (!stream && !ctx_open(m, r, 1, false, "stream or record access"))
		return;
	if (!app_sint(m, r, &start, "file start") ||
	    !app_uint(m, r, TAG_UNSIGNED, &count, "requested count") ||
	    !ctx_close(m, r, stream ? 0 : 1, "file access"))
		return;
	log_s(m, "file_access", stream ? "stream" : "record");
	log_i(m, "file_start", start);
	log_u(m, "file_count", count);
	target_add(m, "%s %lld +%llu", stream ? "octets" : "records",
		   (long long)start, (unsigned long long)count);
	params_end(m, r);
}

/* AtomicReadFile-ACK, 14.1: end of file, then [0] (start, data) or
 * [1] (start record, record count, records) */
static void svc_read_file_ack(struct msg *m, struct rd *r)
{
	struct tag t;
	int64_t start;
	uint64_t count;
	bool stream;

	if (!app_tag(m, r, TAG_BOOLEAN, &t, "end of file"))
		return;
	log_b(m, "end_of_file", t.lvt != 0);
	stream = ctx_open(m, r, 0, true, "stream access");
	if (!stream && !ctx_open(m, r, 1, false, "stream or record access"))
		return;
	if (!app_sint(m, r, &start, "file start"))
		return;
	log_s(m, "file_access", stream ? "stream" : "record");
	log_i(m, "file_start", start);
	if (stream) {
		if (!app_tag(m, r, TAG_OCTET_STRING, &t, "file data"))
			return;
		log_u(m, "file_octets", t.len);
	} else {
		if (!app_uint(m, r, TAG_UNSIGNED, &count, "returned record count"))
			return;
		log_u(m, "file_count", count);
		for (uint64_t i = 0; i < count && !m->stop; i++)
			app_tag(m, r, TAG_OCTET_STRING, &t, "file record data");
	}
	if (ctx_close(m, r, stream ? 0 : 1, "file access"))
		params_end(m, r);
}

/* AtomicWriteFile, 14.2: file, then [0] (start, data) or [1] (start
 * record, record count, records) */
static void svc_write_file(struct msg *m, struct rd *r)
{
	struct tag t;
	int64_t start;
	uint64_t count, octets = 0;
	bool stream;

	file_target(m, r);
	stream = ctx_open(m, r, 0, true, "stream access");
	if (!stream && !ctx_open(m, r, 1, false, "stream or record access"))
		return;
	if (!app_sint(m, r, &start, "file start"))
		return;
	log_s(m, "file_access", stream ? "stream" : "record");
	log_i(m, "file_start", start);
	if (stream) {
		if (!app_tag(m, r, TAG_OCTET_STRING, &t, "file data"))
			return;
		octets = t.len;
		target_add(m, "%llu octets at %lld", (unsigned long long)octets,
			   (long long)start);
	} else {
		if (!app_uint(m, r, TAG_UNSIGNED, &count, "record count"))
			return;
		log_u(m, "file_count", count);
		for (uint64_t i = 0; i < count && !m->stop; i++)
			if (app_tag(m, r, TAG_OCTET_STRING, &t, "file record data"))
				octets += t.len;
		target_add(m, "%llu records at %lld", (unsigned long long)count,
			   (long long)start);
	}
	log_u(m, "file_octets", octets);
	if (ctx_close(m, r, stream ? 0 : 1, "file access"))
		params_end(m, r);
}

/* AtomicWriteFile-ACK, 14.2: [0] file start or [1] start record */
static void svc_write_file_ack(struct msg *m, struct rd *r)
{
	int64_t start;

	if (ctx_sint(m, r, 0, true, &start, "file start position"))
		log_s(m, "file_access", "stream");
	else if (ctx_sint(m, r, 1, false, &start, "file start record"))
		log_s(m, "file_access", "record");
	else
		return;
	log_i(m, "file_start", start);
	params_end(m, r);
}

/* CreateObject, 15.3: [0] object specifier ([0] type or [1] id),
 * [1] list of initial values */
static void svc_create_object(struct msg *m, struct rd *r)
{
	struct rd init;
	uint64_t type;
	struct objid o;

	if (!ctx_open(m, r, 0, false, "object specifier"))
		return;
	if (ctx_uint(m, r, 0, true, &type, "object type")) {
		log_u(m, "object_type", type);
		log_s(m, "object_type_name",
		      type < OBJ_TYPE_N ? object_type_names[type] : NULL);
		target_add(m, "new %s", type < OBJ_TYPE_N ?
			   object_type_names[type] : "object");
	} else if (ctx_objid(m, r, 1, false, &o, "object type or identifier")) {
		m->obj = o;
		m->has_obj = true;
		target_objprop(m, &o, false, 0, false, 0);
	}
	if (!ctx_close(m, r, 0, "object specifier"))
		return;
	if (ctx_constructed(m, r, 1, true, &init, "list of initial values"))
		log_b(m, "initial_values", true);
	params_end(m, r);
}

/* CreateObject-ACK (15.3) and DeleteObject (15.4): one object id */
static void svc_one_object(struct msg *m, struct rd *r)
{
	struct objid o;

	if (!app_objid(m, r, &o, "object identifier"))
		return;
	m->obj = o;
	m->has_obj = true;
	target_objprop(m, &o, false, 0, false, 0);
	params_end(m, r);
}

/* (UTC)TimeSynchronization, 16.7 / 16.8: Date, Time */
static void svc_time_sync(struct msg *m, struct rd *r)
{
	struct tag d, t;

	if (!app_tag(m, r, TAG_DATE, &d, "date") ||
	    !app_tag(m, r, TAG_TIME, &t, "time"))
		return;
	if (d.len != 4 || t.len != 4) {
		param_bad(m, "date/time of %u/%u octets, not 4", d.len, t.len);
		return;
	}
	log_datetime(m, &d, &t);
	params_end(m, r);
}

/* ReadRange, 15.8: [0] object, [1] property, [2] index, then one
 * optional range ([3] by position, [6] by sequence number, [7] by time) */
static void svc_read_range(struct msg *m, struct rd *r)
{
	struct rd range;

	if (!obj_prop_index(m, r))
		return;
	if (ctx_constructed(m, r, 3, true, &range, "range by position"))
		log_s(m, "range", "by_position");
	else if (ctx_constructed(m, r, 6, true, &range, "range by sequence"))
		log_s(m, "range", "by_sequence_number");
	else if (ctx_constructed(m, r, 7, true, &range, "range by time"))
		log_s(m, "range", "by_time");
	params_end(m, r);
}

/* ReadRange-ACK, 15.8: [0] object, [1] property, [2] index,
 * [3] result flags, [4] item count, [5] item data, [6] first sequence */
static void svc_read_range_ack(struct msg *m, struct rd *r)
{
	struct tag t;
	struct rd items;
	uint64_t count, first;

	if (!obj_prop_index(m, r) ||
	    !ctx_prim(m, r, 3, false, &t, "result flags") ||
	    !ctx_uint(m, r, 4, false, &count, "item count") ||
	    !ctx_constructed(m, r, 5, false, &items, "item data"))
		return;
	log_u(m, "item_count", count);
	if (ctx_uint(m, r, 6, true, &first, "first sequence number"))
		log_u(m, "first_sequence", first);
	params_end(m, r);
}

/* WriteGroup, 15.11: [0] group number, [1] write priority,
 * [2] change list, [3] inhibit write */
static void svc_write_group(struct msg *m, struct rd *r)
{
	uint64_t group, prio;
	struct rd changes;
	struct tag t;

	if (!ctx_uint(m, r, 0, false, &group, "group number") ||
	    !ctx_uint(m, r, 1, false, &prio, "write priority"))
		return;
	log_u(m, "group", group);
	log_u(m, "priority", prio);
	target_add(m, "group %llu priority %llu", (unsigned long long)group,
		   (unsigned long long)prio);
	if (!check_priority(m, prio) ||
	    !ctx_constructed(m, r, 2, false, &changes, "change list"))
		return;
	ctx_prim(m, r, 3, true, &t, "inhibit write");
	params_end(m, r);
}

/* (Un)ConfirmedCOVNotification, 13.6 / 13.7: [0] subscriber
 * process id, [1] initiating device, [2] monitored object, [3] time
 * remaining, [4] list of values */
static void svc_cov_notification(struct msg *m, struct rd *r)
{
	uint64_t pid, left;
	struct objid dev, o;
	struct rd values;

	if (!ctx_uint(m, r, 0, false, &pid, "subscriber process identifier") ||
	    !ctx_objid(m, r, 1, false, &dev, "initiating device") ||
	    !ctx_objid(m, r, 2, false, &o, "monitored object"))
		return;
	m->obj = o;
	m->has_obj = true;
	log_u(m, "subscriber_process_id", pid);
	log_u(m, "device_instance", dev.instance);
	target_objprop(m, &o, false, 0, false, 0);
	if (!ctx_uint(m, r, 3, false, &left, "time remaining") ||
	    !ctx_constructed(m, r, 4, false, &values, "list of values"))
		return;
	params_end(m, r);
}

/* (Un)ConfirmedPrivateTransfer (16.2, 16.3) and its ACK: [0] vendor id,
 * [1] service number, [2] parameters (vendor-defined, walked for their
 * tags like any value) */
static void svc_private_transfer(struct msg *m, struct rd *r)
{
	uint64_t vendor, number;
	struct rd params;
	const char *vn;

	if (!ctx_uint(m, r, 0, false, &vendor, "vendor identifier") ||
	    !ctx_uint(m, r, 1, false, &number, "service number"))
		return;
	vn = vendor <= 0xFFFF ? vendor_name((unsigned)vendor) : NULL;
	log_u(m, "vendor_id", vendor);
	log_s(m, "vendor_name", vn);
	log_u(m, "service_number", number);
	target_add(m, "vendor %llu%s%s%s service %llu",
		   (unsigned long long)vendor, vn ? " (" : "", vn ? vn : "",
		   vn ? ")" : "", (unsigned long long)number);
	if (ctx_constructed(m, r, 2, true, &params, "service parameters"))
		log_u(m, "parameters_len", rd_left(&params));
	params_end(m, r);
}

/* any other service: the tags must be well formed; the first object
 * identifier in application form names the object */
static void svc_generic(struct msg *m, struct rd *r)
{
	const char *why = NULL;
	struct objid o;
	bool have = false;
	int s = tag_walk(*r, &why, &o, &have);

	if (s != TAG_OK) {
		param_bad(m, "parameters: %s", s == TAG_BAD && why ? why :
			  "truncated");
		return;
	}
	if (have && !m->has_obj) {
		m->obj = o;
		m->has_obj = true;
	}
}

typedef void (*svc_fn)(struct msg *m, struct rd *r);

static const svc_fn confirmed_req_fns[SVC_CONFIRMED_N] = {
	[SVC_CONFIRMED_COV_NOTIFICATION] = svc_cov_notification,
	[SVC_SUBSCRIBE_COV] = svc_subscribe_cov,
	[SVC_ATOMIC_READ_FILE] = svc_read_file,
	[SVC_ATOMIC_WRITE_FILE] = svc_write_file,
	[SVC_CREATE_OBJECT] = svc_create_object,
	[SVC_DELETE_OBJECT] = svc_one_object,
	[SVC_READ_PROPERTY] = svc_read_property,
	[SVC_READ_PROPERTY_MULTIPLE] = svc_rpm,
	[SVC_WRITE_PROPERTY] = svc_write_property,
	[SVC_WRITE_PROPERTY_MULTIPLE] = svc_wpm,
	[SVC_DEVICE_COMMUNICATION_CONTROL] = svc_dcc,
	[SVC_REINITIALIZE_DEVICE] = svc_reinitialize,
	[SVC_CONFIRMED_PRIVATE_TRANSFER] = svc_private_transfer,
	[SVC_READ_RANGE] = svc_read_range,
	[SVC_SUBSCRIBE_COV_PROPERTY] = svc_subscribe_cov_property,
};

static const svc_fn complex_ack_fns[SVC_CONFIRMED_N] = {
	[SVC_ATOMIC_READ_FILE] = svc_read_file_ack,
	[SVC_ATOMIC_WRITE_FILE] = svc_write_file_ack,
	[SVC_CREATE_OBJECT] = svc_one_object,
	[SVC_READ_PROPERTY] = svc_read_property_ack,
	[SVC_READ_PROPERTY_MULTIPLE] = svc_rpm_ack,
	[SVC_CONFIRMED_PRIVATE_TRANSFER] = svc_private_transfer,
	[SVC_READ_RANGE] = svc_read_range_ack,
};

static const svc_fn unconfirmed_fns[USVC_UNCONFIRMED_N] = {
	[USVC_I_AM] = svc_i_am,
	[USVC_I_HAVE] = svc_i_have,
	[USVC_COV_NOTIFICATION] = svc_cov_notification,
	[USVC_PRIVATE_TRANSFER] = svc_private_transfer,
	[USVC_TIME_SYNCHRONIZATION] = svc_time_sync,
	[USVC_WHO_HAS] = svc_who_has,
	[USVC_WHO_IS] = svc_who_is,
	[USVC_UTC_TIME_SYNCHRONIZATION] = svc_time_sync,
	[USVC_WRITE_GROUP] = svc_write_group,
};

/* ------------------------------------------------------------------ */
/* Pairing, reassembly, rates                                          */
/* ------------------------------------------------------------------ */

static uint8_t other_dir(uint8_t d)
{
	return d == MM_DIR_TO_SERVER ? MM_DIR_TO_CLIENT : MM_DIR_TO_SERVER;
}

static struct bacnet_req *req_find(struct bacnet_state *s, uint8_t dir,
				   uint8_t invoke)
{
	for (size_t i = 0; i < BACNET_MAX_OUTSTANDING; i++)
		if (s->req[i].used && s->req[i].dir == dir &&
		    s->req[i].invoke == invoke)
			return &s->req[i];
	return NULL;
}

/* a confirmed request (or its first segment) waits for its answer */
static void req_track(struct msg *m)
{
	struct bacnet_state *s = m->st;
	struct bacnet_req *q, *oldest = NULL;

	if (!s)
		return;
	q = req_find(s, (uint8_t)m->dir, m->invoke); /* a retry reuses it */
	for (size_t i = 0; !q && i < BACNET_MAX_OUTSTANDING; i++) {
		if (!s->req[i].used) {
			q = &s->req[i];
			break;
		}
		if (!oldest || s->seq - s->req[i].seq > s->seq - oldest->seq)
			oldest = &s->req[i];
	}
	if (!q) { /* full: the oldest is taken as lost */
		q = oldest;
		s->lost++;
	}
	q->used = 1;
	q->seq = s->seq++;
	q->dir = (uint8_t)m->dir;
	q->invoke = m->invoke;
	q->service = m->service;
}

/*
 * An answer: find its request (sent the other way, except an Abort by
 * the client, which ends its own transaction).  `final`: the transaction
 * ends here (not a ComplexACK segment with more to follow).
 */
static void rsp_pair(struct msg *m, uint8_t req_dir, bool final)
{
	struct bacnet_req *q;

	if (!m->st)
		return;
	q = req_find(m->st, req_dir, m->invoke);
	log_b(m, "paired", q != NULL);
	if (!q)
		return;
	if (m->has_service && q->service != m->service) {
		const struct bacnet_svc *a = svc_info(true, q->service);
		ev(m, BN_EV_SERVICE_MISMATCH, "invoke id %u: request %s (%u), "
		   "%s names %s (%u)", m->invoke, a ? a->name : "unknown",
		   q->service, apdu_type_names[m->type],
		   m->svc ? m->svc->name : "unknown", m->service);
	}
	if (final)
		q->used = 0;
}

static void reasm_free(struct bacnet_reasm *a)
{
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

static struct bacnet_reasm *reasm_find(struct bacnet_state *s, uint8_t dir,
				       uint8_t invoke, uint8_t type)
{
	for (size_t i = 0; i < BACNET_REASM_SLOTS; i++)
		if (s->reasm[i].used && s->reasm[i].dir == dir &&
		    s->reasm[i].invoke == invoke && s->reasm[i].type == type)
			return &s->reasm[i];
	return NULL;
}

static const struct mm_event_def *request_event(const struct msg *m);

/*
 * A segmented request that will not be reassembled still is a request:
 * its op goes out with what the header says (class, service), the
 * parameters unknown.  `dir` is the way it travelled.
 */
static void op_unreassembled(struct mm_ctx *c, uint8_t dir, uint8_t service,
			     const char *why)
{
	const struct bacnet_svc *s = svc_info(true, service);
	enum mm_dir saved = c->dir;
	struct msg m;

	memset(&m, 0, sizeof(m));
	m.confirmed_svc = true;
	m.service = service;
	m.dcc_state = -1; /* unknown: no device_communication_disabled */
	m.op.cls = s ? s->cls : MM_OP_OTHER;
	m.op.function = service;
	m.op.function_name = s ? s->name : "unknown";
	m.op.event = request_event(&m);
	snprintf(m.op.target, sizeof(m.op.target), "segmented request %s", why);
	c->dir = (enum mm_dir)dir;
	mm_emit_op(c, &m.op);
	c->dir = saved;
}

static void reasm_abandon(struct mm_ctx *c, struct bacnet_reasm *a,
			  const char *why)
{
	if (a->type == APDU_CONFIRMED_REQ)
		op_unreassembled(c, a->dir, a->service, why);
	reasm_free(a);
}

enum seg_result { SEG_WAIT, SEG_DONE, SEG_DROPPED };

/*
 * One segment's service data.  SEG_DONE: *whole is the reassembled
 * service data (valid until reasm_free of *slot).  SEG_WAIT: stored.
 * SEG_DROPPED: not reassembled (logged why); for a request whose op is
 * then due, *op_due is set.
 */
static int segment_add(struct msg *m, struct rd seg, bool more,
		       struct rd *whole, struct bacnet_reasm **slot,
		       bool *op_due)
{
	struct bacnet_state *s = m->st;
	struct bacnet_reasm *a;
	size_t n = rd_left(&seg);

	*op_due = false;
	if (!s) {
		log_s(m, "reassembly", "off");
		*op_due = m->seq == 0;
		return SEG_DROPPED;
	}
	a = reasm_find(s, (uint8_t)m->dir, m->invoke, m->type);
	if (m->seq == 0) {
		if (a) /* a retransmitted first segment starts over */
			reasm_free(a);
		for (size_t i = 0; !a && i < BACNET_REASM_SLOTS; i++)
			if (!s->reasm[i].used)
				a = &s->reasm[i];
		if (!a) { /* both busy: the oldest gives way */
			a = &s->reasm[0];
			for (size_t i = 1; i < BACNET_REASM_SLOTS; i++)
				if (s->seq - s->reasm[i].age > s->seq - a->age)
					a = &s->reasm[i];
			reasm_abandon(m->c, a, "evicted");
		}
		a->used = 1;
		a->age = s->seq++;
		a->dir = (uint8_t)m->dir;
		a->invoke = m->invoke;
		a->type = m->type;
		a->service = m->service;
		a->next = 0;
	} else if (!a) {
		/* its first segment was before the capture, or dropped */
		log_s(m, "reassembly", "no_first_segment");
		return SEG_DROPPED;
	} else if (m->seq == (uint8_t)(a->next - 1)) {
		log_s(m, "reassembly", "duplicate");
		return SEG_WAIT;
	} else if (m->seq != a->next || m->service != a->service) {
		log_s(m, "reassembly", m->seq != a->next ? "gap" : "service_changed");
		*op_due = a->type == APDU_CONFIRMED_REQ;
		reasm_free(a);
		return SEG_DROPPED;
	}
	if (n > BACNET_REASM_MAX - a->len) {
		log_s(m, "reassembly", "too_long");
		*op_due = a->type == APDU_CONFIRMED_REQ;
		reasm_free(a);
		return SEG_DROPPED;
	}
	if (n > 0) {
		uint8_t *nb = realloc(a->buf, a->len + n);
		if (!nb) {
			log_s(m, "reassembly", "no_memory");
			*op_due = a->type == APDU_CONFIRMED_REQ;
			reasm_free(a);
			return SEG_DROPPED;
		}
		a->buf = nb;
		rd_copy(&seg, a->buf + a->len, n);
		a->len += n;
	}
	a->next++;
	if (more) {
		log_s(m, "reassembly", "stored");
		return SEG_WAIT;
	}
	log_s(m, "reassembly", "complete");
	log_u(m, "reassembled_len", a->len);
	/* segments without data leave no buffer: NULL + 0 is undefined */
	*whole = a->buf ? rd_make(a->buf, a->len) : rd_make(rd_ptr(&seg), 0);
	*slot = a;
	return SEG_DONE;
}

/* who_is_flood: Who-Is/Who-Has per sender in a fixed window */
static void whois_count(struct msg *m)
{
	struct bacnet_state *s = m->st;
	double now = mm_ctx_time(m->c);
	uint32_t ip = m->forwarded ? m->orig_ip : 0;
	uint16_t port = m->forwarded ? m->orig_port : 0;
	struct whois_sender *w = NULL, *lru = NULL;

	if (!s)
		return;
	for (size_t i = 0; i < BACNET_WHOIS_SENDERS; i++) {
		struct whois_sender *x = &s->whois[i];
		if (x->used && x->dir == m->dir && x->ip == ip && x->port == port) {
			w = x;
			break;
		}
		if (!lru || !x->used || (lru->used && x->last < lru->last))
			lru = x;
	}
	if (!w) {
		w = lru;
		memset(w, 0, sizeof(*w));
		w->used = 1;
		w->dir = (uint8_t)m->dir;
		w->ip = ip;
		w->port = port;
		w->start = now;
	}
	if (now - w->start >= BACNET_WHOIS_WINDOW || now < w->start) {
		w->start = now;
		w->n = 0;
		w->raised = false;
	}
	w->n++;
	w->last = now;
	if (w->n > BACNET_WHOIS_FLOOD && !w->raised) {
		w->raised = true;
		ev(m, BN_EV_WHO_IS_FLOOD, "%u Who-Is/Who-Has within %.1f s "
		   "(more than %d in %.0f s)", w->n, now - w->start,
		   BACNET_WHOIS_FLOOD, BACNET_WHOIS_WINDOW);
	}
}

/* ------------------------------------------------------------------ */
/* APDU ([135] 20.1)                                                   */
/* ------------------------------------------------------------------ */

static void set_service(struct msg *m, bool confirmed, uint8_t service)
{
	m->service = service;
	m->has_service = true;
	m->confirmed_svc = confirmed;
	m->svc = svc_info(confirmed, service);
	m->svc_name = m->svc ? m->svc->name : "unknown service";
	log_u(m, "service", service);
	log_s(m, "service_name", m->svc ? m->svc->name : NULL);
}

static void decode_service(struct msg *m, struct rd *r)
{
	svc_fn fn = NULL;

	if (!m->svc)
		return; /* unknown service: raised, not decoded */
	if (m->type == APDU_UNCONFIRMED_REQ)
		fn = unconfirmed_fns[m->service];
	else if (m->type == APDU_CONFIRMED_REQ)
		fn = confirmed_req_fns[m->service];
	else if (m->type == APDU_COMPLEX_ACK)
		fn = complex_ack_fns[m->service];
	(fn ? fn : svc_generic)(m, r);
}

/* the decoded object, property and items, after the service's own fields */
static void log_params(struct msg *m)
{
	if (m->has_obj)
		log_obj(m, &m->obj);
	if (m->has_prop) {
		log_prop(m, m->prop);
		if (m->has_index)
			log_u(m, "array_index", m->index);
	}
	if (!m->rec || m->n_items == 0)
		return;
	rec_uint(m->rec, "item_count", m->n_items);
	rec_arr_begin(m->rec, "items");
	for (unsigned i = 0; i < m->n_items && i < BACNET_LOG_MAX_ITEMS; i++) {
		const struct item *it = &m->items[i];
		rec_obj_begin(m->rec, NULL);
		rec_uint(m->rec, "object_type", it->obj.type);
		rec_uint(m->rec, "object_instance", it->obj.instance);
		if (it->has_prop) {
			rec_uint(m->rec, "property", it->prop);
			if (property_name(it->prop))
				rec_str(m->rec, "property_name",
					property_name(it->prop));
		}
		if (it->has_index)
			rec_uint(m->rec, "array_index", it->index);
		if (it->has_priority)
			rec_uint(m->rec, "priority", it->priority);
		if (it->has_error) {
			rec_uint(m->rec, "error_class", it->err_class);
			rec_uint(m->rec, "error_code", it->err_code);
		}
		rec_obj_end(m->rec);
	}
	rec_arr_end(m->rec);
}

static const struct mm_event_def *request_event(const struct msg *m)
{
	int id = -1;

	if (m->confirmed_svc) {
		switch (m->service) {
		case SVC_REINITIALIZE_DEVICE:
			id = BN_EV_REINITIALIZE_DEVICE;
			break;
		case SVC_DEVICE_COMMUNICATION_CONTROL:
			/* disable and disable-initiation both silence it */
			if (m->dcc_state == DCC_DISABLE ||
			    m->dcc_state == DCC_DISABLE_INITIATION)
				id = BN_EV_DEVICE_COMMUNICATION_DISABLED;
			break;
		case SVC_WRITE_PROPERTY:
		case SVC_WRITE_PROPERTY_MULTIPLE:
			id = BN_EV_WRITE_PROPERTY;
			break;
		case SVC_ATOMIC_WRITE_FILE:
			id = BN_EV_FILE_WRITE;
			break;
		case SVC_CREATE_OBJECT:
			id = BN_EV_OBJECT_CREATED;
			break;
		case SVC_DELETE_OBJECT:
			id = BN_EV_OBJECT_DELETED;
			break;
		default:
			break;
		}
	} else if (m->service == USVC_TIME_SYNCHRONIZATION ||
		   m->service == USVC_UTC_TIME_SYNCHRONIZATION) {
		id = BN_EV_TIME_SYNCHRONIZATION;
	}
	return id < 0 ? NULL : &bacnet_events[id];
}

/*
 * A request's op for the policy.  Reports (an I-Am or I-Have sent to one
 * host answers a Who-Is/Who-Has; notifications feed a subscription) are
 * not handed over: their sender asks nothing.  A broadcast I-Am/I-Have
 * is an announcement, judged in the sender's own segment, so that a new
 * device in no zone is seen (zone.unknown_host).
 */
static void request_op(struct msg *m)
{
	const struct bacnet_svc *s = m->svc;
	bool announce = s && !m->confirmed_svc && m->broadcast &&
			(m->service == USVC_I_AM || m->service == USVC_I_HAVE);

	m->op.cls = s ? s->cls : MM_OP_OTHER;
	m->op.function = m->service;
	m->op.function_name = s ? s->name : "unknown";
	log_s(m, "op", mm_op_class_names[m->op.cls]);
	if (s && s->report && !announce)
		return;
	if (mm_op_target_empty(&m->op) && m->has_obj) {
		target_objprop(m, &m->obj, m->has_prop, m->prop, m->has_index,
			       m->index);
		if (m->n_items > 1)
			target_add(m, "+%u more", m->n_items - 1);
	}
	if (m->has_obj) {
		/* the structured target (baselines, detectors): the (first)
		 * object; a request names its device only when that object
		 * is the device object, else unit 0 */
		m->op.has_ref = true;
		m->op.unit = m->obj.type == OBJ_DEVICE ? m->obj.instance : 0;
		m->op.space = m->obj.type;
		m->op.addr = m->obj.instance;
		m->op.count = 1;
	}
	m->op.event = request_event(m);
	mm_emit_op(m->c, &m->op);
}

static void check_max_apdu(struct msg *m, uint8_t b1)
{
	unsigned segs = (b1 >> 4) & 0x07, len = b1 & 0x0F;

	log_u(m, "max_segments", apdu_max_segs[segs]);
	if (len < N_ELEM(apdu_max_len))
		log_u(m, "max_apdu", apdu_max_len[len]);
	else
		bad(m, BN_EV_INVALID_APDU, "max-APDU-length-accepted code %u "
		    "is reserved", len);
	if (b1 & 0x80)
		bad(m, BN_EV_INVALID_APDU, "reserved bit 7 of octet 1 set");
}

/* the service data of a confirmed request or ComplexACK, segmented or not */
static void service_data(struct msg *m, struct rd *r, bool seg, bool more,
			 bool request)
{
	struct bacnet_reasm *slot = NULL;
	struct rd whole;
	bool op_due;

	if (!seg) {
		decode_service(m, r);
		log_params(m);
		if (request)
			request_op(m);
		return;
	}
	switch (segment_add(m, *r, more, &whole, &slot, &op_due)) {
	case SEG_DONE:
		decode_service(m, &whole);
		log_params(m);
		if (request)
			request_op(m);
		reasm_free(slot);
		break;
	case SEG_DROPPED:
		if (request && op_due) {
			mm_op_target_reset(&m->op);
			snprintf(m->op.target, sizeof(m->op.target),
				 "segmented request not reassembled");
			m->dcc_state = -1;
			request_op(m);
		}
		break;
	default:
		break;
	}
}

static void apdu_confirmed(struct msg *m, struct rd *r)
{
	uint8_t b1 = rd_u8(r), window = 0;
	bool seg = m->flags & APDU_SEG, more = m->flags & APDU_MOR;

	m->invoke = rd_u8(r);
	if (seg) {
		m->seq = rd_u8(r);
		window = rd_u8(r);
	}
	uint8_t service = rd_u8(r);
	if (r->err) {
		bad(m, BN_EV_INVALID_APDU, "confirmed request header truncated");
		return;
	}
	m->has_invoke = true;
	m->request = true;
	log_u(m, "invoke_id", m->invoke);
	log_b(m, "segmented", seg);
	log_b(m, "more_follows", more);
	log_b(m, "segmented_response_accepted", m->flags & APDU_SA);
	check_max_apdu(m, b1);
	if (seg) {
		log_u(m, "sequence_number", m->seq);
		log_u(m, "window_size", window);
		if (window < 1 || window > 127) /* 20.1.2.8 */
			bad(m, BN_EV_INVALID_APDU, "proposed window size %u "
			    "outside 1..127", window);
	} else if (more) {
		bad(m, BN_EV_INVALID_APDU, "more-follows without segmented");
	}
	if (m->flags & 0x01)
		bad(m, BN_EV_INVALID_APDU, "reserved bit 0 of octet 0 set");
	set_service(m, true, service);
	if (!m->svc)
		bad(m, BN_EV_INVALID_APDU, "unknown confirmed service choice %u "
		    "(invoke id %u)", service, m->invoke);
	if (!seg || m->seq == 0)
		req_track(m);
	service_data(m, r, seg, more, true);
}

static void apdu_unconfirmed(struct msg *m, struct rd *r)
{
	uint8_t service = rd_u8(r);

	if (r->err) {
		bad(m, BN_EV_INVALID_APDU, "unconfirmed request without a "
		    "service choice");
		return;
	}
	m->request = true;
	if (m->flags)
		bad(m, BN_EV_INVALID_APDU, "reserved bits of octet 0 set");
	set_service(m, false, service);
	if (!m->svc)
		bad(m, BN_EV_INVALID_APDU, "unknown unconfirmed service "
		    "choice %u", service);
	if (service == USVC_WHO_IS || service == USVC_WHO_HAS)
		whois_count(m);
	decode_service(m, r);
	log_params(m);
	request_op(m);
}

static void apdu_simple_ack(struct msg *m, struct rd *r)
{
	m->invoke = rd_u8(r);
	uint8_t service = rd_u8(r);

	if (r->err) {
		bad(m, BN_EV_INVALID_APDU, "SimpleACK truncated");
		return;
	}
	m->has_invoke = true;
	log_u(m, "invoke_id", m->invoke);
	set_service(m, true, service);
	if (rd_left(r) > 0)
		bad(m, BN_EV_INVALID_APDU, "SimpleACK with %zu bytes after the "
		    "service choice", rd_left(r));
	rsp_pair(m, other_dir((uint8_t)m->dir), true);
}

static void apdu_complex_ack(struct msg *m, struct rd *r)
{
	bool seg = m->flags & APDU_SEG, more = m->flags & APDU_MOR;
	uint8_t window = 0;

	m->invoke = rd_u8(r);
	if (seg) {
		m->seq = rd_u8(r);
		window = rd_u8(r);
	}
	uint8_t service = rd_u8(r);
	if (r->err) {
		bad(m, BN_EV_INVALID_APDU, "ComplexACK header truncated");
		return;
	}
	m->has_invoke = true;
	log_u(m, "invoke_id", m->invoke);
	log_b(m, "segmented", seg);
	log_b(m, "more_follows", more);
	if (seg) {
		log_u(m, "sequence_number", m->seq);
		log_u(m, "window_size", window);
		if (window < 1 || window > 127)
			bad(m, BN_EV_INVALID_APDU, "proposed window size %u "
			    "outside 1..127", window);
	}
	if (m->flags & 0x03)
		bad(m, BN_EV_INVALID_APDU, "reserved bits of octet 0 set");
	set_service(m, true, service);
	if (!m->svc)
		bad(m, BN_EV_INVALID_APDU, "ComplexACK for unknown service %u",
		    service);
	if (!seg || m->seq == 0)
		rsp_pair(m, other_dir((uint8_t)m->dir), !seg || !more);
	else if (!more && m->st) {
		/* the last segment ends the transaction */
		struct bacnet_req *q = req_find(m->st, other_dir((uint8_t)m->dir),
						m->invoke);
		if (q)
			q->used = 0;
	}
	service_data(m, r, seg, more, false);
}

static void apdu_segment_ack(struct msg *m, struct rd *r)
{
	m->invoke = rd_u8(r);
	m->seq = rd_u8(r);
	uint8_t window = rd_u8(r);

	if (r->err) {
		bad(m, BN_EV_INVALID_APDU, "SegmentACK truncated");
		return;
	}
	m->has_invoke = true;
	log_u(m, "invoke_id", m->invoke);
	log_u(m, "sequence_number", m->seq);
	log_u(m, "window_size", window);
	log_b(m, "negative_ack", m->flags & APDU_NAK);
	log_b(m, "server", m->flags & APDU_SRV);
	if (m->flags & 0x0C)
		bad(m, BN_EV_INVALID_APDU, "reserved bits of octet 0 set");
	if (rd_left(r) > 0)
		bad(m, BN_EV_INVALID_APDU, "SegmentACK with %zu extra bytes",
		    rd_left(r));
	/* it acknowledges segments travelling the other way: whether
	 * they are still being reassembled (the last one's ACK comes after
	 * the message is complete) */
	if (m->st) {
		uint8_t d = other_dir((uint8_t)m->dir);
		log_b(m, "reassembling",
		      reasm_find(m->st, d, m->invoke, APDU_CONFIRMED_REQ) ||
		      reasm_find(m->st, d, m->invoke, APDU_COMPLEX_ACK));
	}
}

static void apdu_error(struct msg *m, struct rd *r)
{
	uint64_t cls = 0, code = 0;
	struct tag t;

	m->invoke = rd_u8(r);
	uint8_t service = rd_u8(r);
	if (r->err) {
		bad(m, BN_EV_INVALID_APDU, "Error PDU truncated");
		return;
	}
	m->has_invoke = true;
	log_u(m, "invoke_id", m->invoke);
	set_service(m, true, service);
	rsp_pair(m, other_dir((uint8_t)m->dir), true);
	/* 21 Error; CreateObject-Error, WritePropertyMultiple-Error and
	 * the other structured errors open with [0] errorType */
	bool nested = tag_peek(r, &t) == TAG_OK && t.ctx &&
		      t.kind == TAG_OPEN && t.num == 0;
	if (nested)
		ctx_open(m, r, 0, false, "error type");
	if (!app_uint(m, r, TAG_ENUMERATED, &cls, "error class") ||
	    !app_uint(m, r, TAG_ENUMERATED, &code, "error code"))
		return;
	log_u(m, "error_class", cls);
	log_s(m, "error_class_name", NAME(error_class_names, cls));
	log_u(m, "error_code", code);
	log_s(m, "error_code_name",
	      code <= 0xFFFF ? error_code_name((unsigned)code) : NULL);
	ev(m, BN_EV_ERROR_RESPONSE, "%s invoke id %u: %s/%s (%llu/%llu)",
	   m->svc_name, m->invoke,
	   NAME(error_class_names, cls) ? NAME(error_class_names, cls) : "?",
	   code <= 0xFFFF && error_code_name((unsigned)code) ?
	   error_code_name((unsigned)code) : "?",
	   (unsigned long long)cls, (unsigned long long)code);
	if (nested) {
		struct rd ref;
		if (!ctx_close(m, r, 0, "error type"))
			return;
		/* WritePropertyMultiple-Error: [1] the first failed write
		 * attempt, a BACnetObjectPropertyReference */
		if (m->service == SVC_WRITE_PROPERTY_MULTIPLE &&
		    ctx_constructed(m, r, 1, true, &ref, "first failed write")) {
			struct objid o;
			uint64_t prop, idx = 0;
			if (ctx_objid(m, &ref, 0, false, &o, "object identifier") &&
			    ctx_uint(m, &ref, 1, false, &prop, "property identifier")) {
				bool hi = ctx_uint(m, &ref, 2, true, &idx,
						   "property array index");
				m->obj = o;
				m->has_obj = true;
				item_prop(m, NULL, prop, hi, idx);
				params_end(m, &ref);
			}
		}
		svc_generic(m, r); /* first failed element number etc. */
	} else {
		params_end(m, r);
	}
	log_params(m);
}

static void apdu_reject_abort(struct msg *m, struct rd *r, bool abort)
{
	m->invoke = rd_u8(r);
	uint8_t reason = rd_u8(r);
	bool srv = abort ? (m->flags & APDU_SRV) != 0 : true;
	const char *name = abort ? NAME(abort_reason_names, reason)
				 : NAME(reject_reason_names, reason);

	if (r->err) {
		bad(m, BN_EV_INVALID_APDU, "%s PDU truncated",
		    abort ? "Abort" : "Reject");
		return;
	}
	m->has_invoke = true;
	log_u(m, "invoke_id", m->invoke);
	if (abort)
		log_b(m, "server", srv);
	log_u(m, abort ? "abort_reason" : "reject_reason", reason);
	log_s(m, abort ? "abort_reason_name" : "reject_reason_name", name);
	if (m->flags & (abort ? 0x0E : 0x0F))
		bad(m, BN_EV_INVALID_APDU, "reserved bits of octet 0 set");
	if (rd_left(r) > 0)
		bad(m, BN_EV_INVALID_APDU, "%s with %zu extra bytes",
		    abort ? "Abort" : "Reject", rd_left(r));
	/* a client's Abort ends its own transaction */
	rsp_pair(m, srv ? other_dir((uint8_t)m->dir) : (uint8_t)m->dir, true);
	ev(m, abort ? BN_EV_ABORT : BN_EV_REJECT, "invoke id %u: %s (%u)%s",
	   m->invoke, name ? name : (reason >= 64 ? "proprietary" : "reserved"),
	   reason, abort ? (srv ? " by the server" : " by the client") : "");
}

static void parse_apdu(struct msg *m, struct rd *r)
{
	uint8_t b0 = rd_u8(r);

	if (r->err) {
		bad(m, BN_EV_INVALID_APDU, "NPDU carries no APDU");
		return;
	}
	m->type = b0 >> 4;
	m->flags = b0 & 0x0F;
	m->svc_name = "APDU";
	log_u(m, "apdu_type", m->type);
	if (m->type >= APDU_TYPE_N) {
		bad(m, BN_EV_INVALID_APDU, "APDU type %u is reserved", m->type);
		return;
	}
	log_s(m, "apdu_type_name", apdu_type_names[m->type]);
	switch (m->type) {
	case APDU_CONFIRMED_REQ:
		apdu_confirmed(m, r);
		break;
	case APDU_UNCONFIRMED_REQ:
		apdu_unconfirmed(m, r);
		break;
	case APDU_SIMPLE_ACK:
		apdu_simple_ack(m, r);
		break;
	case APDU_COMPLEX_ACK:
		apdu_complex_ack(m, r);
		break;
	case APDU_SEGMENT_ACK:
		apdu_segment_ack(m, r);
		break;
	case APDU_ERROR:
		apdu_error(m, r);
		break;
	case APDU_REJECT:
		apdu_reject_abort(m, r, false);
		break;
	default:
		apdu_reject_abort(m, r, true);
		break;
	}
}

/* ------------------------------------------------------------------ */
/* NPDU ([135] 6.2) and network layer messages (6.4)                   */
/* ------------------------------------------------------------------ */

static void log_mac(struct msg *m, const char *k, struct rd a)
{
	if (m->rec)
		rec_hex(m->rec, k, rd_ptr(&a), rd_left(&a));
}

/* a list of 2-octet network numbers */
static void log_networks(struct msg *m, struct rd r)
{
	if (!m->rec)
		return;
	rec_arr_begin(m->rec, "networks");
	for (unsigned i = 0; rd_left(&r) >= 2 && i < BACNET_LOG_MAX_ENTRIES; i++)
		rec_uint(m->rec, NULL, rd_be16(&r));
	rec_arr_end(m->rec);
}

/* 6.4.7/6.4.8: number of ports, then per port DNET, port id, info */
static void nl_routing_table(struct msg *m, struct rd *r, bool ack)
{
	uint8_t ports = rd_u8(r);
	struct rd entries = *r;

	for (unsigned i = 0; i < ports && !r->err; i++) {
		rd_skip(r, 3); /* DNET, port id */
		rd_skip(r, rd_u8(r));
	}
	if (r->err) {
		bad(m, BN_EV_INVALID_NPDU, "%s: %u ports announced, entries "
		    "truncated", nl_msg_names[ack ? 7 : 6], ports);
		return;
	}
	log_u(m, "ports", ports);
	if (m->rec) {
		rec_arr_begin(m->rec, "networks");
		for (unsigned i = 0; i < ports && i < BACNET_LOG_MAX_ENTRIES; i++) {
			rec_uint(m->rec, NULL, rd_be16(&entries));
			rd_skip(&entries, 1);
			rd_skip(&entries, rd_u8(&entries));
		}
		rec_arr_end(m->rec);
	}
	/* 0 ports is a query of the table; entries rewrite it */
	if (!ack && ports > 0)
		ev(m, BN_EV_ROUTING_TABLE_CHANGE, "Initialize-Routing-Table "
		   "with %u port entries", ports);
}

static void parse_network_message(struct msg *m, struct rd *r)
{
	uint8_t type = rd_u8(r);
	size_t n;
	long want = -1; /* fixed length of the message, -1: variable */

	if (r->err) {
		bad(m, BN_EV_INVALID_NPDU, "network message without a type");
		return;
	}
	log_u(m, "network_message", type);
	if (type >= NPDU_PROPRIETARY_MSG) {
		/* 6.2.2: proprietary messages carry the vendor id */
		uint16_t vendor = rd_be16(r);
		if (r->err) {
			bad(m, BN_EV_INVALID_NPDU, "proprietary network message "
			    "0x%02x without a vendor id", type);
			return;
		}
		log_s(m, "network_message_name", "proprietary");
		log_u(m, "vendor_id", vendor);
		log_s(m, "vendor_name", vendor_name(vendor));
		return;
	}
	if (type >= NL_MSG_N) {
		bad(m, BN_EV_INVALID_NPDU, "reserved network message type 0x%02x",
		    type);
		return;
	}
	log_s(m, "network_message_name", nl_msg_names[type]);
	n = rd_left(r);
	switch (type) {
	case NL_WHO_IS_ROUTER: /* 6.4.1: an optional DNET */
		if (n == 2)
			log_u(m, "network", rd_be16(r));
		else if (n != 0)
			want = 2;
		break;
	case NL_I_AM_ROUTER: /* 6.4.2: one or more DNETs */
	case NL_ROUTER_BUSY: /* 6.4.5, 6.4.6: zero or more */
	case NL_ROUTER_AVAILABLE:
		if (n % 2 != 0 || (type == NL_I_AM_ROUTER && n == 0)) {
			bad(m, BN_EV_INVALID_NPDU, "%s: %zu bytes, not a list "
			    "of network numbers", nl_msg_names[type], n);
			return;
		}
		log_networks(m, *r);
		break;
	case NL_I_COULD_BE_ROUTER: /* 6.4.3: DNET, performance index */
		want = 3;
		if (n == 3) {
			log_u(m, "network", rd_be16(r));
			log_u(m, "performance_index", rd_u8(r));
		}
		break;
	case NL_REJECT_MESSAGE: /* 6.4.4: reason, DNET */
		want = 3;
		if (n == 3) {
			uint8_t reason = rd_u8(r);
			log_u(m, "reject_reason", reason);
			log_s(m, "reject_reason_name", NAME(nl_reject_names, reason));
			log_u(m, "network", rd_be16(r));
		}
		break;
	case NL_INIT_ROUTING_TABLE:
	case NL_INIT_ROUTING_TABLE_ACK:
		nl_routing_table(m, r, type == NL_INIT_ROUTING_TABLE_ACK);
		if (!m->npdu_bad && rd_left(r) > 0)
			bad(m, BN_EV_INVALID_NPDU, "%s: %zu bytes after the "
			    "port entries", nl_msg_names[type], rd_left(r));
		return;
	case NL_ESTABLISH_CONNECTION: /* 6.4.9: DNET, termination time */
		want = 3;
		if (n == 3) {
			log_u(m, "network", rd_be16(r));
			log_u(m, "termination_time", rd_u8(r));
		}
		break;
	case NL_DISCONNECT_CONNECTION: /* 6.4.10: DNET */
		want = 2;
		if (n == 2)
			log_u(m, "network", rd_be16(r));
		break;
	case NL_WHAT_IS_NETWORK_NUMBER: /* 6.4.19: nothing */
		want = 0;
		break;
	case NL_NETWORK_NUMBER_IS: /* 6.4.20: network, configured flag */
		want = 3;
		if (n == 3) {
			log_u(m, "network", rd_be16(r));
			log_u(m, "network_configured", rd_u8(r));
		}
		break;
	default: /* 0x0A..0x11: network security (clause 24), opaque */
		log_u(m, "security_len", n);
		break;
	}
	if (want >= 0 && (size_t)want != n)
		bad(m, BN_EV_INVALID_NPDU, "%s: %zu bytes, layout wants %ld",
		    nl_msg_names[type], n, want);
}

static void parse_npdu(struct msg *m, struct rd *r)
{
	uint8_t ver = rd_u8(r), ctl = rd_u8(r);
	bool dest = ctl & NPDU_DEST, src = ctl & NPDU_SRC;

	if (r->err) {
		bad(m, BN_EV_INVALID_NPDU, "NPDU shorter than version and control");
		return;
	}
	log_u(m, "npdu_control", ctl);
	if (ver != NPDU_VERSION) {
		bad(m, BN_EV_INVALID_NPDU, "NPDU version %u, not 1", ver);
		log_u(m, "npdu_version", ver);
		return;
	}
	if (ctl & (NPDU_RESERVED_6 | NPDU_RESERVED_4))
		bad(m, BN_EV_INVALID_NPDU, "reserved NPDU control bits set "
		    "(control 0x%02x)", ctl);
	log_s(m, "network_priority", npdu_priority_names[ctl & NPDU_PRIORITY]);
	log_b(m, "expecting_reply", ctl & NPDU_EXPECT_REPLY);
	if (dest) {
		uint16_t dnet = rd_be16(r);
		uint8_t dlen = rd_u8(r);
		struct rd dadr;
		rd_sub(r, dlen, &dadr);
		if (r->err) {
			bad(m, BN_EV_INVALID_NPDU, "destination address truncated");
			return;
		}
		log_u(m, "dnet", dnet);
		if (dlen > 0)
			log_mac(m, "dadr", dadr);
		/* 6.2.2: DLEN 0 = broadcast on DNET, DNET X'FFFF' = global */
		if (dlen == 0 || dnet == NPDU_GLOBAL_NET)
			m->broadcast = true;
		if (dnet == 0)
			bad(m, BN_EV_INVALID_NPDU, "destination network 0");
	}
	if (src) {
		uint16_t snet = rd_be16(r);
		uint8_t slen = rd_u8(r);
		struct rd sadr;
		rd_sub(r, slen, &sadr);
		if (r->err) {
			bad(m, BN_EV_INVALID_NPDU, "source address truncated");
			return;
		}
		log_u(m, "snet", snet);
		log_mac(m, "sadr", sadr);
		m->routed = true;
		/* 6.2.2: SNET may not be X'FFFF' and SLEN may not be 0 */
		if (snet == NPDU_GLOBAL_NET || snet == 0 || slen == 0)
			bad(m, BN_EV_INVALID_NPDU, "source network %u address "
			    "length %u: a source cannot be a broadcast", snet,
			    slen);
	}
	if (dest) {
		uint8_t hops = rd_u8(r);
		if (r->err) {
			bad(m, BN_EV_INVALID_NPDU, "hop count missing");
			return;
		}
		log_u(m, "hop_count", hops);
	}
	m->facts_ok = !m->forwarded && !m->routed;
	if (ctl & NPDU_NET_MSG)
		parse_network_message(m, r);
	else
		parse_apdu(m, r);
}

/* ------------------------------------------------------------------ */
/* BVLC ([135] J.2)                                                    */
/* ------------------------------------------------------------------ */

static void fmt_bip(char *buf, size_t n, struct rd *r)
{
	uint8_t a = rd_u8(r), b = rd_u8(r), c = rd_u8(r), d = rd_u8(r);
	uint16_t port = rd_be16(r);

	snprintf(buf, n, "%u.%u.%u.%u:%u", a, b, c, d, port);
}

/* BDT entries (J.2.2.1: address, port, mask) or FDT entries (J.2.8.1:
 * address, port, time-to-live, time remaining) */
static void bvlc_table(struct msg *m, struct rd *r, bool fdt)
{
	size_t n = rd_left(r);

	if (n % 10 != 0) {
		bad(m, BN_EV_INVALID_BVLC, "%s: %zu bytes, not whole 10-byte "
		    "entries", bvlc_fn_names[m->bvlc_fn], n);
		return;
	}
	log_u(m, "entries", n / 10);
	if (!m->rec)
		return;
	rec_arr_begin(m->rec, fdt ? "fdt" : "bdt");
	for (size_t i = 0; i < n / 10 && i < BACNET_LOG_MAX_ENTRIES; i++) {
		char addr[24], e[64];
		fmt_bip(addr, sizeof(addr), r);
		if (fdt) {
			uint16_t ttl = rd_be16(r), left = rd_be16(r);
			snprintf(e, sizeof(e), "%s ttl %u left %u", addr, ttl, left);
		} else {
			uint8_t a = rd_u8(r), b = rd_u8(r), c = rd_u8(r), d = rd_u8(r);
			snprintf(e, sizeof(e), "%s mask %u.%u.%u.%u", addr, a, b, c, d);
		}
		rec_str(m->rec, NULL, e);
	}
	rec_arr_end(m->rec);
}

static void bvlc_fixed(struct msg *m, const struct rd *r, size_t want)
{
	if (rd_left(r) != want)
		bad(m, BN_EV_INVALID_BVLC, "%s: %zu payload bytes, layout wants "
		    "%zu", bvlc_fn_names[m->bvlc_fn], rd_left(r), want);
}

static void parse_bvlc_body(struct msg *m, struct rd *r)
{
	switch (m->bvlc_fn) {
	case BVLC_RESULT: { /* J.2.1 */
		uint16_t code;
		bvlc_fixed(m, r, 2);
		code = rd_be16(r);
		if (r->err)
			return;
		log_u(m, "bvlc_result", code);
		if ((code & 0x0F) == 0 && (code >> 4) < N_ELEM(bvlc_result_names))
			log_s(m, "bvlc_result_name", bvlc_result_names[code >> 4]);
		break;
	}
	case BVLC_WRITE_BDT:        /* J.2.2 */
	case BVLC_READ_BDT_ACK:     /* J.2.4 */
		bvlc_table(m, r, false);
		break;
	case BVLC_READ_FDT_ACK:     /* J.2.8 */
		bvlc_table(m, r, true);
		break;
	case BVLC_READ_BDT:         /* J.2.3 */
	case BVLC_READ_FDT:         /* J.2.7 */
		bvlc_fixed(m, r, 0);
		break;
	case BVLC_REGISTER_FD:      /* J.2.6: time-to-live, seconds */
		bvlc_fixed(m, r, 2);
		if (rd_left(r) >= 2)
			log_u(m, "ttl", rd_be16(r));
		break;
	case BVLC_DELETE_FDT_ENTRY: /* J.2.9: the B/IP address */
		bvlc_fixed(m, r, BVLC_BIP_ADDR_LEN);
		if (rd_left(r) >= BVLC_BIP_ADDR_LEN) {
			char addr[24];
			fmt_bip(addr, sizeof(addr), r);
			log_s(m, "fdt_entry", addr);
		}
		break;
	case BVLC_FORWARDED_NPDU:   /* J.2.5: original source, then NPDU */
		if (!rd_skip(r, BVLC_BIP_ADDR_LEN)) {
			bad(m, BN_EV_INVALID_BVLC, "Forwarded-NPDU shorter than "
			    "its original source address");
			return;
		}
		log_ip(m, "orig_src_ip", m->orig_ip);
		log_u(m, "orig_src_port", m->orig_port);
		m->broadcast = true;
		parse_npdu(m, r);
		break;
	case BVLC_DISTRIBUTE_BROADCAST: /* J.2.10 */
	case BVLC_ORIGINAL_BROADCAST:   /* J.2.12 */
		m->broadcast = true;
		parse_npdu(m, r);
		break;
	case BVLC_ORIGINAL_UNICAST:     /* J.2.11 */
		parse_npdu(m, r);
		break;
	default: /* J.2.13 Secure-BVLL: a security wrapper, opaque here */
		log_u(m, "secure_len", rd_left(r));
		break;
	}
}

static void bacnet_parse(struct mm_ctx *c, void *st, const uint8_t *buf,
			 size_t n)
{
	struct rd r = rd_make(buf, n);
	uint8_t type = rd_u8(&r), fn = rd_u8(&r);
	uint16_t len = rd_be16(&r);
	struct msg m;
	struct rd body;

	memset(&m, 0, sizeof(m));
	m.c = c;
	m.st = st;
	m.dir = mm_ctx_dir(c);
	m.bvlc_fn = fn;
	m.dcc_state = -1;
	m.svc_name = "APDU";
	/* a relayed broadcast: name its original source before anything
	 * is reported, so policy, alerts and the log zone that host */
	if (!r.err && type == BVLC_TYPE_BIP && fn == BVLC_FORWARDED_NPDU &&
	    len >= BVLC_HDR_LEN + BVLC_BIP_ADDR_LEN &&
	    rd_left(&r) >= BVLC_BIP_ADDR_LEN) {
		struct rd a = r;
		rd_copy(&a, &m.orig_ip, 4); /* stays in network order */
		m.orig_port = rd_be16(&a);
		m.forwarded = true;
		mm_set_origin(c, m.orig_ip, m.orig_port);
	}
	m.rec = mm_txlog_begin(c);
	if (r.err) {
		bad(&m, BN_EV_INVALID_BVLC, "%zu-byte datagram, shorter than the "
		    "BVLC header", n);
		goto out;
	}
	log_u(&m, "bvlc_fn", fn);
	if (type != BVLC_TYPE_BIP) {
		log_u(&m, "bvlc_type", type);
		bad(&m, BN_EV_INVALID_BVLC, "BVLC type 0x%02x, not 0x81 "
		    "(BACnet/IP)", type);
		goto out;
	}
	if (fn >= BVLC_FN_N) {
		bad(&m, BN_EV_INVALID_BVLC, "unknown BVLC function 0x%02x", fn);
		goto out;
	}
	log_s(&m, "bvlc_fn_name", bvlc_fn_names[fn]);
	log_u(&m, "bvlc_len", len);
	if (len < BVLC_HDR_LEN) {
		bad(&m, BN_EV_INVALID_BVLC, "BVLC length %u, shorter than its "
		    "header", len);
		goto out;
	}
	if (len != n) {
		/* J.2: the length covers the whole BVLL message */
		ev(&m, BN_EV_BVLC_LENGTH_MISMATCH, "BVLC length %u, datagram "
		   "%zu bytes (%s)", len, n, bvlc_fn_names[fn]);
	}
	rd_sub(&r, (len < n ? len : n) - BVLC_HDR_LEN, &body);
	parse_bvlc_body(&m, &body);
out:
	if (m.rec)
		mm_txlog_end(c, m.rec);
}

/* ------------------------------------------------------------------ */
/* Detection                                                           */
/* ------------------------------------------------------------------ */

static enum mm_probe bacnet_probe(const uint8_t *p, size_t n, enum mm_dir dir)
{
	size_t npdu = 0;

	(void)dir; /* both ends of a BACnet flow send the same messages */
	/* 1) the whole BVLC header */
	if (n < BVLC_HDR_LEN)
		return MM_PROBE_MORE;
	/* 2) BVLC type 0x81: BACnet/IP (J.2) */
	if (p[0] != BVLC_TYPE_BIP)
		return MM_PROBE_NO;
	/* 3) a known BVLC function */
	if (p[1] >= BVLC_FN_N)
		return MM_PROBE_NO;
	/*
	 * 4) the BVLC length is the datagram's.  A sender that gets it wrong
	 * while an NPDU of version 1 follows (check 6) is still BACnet: the
	 * parser raises bvlc_length_mismatch for it.  Excluding such flows
	 * would let a broken length field blind the monitor (icsnpp-bacnet's
	 * ReinitializeDevice password guessing says 17 in every datagram).
	 */
	bool len_ok = (((size_t)p[2] << 8) | p[3]) == n;
	/* 5) the function's layout fits that length */
	switch (p[1]) {
	case BVLC_RESULT:
	case BVLC_REGISTER_FD:
		if (n != BVLC_HDR_LEN + 2)
			return MM_PROBE_NO;
		break;
	case BVLC_READ_BDT:
	case BVLC_READ_FDT:
		if (n != BVLC_HDR_LEN)
			return MM_PROBE_NO;
		break;
	case BVLC_DELETE_FDT_ENTRY:
		if (n != BVLC_HDR_LEN + BVLC_BIP_ADDR_LEN)
			return MM_PROBE_NO;
		break;
	case BVLC_WRITE_BDT:
	case BVLC_READ_BDT_ACK:
	case BVLC_READ_FDT_ACK:
		if ((n - BVLC_HDR_LEN) % 10 != 0)
			return MM_PROBE_NO;
		break;
	case BVLC_FORWARDED_NPDU:
		npdu = BVLC_HDR_LEN + BVLC_BIP_ADDR_LEN;
		break;
	case BVLC_SECURE_BVLL:
		break;
	default: /* the NPDU follows the header */
		npdu = BVLC_HDR_LEN;
		break;
	}
	/* 6) NPDU version 1 (6.2.1), with its control octet */
	if (npdu && (n < npdu + 2 || p[npdu] != NPDU_VERSION))
		return MM_PROBE_NO;
	/* a BVLC-only message has nothing else to vouch for it */
	if (!len_ok && !npdu)
		return MM_PROBE_NO;
	return MM_PROBE_YES;
}

/* ------------------------------------------------------------------ */
/* State, flow end                                                     */
/* ------------------------------------------------------------------ */

static void *bacnet_state_new(void)
{
	return calloc(1, sizeof(struct bacnet_state));
}

static void bacnet_state_free(void *st)
{
	struct bacnet_state *s = st;

	if (!s)
		return;
	for (size_t i = 0; i < BACNET_REASM_SLOTS; i++)
		reasm_free(&s->reasm[i]);
	free(s);
}

/*
 * The flow ends: a segmented request still being reassembled is reported
 * as the request it is (its op, parameters unknown), buffers are freed.
 * Unanswered requests are not an event: BACnet devices legitimately
 * ignore requests they cannot serve, and UDP flows end by idling out.
 */
static void bacnet_flow_end(struct mm_ctx *c, void *st)
{
	struct bacnet_state *s = st;

	if (!s)
		return;
	for (size_t i = 0; i < BACNET_REASM_SLOTS; i++)
		if (s->reasm[i].used)
			reasm_abandon(c, &s->reasm[i], "incomplete at flow end");
	memset(s, 0, sizeof(*s));
}

const struct mm_dissector mm_bacnet_dissector = {
	.name = "bacnet",
	.transport = IPPROTO_UDP,
	.ports = { BACNET_PORT, BACNET_PORT + 1, BACNET_PORT + 2,
		   BACNET_PORT + 3, BACNET_PORT + 4, BACNET_PORT + 5,
		   BACNET_PORT + 6, BACNET_PORT + 7 },
	.max_pdu = BVLC_MAX_LEN,
	.probe = bacnet_probe,
	.pdu_len = NULL,
	.state_new = bacnet_state_new,
	.state_free = bacnet_state_free,
	.parse = bacnet_parse,
	.flow_end = bacnet_flow_end,
	.events = bacnet_events,
	.n_events = BN_EV__N,
};
