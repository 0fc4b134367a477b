/* The test app of scripts/e2e-container.sh, built static so that the image holds nothing else:
 * no shell, no libc, no curl.
 *   app          prints its PID, uid and the Datadog variables it got, then exits 0
 *   app sleep    prints "ready" and waits forever, with no signal handler (like most Python and
 *                Node.js apps: as PID 1 it ignores SIGTERM) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *get(const char *name) {
    const char *v = getenv(name);
    return v ? v : "<unset>";
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "sleep") == 0) {
        printf("ready pid=%d\n", (int)getpid());
        fflush(stdout);
        for (;;)
            pause();
    }
    printf("pid=%d uid=%d DD_AGENT_HOST=%s DD_TRACE_AGENT_URL=%s DD_SERVICE=%s\n", (int)getpid(),
           (int)getuid(), get("DD_AGENT_HOST"), get("DD_TRACE_AGENT_URL"), get("DD_SERVICE"));
    return 0;
}
