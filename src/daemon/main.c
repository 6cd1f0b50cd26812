/*
 * main.c - bulkheadd (PROC_BULKHEADD): the admin daemon.
 *
 * Runs as root on the admin side.  Creates its directories, opens the
 * database, serves the Admin API (api.c), adopts qubes that survived a
 * restart (qubes.c), starts the policy daemon and the autostart qubes, and
 * runs until SIGTERM/SIGINT.  Qubes keep running when bulkheadd stops; a
 * new bulkheadd adopts them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "daemon/bulkheadd.h"
#include "lib/cgroup.h"
#include "lib/log.h"
#include "lib/util.h"

int find_program(struct daemon *d, const char *name, char *out, size_t n);

static struct daemon daemon_state;

static void
usage(FILE *f, int code)
{
	(void)fprintf(f,
	    "usage: bulkheadd [options]\n"
	    "\n"
	    "The admin daemon of bulkhead: it owns the qube database, serves\n"
	    "the Admin API (qubesd's protocol) to the qvm-* tools and, through\n"
	    "qrexec admin.* calls under policy, to qubes; it starts and stops\n"
	    "qubes through a backend and supervises their qrexec daemons and\n"
	    "the policy daemon.  It runs in the foreground unless --daemon.\n"
	    "\n"
	    "Options:\n"
	    "  --state-dir DIR        database and qube files (default %s)\n"
	    "  --socket PATH          Admin API socket (default "
	    "RUN/qubesd.sock)\n"
	    "  --internal-socket PATH internal.GetSystemInfo for the policy\n"
	    "                         daemon (default RUN/qubesd.internal."
	    "sock)\n"
	    "  --run-dir DIR          runtime directory (default %s)\n"
	    "  --conf-dir DIR         configuration and policy (default %s)\n"
	    "  --backend NAME         how qubes run: sandbox (namespaces, the\n"
	    "                         default), process (plain processes, no\n"
	    "                         isolation: for tests) or none\n"
	    "  --no-policy-daemon     do not start qrexec-policy-daemon\n"
	    "  --policy-user USER     the user qrexec-policy-daemon runs as\n"
	    "                         (default " BULKHEAD_POLICY_USER
	    " if that user\n"
	    "                         exists, else root, with a warning);\n"
	    "                         root keeps it root without one\n"
	    "  --qrexec-user USER     the user of each qube's qrexec-daemon's\n"
	    "                         worker, which reads the qube's channel\n"
	    "                         (default: an id of the qube's own)\n"
	    "  --id-registry DIR      the host-wide registry of qids, shared\n"
	    "                         by every bulkheadd of the host, so that\n"
	    "                         no two qubes get the same host ids\n"
	    "                         (default $BULKHEAD_ID_REGISTRY, else\n"
	    "                         " IDCLAIM_DEFAULT_REGISTRY ")\n"
	    "  --daemon               detach once ready (the parent exits 0\n"
	    "                         then, 1 if start-up failed); log to\n"
	    "                         STATE/log/bulkheadd.log\n"
	    "  -d, --debug            debug logging\n"
	    "  -h, --help             show this help\n"
	    "\n"
	    "Environment: BULKHEAD_BIN_DIR (where its helper programs are),\n"
	    "BULKHEAD_PROCESS_USER (the user of process-backend qubes),\n"
	    "BULKHEAD_ID_REGISTRY (--id-registry), BULKHEAD_SUBID_FILES\n"
	    "(the host users' subordinate ids, default "
	    "/etc/subuid:/etc/subgid),\n"
	    "BULKHEAD_LOG_LEVEL.\n"
	    "\n"
	    "One bulkheadd a state directory: STATE/bulkheadd.lock holds the\n"
	    "running one's pid.\n"
	    "\n"
	    "Exit status: 0 after SIGTERM or SIGINT, 1 on a fatal error (or\n"
	    "another bulkheadd using the state directory), 2 on bad usage.\n",
	    BULKHEAD_STATE_DIR, BULKHEAD_RUN_DIR, BULKHEAD_CONF_DIR);
	exit(code);
}

/*
 * One daemon a state directory: a second one would serve the same
 * database and fight over the same qubes.  The lock lives as long as the
 * process; the file holds its pid for people and scripts.
 */
static void
lock_state(const struct daemon_config *cfg)
{
	char path[PATH_MAX], pid[32] = "";
	ssize_t n;
	int fd;

	if (str_printf(
	        path, sizeof(path), "%s/bulkheadd.lock", cfg->state_dir) < 0)
		fatalx("state directory path too long");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		fatal("%s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			fatal("locking %s", path);
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		fatalx("another bulkheadd%s%s%s is using %s",
		    pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "",
		    cfg->state_dir);
	}
	(void)snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
		log_warn("%s", path);
	/* fd stays open (and locked) until we exit */
}

/*
 * --daemon: the parent waits until the child is serving (or has died), so
 * that "bulkheadd --daemon && qvm-ls" works.  Returns the fd to write the
 * "ready" byte to, in the child.
 */
static int
detach(void)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		fatal("pipe");
	pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid > 0) {
		(void)close(p[1]);
		if (read(p[0], &c, 1) == 1)
			_exit(0);
		(void)fprintf(stderr,
		    "bulkheadd: start-up failed (see the "
		    "messages above or the log)\n");
		_exit(1);
	}
	(void)close(p[0]);
	(void)setsid();
	return p[1];
}

/* Detached: stdin from /dev/null, stdout and stderr to our log file. */
static void
redirect_output(const struct daemon_config *cfg)
{
	char path[PATH_MAX];
	int fd;

	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)dup2(fd, STDIN_FILENO);
		(void)close(fd);
	}
	if (str_printf(
	        path, sizeof(path), "%s/log/bulkheadd.log", cfg->state_dir) < 0)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_warn("%s", path);
		return;
	}
	(void)dup2(fd, STDOUT_FILENO);
	(void)dup2(fd, STDERR_FILENO);
	(void)close(fd);
}

static void
on_signal(void *arg, int fd, short revents)
{
	struct daemon *d = arg;
	struct signalfd_siginfo si;

	(void)revents;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			int status;

			/* pidfds tell us who; this only collects zombies */
			while (waitpid(-1, &status, WNOHANG) > 0)
				;
			continue;
		}
		log_info("signal %d: stopping (qubes keep running)",
		    (int)si.ssi_signo);
		loop_quit(&d->loop);
	}
}

/*
 * The qubes' cgroups are made below ours (cgroup.h).  With cgroup v2 only:
 * out of their way first, then their controllers; what fails is said (the
 * qubes then run without those limits), nothing is fatal.
 */
static void
prepare_qube_cgroups(void)
{
	int r = cgroup_v2_step_aside();

	if (r < 0)
		log_warnx("cgroup v2: cannot move into %s: %s", CGROUP_SELF,
		    strerror(-r));
	r = cgroup_v2_enable();
	if (r == -EBUSY)
		log_warnx("cgroup v2: cannot enable the memory, pids and cpu "
		          "controllers below bulkheadd's cgroup, which holds "
		          "processes: qubes will run without memory, process "
		          "and CPU limits; start bulkheadd in the root cgroup "
		          "(see docs/threat-model.md)");
	else if (r < 0)
		log_warnx("cgroup v2: cannot enable the memory, pids and cpu "
		          "controllers for the qubes (%s): qubes will run "
		          "without memory, process and CPU limits",
		    strerror(-r));
}

/*
 * Who qrexec-policy-daemon runs as (bulkhead_policy_user): 0, or 2 for a
 * --policy-user that names no user.  Without the default user it stays
 * root, and that is said.
 */
static int
policy_user_set(struct daemon_config *cfg, const char *user)
{
	int r = bulkhead_policy_user(user, cfg->policy_user,
	    sizeof(cfg->policy_user), &cfg->policy_uid, &cfg->policy_gid);

	if (r >= 0)
		return 0;
	if (user != NULL || r != -ENOENT) {
		(void)fprintf(stderr, "bulkheadd: --policy-user %s: %s\n",
		    user != NULL ? user : BULKHEAD_POLICY_USER,
		    r == -ENOENT ? "no such user" : strerror(-r));
		return 2;
	}
	if (cfg->start_policy_daemon)
		log_warnx(
		    "qrexec-policy-daemon runs as root: there is no user "
		    "%s (make it with: useradd --system --no-create-home "
		    "--home-dir /nonexistent --shell /usr/sbin/nologin %s; "
		    "or --policy-user root)",
		    BULKHEAD_POLICY_USER, BULKHEAD_POLICY_USER);
	return 0;
}

/*
 * The user of the qrexec-daemons' workers: --qrexec-user (0, or 2 if it
 * names no user or root: the worker reads what a qube sends), else ""
 * (each qube's worker gets an id of its own).
 */
static int
qrexec_user_set(struct daemon_config *cfg, const char *user)
{
	uid_t uid;
	gid_t gid;
	int r;

	if (user == NULL)
		return 0;
	r = bulkhead_service_user(
	    user, NULL, cfg->qrexec_user, sizeof(cfg->qrexec_user), &uid, &gid);
	if (r > 0)
		return 0;
	(void)fprintf(stderr, "bulkheadd: --qrexec-user %s: %s\n", user,
	    r == 0           ? "not root: it reads what a qube sends" :
	        r == -ENOENT ? "no such user" :
	                       strerror(-r));
	return 2;
}

static int
mkdirs(struct daemon *d)
{
	char p[PATH_MAX];
	const char *sub[] = {
	    "qrexec", "vchan", "qubes", "policy.d", "qubes-rpc-dom0"};
	size_t i;

	if (mkdir(d->cfg.state_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (str_printf(p, sizeof(p), "%s/qubes", d->cfg.state_dir) < 0 ||
	    (mkdir(p, 0700) < 0 && errno != EEXIST))
		return -errno;
	if (str_printf(p, sizeof(p), "%s/log", d->cfg.state_dir) < 0 ||
	    (mkdir(p, 0750) < 0 && errno != EEXIST))
		return -errno;
	if (mkdir(d->cfg.run_dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	/* an empty policy directory denies everything, which is safe; a
	 * missing one would be a policy error */
	if (str_printf(p, sizeof(p), "%s/policy.d", d->cfg.conf_dir) == 0 &&
	    (mkdir(d->cfg.conf_dir, 0755) == 0 || errno == EEXIST))
		(void)mkdir(p, 0755);
	for (i = 0; i < ARRAY_SIZE(sub); i++) {
		if (str_printf(p, sizeof(p), "%s/%s", d->cfg.run_dir, sub[i]) <
		    0)
			return -ENAMETOOLONG;
		/*
		 * Qubes never see these, only their own vchan/<id>, bound
		 * into sandboxes; process-backend qubes reach theirs by
		 * path, so for them vchan/ may be traversed.
		 */
		if (strcmp(sub[i], "vchan") == 0) {
			mode_t m = d->backend == &backend_process ? 0711 : 0700;

			if ((mkdir(p, m) < 0 && errno != EEXIST) ||
			    chmod(p, m) < 0)
				return -errno;
		} else if (strcmp(sub[i], "qrexec") == 0) {
			/*
			 * The qrexec daemons' sockets (0666: Qubes' clients
			 * expect to connect) run commands in qubes: this
			 * directory is their gate, root's and the "bulkhead"
			 * group's (the Admin API's users) alone.
			 */
			struct group *g = getgrnam("bulkhead");

			if ((mkdir(p, 0750) < 0 && errno != EEXIST) ||
			    chown(p, 0, g ? g->gr_gid : 0) < 0 ||
			    chmod(p, g ? 0750 : 0700) < 0)
				return -errno;
		} else if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			return -errno;
		}
	}
	return 0;
}

/*
 * The admin.* qrexec services a qube may call (under policy): each is a
 * link to bulkhead-admin-service, which relays the call to our socket.
 */
static void
install_admin_services(struct daemon *d)
{
	static const char *const names[] = {"admin.vmclass.List",
	    "admin.vm.List", "admin.property.List", "admin.property.Get",
	    "admin.property.GetAll", "admin.property.GetDefault",
	    "admin.property.Help", "admin.property.Set", "admin.property.Reset",
	    "admin.vm.property.List", "admin.vm.property.Get",
	    "admin.vm.property.GetAll", "admin.vm.property.GetDefault",
	    "admin.vm.property.Help", "admin.vm.property.Set",
	    "admin.vm.property.Reset", "admin.vm.feature.List",
	    "admin.vm.feature.Get", "admin.vm.feature.CheckWithTemplate",
	    "admin.vm.feature.Set", "admin.vm.feature.Remove",
	    "admin.vm.tag.List", "admin.vm.tag.Get", "admin.vm.tag.Set",
	    "admin.vm.tag.Remove", "admin.label.List", "admin.label.Get",
	    "admin.label.Index", "admin.label.Create", "admin.label.Remove",
	    "admin.vm.Create.AppVM", "admin.vm.Create.TemplateVM",
	    "admin.vm.Create.StandaloneVM", "admin.vm.Create.DispVM",
	    "admin.vm.CreateDisposable", "admin.vm.Remove", "admin.vm.Start",
	    "admin.vm.Shutdown", "admin.vm.Pause", "admin.vm.Unpause",
	    "admin.vm.Kill", "admin.vm.CurrentState", "admin.Events",
	    "admin.vm.volume.List", "admin.vm.volume.Info",
	    "admin.vm.volume.ListSnapshots", "admin.vm.volume.CloneFrom",
	    "admin.vm.volume.CloneTo", "admin.vm.notes.Get",
	    "admin.vm.notes.Set", "admin.vm.firewall.Get",
	    "admin.vm.firewall.Set", "admin.vm.firewall.Reload"};
	char prog[PATH_MAX];
	size_t i;

	if (find_program(d, "bulkhead-admin-service", prog, sizeof(prog)) < 0) {
		log_warnx("bulkhead-admin-service not found: qubes cannot use "
		          "the Admin API");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		char link[PATH_MAX];

		if (str_printf(link, sizeof(link), "%s/qubes-rpc-dom0/%s",
		        d->cfg.run_dir, names[i]) < 0)
			continue;
		(void)unlink(link);
		if (symlink(prog, link) < 0)
			log_warn("%s", link);
	}
}

/*
 * bulkhead's admin-side services (qubes.GetDate, ...), from the build tree
 * beside the programs or installed under libexec: linked into
 * RUN/qubes-rpc-dom0 (CONF/qubes-rpc-dom0, the admin's own, is looked up
 * first).
 */
static void
install_dom0_services(struct daemon *d)
{
	static const char *const rel[] = {
	    "/../qubes-rpc-dom0", "/../libexec/bulkhead/qubes-rpc-dom0"};
	static const char *const sys[] = {
	    "/usr/local/libexec/bulkhead/qubes-rpc-dom0",
	    "/usr/libexec/bulkhead/qubes-rpc-dom0"};
	char dir[PATH_MAX] = "", p[PATH_MAX];
	struct dirent *de;
	size_t i;
	DIR *dh;

	for (i = 0; i < ARRAY_SIZE(rel) && dir[0] == '\0'; i++)
		if (str_printf(p, sizeof(p), "%s%s", d->cfg.bin_dir, rel[i]) ==
		        0 &&
		    realpath(p, dir) == NULL)
			dir[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(sys) && dir[0] == '\0'; i++)
		if (access(sys[i], F_OK) == 0)
			(void)str_copy(dir, sizeof(dir), sys[i]);
	if (dir[0] == '\0' || (dh = opendir(dir)) == NULL) {
		log_warnx("bulkhead's admin-side services not found "
		          "(qubes.GetDate, ...)");
		return;
	}
	while ((de = readdir(dh)) != NULL) {
		char link[PATH_MAX], target[PATH_MAX];

		if (de->d_name[0] == '.' ||
		    str_printf(
		        target, sizeof(target), "%s/%s", dir, de->d_name) < 0 ||
		    access(target, X_OK) < 0 ||
		    str_printf(link, sizeof(link), "%s/qubes-rpc-dom0/%s",
		        d->cfg.run_dir, de->d_name) < 0)
			continue;
		(void)unlink(link);
		if (symlink(target, link) < 0)
			log_warn("%s", link);
	}
	(void)closedir(dh);
}

struct host_tpl {
	bool found;
	char name[MODEL_MAX_NAME + 1];
	struct daemon *d;
};

static int
find_host_template(const struct db_qube *q, void *arg)
{
	struct host_tpl *h = arg;
	char *v = NULL;

	if (db_kv_get(&h->d->db, DB_FEATURES, q->qid, "bulkhead.host-template",
	        &v) > 0 &&
	    strcmp(v, "1") == 0) {
		h->found = true;
		(void)str_copy(h->name, sizeof(h->name), q->name);
	}
	free(v);
	return 0;
}

/*
 * The embedded default template: made from the host's own files, so
 * qubes can run without any download.  Its /etc is rebuilt at every
 * start, so that it follows the host's updates.
 */
static void
ensure_host_template(struct daemon *d)
{
	struct host_tpl h = {false, "host", d};
	struct db_qube q;
	char *dt = NULL;
	int r;

	(void)db_qube_foreach(&d->db, find_host_template, &h);
	if (!h.found) {
		char uuid[40];

		if (db_qube_by_name(&d->db, "host", &q) == 0) {
			log_warnx("a qube named host exists: no host template");
			return;
		}
		memset(&q, 0, sizeof(q));
		(void)str_copy(q.name, sizeof(q.name), "host");
		(void)str_copy(q.klass, sizeof(q.klass), "TemplateVM");
		if (model_uuid(uuid) < 0)
			return;
		if ((r = qube_new_qid(d, uuid, &q.qid)) < 0) {
			log_warnx("cannot create the host template: no qid: %s",
			    strerror(-r));
			return;
		}
		if (db_begin(&d->db) < 0)
			return;
		(void)str_copy(q.uuid, sizeof(q.uuid), uuid);
		if (db_qube_add(&d->db, &q) < 0 ||
		    db_kv_set(&d->db, DB_PROPS, q.qid, "label", "black") < 0 ||
		    db_kv_set(&d->db, DB_FEATURES, q.qid,
		        "bulkhead.host-template", "1") < 0 ||
		    db_tag_add(&d->db, q.qid, "created-by-dom0") < 0 ||
		    (db_kv_get(&d->db, DB_GLOBAL, 0, "default_template", &dt) ==
		            0 &&
		        db_kv_set(&d->db, DB_GLOBAL, 0, "default_template",
		            "host") < 0) ||
		    db_commit(&d->db) < 0) {
			db_rollback(&d->db);
			free(dt);
			log_warnx("cannot create the host template");
			return;
		}
		free(dt);
		log_info("created the host template \"host\"");
	}
	r = backend_sandbox_make_host_template(d, h.name);
	if (r < 0)
		log_warnx("host template %s: %s", h.name, strerror(-r));
}

static int
autostart_one(const struct db_qube *q, void *arg)
{
	struct daemon *d = arg;
	const struct prop_def *p = prop_find(qube_class_of(q), "autostart");
	char *v = NULL;
	bool def;

	if (p && prop_get(&d->model, q, p, &v, &def) > 0 &&
	    strcmp(v, "True") == 0 && qube_running(d, q->qid) == NULL) {
		log_info("%s: autostart", q->name);
		(void)qube_start(d, q, NULL);
	}
	free(v);
	return 0;
}

int
main(int argc, char **argv)
{
	enum {
		OPT_STATE = 0x100,
		OPT_SOCKET,
		OPT_INTERNAL,
		OPT_RUN,
		OPT_CONF,
		OPT_BACKEND,
		OPT_NO_POLICY,
		OPT_POLICY_USER,
		OPT_QREXEC_USER,
		OPT_ID_REGISTRY,
		OPT_DAEMON,
	};
	static const struct option longopts[] = {
	    {"state-dir", required_argument, NULL, OPT_STATE},
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"internal-socket", required_argument, NULL, OPT_INTERNAL},
	    {"run-dir", required_argument, NULL, OPT_RUN},
	    {"conf-dir", required_argument, NULL, OPT_CONF},
	    {"backend", required_argument, NULL, OPT_BACKEND},
	    {"no-policy-daemon", no_argument, NULL, OPT_NO_POLICY},
	    {"policy-user", required_argument, NULL, OPT_POLICY_USER},
	    {"qrexec-user", required_argument, NULL, OPT_QREXEC_USER},
	    {"id-registry", required_argument, NULL, OPT_ID_REGISTRY},
	    {"daemon", no_argument, NULL, OPT_DAEMON},
	    {"debug", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct daemon *d = &daemon_state;
	struct daemon_config *cfg = &d->cfg;
	bool daemonize = false;
	const char *policy_user = NULL, *qrexec_user = NULL;
	int ready_fd = -1;
	char err[512], dbpath[PATH_MAX], self[PATH_MAX];
	const char *bindir = getenv("BULKHEAD_BIN_DIR");
	sigset_t mask;
	int opt, sfd, r;
	ssize_t n;

	memset(d, 0, sizeof(*d));
	d->api_fd = d->internal_fd = d->policy_pidfd = -1;
	(void)str_copy(
	    cfg->state_dir, sizeof(cfg->state_dir), BULKHEAD_STATE_DIR);
	if (bulkhead_run_dir() == NULL ||
	    str_copy(cfg->run_dir, sizeof(cfg->run_dir), bulkhead_run_dir()) <
	        0) {
		(void)fprintf(
		    stderr, "bulkheadd: " BULKHEAD_RUN_DIR_ERROR "\n");
		exit(2);
	}
	(void)str_copy(cfg->conf_dir, sizeof(cfg->conf_dir), BULKHEAD_CONF_DIR);
	if (str_copy(cfg->id_registry, sizeof(cfg->id_registry),
	        getenv("BULKHEAD_ID_REGISTRY") != NULL &&
	                getenv("BULKHEAD_ID_REGISTRY")[0] != '\0' ?
	            getenv("BULKHEAD_ID_REGISTRY") :
	            IDCLAIM_DEFAULT_REGISTRY) < 0) {
		(void)fprintf(
		    stderr, "bulkheadd: BULKHEAD_ID_REGISTRY: path too long\n");
		exit(2);
	}
	if (str_copy(cfg->subid_files, sizeof(cfg->subid_files),
	        getenv("BULKHEAD_SUBID_FILES") != NULL ?
	            getenv("BULKHEAD_SUBID_FILES") :
	            IDCLAIM_SUBID_FILES) < 0) {
		(void)fprintf(
		    stderr, "bulkheadd: BULKHEAD_SUBID_FILES: too long\n");
		exit(2);
	}
	(void)str_copy(cfg->backend, sizeof(cfg->backend), "sandbox");
	cfg->start_policy_daemon = true;
	log_init("bulkheadd", 1);
	while ((opt = getopt_long(argc, argv, "dh", longopts, NULL)) != -1) {
		char *dst = NULL;
		size_t dl = 0;

		switch (opt) {
		case OPT_STATE:
			dst = cfg->state_dir;
			dl = sizeof(cfg->state_dir);
			break;
		case OPT_SOCKET:
			dst = cfg->socket;
			dl = sizeof(cfg->socket);
			break;
		case OPT_INTERNAL:
			dst = cfg->internal_socket;
			dl = sizeof(cfg->internal_socket);
			break;
		case OPT_RUN:
			dst = cfg->run_dir;
			dl = sizeof(cfg->run_dir);
			break;
		case OPT_CONF:
			dst = cfg->conf_dir;
			dl = sizeof(cfg->conf_dir);
			break;
		case OPT_BACKEND:
			dst = cfg->backend;
			dl = sizeof(cfg->backend);
			break;
		case OPT_NO_POLICY:
			cfg->start_policy_daemon = false;
			break;
		case OPT_POLICY_USER:
			policy_user = optarg;
			break;
		case OPT_QREXEC_USER:
			qrexec_user = optarg;
			break;
		case OPT_ID_REGISTRY:
			dst = cfg->id_registry;
			dl = sizeof(cfg->id_registry);
			break;
		case OPT_DAEMON:
			daemonize = true;
			break;
		case 'd':
			cfg->debug = true;
			break;
		case 'h':
			usage(stdout, 0);
			break;
		default:
			usage(stderr, 2);
		}
		if (dst && str_copy(dst, dl, optarg) < 0) {
			(void)fprintf(
			    stderr, "bulkheadd: %s: path too long\n", optarg);
			return 2;
		}
	}
	if (optind != argc)
		usage(stderr, 2);
	if ((r = policy_user_set(cfg, policy_user)) != 0 ||
	    (r = qrexec_user_set(cfg, qrexec_user)) != 0)
		return r;
	if (strcmp(cfg->backend, "sandbox") == 0) {
		d->backend = &backend_sandbox;
	} else if (strcmp(cfg->backend, "process") == 0) {
		d->backend = &backend_process;
	} else if (strcmp(cfg->backend, "none") != 0) {
		(void)fprintf(stderr,
		    "bulkheadd: unknown backend %s (sandbox, "
		    "process, none)\n",
		    cfg->backend);
		return 2;
	}
	if (cfg->socket[0] == '\0' &&
	    str_printf(cfg->socket, sizeof(cfg->socket), "%s/qubesd.sock",
	        cfg->run_dir) < 0)
		return 2;
	if (cfg->internal_socket[0] == '\0' &&
	    str_printf(cfg->internal_socket, sizeof(cfg->internal_socket),
	        "%s/qubesd.internal.sock", cfg->run_dir) < 0)
		return 2;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0)
		self[n] = '\0';
	(void)str_copy(cfg->bin_dir, sizeof(cfg->bin_dir),
	    bindir ? bindir : (n > 0 ? dirname(self) : "/usr/local/bin"));
	if (cfg->debug)
		log_set_level(LOG_LEVEL_DEBUG);

	if (daemonize)
		ready_fd = detach();
	(void)umask(022);
	r = mkdirs(d);
	if (r < 0) {
		errno = -r;
		fatal("creating %s and %s", cfg->state_dir, cfg->run_dir);
	}
	lock_state(cfg);
	if (daemonize)
		redirect_output(cfg);
	if (str_printf(dbpath, sizeof(dbpath), "%s/qubes.db", cfg->state_dir) <
	    0)
		fatalx("state directory path too long");
	if (db_open(&d->db, dbpath, err, sizeof(err)) < 0)
		fatalx("database: %s", err);
	r = idclaim_open(&d->ids, cfg->id_registry, cfg->state_dir);
	if (r < 0) {
		errno = -r;
		fatal("the host's qid registry %s (--id-registry)",
		    cfg->id_registry);
	}
	d->model.db = &d->db;
	d->model.rt = qube_rt_lookup;
	d->model.ctx = d;
	loop_init(&d->loop);

	(void)signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0 || loop_add(&d->loop, sfd, POLLIN, on_signal, d) < 0)
		fatal("signalfd");

	r = api_listen(d);
	if (r < 0) {
		errno = -r;
		fatal("listening on %s", cfg->socket);
	}
	install_admin_services(d);
	install_dom0_services(d);
	if (d->backend == &backend_sandbox) {
		prepare_qube_cgroups();
		ensure_host_template(d);
	}
	qube_reconcile(d);
	qube_claims_check(d);
	if (cfg->start_policy_daemon)
		(void)qube_policy_start(d);
	(void)db_qube_foreach(&d->db, autostart_one, d);
	preload_schedule(d, 0);
	log_info("ready: %s (backend %s)", cfg->socket, cfg->backend);
	if (ready_fd >= 0) {
		if (write(ready_fd, "", 1) < 0)
			log_warn("telling the parent we are ready");
		close_fd(&ready_fd);
	}

	r = loop_run(&d->loop);
	if (r < 0)
		log_warnx("event loop: %s", strerror(-r));
	api_close_all(d);
	if (d->policy_pid > 0)
		(void)kill(d->policy_pid, SIGTERM);
	db_close(&d->db);
	idclaim_close(&d->ids);
	loop_free(&d->loop);
	return r < 0 ? 1 : 0;
}
