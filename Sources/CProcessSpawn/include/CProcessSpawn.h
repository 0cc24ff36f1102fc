#ifndef CPROCESSSPAWN_H
#define CPROCESSSPAWN_H

#include <sys/types.h>

/// Options for devctl_spawn. A negative fd leaves the child's stream as /dev/null.
typedef struct {
    const char *working_directory; /* NULL: inherit */
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    int new_process_group;         /* 1: setpgid(0, 0) in the child */
    int parent_death_signal;       /* 0: none; else prctl(PR_SET_PDEATHSIG, sig) (Linux) */
    uid_t uid;                     /* (uid_t)-1: keep */
    gid_t gid;                     /* (gid_t)-1: keep */
    const gid_t *groups;           /* supplementary groups when switching user */
    int group_count;
} devctl_spawn_options;

/// fork + exec with every descriptor above 2 closed in the child, so daemons the child starts
/// (pg_ctl → postgres) never inherit our pipes or sockets. Returns 0 and sets *pid, or an errno.
int devctl_spawn(const char *path, char *const argv[], char *const envp[],
                 const devctl_spawn_options *options, pid_t *pid);

/// Makes this process the child subreaper of its descendants (Linux PR_SET_CHILD_SUBREAPER):
/// orphans are re-parented to it rather than to init. Returns 0 or an errno.
int devctl_become_subreaper(void);

#endif
