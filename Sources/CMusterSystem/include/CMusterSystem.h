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

/// epoll, wrapped because glibc declares `struct epoll_event` packed, which Swift cannot lay out.
int muster_epoll_create(void);
/// Watches `fd` for input (and hang-up); level-triggered.
int muster_epoll_add(int epfd, int fd);
int muster_epoll_remove(int epfd, int fd);
/// Waits up to `timeout_ms` (-1: forever); fills `fds` with up to `max` ready descriptors.
int muster_epoll_wait(int epfd, int *fds, int max, int timeout_ms);

/// An eventfd used to wake an epoll loop from another thread.
int muster_eventfd(void);

/// errno, which Swift cannot read portably after a C call.
int muster_errno(void);
#endif
