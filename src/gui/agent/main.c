/*
 * main.c - bulkhead-gui-agent (issue #8): options, the runtime directory,
 * and the event loop.
 *
 * Runs inside a qube as the qube's user.  Untrusted input: none here (the
 * command line is the qube's own); the GUI socket and Wayland clients are
 * handled in conn.c and wl.c.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "lib/log.h"
#include "lib/util.h"

#define PROG               "bulkhead-gui-agent"
#define DEFAULT_GUI_SOCKET "/run/qubes-vchan/vchan.0.0.6000.sock"
#define DEFAULT_WL_SOCKET  "wayland-0"
#define MAX_POOL_MIB       (GUI_POOL_MAX >> 20)

static const char *arg_gui_socket = DEFAULT_GUI_SOCKET;
static const char *arg_wl_socket = DEFAULT_WL_SOCKET;
static uint32_t arg_pool_mib = 64;
static int arg_pool_fd = -1;
static uint32_t arg_screen_w = 1024, arg_screen_h = 768;
static int arg_debug;
static uint32_t arg_max_updates = AGENT_UPDATE_RATE;

static void
usage(FILE *f)
{
	fprintf(f,
	    "Usage: " PROG " [-d] [--gui-socket PATH] [--wayland-socket NAME]\n"
	    "       [--pool-mib N | --pool-fd N] [--screen WxH]\n"
	    "       [--max-updates N]\n"
	    "\n"
	    "The GUI agent of a qube: a small Wayland compositor whose\n"
	    "windows are shown by the GUI domain.  It listens on a UNIX\n"
	    "socket to which the GUI domain connects (one connection at a\n"
	    "time), copies each window's pixels into one sealed shared-memory\n"
	    "pool and passes keyboard, pointer and clipboard events back to\n"
	    "its Wayland clients.  Clients keep running while no GUI domain\n"
	    "is connected; a new connection is shown every window.\n"
	    "\n"
	    "Options:\n"
	    "  --gui-socket PATH      the socket to listen on\n"
	    "                         (default " DEFAULT_GUI_SOCKET ")\n"
	    "  --wayland-socket NAME  the Wayland socket, in $XDG_RUNTIME_DIR\n"
	    "                         (default " DEFAULT_WL_SOCKET
	    "); without\n"
	    "                         XDG_RUNTIME_DIR, /run/user/UID (made 0700)\n"
	    "  --pool-fd N            the pool is the memory behind fd N (a VM\n"
	    "                         qube's shared-memory device, which the\n"
	    "                         admin side hands to the GUI domain):\n"
	    "                         no pool is made or sent\n"
	    "  --pool-mib N           size of the window pool in MiB, 1..%u\n"
	    "                         (default 64); a window that does not fit\n"
	    "                         is not shown\n"
	    "  --screen WxH           screen size told to clients until the GUI\n"
	    "                         domain sends its own (default 1024x768)\n"
	    "  --max-updates N        messages a second, at most (1..%u, the\n"
	    "                         default; with a burst of N/15): window\n"
	    "                         updates and titles over it are merged and\n"
	    "                         sent late (the window's frame callbacks\n"
	    "                         wait), other messages wait (the agent\n"
	    "                         pauses), so the GUI domain's limit of %u\n"
	    "                         messages a second is never reached\n"
	    "  -d, --debug            log to stderr, with debug messages\n"
	    "  -h, --help             show this help\n"
	    "\n"
	    "Exit status: 0 after SIGTERM or SIGINT, 1 on a failure to start,\n"
	    "2 on a usage error.\n",
	    (unsigned)MAX_POOL_MIB, (unsigned)AGENT_UPDATE_RATE,
	    (unsigned)GUI_MAX_MSGS_PER_SEC);
}

static int
parse_size(const char *s, uint32_t *ret_w, uint32_t *ret_h)
{
	char buf[32], *x;

	if (str_copy(buf, sizeof(buf), s) < 0)
		return -EINVAL;
	x = strchr(buf, 'x');
	if (x == NULL)
		return -EINVAL;
	*x = '\0';
	if (parse_u32(buf, GUI_MAX_WIDTH, ret_w) < 0 ||
	    parse_u32(x + 1, GUI_MAX_HEIGHT, ret_h) < 0 || *ret_w == 0 ||
	    *ret_h == 0)
		return -EINVAL;
	return 0;
}

static int
runtime_dir(void)
{
	char dir[64];
	const char *d = getenv("XDG_RUNTIME_DIR");
	struct stat st;

	if (d != NULL && d[0] != '\0') {
		if (stat(d, &st) < 0 || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, PROG ": XDG_RUNTIME_DIR %s: %s\n", d,
			    strerror(errno ? errno : ENOTDIR));
			return -1;
		}
		return 0;
	}
	(void)snprintf(dir, sizeof(dir), "/run/user/%u", (unsigned)getuid());
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, PROG ": %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (setenv("XDG_RUNTIME_DIR", dir, 1) < 0)
		return -1;
	return 0;
}

static int
on_signal(int sig, void *data)
{
	struct agent *ag = data;

	log_info("signal %d, stopping", sig);
	wl_display_terminate(ag->display);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"gui-socket", required_argument, NULL, 'g'},
	    {"wayland-socket", required_argument, NULL, 'w'},
	    {"pool-mib", required_argument, NULL, 'p'},
	    {"pool-fd", required_argument, NULL, 'f'},
	    {"screen", required_argument, NULL, 's'},
	    {"max-updates", required_argument, NULL, 'u'},
	    {"debug", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct wl_event_source *sigs[2];
	struct agent *ag;
	int c, r, ret = 1;

	while ((c = getopt_long(argc, argv, "dh", opts, NULL)) != -1) {
		switch (c) {
		case 'g':
			arg_gui_socket = optarg;
			break;
		case 'w':
			arg_wl_socket = optarg;
			if (strchr(optarg, '/') != NULL || optarg[0] == '\0') {
				fprintf(stderr,
				    PROG ": --wayland-socket: a name, not a "
				         "path\n");
				return 2;
			}
			break;
		case 'p':
			if (parse_u32(optarg, MAX_POOL_MIB, &arg_pool_mib) <
			        0 ||
			    arg_pool_mib == 0) {
				fprintf(stderr, PROG ": --pool-mib: 1..%u\n",
				    (unsigned)MAX_POOL_MIB);
				return 2;
			}
			break;
		case 'f': {
			uint32_t v;

			if (parse_u32(optarg, 1024, &v) < 0 || v < 3) {
				fprintf(stderr, PROG ": --pool-fd: 3..1024\n");
				return 2;
			}
			arg_pool_fd = (int)v;
			break;
		}
		case 's':
			if (parse_size(optarg, &arg_screen_w, &arg_screen_h) <
			    0) {
				fprintf(stderr, PROG ": --screen: WxH\n");
				return 2;
			}
			break;
		case 'u':
			if (parse_u32(optarg, AGENT_UPDATE_RATE,
			        &arg_max_updates) < 0 ||
			    arg_max_updates == 0) {
				fprintf(stderr, PROG ": --max-updates: 1..%u\n",
				    (unsigned)AGENT_UPDATE_RATE);
				return 2;
			}
			break;
		case 'd':
			arg_debug = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("gui-agent", arg_debug);
	if (arg_debug)
		log_set_level(LOG_LEVEL_DEBUG);
	log_level_from_env();
	if (runtime_dir() < 0)
		return 1;
	/* A client that closes its end of a clipboard pipe must not kill
	 * us; every write checks its result instead. */
	(void)signal(SIGPIPE, SIG_IGN);

	ag = calloc(1, sizeof(*ag));
	if (ag == NULL)
		fatalx("out of memory");
	ag->listen_fd = -1;
	ag->gui_fd = -1;
	ag->out_fd_at = -1;
	ag->screen_w = arg_screen_w;
	ag->screen_h = arg_screen_h;
	ag->update_rate = arg_max_updates;
	if (arg_pool_fd >= 0) {
		r = pool_init_external(&ag->pool, arg_pool_fd);
		(void)close(arg_pool_fd);
	} else {
		r = pool_init(&ag->pool, (size_t)arg_pool_mib << 20);
	}
	if (r < 0) {
		errno = -r;
		log_warn("pool of %u MiB", arg_pool_mib);
		goto out_free;
	}
	r = wl_init(ag, arg_wl_socket);
	if (r < 0)
		goto out_wl;
	r = conn_listen(ag, arg_gui_socket);
	if (r < 0) {
		errno = -r;
		log_warn("gui socket %s", arg_gui_socket);
		goto out_wl;
	}
	sigs[0] = wl_event_loop_add_signal(ag->loop, SIGTERM, on_signal, ag);
	sigs[1] = wl_event_loop_add_signal(ag->loop, SIGINT, on_signal, ag);
	if (sigs[0] == NULL || sigs[1] == NULL)
		fatalx("signal sources");
	log_info("listening on %s, wayland socket %s/%s, pool %u MiB",
	    arg_gui_socket, getenv("XDG_RUNTIME_DIR"), arg_wl_socket,
	    arg_pool_mib);
	wl_display_run(ag->display);
	wl_event_source_remove(sigs[0]);
	wl_event_source_remove(sigs[1]);
	ret = 0;
	conn_fini(ag);
	(void)unlink(arg_gui_socket);
out_wl:
	if (ag->listen_fd >= 0)
		conn_fini(ag);
	wl_fini(ag);
	pool_fini(&ag->pool);
out_free:
	free(ag);
	return ret;
}
