/* report_status.c: the live status line (in place on a terminal, sparse plain lines in a log). */
#include "report.h"

#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static int64_t status_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void status_init(struct status_line *s, FILE *f, bool force_plain)
{
    memset(s, 0, sizeof(*s));
    s->f = f;
    s->tty = f && !force_plain && isatty(fileno(f));
    s->clock_ms = status_clock_ms;
}

/* A line that wraps cannot be rewritten with \r: cut it to the terminal's width. */
static int status_width(const struct status_line *s)
{
    struct winsize ws;
    if (ioctl(fileno(s->f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
        return ws.ws_col - 1;
    return 79;
}

static void status_draw(struct status_line *s, int64_t now)
{
    fprintf(s->f, "\r%.*s\033[K", status_width(s), s->text);
    fflush(s->f);
    s->shown = true;
    s->pending = false;
    s->ever = true;
    s->last_ms = now;
}

void status_update(struct status_line *s, const char *fmt, ...)
{
    va_list ap;

    if (!s->f)
        return;
    va_start(ap, fmt);
    vsnprintf(s->text, sizeof(s->text), fmt, ap);
    va_end(ap);
    int64_t now = s->clock_ms();
    if (s->tty) {
        /* One physical line: a newline would leave a stale copy behind on every redraw. */
        for (char *p = s->text; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        s->pending = true;
        if (!s->ever || now - s->last_ms >= STATUS_TTY_MS)
            status_draw(s, now);
        return;
    }
    if (s->ever && now - s->last_ms < STATUS_PLAIN_MS)
        return;
    fprintf(s->f, "%s\n", s->text);
    fflush(s->f);
    s->ever = true;
    s->last_ms = now;
}

void status_event(struct status_line *s, const char *fmt, ...)
{
    va_list ap;

    if (!s->f)
        return;
    if (s->tty && s->shown)
        fputs("\r\033[K", s->f);
    va_start(ap, fmt);
    vfprintf(s->f, fmt, ap);
    va_end(ap);
    fputc('\n', s->f);
    /* The event scrolls up; the live line comes back under it. */
    if (s->tty && s->shown)
        status_draw(s, s->clock_ms());
    fflush(s->f);
}

void status_done(struct status_line *s)
{
    if (!s->f || !s->tty)
        return;
    if (s->pending)
        status_draw(s, s->clock_ms());
    if (s->shown)
        fputc('\n', s->f);
    s->shown = false;
    fflush(s->f);
}
