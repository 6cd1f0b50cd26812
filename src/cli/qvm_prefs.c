/*
 * qvm_prefs.c - qvm-prefs: the properties of a qube (prefs.c does the
 * work).  Runs as the administrator; see prefs.c for its inputs.
 */
#include "cli/tools.h"

int
main(int argc, char **argv)
{
	return prefs_main(argc, argv, false);
}
