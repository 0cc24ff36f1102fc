// Foundation's Process leaks descriptors (its own exit-monitoring socket among them) into the
// child and everything the child starts; a daemonising child then keeps them open forever.
// This is the small fork/exec devctl needs instead: close every descriptor but 0-2, optional
// process group, parent-death signal and user switch, all before exec.
#define _GNU_SOURCE
#include "CProcessSpawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

static void close_from(int lowest) {
#if defined(__linux__) && defined(SYS_close_range)
    if (syscall(SYS_close_range, (unsigned)lowest, ~0U, 0) == 0) return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (int fd = lowest; fd < max; fd++) close(fd);
}

int devctl_spawn(const char *path, char *const argv[], char *const envp[],
                 const devctl_spawn_options *options, pid_t *pid) {
    // A pipe reports exec failures (errno) back to the parent; it closes on a successful exec.
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;

    // Block every signal across fork, so no parent handler runs in the child before exec.
    sigset_t all_signals, parent_mask;
    sigfillset(&all_signals);
    pthread_sigmask(SIG_SETMASK, &all_signals, &parent_mask);
    pid_t child = fork();
    if (child < 0) {
        int error = errno;
        pthread_sigmask(SIG_SETMASK, &parent_mask, NULL);
        close(report[0]);
        close(report[1]);
        return error;
    }
    if (child == 0) {
        int error = 0;
        // Park the report pipe above the slots we are about to fill, then pin it to fd 3.
        int report_fd = fcntl(report[1], F_DUPFD_CLOEXEC, 10);
        if (report_fd < 0) _exit(127);
        report[1] = report_fd;
        int null_fd = open("/dev/null", O_RDWR);
        if (null_fd >= 0 && null_fd < 3) null_fd = fcntl(null_fd, F_DUPFD_CLOEXEC, 10);
        int fds[3] = {options->stdin_fd, options->stdout_fd, options->stderr_fd};
        // Sources that sit in 0-2 (a parent started with closed std streams) move up first, so
        // filling one slot never overwrites another slot's source.
        for (int i = 0; i < 3; i++) {
            if (fds[i] >= 0 && fds[i] < 3) fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
        }
        for (int target = 0; target < 3; target++) {
            int source = fds[target] >= 0 ? fds[target] : null_fd;
            if (source >= 0 && dup2(source, target) < 0) { error = errno; goto fail; }
        }
        if (dup3(report_fd, 3, O_CLOEXEC) < 0) { error = errno; goto fail; }
        report[1] = 3;
        close_from(4);

        // Default handlers first, then an empty mask: signals are still blocked until here.
        for (int sig = 1; sig < 32; sig++) {
            if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (options->new_process_group && setpgid(0, 0) != 0) { error = errno; goto fail; }
#ifdef __linux__
        if (options->parent_death_signal > 0) prctl(PR_SET_PDEATHSIG, options->parent_death_signal);
#endif
        if (options->gid != (gid_t)-1) {
            if (setgroups((size_t)options->group_count, options->groups) != 0) { error = errno; goto fail; }
            if (setgid(options->gid) != 0) { error = errno; goto fail; }
        }
        if (options->uid != (uid_t)-1 && setuid(options->uid) != 0) { error = errno; goto fail; }
        if (options->working_directory && chdir(options->working_directory) != 0) { error = errno; goto fail; }
        execve(path, argv, envp);
        error = errno;
    fail:
        (void)!write(report[1], &error, sizeof error);
        _exit(127);
    }

    pthread_sigmask(SIG_SETMASK, &parent_mask, NULL);
    close(report[1]);
    int child_error = 0;
    ssize_t got;
    do {
        got = read(report[0], &child_error, sizeof child_error);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof child_error) {
        int status;
        waitpid(child, &status, 0);
        return child_error;
    }
    *pid = child;
    return 0;
}

int devctl_become_subreaper(void) {
#ifdef __linux__
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : errno;
#else
    return ENOSYS;
#endif
}
