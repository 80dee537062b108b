/* SPDX-License-Identifier: MIT */
/* mg-exit: the boot benchmark guest. Its entry already wrote
 * MG_DEBUG_EXIT_VALUE to the debug exit port (entry.S, MG_EARLY_EXIT); if
 * the VMM is still running, power off through ACPI, silently. */
#include "mg.h"

void mg_main(struct mg_boot *b)
{
	mg_acpi_discover(b, &mg_acpi_info);
}
