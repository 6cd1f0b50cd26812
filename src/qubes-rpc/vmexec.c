/*
 * qubes-vmexec - qubes.VMExec+ARG: run the command the calling qube
 * encoded in the service argument (proto/vmexec.h), without a shell.
 * Qubes' service; our code.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/proto/vmexec.h"

int
main(int argc, char **argv)
{
	char **cmd;
	int r;

	if (argc != 2) {
		(void)fprintf(stderr,
		    "usage: qubes-vmexec ENCODED-COMMAND\n"
		    "(the argument of qubes.VMExec+ARG)\n");
		return 2;
	}
	r = proto_vmexec_decode(argv[1], &cmd);
	if (r < 0) {
		(void)fprintf(stderr, "qubes-vmexec: %s\n",
		    r == -EINVAL ? "not a valid encoded command" :
		                   strerror(-r));
		return 1;
	}
	execvp(cmd[0], cmd);
	(void)fprintf(
	    stderr, "qubes-vmexec: %s: %s\n", cmd[0], strerror(errno));
	return 127;
}
