/*
 * hookrun: run one completion hook the way the agent would, for
 * t_hook_ssh.sh.
 *
 *	hookrun CONFIG DATASET [ID [KEY=VALUE ...]]
 *
 * Loads the agent CONFIG, expands its [hook] command with {dataset} =
 * DATASET, {dataset_path} = remote_root/DATASET, {id} = ID (default
 * "hookrun"), {bytes} = 0, {files} = 0 and each KEY=VALUE as {meta.KEY},
 * runs it with hook_run_sync and prints
 *
 *	command=<expanded command>
 *	rc=<rc> status=<exit status> elapsed=<seconds>
 *	msg=<message>
 *	out=<stdout>            (verbatim, may span lines)
 *	err=<stderr tail>
 *
 * Exit 0 when the command ran (whatever its status), 1 when it could not
 * run, 2 on a usage or config error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"
#include "config.h"
#include "hook.h"
#include "log.h"

int
main(int argc, char **argv)
{
	static struct config	 cfg;
	static struct hook_result r;
	static char		 err[8192], path[8192];
	const char		*(*meta)[2] = NULL;
	struct hook_vars	 v = { 0 };
	char			*cmd = NULL, *eq;
	int			 i, rc;

	if (argc < 3) {
		fprintf(stderr, "usage: hookrun CONFIG DATASET [ID [KEY=VALUE ...]]\n");
		return 2;
	}
	log_init(LOG_WARN, 0);
	if (config_load(&cfg, argv[1], err, sizeof(err)) != SL_OK) {
		fprintf(stderr, "%s", err);
		return 2;
	}
	if (argc > 4) {
		meta = calloc((size_t)(argc - 4), sizeof(*meta));
		if (meta == NULL)
			return 2;
		for (i = 4; i < argc; i++) {
			eq = strchr(argv[i], '=');
			if (eq == NULL) {
				fprintf(stderr, "hookrun: %s: want KEY=VALUE\n", argv[i]);
				return 2;
			}
			*eq = '\0';
			meta[i - 4][0] = argv[i];
			meta[i - 4][1] = eq + 1;
		}
		v.nmeta = (uint32_t)(argc - 4);
		v.meta = meta;
	}
	snprintf(path, sizeof(path), "%s/%s", cfg.hook_remote_root, argv[2]);
	v.dataset = argv[2];
	v.dataset_path = path;
	v.id = argc > 3 ? argv[3] : "hookrun";
	if (hook_expand(cfg.hook_command, &v, &cmd, err, sizeof(err)) != SL_OK) {
		fprintf(stderr, "hookrun: %s\n", err);
		return 2;
	}
	printf("command=%s\n", cmd);
	rc = hook_run_sync(&cfg, cmd, &r);
	printf("rc=%d status=%d elapsed=%.3f\nmsg=%s\nout=%s\nerr=%s\n", rc, r.status,
	    r.elapsed, r.msg, r.out, r.err_tail);
	free(cmd);
	free(meta);
	return rc == SL_OK ? 0 : 1;
}
