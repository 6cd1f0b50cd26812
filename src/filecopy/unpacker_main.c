/*
 * qfile-unpacker - receive a qubes.Filecopy stream on standard input into
 * ~/QubesIncoming/<source qube>/ (or DIR), and send the reply on standard
 * output.  Qubes' command line:
 *   qfile-unpacker [--allow-all-names] [--allow-unsafe-symlinks] [-v]
 *                  [-w N] [UID [DIR]]
 * The stream is another qube's: this process switches to the receiving
 * user and confines itself (confine.c) before it reads the first byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filecopy/confine.h"
#include "filecopy/filecopy.h"
#include "lib/proto/qrexec.h"
#include "lib/util.h"

static void
usage(FILE *f, int code)
{
	(void)fprintf(f,
	    "usage: qfile-unpacker [OPTIONS] [UID [DIR]]\n"
	    "\n"
	    "Receive files sent by qfile-agent (the qubes.Filecopy service):\n"
	    "the stream comes on standard input, the reply (status, checksum,\n"
	    "last name) goes to standard output.  Without DIR the files go to\n"
	    "~UID/QubesIncoming/$QREXEC_REMOTE_DOMAIN/, made if missing.\n"
	    "UID defaults to the caller's; only root may name another, and\n"
	    "root switches to it before reading anything.\n"
	    "\n"
	    "The stream is treated as hostile: names must be relative, without\n"
	    "'.', '..' or empty components, and (unless --allow-all-names) of\n"
	    "printable characters of left-to-right scripts; nothing is\n"
	    "written outside the directory or through a symlink; no existing\n"
	    "file is replaced; a symlink may not point outside the directory\n"
	    "it was sent in; setuid and setgid bits are dropped; a file\n"
	    "appears under its name only when all its data has come.  The\n"
	    "process has no_new_privs, Landlock (where the kernel has it) and\n"
	    "a seccomp allowlist before it reads the stream.\n"
	    "\n"
	    "Options:\n"
	    "  --allow-all-names        accept any character but NUL and '/'\n"
	    "                           in names (qubes.Filecopy+allow-all-names)\n"
	    "  --allow-unsafe-symlinks  accept symlinks pointing anywhere\n"
	    "  --max-files N            refuse more than N entries (default\n"
	    "                           %u; 0: no limit)\n"
	    "  --max-bytes N            refuse more than N bytes of file data\n"
	    "                           (default 2^40; 0: no limit)\n"
	    "  -v, --verbose            print each name received\n"
	    "  -w, --wait-for-space N   accepted for compatibility; a file that\n"
	    "                           does not fit is refused (ENOSPC), never\n"
	    "                           waited for\n"
	    "  -h, --help               show this help\n"
	    "\n"
	    "Exit status (Qubes'): 0 on success, otherwise the error number of\n"
	    "the first failure modulo 256 (17 EEXIST, 84 EILSEQ, 67 ENOLINK,\n"
	    "122 EDQUOT, 121 EREMOTEIO: the stream ended early, 118: it ended\n"
	    "inside a name, a file or a link target), also reported to the\n"
	    "sender; 1 for a problem\n"
	    "before the stream (a bad UID or directory), 2 for bad usage.\n",
	    UNPACK_DEFAULT_MAX_FILES);
	exit(code);
}

static int
parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*ret = v;
	return 0;
}

/* mkdir (ignore EEXIST) and open, never through a symlink. */
static int
open_sub(int dirfd, const char *name)
{
	int fd;

	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(
	    dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int
main(int argc, char **argv)
{
	enum {
		O_ALL = 0x100,
		O_UNSAFE,
		O_MAXF,
		O_MAXB
	};
	static const struct option lo[] = {
	    {"allow-all-names", no_argument, NULL, O_ALL},
	    {"allow-unsafe-symlinks", no_argument, NULL, O_UNSAFE},
	    {"max-files", required_argument, NULL, O_MAXF},
	    {"max-bytes", required_argument, NULL, O_MAXB},
	    {"verbose", no_argument, NULL, 'v'},
	    {"wait-for-space", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct unpack_opts o = {
	    .max_files = UNPACK_DEFAULT_MAX_FILES,
	    .max_bytes = UNPACK_DEFAULT_MAX_BYTES,
	    .proc_fd_dir = -1,
	};
	struct unpack_result *res;
	struct passwd *pw;
	uint32_t uid32;
	uid_t uid = getuid();
	gid_t gid = getgid();
	const char *dir = NULL;
	bool landlocked;
	int opt, fd = -1, r;

	while ((opt = getopt_long(argc, argv, "hvw:", lo, NULL)) != -1) {
		uint64_t v;

		switch (opt) {
		case O_ALL:
			o.allow_all_names = true;
			break;
		case O_UNSAFE:
			o.allow_unsafe_symlinks = true;
			break;
		case O_MAXF:
		case O_MAXB:
			if (parse_u64(optarg, &v) < 0) {
				(void)fprintf(stderr,
				    "qfile-unpacker: %s: not a number\n",
				    optarg);
				return 2;
			}
			*(opt == O_MAXF ? &o.max_files : &o.max_bytes) = v;
			break;
		case 'v':
			break;
		case 'w':
			if (parse_u64(optarg, &v) < 0)
				usage(stderr, 2);
			break;
		case 'h':
			usage(stdout, 0);
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (argc - optind > 2)
		usage(stderr, 2);
	if (argc - optind >= 1) {
		if (parse_u32(argv[optind], UINT32_MAX - 1, &uid32) < 0) {
			(void)fprintf(stderr, "qfile-unpacker: %s: not a uid\n",
			    argv[optind]);
			return 2;
		}
		/* the real uid decides: installed setuid root (as Qubes'),
		 * a caller may still name only itself */
		if (getuid() != 0 && uid32 != getuid()) {
			(void)fprintf(stderr,
			    "qfile-unpacker: only root may unpack as another "
			    "user (uid %u)\n",
			    uid32);
			return 1;
		}
		uid = (uid_t)uid32;
	}
	if (argc - optind == 2)
		dir = argv[optind + 1];
	pw = getpwuid(uid);
	if (pw != NULL)
		gid = pw->pw_gid;
	/* become the receiving user before touching anything */
	if (geteuid() == 0 && uid != 0) {
		/* its group comes from passwd: never keep root's */
		if (pw == NULL) {
			(void)fprintf(stderr,
			    "qfile-unpacker: uid %u is not a user here\n",
			    (unsigned)uid);
			return 1;
		}
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 ||
		    setuid(uid) < 0) {
			(void)fprintf(stderr,
			    "qfile-unpacker: switching to uid %u: %s\n",
			    (unsigned)uid, strerror(errno));
			return 1;
		}
	}
	if (dir != NULL) {
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			(void)fprintf(stderr, "qfile-unpacker: %s: %s\n", dir,
			    strerror(errno));
			return 1;
		}
	} else {
		const char *src = getenv("QREXEC_REMOTE_DOMAIN");
		int home, inc;

		if (src == NULL || !proto_qube_name_valid(src)) {
			(void)fprintf(stderr,
			    "qfile-unpacker: %s (QREXEC_REMOTE_DOMAIN; "
			    "or give UID and DIR)\n",
			    src == NULL ? "no source qube" : "not a qube name");
			return 1;
		}
		if (pw == NULL || pw->pw_dir == NULL) {
			(void)fprintf(stderr,
			    "qfile-unpacker: uid %u has no home directory\n",
			    (unsigned)uid);
			return 1;
		}
		home = open(pw->pw_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		inc = home < 0 ? -errno : open_sub(home, "QubesIncoming");
		fd = inc < 0 ? inc : open_sub(inc, src);
		if (fd < 0) {
			(void)fprintf(stderr,
			    "qfile-unpacker: %s/QubesIncoming/%s: %s\n",
			    pw->pw_dir, src, strerror(-fd));
			return 1;
		}
		if (home >= 0)
			(void)close(home);
		if (inc >= 0)
			(void)close(inc);
	}
	/* for linking finished files in place (O_TMPFILE) */
	o.proc_fd_dir = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	(void)signal(SIGPIPE, SIG_IGN);
	res = calloc(1, sizeof(*res));
	if (res == NULL) {
		(void)fprintf(stderr, "qfile-unpacker: %s\n", strerror(ENOMEM));
		return 1;
	}
	/* permissions come from the stream (setuid/setgid dropped), not
	 * from our umask: then files need no chmod (unpack.c) */
	(void)umask(0);
	o.umask_zero = true;
	r = confine_unpacker(fd, &landlocked);
	if (r < 0) {
		(void)fprintf(
		    stderr, "qfile-unpacker: confining: %s\n", strerror(-r));
		return 1;
	}
	r = unpack_stream(0, fd, &o, res);
	if (r < 0) {
		char shown[256];
		size_t i;

		/* the name is the sender's: shown printable only */
		for (i = 0; res->last_name[i] && i < sizeof(shown) - 1; i++) {
			unsigned char c = (unsigned char)res->last_name[i];

			shown[i] = c >= 0x20 && c < 0x7f ? (char)c : '_';
		}
		shown[i] = '\0';
		(void)fprintf(stderr, "qfile-unpacker: %s%s%s\n", shown,
		    shown[0] ? ": " : "",
		    (uint32_t)-r == FILECOPY_LEGAL_EOF ?
		        "the stream ended inside this entry" :
		        strerror(-r));
	}
	/* the sender learns the outcome either way */
	(void)unpack_send_result(1, res);
	free(res);
	/*
	 * _exit: what runs at exit() may make calls the allowlist forbids
	 * (a sanitizer's leak check does: gettid, clone, ptrace), and
	 * there is nothing left to clean up.
	 */
	(void)fflush(NULL);
	_exit(r < 0 ? (int)((uint32_t)-r % 256) : 0);
}
