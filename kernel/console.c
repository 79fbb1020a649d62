/* console.c: COM1 (16550) output and line input, polled. */
#include "console.h"
#include "cpu.h"

#define COM1 0x3f8
#define UART_DATA 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20

static char input_buf[512];
static size_t input_len;

void console_init(void)
{
    outb(COM1 + UART_IER, 0x00);        /* polled: no UART interrupts */
    outb(COM1 + UART_LCR, 0x80);        /* DLAB on: set the divisor */
    outb(COM1 + 0, 0x01);               /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + UART_LCR, 0x03);        /* 8N1, DLAB off */
    outb(COM1 + UART_FCR, 0xc7);        /* FIFOs on and cleared */
    outb(COM1 + UART_MCR, 0x03);        /* DTR, RTS */
}

static void console_putc(char c)
{
    /* Bounded: a UART that never drains must not hang the kernel (QEMU's always does). */
    for (uint32_t spins = 0; !(inb(COM1 + UART_LSR) & LSR_THR_EMPTY) && spins < 1000000; spins++)
        cpu_relax();
    outb(COM1 + UART_DATA, (uint8_t)c);
}

void console_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        console_putc(s[i]);
}

bool console_poll_line(char *line, size_t cap)
{
    while (inb(COM1 + UART_LSR) & LSR_DATA_READY) {
        char c = (char)inb(COM1 + UART_DATA);
        if (c == '\r')
            continue;
        if (c == '\n') {
            size_t n = MIN(input_len, cap - 1);
            memcpy(line, input_buf, n);
            line[n] = 0;
            input_len = 0;
            return true;
        }
        if (input_len < sizeof(input_buf))
            input_buf[input_len++] = c;
    }
    return false;
}
