/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzad: the smart-card daemon. Owns the PC/SC connection, serves imza-pkcs11.so and imzactl over a
 * Unix socket, and runs in the foreground (systemd: Type=notify, socket activation, watchdog). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <systemd/sd-daemon.h>

#include "daemon/store/cache.h"
#include "daemon/store/records.h"
#include "daemon/card/backend-card.h"
#include "daemon/config.h"
#include "daemon/wiring.h"
#include "daemon/admin.h"
#include "daemon/card/modules.h"
#include "daemon/daemon.h"
#include "daemon/web/https.h"
#include "daemon/web/localca.h"
#include "daemon/store/known.h"
#include "daemon/log.h"
#include "daemon/ui/prompt.h"
#include "daemon/server.h"
#include "daemon/web/sign.h"
#include "protocol/proto-arena.h"
#include "protocol/proto-client.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: imzad [--socket PATH] [--state-dir DIR] [--config FILE] [--config-dir DIR]\n"
	           "             [--https-port PORT | --no-https] [--pinentry PROGRAM] [--foreground] "
	           "[--verbose]\n"
	           "             [--prompt PROGRAM] [--version]\n"
	           "  --socket PATH  listen there (default $XDG_RUNTIME_DIR/imza/imzad.sock)\n"
	           "  --state-dir DIR  the card cache and the records (audit log, answers for web origins)\n"
	           "                 (default $XDG_STATE_HOME/imza, ~/.local/state/imza)\n"
	           "  --config FILE  settings (default CONFIG-DIR/imzad.conf)\n"
	           "  --config-dir DIR  the local CA of the HTTPS endpoint (default $XDG_CONFIG_HOME/imza)\n"
	           "  --https-port PORT  the HTTPS signing endpoint's port on 127.0.0.1 and ::1 (default "
	           "38443)\n"
	           "  --no-https     no HTTPS endpoint\n"
	           "  --pinentry PROGRAM  the consent and PIN dialog (default pinentry); without --prompt,\n"
	           "                 also on a display\n"
	           "  --prompt PROGRAM  the window on a display: imza-prompt, pinentry or a path\n"
	           "                 (default imza-prompt; the pinentry asks where there is no display)\n"
	           "  --backend PROGRAM  the helper that runs each vendor PKCS#11 module (default\n"
	           "                 " IMZA_BACKEND_HELPER ")\n"
	           "  --max-clients N  at most N applications' connections at once (default: as many as the\n"
	           "                 open-file limit allows)\n"
	           "  --foreground   stay in the foreground (always so; for service managers)\n"
	           "  --verbose      debug messages\n");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	log_info("signal %d: shutting down", (int)sig);
	event_base_loopexit(base, NULL);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	sd_notify(0, "WATCHDOG=1");
}

/* The state directory: --state-dir, else $XDG_STATE_HOME/imza, else ~/.local/state/imza. */
static int state_dir(const char *given, char *out, size_t cap)
{
	if (given == NULL)
		return proto_xdg_dir("XDG_STATE_HOME", NULL, ".local/state", out, cap);
	return snprintf(out, cap, "%s", given) >= (int)cap ? -ENAMETOOLONG : 0;
}

/* Opens the records, then the card cache (in that order: new records take over the rows an older cache
 * file held, before the cache's migration drops them). Without usable records imzad still serves
 * PKCS#11 (records_open logged why); without a cache it reads every card in full. */
static void open_cache(struct daemon *d, const char *given)
{
	char dir[PATH_MAX];
	int e = state_dir(given, dir, sizeof(dir));

	if (e == 0 && (e = records_open(dir, &d->records)) == 0 && records_usable(d->records))
		log_info("records in %s/%s", dir, RECORDS_FILE);
	else if (e < 0)
		log_error("no records (%s): web signing is refused", strerror(-e));
	if (e == 0 && (e = known_new(&d->known)) == 0 && (e = cache_open(dir, &d->cache)) == 0) {
		log_info("card cache in %s", dir);
		slots_load_known(d);
		return;
	}
	log_warning("no card cache (%s): every card is read in full", strerror(-e));
	d->cache = NULL;
}

/* The socket file we bound ourselves, removed again on the way out. */
static char bound_path[PATH_MAX];

/* Sockets systemd passed for the HTTPS endpoint (TCP), beside the Unix one. */
static int https_fds[4];
static size_t n_https_fds;
/* systemd passed the RPC socket by its name: the units are the split ones, and the HTTPS socket is
 * imzad-https.socket's to give (see main). */
static bool named_by_units;

/* The names the units give their sockets (FileDescriptorName=): imzad.socket's is "imzad", the RPC socket
 * of the PKCS#11 module and imzactl; imzad-https.socket's is "https". Two units, so that a port another
 * user holds fails only imzad-https.socket and the RPC socket still comes. A socket with another name
 * (none given: systemd says "unknown" or the unit's name) is told by its kind, as before the split. */
#define LISTEN_NAME_RPC "imzad"
#define LISTEN_NAME_HTTPS "https"

static bool take_https_fd(int fd)
{
	if (sd_is_socket_inet(fd, 0, SOCK_STREAM, 1, 0) <= 0 ||
	    n_https_fds >= sizeof(https_fds) / sizeof(https_fds[0]))
		return false;
	https_fds[n_https_fds++] = fd;
	return true;
}

/* Sorts the sockets systemd passed: *ret_unix_fd the RPC socket, https_fds the endpoint's. */
static void sort_listen_fds(int n, char **names, int *ret_unix_fd)
{
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names ? names[i] : "unknown";
		bool is_unix = sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0;
		bool taken;

		if (strcmp(name, LISTEN_NAME_HTTPS) == 0)
			taken = take_https_fd(fd);
		else if (strcmp(name, LISTEN_NAME_RPC) == 0)
			taken = *ret_unix_fd < 0 && is_unix;
		else
			taken = (*ret_unix_fd < 0 && is_unix) || take_https_fd(fd);
		if (taken && is_unix)
			*ret_unix_fd = fd;
		if (taken && strcmp(name, LISTEN_NAME_RPC) == 0)
			named_by_units = true;
		if (!taken)
			log_warning("ignoring socket %d (\"%s\") from systemd: not one imzad serves", fd,
			            name);
		else
			log_debug("socket %d (\"%s\") from systemd: %s", fd, name, is_unix ? "RPC" : "HTTPS");
	}
}

/* The listening socket: handed over by systemd, or bound here. */
static int get_listener(const char *path, int *ret_fd)
{
	char def[PATH_MAX];
	bool private_dir = path == NULL;
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names), unix_fd = -1;

	if (n > 0) {
		sort_listen_fds(n, names, &unix_fd);
		for (int i = 0; names && i < n; i++)
			free(names[i]);
		free(names);
		if (unix_fd < 0) {
			log_error("systemd passed no listening Unix stream socket (\"" LISTEN_NAME_RPC "\")");
			return -EINVAL;
		}
		*ret_fd = unix_fd;
		return 0;
	}
	if (path == NULL) {
		if (server_default_path(def, sizeof(def)) < 0) {
			log_error("no XDG_RUNTIME_DIR: give --socket PATH");
			return -ENOENT;
		}
		path = def;
	}
	n = server_bind(path, private_dir, ret_fd);
	if (n < 0) {
		log_error("cannot listen on %s: %s", path, strerror(-n));
		return n;
	}
	log_info("listening on %s", path);
	snprintf(bound_path, sizeof(bound_path), "%s", path);
	return 0;
}

/* The config file and the HTTPS endpoint's settings; command-line options win. */
static int load_config(const char *file, const char *dir_given, struct imzad_config *cfg, char *dir,
                       size_t cap)
{
	char path[PATH_MAX], err[256] = "";
	int e;

	config_defaults(cfg);
	if (dir_given)
		e = snprintf(dir, cap, "%s", dir_given) >= (int)cap ? -ENAMETOOLONG : 0;
	else
		e = config_dir_default(dir, cap);
	if (e < 0) {
		log_error("no config dir (set XDG_CONFIG_HOME or HOME, or give --config-dir)");
		return e;
	}
	if (file == NULL) {
		if (snprintf(path, sizeof(path), "%s/imzad.conf", dir) >= (int)sizeof(path))
			return -ENAMETOOLONG;
		file = path;
	}
	e = config_load(file, cfg, err, sizeof(err));
	if (e == -ENOENT && file == path)
		return 0;
	if (e < 0) {
		log_error("%s: %s", file, e == -EINVAL ? err : strerror(-e));
		return e;
	}
	log_info("settings from %s", file);
	return 0;
}

/* imzad idles most of its life, with a few threads that allocate little. One arena: a reader thread's
 * own (64 MiB reserved, its touched pages kept) would hold the card reads' buffers after they are freed.
 * Blocks of 32 KiB and more (an APDU response buffer, a card's certificates) come from mmap and leave
 * with free(), rather than stay in the heap as resident holes. */
static void tune_malloc(void)
{
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, 32 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024);
	/* A PIN's locked pages are kept for the next one rather than mapped and unmapped for each. */
	proto_secret_pages_keep(4);
}

static int make_tls(void *dir, SSL_CTX **ret)
{
	return localca_server_ctx(dir, ret);
}

/* The endpoint listens from the start; its TLS context (the certificates parsed and checked, renewed if
 * due) is made at the first connection: most of the time nobody signs from a web page, and OpenSSL's
 * state is the biggest part of an idle imzad's memory. */
static int start_https(struct daemon *d, const struct imzad_config *cfg, const char *dir,
                       struct https_server **ret)
{
	int e;

	e = localca_prepare(dir);
	if (e < 0) {
		log_error("HTTPS endpoint: no server certificate in %s: %s", dir, strerror(-e));
		return e;
	}
	e = https_server_new_lazy(d, d->signsvc, make_tls, (void *)dir, cfg->https_port, https_fds,
	                          n_https_fds, ret);
	if (e < 0) {
		log_error("HTTPS endpoint: cannot listen on port %u: %s", (unsigned)cfg->https_port,
		          strerror(-e));
		return e;
	}
	log_info("HTTPS endpoint on https://127.0.0.1:%u (local CA in %s/%s)",
	         (unsigned)https_server_port(*ret), dir, LOCALCA_CA_FILE);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"socket", required_argument, NULL, 's'},
	        {"state-dir", required_argument, NULL, 'S'},
	        {"config", required_argument, NULL, 'c'},
	        {"config-dir", required_argument, NULL, 'C'},
	        {"https-port", required_argument, NULL, 'p'},
	        {"no-https", no_argument, NULL, 'n'},
	        {"pinentry", required_argument, NULL, 'P'},
	        {"prompt", required_argument, NULL, 'W'},
	        {"backend", required_argument, NULL, 'B'},
	        {"max-clients", required_argument, NULL, 'm'},
	        {"foreground", no_argument, NULL, 'f'},
	        {"verbose", no_argument, NULL, 'v'},
	        {"version", no_argument, NULL, 'V'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct daemon d = {.next_slot_id = 1};
	const char *sock_path = NULL, *state = NULL, *config_file = NULL, *config_dir = NULL;
	const char *pinentry = NULL, *prompt = NULL, *port_arg = NULL, *max_arg = NULL,
	           *backend_helper = NULL;
	size_t max_clients = 0;
	bool no_https = false;
	struct imzad_config cfg;
	char cdir[PATH_MAX];
	struct https_server *https = NULL;
	struct backend_set *backends = NULL;
	struct event *sigterm, *sigint, *watchdog = NULL;
	struct server *srv = NULL;
	bool verbose = false;
	uint64_t wd_usec = 0;
	int opt, fd, rc = 1;

	/* No core dump and no ptrace by other processes of the user: PINs pass through this process. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	while ((opt = getopt_long(argc, argv, "s:S:fvVh", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock_path = optarg;
			break;
		case 'S':
			state = optarg;
			break;
		case 'c':
			config_file = optarg;
			break;
		case 'C':
			config_dir = optarg;
			break;
		case 'p':
			port_arg = optarg;
			break;
		case 'n':
			no_https = true;
			break;
		case 'P':
			pinentry = optarg;
			break;
		case 'W':
			prompt = optarg;
			break;
		case 'B':
			backend_helper = optarg;
			break;
		case 'm':
			max_arg = optarg;
			break;
		case 'f':
			break;
		case 'v':
			verbose = true;
			break;
		case 'V':
			printf("imzad %s\n", PACKAGE_VERSION);
			return 0;
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
	log_setup(verbose);
	tune_malloc();
	if (load_config(config_file, config_dir, &cfg, cdir, sizeof(cdir)) < 0)
		return 1;
	if (port_arg) {
		char *end;
		unsigned long port;

		errno = 0;
		port = strtoul(port_arg, &end, 10);
		if (errno || *end || end == port_arg || port == 0 || port > 65535) {
			log_error("--https-port takes 1 to 65535");
			return 2;
		}
		cfg.https_port = (uint16_t)port;
	}
	if (max_arg) {
		char *end;
		unsigned long n;

		errno = 0;
		n = strtoul(max_arg, &end, 10);
		if (errno || *end || end == max_arg || n == 0 || n > 1000000) {
			log_error("--max-clients takes 1 to 1000000");
			return 2;
		}
		max_clients = n;
	}
	/* Before anything is opened: every application's connection is a descriptor. */
	if (server_max_clients(max_clients, &max_clients) < 0)
		max_clients = 256;
	log_info("serving up to %zu clients", max_clients);
	d.max_apps = max_clients;
	if (no_https)
		cfg.https = false;
	if (pinentry)
		snprintf(cfg.pinentry, sizeof(cfg.pinentry), "%s", pinentry);
	/* A pinentry named on the command line is the dialog, display or not, unless --prompt says more. */
	if (prompt || pinentry)
		snprintf(cfg.prompt, sizeof(cfg.prompt), "%s", prompt ? prompt : "pinentry");
	if (prompt_configure(cfg.prompt) < 0) {
		log_error("--prompt takes imza-prompt, pinentry or an absolute path");
		return 2;
	}
	/* Replies go out with write(): a client gone away must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	umask(0077);
	if (evthread_use_pthreads() < 0) {
		log_error("libevent has no thread support");
		return 1;
	}
	if (server_event_base_new(&d.base) < 0)
		return 1;
	if (get_listener(sock_path, &fd) < 0)
		goto out;
	open_cache(&d, state);
	if (imzad_wire(&d) < 0)
		goto out;
	if (signsvc_new(&d, cfg.pinentry, &d.signsvc) < 0)
		goto out;
	/* Started by the units without imzad-https.socket's sockets (the port is another user's, or the
	 * unit is masked): no endpoint. Binding the port here would take it from that unit's next start. */
	if (cfg.https && named_by_units && n_https_fds == 0) {
		log_warning(
		        "systemd passed no HTTPS socket (imzad-https.socket not running): no HTTPS endpoint");
		cfg.https = false;
	}
	/* systemd still listens on them: a browser's connection waits there unanswered until it gives up. */
	if (!cfg.https && n_https_fds > 0)
		log_warning("https = no, yet systemd passed HTTPS sockets: they go unanswered "
		            "(systemctl --user mask imzad-https.socket)");
	/* Without the endpoint (port taken, config dir unusable) the applications on the socket are still
	 * served: imzad says why and goes on. */
	if (cfg.https && start_https(&d, &cfg, cdir, &https) < 0)
		log_warning("running without the HTTPS endpoint");
	if (server_new(&d, &imzad_handlers, fd, max_clients, &srv) < 0) {
		close(fd);
		goto out;
	}
	if (!cfg.native)
		log_info("native = no: every card is left to the vendor modules");
	reader_native_drivers(cfg.native);
	if (reader_monitor_new(d.base, &slot_callbacks, &d, &d.monitor) < 0) {
		log_error("cannot start the reader monitor");
		goto out;
	}
	/* Vendor modules: those imzad.conf names, else those installed where vendors put them. */
	if (cfg.nmodules == 0)
		cfg.nmodules = modules_find("", cfg.module, CONFIG_MODULES_MAX);
	if (cfg.nmodules > 0 &&
	    backend_set_new(d.monitor, backend_helper ? backend_helper : IMZA_BACKEND_HELPER, cfg.module,
	                    cfg.prefer_module, cfg.nmodules, &backends) < 0)
		log_error("vendor modules not started (out of memory)");
	d.backends = backends;
	slots_listeners_changed(&d);
	sigterm = evsignal_new(d.base, SIGTERM, on_signal, d.base);
	sigint = evsignal_new(d.base, SIGINT, on_signal, d.base);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
		struct timeval tv = {(time_t)(wd_usec / 2000000), (suseconds_t)((wd_usec / 2) % 1000000)};

		watchdog = event_new(d.base, -1, EV_PERSIST, on_watchdog, NULL);
		event_add(watchdog, &tv);
	}
	sd_notify(0, "READY=1");
	log_info("imzad %s ready", PACKAGE_VERSION);
	/* What start-up freed (the config, the cache's checks) goes back before the long idle. */
	malloc_trim(0);
	event_base_dispatch(d.base);
	sd_notify(0, "STOPPING=1");
	rc = 0;
	event_free(sigterm);
	event_free(sigint);
	if (watchdog)
		event_free(watchdog);
out:
	/* Clients first (their pending calls end), then the readers (queued jobs end too), then the
	 * signing service (nothing of it is on a card any more). */
	https_server_free(https);
	server_free(srv);
	d.backends = NULL;
	backend_set_free(backends);
	reader_monitor_free(d.monitor);
	if (d.look_timer)
		event_free(d.look_timer);
	admin_pin_stop();
	signsvc_free(d.signsvc);
	for (size_t i = 0; i < DAEMON_MAX_SLOTS; i++)
		token_free(d.slots[i].token);
	event_base_free(d.base);
	cache_close(d.cache);
	records_close(d.records);
	known_free(d.known);
	if (bound_path[0])
		unlink(bound_path);
	return rc;
}
