/*
 * registry.c - the table of dissectors.  Adding a protocol adds one line
 * here (and its own file, tests and sample capture): nothing else.
 */
#include <string.h>

#include "dissector.h"

extern const struct mm_dissector mm_modbus_dissector;
extern const struct mm_dissector mm_s7comm_dissector;
extern const struct mm_dissector mm_bacnet_dissector;

const struct mm_dissector *const mm_dissectors[] = {
	&mm_modbus_dissector,
	&mm_s7comm_dissector,
	&mm_bacnet_dissector,
	NULL,
};

const char *const mm_op_class_names[MM_OP__N] = {
	[MM_OP_READ] = "read",
	[MM_OP_WRITE] = "write",
	[MM_OP_PROGRAM] = "program",
	[MM_OP_CONTROL] = "control",
	[MM_OP_DISCOVER] = "discover",
	[MM_OP_OTHER] = "other",
};

int mm_op_class_from_name(const char *s)
{
	for (int i = 0; i < MM_OP__N; i++)
		if (strcmp(s, mm_op_class_names[i]) == 0)
			return i;
	return -1;
}

const struct mm_dissector *mm_dissector_by_name(const char *name)
{
	for (size_t i = 0; mm_dissectors[i]; i++)
		if (strcmp(mm_dissectors[i]->name, name) == 0)
			return mm_dissectors[i];
	return NULL;
}
