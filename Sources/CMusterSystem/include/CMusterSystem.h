#ifndef CMUSTERSYSTEM_H
#define CMUSTERSYSTEM_H
#include <sys/types.h>

/// Starts `path` with `argv`/`envp` in `cwd` as the leader of a new process group, with stdin, stdout
/// and stderr on the given descriptors and every other descriptor closed. Returns 0 or an errno value.
int muster_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd,
                 int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid_out);

/// A descriptor that becomes readable when `pid` exits (Linux pidfd), or -1 with errno set.
int muster_pidfd_open(pid_t pid);

/// A pipe whose both ends are close-on-exec.
int muster_pipe_cloexec(int fds[2]);

/// errno, which Swift cannot read portably after a C call.
int muster_errno(void);
#endif
