/*
 * main.c - bulkhead-guid, the GUI domain (issue #8): options, the roles.
 *
 * Started as root (the usual way: the qubes' GUI sockets are root's), it
 * forks: the parent stays the connector (root, reads no qube byte), the
 * child drops to the GUI domain's user (--user, default "nobody") and
 * becomes the core, which starts one validator a qube by running this
 * program again with --validator.  Started as another user, all of it
 * runs as that user (static qubes only: the channel directories are
 * root's).
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "gui/guid/connector.h"
#include "gui/guid/core.h"
#include "gui/guid/validator.h"
#include "lib/log.h"
#include "lib/sock.h"
#include "lib/util.h"

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: bulkhead-guid [OPTION]...\n"
	    "The GUI domain: shows the windows of running qubes, each framed "
	    "in its qube's\nlabel colour with the qube's name, drawn here and "
	    "never by the qube.\n"
	    "\n"
	    "Outputs (at least one):\n"
	    "  --vnc[=PORT]             a desktop served over VNC (default "
	    "port 5900)\n"
	    "  --vnc-listen ADDR        the VNC address (default 127.0.0.1; "
	    "VNC's own\n"
	    "                           authentication is weak: reach it "
	    "through SSH)\n"
	    "  --http-dir DIR           serve the files of DIR (noVNC, the "
	    "browser viewer)\n"
	    "  --http-port PORT         ... on this port (default 5800)\n"
	    "  --x11[=DISPLAY]          one X window a qube window on an X "
	    "server\n"
	    "                           (default $DISPLAY)\n"
	    "\n"
	    "Which qubes:\n"
	    "  --name NAME              this GUI domain's name: running qubes "
	    "whose guivm\n"
	    "                           is NAME are shown (default dom0)\n"
	    "  --admin-socket PATH      bulkheadd's socket (default "
	    "RUN/qubesd.sock,\n"
	    "                           or $BULKHEAD_ADMIN_SOCKET)\n"
	    "  --run-dir DIR            bulkhead's runtime directory (default "
	    "$BULKHEAD_RUN_DIR\n"
	    "                           or " BULKHEAD_RUN_DIR ")\n"
	    "  --static NAME:COLOR:SOCKET[:POOLFILE]  show the qube whose agent "
	    "listens\n"
	    "                           on SOCKET, framed in COLOR (0xRRGGBB), "
	    "without\n"
	    "                           bulkheadd (tests, benchmarks); POOLFILE "
	    "names its\n"
	    "                           pool as a VM's launcher does (\"PID FD "
	    "BYTES\");\n"
	    "                           repeatable (up to 64)\n"
	    "  --max-qubes N            show at most N qubes at once (1..256, "
	    "default\n"
	    "                           256); more wait until one stops\n"
	    "\n"
	    "The GUI domain:\n"
	    "  --screen WxH             the screen size (default 1280x800)\n"
	    "  --user USER              run the GUI domain as USER when started "
	    "as root\n"
	    "                           (default nobody)\n"
	    "  --policy-dir DIR         policy for qubes.ClipboardPaste "
	    "(default\n"
	    "                           " BULKHEAD_CONF_DIR "/policy.d)\n"
	    "  --ask[=PATH]             answer qrexec \"ask\" questions in a "
	    "window of the GUI\n"
	    "                           domain: listen for the policy daemon "
	    "on PATH\n"
	    "                           (default RUN/policy-agent.sock, where "
	    "bulkheadd's\n"
	    "                           policy daemon asks)\n"
	    "  --prompt-delay MS        how long a question is shown before "
	    "its Allow\n"
	    "                           takes effect (0..60000, default 1000: "
	    "a Return\n"
	    "                           typed just before it appeared is not "
	    "an answer)\n"
	    "  --policy-user USER       the policy daemon's user, whose group "
	    "may reach\n"
	    "                           the --ask socket (default " BULKHEAD_POLICY_USER
	    "\n"
	    "                           if it exists, as for bulkheadd; "
	    "else root only)\n"
	    "  --clipboard-limit N      largest clipboard, bytes (256..256000, "
	    "default 64000)\n"
	    "  --allow-utf8-titles      UTF-8 window titles (default: ASCII "
	    "only)\n"
	    "  -d, --debug              log to stderr, with debug messages\n"
	    "  -h, --help               this text\n"
	    "\n"
	    "Keys: Ctrl-Shift-C copies the focused qube's clipboard into the "
	    "GUI domain's;\nCtrl-Shift-V pastes it into the focused qube if the "
	    "policy allows\nqubes.ClipboardPaste, then empties it.  A qube gets "
	    "keys only while one of\nits windows has the focus; it cannot take "
	    "the focus.\n"
	    "\n"
	    "Exit status: 0 stopped, 1 failure, 2 usage.\n");
}

enum {
	O_VNC = 256,
	O_VNC_LISTEN,
	O_HTTP_DIR,
	O_HTTP_PORT,
	O_X11,
	O_NAME,
	O_ADMIN,
	O_RUN,
	O_STATIC,
	O_SCREEN,
	O_USER,
	O_POLICY,
	O_CLIP,
	O_UTF8,
	O_VALIDATOR,
	O_QUBE,
	O_ASK,
	O_POLICY_USER,
	O_PROMPT_DELAY,
	O_POOL_FD,
	O_MAX_QUBES,
};

static int
parse_static(const char *s, struct gd_static_qube *ret)
{
	const char *c1 = strchr(s, ':'), *c2, *c3;
	char color[16];
	size_t n;

	if (c1 == NULL || (c2 = strchr(c1 + 1, ':')) == NULL)
		return -EINVAL;
	n = (size_t)(c1 - s);
	if (n == 0 || n >= sizeof(ret->name) ||
	    (size_t)(c2 - c1 - 1) >= sizeof(color))
		return -EINVAL;
	memcpy(ret->name, s, n);
	ret->name[n] = '\0';
	memcpy(color, c1 + 1, (size_t)(c2 - c1 - 1));
	color[c2 - c1 - 1] = '\0';
	if (strncmp(color, "0x", 2) != 0 || strlen(color) != 8 ||
	    strspn(color + 2, "0123456789abcdefABCDEF") != 6)
		return -EINVAL;
	ret->label_rgb = (uint32_t)strtoul(color, NULL, 16);
	/* SOCKET[:POOLFILE] */
	c3 = strchr(c2 + 1, ':');
	if (c3 == NULL)
		return str_copy(ret->socket, sizeof(ret->socket), c2 + 1);
	n = (size_t)(c3 - c2 - 1);
	if (n == 0 || n >= sizeof(ret->socket))
		return -EINVAL;
	memcpy(ret->socket, c2 + 1, n);
	ret->socket[n] = '\0';
	return str_copy(ret->pool_file, sizeof(ret->pool_file), c3 + 1);
}

static int
drop_to(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL)
		return -ENOENT;
	if (setgroups(0, NULL) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return -errno;
	if (setuid(0) == 0)
		return -EPERM; /* the drop did not hold */
	return 0;
}

/*
 * The policy daemon's user (bulkhead_policy_user; gid, or -1 for root)
 * gets the ask socket through its group (0660), nobody else.  0, or 1 on
 * a failure.
 */
static int
ask_socket_group(const char *path, gid_t gid)
{
	if (gid == (gid_t)-1)
		return 0;
	if (geteuid() != 0) {
		/* only root may give the socket away: it stays ours */
		log_warnx("%s: not root, so the policy daemon's group cannot "
		          "reach it",
		    path);
		return 0;
	}
	if (chown(path, 0, gid) < 0 || chmod(path, 0660) < 0) {
		(void)fprintf(
		    stderr, "bulkhead-guid: %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"vnc", optional_argument, NULL, O_VNC},
	    {"vnc-listen", required_argument, NULL, O_VNC_LISTEN},
	    {"http-dir", required_argument, NULL, O_HTTP_DIR},
	    {"http-port", required_argument, NULL, O_HTTP_PORT},
	    {"x11", optional_argument, NULL, O_X11},
	    {"name", required_argument, NULL, O_NAME},
	    {"admin-socket", required_argument, NULL, O_ADMIN},
	    {"run-dir", required_argument, NULL, O_RUN},
	    {"static", required_argument, NULL, O_STATIC},
	    {"screen", required_argument, NULL, O_SCREEN},
	    {"user", required_argument, NULL, O_USER},
	    {"policy-dir", required_argument, NULL, O_POLICY},
	    {"clipboard-limit", required_argument, NULL, O_CLIP},
	    {"allow-utf8-titles", no_argument, NULL, O_UTF8},
	    {"validator", no_argument, NULL, O_VALIDATOR},
	    {"qube", required_argument, NULL, O_QUBE},
	    {"ask", optional_argument, NULL, O_ASK},
	    {"policy-user", required_argument, NULL, O_POLICY_USER},
	    {"prompt-delay", required_argument, NULL, O_PROMPT_DELAY},
	    {"pool-fd", required_argument, NULL, O_POOL_FD},
	    {"max-qubes", required_argument, NULL, O_MAX_QUBES},
	    {"debug", no_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	static struct gd_connector_opts co;
	struct gd_core_opts go;
	const char *user = "nobody", *qube = NULL;
	char admin[PATH_MAX], run[PATH_MAX], policy[PATH_MAX], exe[PATH_MAX];
	char ask[PATH_MAX];
	bool want_ask = false;
	const char *policy_user = NULL;
	gid_t policy_gid = (gid_t)-1;
	int pool_fd = -1;
	char err[512];
	bool validator = false, debug = false, have_admin = false;
	int sp[2], c, r;
	uint32_t u;
	struct gd *g;
	pid_t pid;
	ssize_t n;

	memset(&go, 0, sizeof(go));
	go.ask_fd = -1;
	go.prompt_delay_ms = 1000;
	ask[0] = '\0';
	go.width = 1280;
	go.height = 800;
	go.clipboard_limit = GUI_CLIPBOARD_DEFAULT;
	go.out.vnc_listen = "127.0.0.1";
	go.out.vnc_port = 5900;
	co.name = "dom0";
	co.max_qubes = GD_MAX_QUBES;
	(void)str_copy(run, sizeof(run), bulkhead_run_dir());
	admin[0] = policy[0] = '\0';
	while ((c = getopt_long(argc, argv, "dh", longopts, NULL)) != -1) {
		switch (c) {
		case O_VNC:
			go.vnc = true;
			if (optarg != NULL &&
			    (parse_u32(optarg, 65535, &u) < 0 || u == 0))
				goto bad;
			if (optarg != NULL)
				go.out.vnc_port = (int)u;
			break;
		case O_VNC_LISTEN:
			go.out.vnc_listen = optarg;
			break;
		case O_HTTP_DIR:
			go.out.vnc_http_dir = optarg;
			if (go.out.vnc_ws_port == 0)
				go.out.vnc_ws_port = 5800;
			break;
		case O_HTTP_PORT:
			if (parse_u32(optarg, 65535, &u) < 0 || u == 0)
				goto bad;
			go.out.vnc_ws_port = (int)u;
			break;
		case O_X11:
			go.x11 = true;
			go.out.x11_display = optarg;
			break;
		case O_NAME:
			co.name = optarg;
			break;
		case O_ADMIN:
			if (str_copy(admin, sizeof(admin), optarg) < 0)
				goto bad;
			have_admin = true;
			break;
		case O_RUN:
			if (str_copy(run, sizeof(run), optarg) < 0)
				goto bad;
			break;
		case O_STATIC:
			if (co.nstatic >= GD_MAX_STATIC ||
			    parse_static(optarg, &co.statics[co.nstatic]) < 0) {
				(void)fprintf(stderr,
				    "bulkhead-guid: --static %s: want "
				    "NAME:0xRRGGBB:SOCKET[:POOLFILE]\n",
				    optarg);
				return 2;
			}
			co.nstatic++;
			break;
		case O_SCREEN:
			if (sscanf(optarg, "%ux%u", &go.width, &go.height) !=
			        2 ||
			    go.width < 64 || go.height < 64 ||
			    go.width > GUI_MAX_WIDTH ||
			    go.height > GUI_MAX_HEIGHT || go.width % 8 != 0)
				goto bad;
			break;
		case O_USER:
			user = optarg;
			break;
		case O_POLICY:
			if (str_copy(policy, sizeof(policy), optarg) < 0)
				goto bad;
			break;
		case O_CLIP:
			if (parse_u32(optarg, GUI_CLIPBOARD_MAX, &u) < 0 ||
			    u < GUI_CLIPBOARD_MIN)
				goto bad;
			go.clipboard_limit = u;
			break;
		case O_UTF8:
			go.allow_utf8_titles = true;
			break;
		case O_MAX_QUBES:
			if (parse_u32(optarg, GD_MAX_QUBES, &u) < 0 || u == 0)
				goto bad;
			co.max_qubes = (int)u;
			break;
		case O_VALIDATOR:
			validator = true;
			break;
		case O_QUBE:
			qube = optarg;
			break;
		case O_POOL_FD:
			/* the validator's: the core puts a VM's pool at 5 */
			if (parse_u32(optarg, 5, &u) < 0 || u != 5)
				goto bad;
			pool_fd = 5;
			break;
		case O_POLICY_USER:
			policy_user = optarg;
			break;
		case O_PROMPT_DELAY:
			if (parse_u32(optarg, 60000, &u) < 0)
				goto bad;
			go.prompt_delay_ms = u;
			break;
		case O_ASK:
			want_ask = true;
			ask[0] = '\0';
			if (optarg != NULL &&
			    str_copy(ask, sizeof(ask), optarg) < 0)
				goto bad;
			break;
		case 'd':
			debug = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc)
		goto bad;
	{
		char pname[64];
		uid_t puid;

		r = bulkhead_policy_user(
		    policy_user, pname, sizeof(pname), &puid, &policy_gid);
		if (r < 0 && policy_user != NULL) {
			(void)fprintf(stderr,
			    "bulkhead-guid: --policy-user %s: %s\n",
			    policy_user,
			    r == -ENOENT ? "no such user" : strerror(-r));
			return 2;
		}
		if (r <= 0)
			policy_gid = (gid_t)-1; /* root (or none): 0600 */
	}
	log_init(
	    validator ? "bulkhead-guid[validator]" : "bulkhead-guid", debug);
	if (debug)
		log_set_level(LOG_LEVEL_DEBUG);
	if (validator) {
		struct gd_validator_opts vo = {qube ? qube : "?", 3, 4,
		    go.clipboard_limit, go.allow_utf8_titles, pool_fd};

		log_set_qube(vo.qube);
		r = gd_validator_run(&vo);
		/* _exit: the allowlist forbids what exit handlers may do */
		(void)fflush(NULL);
		_exit(r < 0 ? 1 : 0);
	}
	if (!go.vnc && !go.x11) {
		(void)fprintf(
		    stderr, "bulkhead-guid: no output: give --vnc or --x11\n");
		return 2;
	}
	if (!have_admin && co.nstatic == 0) {
		const char *e = getenv("BULKHEAD_ADMIN_SOCKET");

		if (e != NULL && e[0] != '\0')
			r = str_copy(admin, sizeof(admin), e);
		else
			r = str_printf(
			    admin, sizeof(admin), "%s/qubesd.sock", run);
		if (r < 0)
			goto bad;
		have_admin = true;
	}
	co.admin_socket = have_admin ? admin : NULL;
	co.run_dir = run;
	if (policy[0] == '\0' &&
	    str_printf(policy, sizeof(policy), "%s/policy.d",
	        getenv("BULKHEAD_CONF_DIR") ? getenv("BULKHEAD_CONF_DIR") :
	                                      BULKHEAD_CONF_DIR) < 0)
		goto bad;
	co.policy_dir = policy;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		log_warn("/proc/self/exe");
		return 1;
	}
	exe[n] = '\0';
	go.exe = exe;
	go.debug = debug;
	if (want_ask) {
		/* made as root: the policy daemon (root) connects to it */
		if (ask[0] == '\0' &&
		    str_printf(ask, sizeof(ask), "%s/policy-agent.sock", run) <
		        0)
			goto bad;
		go.ask_fd = sock_listen(ask, 0600, true, NULL);
		if (go.ask_fd < 0) {
			(void)fprintf(stderr, "bulkhead-guid: %s: %s\n", ask,
			    strerror(-go.ask_fd));
			return 1;
		}
		if ((r = ask_socket_group(ask, policy_gid)) != 0)
			return r;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		log_warn("socketpair");
		return 1;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	pid = fork();
	if (pid < 0) {
		log_warn("fork");
		return 1;
	}
	if (pid == 0) {
		(void)close(sp[0]);
		/* The X server is reached before the drop: its cookie
		 * ($XAUTHORITY, a file of the desktop's user) is rarely
		 * readable by --user, and the connection is all the core
		 * needs of it. */
		if (go.x11 &&
		    gd_output_x11_connect(go.out.x11_display, &go.out.x11_conn,
		        &go.out.x11_screen, err, sizeof(err)) < 0) {
			log_warnx("%s", err);
			(void)fprintf(stderr, "bulkhead-guid: %s\n", err);
			_exit(1);
		}
		if (geteuid() == 0 && (r = drop_to(user)) < 0) {
			log_warnx("cannot become %s: %s", user, strerror(-r));
			_exit(1);
		}
		go.connector_fd = sp[1];
		r = gd_new(&go, &g, err, sizeof(err));
		if (r < 0) {
			log_warnx("%s", err);
			(void)fprintf(stderr, "bulkhead-guid: %s\n", err);
			_exit(1);
		}
		log_info("GUI domain up: %ux%u%s%s", go.width, go.height,
		    go.vnc ? ", VNC" : "", go.x11 ? ", X11" : "");
		r = gd_run(g);
		gd_free(g);
		_exit(r < 0 ? 1 : 0);
	}
	(void)close(sp[1]);
	close_fd(&go.ask_fd);
	co.core_fd = sp[0];
	co.core = pid;
	return gd_connector_run(&co);
bad:
	(void)fprintf(
	    stderr, "bulkhead-guid: invalid arguments (see --help)\n");
	return 2;
}
