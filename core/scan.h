/* scan: the first byte in [p, end) that a JSON string scan must look at,
 * sixteen bytes a step where the CPU has SSE2 (every x86-64), a byte a
 * step elsewhere. Quotes and backslashes always stop it; newlines and
 * bytes >= 0x80 too when asked (the framer checks UTF-8 and cut lines). */
#ifndef HERALD_SCAN_H
#define HERALD_SCAN_H
#include <stdbool.h>
#if defined(__SSE2__)
#include <emmintrin.h>

#endif

static inline bool scan_special(unsigned char c, bool framer)
{
	return c == '"' || c == '\\' || (framer && (c == '\n' || c >= 0x80));
}

static inline const char *scan_string(const char *p, const char *end, bool framer)
{
#if defined(__SSE2__)
	const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
	const __m128i newline = _mm_set1_epi8('\n');
	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
		unsigned mask;
		if (framer)
			mask = (unsigned)_mm_movemask_epi8(_mm_or_si128(hit, _mm_cmpeq_epi8(v, newline))) |
			       (unsigned)_mm_movemask_epi8(v);
		else
			mask = (unsigned)_mm_movemask_epi8(hit);
		if (mask)
			return p + __builtin_ctz(mask);
		p += 16;
	}
#endif
	while (p < end && !scan_special((unsigned char)*p, framer))
		p++;
	return p;
}

/* The first byte in [p, end) a JSON string cannot hold as it is: a
 * control character, DEL, a quote or a backslash. */
static inline const char *scan_escape(const char *p, const char *end)
{
#if defined(__SSE2__)
	const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
	const __m128i del = _mm_set1_epi8(0x7F), control = _mm_set1_epi8(0x1F);
	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
					   _mm_or_si128(_mm_cmpeq_epi8(v, del),
							_mm_cmpeq_epi8(_mm_max_epu8(v, control), control)));
		unsigned mask = (unsigned)_mm_movemask_epi8(hit);
		if (mask)
			return p + __builtin_ctz(mask);
		p += 16;
	}
#endif
	while (p < end) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == '"' || c == '\\' || c == 0x7F)
			break;
		p++;
	}
	return p;
}


/* Is there a control character (< 0x20) in [p, end)? */
static inline bool scan_has_control(const char *p, const char *end)
{
#if defined(__SSE2__)
	const __m128i control = _mm_set1_epi8(0x1F);
	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		if (_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(v, control), control)))
			return true;
		p += 16;
	}
#endif
	for (; p < end; p++)
		if ((unsigned char)*p < 0x20)
			return true;
	return false;
}

#endif
