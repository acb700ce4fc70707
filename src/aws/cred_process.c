/* credential_process: run a command through /bin/sh -c with a time limit
 * and parse its JSON on stdout. stderr passes through (the command's own
 * diagnostics); stdout never reaches logs or errors, it holds the secret. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aws/cred_internal.h"
#include "common/util.h"

#define PROCESS_MAX_OUTPUT ((size_t)64 * 1024)

static void kill_group(pid_t pid) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
}

ddbpipe_result_t dp_cred_run_process(const char *command, long timeout_ms, dp_credentials *out, char *errstr,
                                     size_t errstr_size) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    int pfd[2] = {-1, -1};
    pid_t pid = -1;
    int status = 0, reaped = 0, eof = 0;
    dp_buf output;
    int64_t deadline;
    char perr[384];

    memset(out, 0, sizeof(*out));
    dp_buf_init(&output, PROCESS_MAX_OUTPUT);
    if (timeout_ms <= 0)
        timeout_ms = DP_CRED_PROCESS_TIMEOUT_MS;
    deadline = dp_now_ms() + timeout_ms;
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        dp_errf(errstr, errstr_size, "credential_process: pipe failed: %s", strerror(errno));
        rc = DDBPIPE_ERR_IO;
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        dp_errf(errstr, errstr_size, "credential_process: fork failed: %s", strerror(errno));
        rc = DDBPIPE_ERR_IO;
        goto out;
    }
    if (pid == 0) {
        /* child: own process group so a timeout kills the whole pipeline */
        int devnull;
        setpgid(0, 0);
        devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(pfd[1], 1);
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid); /* also in the parent: no race with kill_group */
    close(pfd[1]);
    pfd[1] = -1;
    while (!eof) {
        struct pollfd pf = {pfd[0], POLLIN, 0};
        int64_t left = deadline - dp_now_ms();
        int pr;
        if (left <= 0) {
            dp_errf(errstr, errstr_size, "credential_process timed out after %ld ms", timeout_ms);
            rc = DDBPIPE_ERR_TIMEOUT;
            goto out;
        }
        pr = poll(&pf, 1, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno != EINTR) {
            dp_errf(errstr, errstr_size, "credential_process: poll failed: %s", strerror(errno));
            rc = DDBPIPE_ERR_IO;
            goto out;
        }
        if (pr > 0) {
            char chunk[4096];
            ssize_t n = read(pfd[0], chunk, sizeof(chunk));
            if (n < 0 && errno != EINTR && errno != EAGAIN) {
                dp_errf(errstr, errstr_size, "credential_process: read failed: %s", strerror(errno));
                rc = DDBPIPE_ERR_IO;
                goto out;
            }
            if (n == 0)
                eof = 1;
            if (n > 0 && dp_buf_append(&output, chunk, (size_t)n) != DDBPIPE_OK) {
                explicit_bzero(chunk, sizeof(chunk));
                dp_errf(errstr, errstr_size, "credential_process wrote more than %zu bytes",
                        PROCESS_MAX_OUTPUT);
                rc = DDBPIPE_ERR_TOO_LARGE;
                goto out;
            }
            explicit_bzero(chunk, sizeof(chunk));
        }
    }
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            reaped = 1;
            break;
        }
        if (w < 0 && errno != EINTR) {
            reaped = 1; /* nothing to wait for */
            status = 0;
            break;
        }
        if (dp_now_ms() >= deadline) {
            dp_errf(errstr, errstr_size, "credential_process timed out after %ld ms", timeout_ms);
            rc = DDBPIPE_ERR_TIMEOUT;
            goto out;
        }
        usleep(5000);
    }
    if (WIFSIGNALED(status)) {
        dp_errf(errstr, errstr_size, "credential_process killed by signal %d", WTERMSIG(status));
        rc = DDBPIPE_ERR_CREDENTIALS;
        goto out;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        dp_errf(errstr, errstr_size, "credential_process exited with status %d%s", WEXITSTATUS(status),
                WEXITSTATUS(status) == 127 ? " (command not found?)" : "");
        rc = DDBPIPE_ERR_CREDENTIALS;
        goto out;
    }
    perr[0] = '\0';
    rc = dp_cred_parse_process_json(output.data, output.len, out, perr, sizeof(perr));
    if (rc != DDBPIPE_OK)
        dp_errf(errstr, errstr_size, "credential_process output: %s", perr);
out:
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    if (pid > 0 && !reaped) {
        kill_group(pid);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    if (output.data)
        explicit_bzero(output.data, output.len);
    dp_buf_free(&output);
    if (rc != DDBPIPE_OK)
        dp_credentials_clear(out);
    return rc;
}
