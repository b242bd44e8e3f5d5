/* float16 / bfloat16 <-> double for the ufunc loops of ufuncs.c: exact widening, correctly rounded narrowing
 * (ties to even), NaN and infinities kept. */
#ifndef SIGMOIDLAB_NARROW_H
#define SIGMOIDLAB_NARROW_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

/* Round a non-negative double below 2^51 to an integer, ties to even, in the current (nearest) mode. */
static inline double round_int(double a)
{
    volatile double t = a + 0x1p52;
    return t - 0x1p52;
}

static inline double half_to_double(uint16_t h)
{
    uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v;
    if (e == 0)
        v = (double)m * 0x1p-24;
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = (double)(m | 0x400) * ldexp(1.0, (int)e - 25);
    return (h & 0x8000) ? -v : v;
}

static inline uint16_t double_to_half(double d)
{
    uint16_t sign = (uint16_t)((dbits(d) >> 48) & 0x8000);
    double a = fabs(d);
    if (a != a) return sign | 0x7e00;
    if (a >= 65520.0) return sign | 0x7c00; /* at or above the midpoint between 65504 and 2^16 */
    if (a < 0x1p-14) return sign | (uint16_t)round_int(a * 0x1p24); /* subnormal; 1024 -> smallest normal */
    int e = (int)(dbits(a) >> 52) - 1023;
    double q = round_int(a * ldexp(1.0, 10 - e)); /* in [1024, 2048]: 2048 carries into the exponent */
    return sign | (uint16_t)(((e + 15) << 10) + (int)q - 1024);
}

static inline double bf16_to_double(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return (double)f;
}

/* double -> float rounded to odd, then float -> bfloat16 to nearest even: one correct rounding overall
 * (rounding to odd with 2+ extra bits makes the second rounding innocuous, Boldo & Melquiond 2008). */
static inline uint16_t double_to_bf16(double d)
{
    float f = (float)d;
    uint32_t u;
    memcpy(&u, &f, 4);
    if (d != d) return (uint16_t)((u >> 16) | 0x0040);
    if ((double)f != d) {
        if (fabs((double)f) > fabs(d)) u -= 1; /* truncate towards zero */
        u |= 1;
    }
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

#endif
