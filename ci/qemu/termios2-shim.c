/*
 * LD_PRELOAD shim for running the armhf opendcre under qemu-user in the
 * smoke test (ci/smoke-armv7.sh). Not shipped, not used on hardware.
 *
 * Why: the serialport crate sets the baud rate with the Linux termios2
 * ioctls (TCGETS2/TCSETS2), which qemu-user does not emulate for ARM guests
 * (QEMU 7.2 answers ENOSYS, 10.0 ENOTTY), so opening the emulator's pty
 * fails under qemu although it works on a Pi. This shim answers those four
 * requests with the classic TCGETS/TCSETS* ioctls, which qemu does emulate,
 * converting between the kernel's struct termios2 and struct termios and
 * between numeric speeds and the Bnnn codes. A speed without a Bnnn code
 * gets EINVAL, as on a kernel without BOTHER. Every other ioctl passes
 * through unchanged.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>

/* ARM (asm-generic) values from <asm/termbits.h> and <asm/ioctls.h>; the
 * kernel structs are spelled out because glibc's struct termios differs. */
#define K_NCCS 19
struct k_termios {
    unsigned int c_iflag, c_oflag, c_cflag, c_lflag;
    unsigned char c_line;
    unsigned char c_cc[K_NCCS];
};
struct k_termios2 {
    unsigned int c_iflag, c_oflag, c_cflag, c_lflag;
    unsigned char c_line;
    unsigned char c_cc[K_NCCS];
    unsigned int c_ispeed, c_ospeed;
};
_Static_assert(sizeof(struct k_termios2) == 44, "termios2 layout");

#define K_TCGETS 0x5401UL
#define K_TCSETS 0x5402UL
#define K_TCSETSW 0x5403UL
#define K_TCSETSF 0x5404UL
#define K_TCGETS2 0x802c542aUL
#define K_TCSETS2 0x402c542bUL
#define K_TCSETSW2 0x402c542cUL
#define K_TCSETSF2 0x402c542dUL
#define K_CBAUD 0010017U
#define K_BOTHER 0010000U
#define K_CIBAUD (K_CBAUD << 16)

static const struct { unsigned int code, speed; } speeds[] = {
    {0000000, 0},       {0000001, 50},      {0000002, 75},      {0000003, 110},
    {0000004, 134},     {0000005, 150},     {0000006, 200},     {0000007, 300},
    {0000010, 600},     {0000011, 1200},    {0000012, 1800},    {0000013, 2400},
    {0000014, 4800},    {0000015, 9600},    {0000016, 19200},   {0000017, 38400},
    {0010001, 57600},   {0010002, 115200},  {0010003, 230400},  {0010004, 460800},
    {0010005, 500000},  {0010006, 576000},  {0010007, 921600},  {0010010, 1000000},
    {0010011, 1152000}, {0010012, 1500000}, {0010013, 2000000}, {0010014, 2500000},
    {0010015, 3000000}, {0010016, 3500000}, {0010017, 4000000},
};

static int code_to_speed(unsigned int code, unsigned int *speed) {
    for (unsigned i = 0; i < sizeof speeds / sizeof speeds[0]; i++)
        if (speeds[i].code == code) { *speed = speeds[i].speed; return 0; }
    return -1;
}

static int speed_to_code(unsigned int speed, unsigned int *code) {
    for (unsigned i = 0; i < sizeof speeds / sizeof speeds[0]; i++)
        if (speeds[i].speed == speed) { *code = speeds[i].code; return 0; }
    return -1;
}

typedef int (*ioctl_fn)(int, unsigned long, ...);

static ioctl_fn real_ioctl(void) {
    static ioctl_fn fn;
    if (!fn) fn = (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");
    return fn;
}

int ioctl(int fd, unsigned long request, ...) {
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);

    if (request == K_TCGETS2) {
        struct k_termios t;
        struct k_termios2 *t2 = arg;
        int r = real_ioctl()(fd, K_TCGETS, &t);
        if (r != 0) return r;
        memset(t2, 0, sizeof *t2);
        t2->c_iflag = t.c_iflag; t2->c_oflag = t.c_oflag;
        t2->c_cflag = t.c_cflag; t2->c_lflag = t.c_lflag;
        t2->c_line = t.c_line;
        memcpy(t2->c_cc, t.c_cc, K_NCCS);
        unsigned int out = 0, in = 0, icode = (t.c_cflag & K_CIBAUD) >> 16;
        code_to_speed(t.c_cflag & K_CBAUD, &out);
        if (icode == 0 || code_to_speed(icode, &in) != 0) in = out;
        t2->c_ospeed = out;
        t2->c_ispeed = in;
        return 0;
    }
    if (request == K_TCSETS2 || request == K_TCSETSW2 || request == K_TCSETSF2) {
        const struct k_termios2 *t2 = arg;
        struct k_termios t;
        t.c_iflag = t2->c_iflag; t.c_oflag = t2->c_oflag;
        t.c_cflag = t2->c_cflag; t.c_lflag = t2->c_lflag;
        t.c_line = t2->c_line;
        memcpy(t.c_cc, t2->c_cc, K_NCCS);
        if ((t.c_cflag & K_CBAUD) == K_BOTHER) {
            unsigned int code;
            if (speed_to_code(t2->c_ospeed, &code) != 0) { errno = EINVAL; return -1; }
            t.c_cflag = (t.c_cflag & ~K_CBAUD) | code;
        }
        if (((t.c_cflag & K_CIBAUD) >> 16) == K_BOTHER) {
            unsigned int code;
            if (speed_to_code(t2->c_ispeed, &code) != 0) { errno = EINVAL; return -1; }
            t.c_cflag = (t.c_cflag & ~K_CIBAUD) | (code << 16);
        }
        unsigned long classic = request == K_TCSETS2 ? K_TCSETS
                              : request == K_TCSETSW2 ? K_TCSETSW : K_TCSETSF;
        return real_ioctl()(fd, classic, &t);
    }
    return real_ioctl()(fd, request, arg);
}
